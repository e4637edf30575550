"""Run every sandbox world at many fixed alert times and count, per world, how often it concludes right.

    python -m bench.sandbox_sweep [--days 5] [--every-hours 3] [--jobs 2] [--out bench/results/sandbox-sweep.md]
                                  [--first ISO] [--late S] [--rounds N] [--worlds NAME ...] [--metrics-outage]

A sandbox world's noise is keyed by absolute time, so one `sleuth eval` run sees one draw of it; a
verdict that only holds at some times of day is luck. This replays each world with its alert firing
at a grid of fixed instants (repeatable: the same grid gives the same draws) through the same
in-process loop as `bench.diagnose`.

With `--metrics-outage` every metric query answers 503 (spans, logs and events still answer): a
verdict is then correct when it names the root cause or, with too little left to tell, no one; it is
wrong only when it names another service.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.diagnose import investigate
from sleuth.evals.suite import cases_for

FIRST_DAY = datetime(2026, 11, 18, 0, 17, tzinfo=UTC)


def anchors(days: int, every_hours: int, first: datetime = FIRST_DAY) -> list[datetime]:
    return [first + timedelta(days=d, hours=h) for d in range(days) for h in range(0, 24, every_hours)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--every-hours", type=int, default=3)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, help="write a markdown summary here")
    p.add_argument(
        "--first", type=datetime.fromisoformat, default=FIRST_DAY, help="the grid's first instant (ISO)"
    )
    p.add_argument(
        "--late", type=float, default=0.0, help="start each investigation this many seconds after its alert"
    )
    p.add_argument(
        "--rounds",
        type=int,
        help="at most this many rounds (SLEUTH_MAX_ROUNDS), e.g. 1 as when a budget ends round 1",
    )
    p.add_argument("--worlds", nargs="*", help="only these worlds")
    p.add_argument("--metrics-outage", action="store_true", help="every metric query fails (503) throughout")
    a = p.parse_args(argv)
    if a.rounds:
        os.environ["SLEUTH_MAX_ROUNDS"] = str(a.rounds)  # read by each worker process's Settings()
    names = [c.name for c in cases_for("sandbox", a.worlds or None)]
    grid = anchors(a.days, a.every_hours, a.first)
    jobs = [(name, at) for at in grid for name in names]
    started = datetime.now(UTC)
    misses: dict[str, list[str]] = defaultdict(list)
    undecided: dict[str, int] = defaultdict(int)  # with --metrics-outage: concluded naming no one
    with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        futures = [
            pool.submit(investigate, "sandbox", name, False, None, at.isoformat(), a.late, a.metrics_outage)
            for name, at in jobs
        ]
        for i, ((name, at), fut) in enumerate(zip(jobs, futures, strict=True), 1):
            head, top1, _, _, named = fut.result()
            if not top1 and named is None and a.metrics_outage:
                undecided[name] += 1
            elif not top1:
                misses[name].append(f"{at:%Y-%m-%dT%H:%M}Z: {head.split('→', 1)[1].strip()}")
                print(f"MISS at {at:%Y-%m-%dT%H:%M}Z {head}", flush=True)
            if i % len(names) == 0:
                print(f"[{i // len(names)}/{len(grid)} instants]", file=sys.stderr, flush=True)
    total = len(jobs)
    wrong = sum(len(v) for v in misses.values())
    seconds = (datetime.now(UTC) - started).total_seconds()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    lines = [
        "# Sandbox worlds at many alert times",
        "",
        f"Commit `{commit}` (plus any uncommitted changes at run time), {len(names)} worlds × {len(grid)} "
        f"alert instants ({a.days} days from {a.first:%Y-%m-%d %H:%M:%S}Z, every {a.every_hours} h), "
        f"`python -m bench.sandbox_sweep --days {a.days} --every-hours {a.every_hours} --first {a.first.isoformat()}"
        + (f" --late {a.late:g}" if a.late else "")
        + (f" --rounds {a.rounds}" if a.rounds else "")
        + (f" --worlds {' '.join(a.worlds)}" if a.worlds else "")
        + (" --metrics-outage" if a.metrics_outage else "")
        + f"`, {seconds:.0f} s"
        + (f", each investigation starting {a.late:g} s after its alert" if a.late else "")
        + (f", at most {a.rounds} round(s) per investigation" if a.rounds else "")
        + (", every metric query failing (503) throughout" if a.metrics_outage else "")
        + ".",
        "",
        f"**{total - wrong}/{total} verdicts correct ({(total - wrong) / total:.1%})** — a world is correct when "
        "its root cause is ranked first, or, for a designed-inconclusive world, it concludes `inconclusive`"
        + (
            f"; with metrics out, also when it names no one ({sum(undecided.values())} of the correct ones)."
            if a.metrics_outage
            else "."
        ),
        "",
        "| world | correct | of which naming no one | instants |"
        if a.metrics_outage
        else "| world | correct | instants |",
        "|---|---|---|---|" if a.metrics_outage else "|---|---|---|",
    ]
    for name in names:
        missed = misses.get(name, [])
        none = f" {undecided.get(name, 0)} |" if a.metrics_outage else ""
        lines.append(
            f"| {name} | {len(grid) - len(missed)}/{len(grid)} |{none} {'misses below' if missed else ''} |"
        )
    for name, items in misses.items():
        lines += ["", f"## {name}", ""] + [f"- {m}" for m in items]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        a.out.write_text(text)
    return 0 if wrong == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
