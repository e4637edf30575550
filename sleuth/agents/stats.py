"""Robust statistics for telemetry: baseline vs alert window, change points, onsets.

Medians and MADs rather than means and standard deviations, because production baselines carry
spikes, missing minutes and earlier incidents, and a single outlier must not hide a real shift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MAD_TO_SIGMA = 1.4826
TRIM = 0.2  # the share of baseline points an earlier incident may occupy without hiding this one
MIN_BASELINE_POINTS = 3  # fewer baseline points than this cannot tell normal from abnormal


def clean(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return float("nan")
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2.0


def mad(xs: Sequence[float]) -> float:
    m = median(xs)
    return median([abs(x - m) for x in xs])


def robust_sigma(xs: Sequence[float], floor_fraction: float = 0.05, abs_floor: float = 0.0) -> float:
    """MAD-based sigma, floored so a flat baseline does not turn every wobble into a huge z.
    `abs_floor` marks an error signal: the smallest spread worth a sigma in its units (one error a
    minute), and a baseline whose earlier incidents are trimmed out of its spread."""
    if not xs:
        return float("nan")
    m = median(xs)
    sigma = MAD_TO_SIGMA * mad(xs)
    # A std fallback covers baselines whose MAD is 0 but which still vary (e.g. mostly-zero error
    # counts). For error signals it leaves out the points farthest from the median: a baseline that
    # holds an earlier incident must not make this one look normal.
    trim = TRIM if abs_floor > 0 else 0.0
    kept = sorted(xs, key=lambda x: abs(x - m))[: max(1, math.ceil(len(xs) * (1.0 - trim)))]
    mean = sum(kept) / len(kept)
    std = math.sqrt(sum((x - mean) ** 2 for x in kept) / len(kept))
    return max(sigma, 0.5 * std, abs(m) * floor_fraction, abs_floor, 1e-9)


@dataclass(frozen=True)
class Shift:
    """How the alert window compares with the baseline."""

    baseline: float
    current: float
    peak: float
    z: float  # signed robust z of the window's typical value
    relative: float | None  # current / baseline - 1 (None when the baseline is ~0)
    onset_index: int | None  # index into the window where a sustained departure starts

    @property
    def strength(self) -> float:
        """0..1: how anomalous, squashing z so that |z| ≈ 3 is clear and ≥ 8 is overwhelming."""
        return squash(abs(self.z))


def count_z(observed: float, expected: float) -> float:
    """How far a count is above what the baseline rate predicts, in Poisson-like standard deviations
    (+1 so that an empty baseline does not make every first line infinitely surprising)."""
    return (observed - expected) / math.sqrt(expected + 1.0)


def squash(z: float, knee: float = 3.0, floor: float = 2.0) -> float:
    """|z| → 0..1. A service profile checks ~20 signals, so |z| ≈ 3 happens by chance: it counts for
    little (0.28), |z| ≈ 5 is clear (0.63), |z| ≥ 8 overwhelming (> 0.86)."""
    if not math.isfinite(z):
        return 1.0 if z > 0 else 0.0
    if z <= floor:
        return 0.0
    return max(0.0, min(1.0, 1.0 - math.exp(-(z - floor) / knee)))


def shift(
    baseline: Sequence[float | None], window: Sequence[float | None], abs_floor: float = 0.0
) -> Shift | None:
    """Compare a window to its baseline. None when either side has too little data to judge.
    `abs_floor`: see `robust_sigma`."""
    b = clean(baseline)
    w = clean(window)
    if len(b) < MIN_BASELINE_POINTS or len(w) < 2:
        return None
    b_med = median(b)
    sigma = robust_sigma(b, abs_floor=abs_floor)
    # The upper half of the window: a fault that started mid-window must not be averaged away.
    w_sorted = sorted(w)
    upper = median(w_sorted[len(w_sorted) // 2 :])
    lower = median(w_sorted[: max(1, (len(w_sorted) + 1) // 2)])
    current = upper if abs(upper - b_med) >= abs(lower - b_med) else lower
    z = (current - b_med) / sigma
    rel = (current / b_med - 1.0) if abs(b_med) > 1e-9 else None
    peak = max(w, key=lambda x: abs(x - b_med))
    return Shift(
        baseline=b_med,
        current=current,
        peak=peak,
        z=z,
        relative=rel,
        onset_index=onset(b_med, sigma, window, sign=1 if z >= 0 else -1),
    )


def onset(
    center: float, sigma: float, window: Sequence[float | None], sign: int, k: float = 3.0
) -> int | None:
    """First index from which the series stays beyond `k` sigmas (allowing one gap) — a sustained departure."""
    vals = list(window)
    n = len(vals)
    for i in range(n):
        v = vals[i]
        if v is None or sign * (v - center) < k * sigma:
            continue
        following = [x for x in vals[i : i + 4] if x is not None]
        beyond = sum(1 for x in following if sign * (x - center) >= k * sigma)
        if beyond >= max(1, len(following) - 1):
            return i
    return None


RAMP_STEPS = 2  # the window's last steps that must all climb: one jump is a step change, not a leak
# Of the level: the smallest step worth a sigma, so a flat baseline is not infinitely quiet.
RAMP_FLOOR = 0.001


def climb(baseline: Sequence[float | None], window: Sequence[float | None]) -> float:
    """How steadily the series climbs through the end of the window, against how it stepped before:
    the robust z of the window's smallest late step over the baseline's step-to-step changes. A leak
    grows every minute, far faster than the series ever wandered; a sawtooth's usual climb, or a
    single jump, scores near zero. 0 when there are too few points to tell."""
    b = clean(baseline)
    w = clean(window)
    if len(b) < 2 * MIN_BASELINE_POINTS or len(w) < RAMP_STEPS:
        return 0.0
    before = [y - x for x, y in zip(b, b[1:], strict=False)]
    path = [b[-1], *w]
    steps = [y - x for x, y in zip(path, path[1:], strict=False)][-RAMP_STEPS:]
    center = median(before)
    sigma = max(MAD_TO_SIGMA * mad(before), abs(median(b)) * RAMP_FLOOR, 1e-9)
    return max(0.0, (min(steps) - center) / sigma)


def underway(baseline: Sequence[float | None], center: float, sigma: float, sign: int, k: float = 3.0) -> int:
    """How many of the baseline's last points already stood beyond `k` sigmas in the shift's direction:
    a departure that began before the window, not with it."""
    run = 0
    for v in reversed(clean(baseline)):
        if sign * (v - center) < k * sigma:
            break
        run += 1
    return run


def rate(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else 0.0


def proportion_z(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-proportion z (window vs baseline), with a continuity-friendly pooled variance."""
    if n1 <= 0 or n2 <= 0:
        return 0.0
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2 + 1) / (n1 + n2 + 2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return (p1 - p2) / se if se > 0 else 0.0


def resample(values: Sequence[float | None], points: int = 12) -> list[float]:
    vals = clean(values)
    if len(vals) <= points:
        return [round(v, 4) for v in vals]
    step = len(vals) / points
    return [
        round(median(vals[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)]), 4)
        for i in range(points)
    ]
