"""Deterministic randomness keyed by (seed, name, absolute time index).

Values depend only on their key and time index, never on which window asked first, so any
lazily generated chunk agrees with every other chunk and with a rerun.
"""

from __future__ import annotations

import hashlib
import math
import random

import numpy as np

STEP = 10.0  # seconds between base points of every simulated metric
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def key(*parts: object) -> int:
    """A stable 63-bit key for any tuple of parts (Python's hash() is salted per process)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def rng(*parts: object) -> random.Random:
    return random.Random(key(*parts))


_C0, _C1, _C2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _mix(x: np.ndarray) -> np.ndarray:
    # splitmix64 finaliser; uint64 array arithmetic wraps silently, as intended.
    x = x + _C0
    x = (x ^ (x >> _S30)) * _C1
    x = (x ^ (x >> _S27)) * _C2
    return x ^ (x >> _S31)


def uniform(k: int, idx: np.ndarray) -> np.ndarray:
    """U(0,1) per integer index."""
    x = _mix(idx.astype(np.int64).view(np.uint64) ^ np.uint64(k & 0x7FFFFFFFFFFFFFFF))
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def normal(k: int, idx: np.ndarray) -> np.ndarray:
    u1 = uniform(k, idx)
    u2 = uniform(k ^ 0x5DEECE66D, idx)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)


# Per-point noise is drawn from a fixed table (built with the hash above, so it is the same on every
# machine) through a key-dependent odd stride: a gather instead of hashing every point of every series.
_TABLE_MASK = (1 << 16) - 1
_TABLE = normal(0x5EED5EED, np.arange(1 << 16, dtype=np.float64))


def table_normal(k: int, idx: np.ndarray) -> np.ndarray:
    """N(0,1)-distributed, deterministic in (k, idx); cheap enough for every context of every metric."""
    stride = ((k >> 20) & _TABLE_MASK) | 1
    offset = k & _TABLE_MASK
    return _TABLE[(idx.astype(np.int64) * stride + offset) & _TABLE_MASK]


def smooth(k: int, t: np.ndarray, period: float) -> np.ndarray:
    """Slowly wandering N(0,1)-ish noise: knots every `period` seconds, linearly interpolated."""
    pos = t / period
    lo = np.floor(pos)
    frac = pos - lo
    if len(lo) == 0:
        return np.zeros(0)
    first = lo.min()
    knots = table_normal(k, first + np.arange(int(lo.max() - first) + 2, dtype=np.float64))
    i = (lo - first).astype(np.int64)
    return knots[i] * (1.0 - frac) + knots[i + 1] * frac


def wobble(k: int, t: np.ndarray, amount: float) -> np.ndarray:
    """Multiplicative noise around 1: fast jitter plus a slow drift, never negative."""
    idx = np.floor(t / STEP)
    n = 0.6 * table_normal(k, idx) + 0.8 * smooth(k ^ 0x1234567, t, 600.0)
    return np.clip(1.0 + amount * n, 0.05, None)


def daily(t: np.ndarray, tz_offset_h: float) -> np.ndarray:
    """Traffic shape over a day: a trough at night, a broad afternoon peak; mean about 1."""
    hour = ((t / 3600.0) + tz_offset_h) % 24.0
    peak = np.cos(2.0 * math.pi * (hour - 15.0) / 24.0)
    second = np.cos(4.0 * math.pi * (hour - 12.0) / 24.0)
    return np.clip(1.0 + 0.45 * peak + 0.08 * second, 0.25, None)


def ramp(t: np.ndarray, start: float, minutes: float) -> np.ndarray:
    """0 before `start`, rising linearly to 1 over `minutes`."""
    if minutes <= 0:
        return (t >= start).astype(np.float64)
    return np.clip((t - start) / (minutes * 60.0), 0.0, 1.0)


def poisson(r: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, int(round(r.gauss(lam, math.sqrt(lam)))))
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= r.random()
        if p <= threshold:
            return k
        k += 1
