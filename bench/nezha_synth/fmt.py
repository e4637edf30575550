"""The Nezha files' text conventions: Go time strings, RFC 3339 log stamps, numbers, gzipped CSV."""

from __future__ import annotations

import csv
import functools
import gzip
import io
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path


@functools.lru_cache(maxsize=4096)
def _second(secs: int, sep: str) -> str:
    return datetime.fromtimestamp(secs, UTC).strftime(f"%Y-%m-%d{sep}%H:%M:%S")


def _clock(ns: int, sep: str) -> tuple[str, str]:
    secs, frac = divmod(ns, 1_000_000_000)
    digits = f"{frac:09d}".rstrip("0")  # Go trims trailing zeros of the fraction
    return _second(secs, sep), "." + digits if digits else ""


def go_time(ns: int, process_start_ns: int) -> str:
    """Go's `time.Now().String()` of the collector: `2022-08-22 03:51:19.799087274 +0000 UTC m=+0.3…`."""
    day, frac = _clock(ns, " ")
    mono = ns - process_start_ns
    return f"{day}{frac} +0000 UTC m=+{mono // 1_000_000_000}.{mono % 1_000_000_000:09d}"


def rfc3339(ns: int) -> str:
    day, frac = _clock(ns, "T")
    return f"{day}{frac}Z"


def num(v: float) -> str:
    """Floats as Go prints them (shortest round-trip), NaN as `NaN`, whole counts without a point."""
    if isinstance(v, int):
        return str(v)
    return "NaN" if math.isnan(v) else repr(float(v))


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]], gz: bool = True) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = buf.getvalue().encode()
    path.write_bytes(gzip.compress(data, compresslevel=6, mtime=0) if gz else data)
