"""python -m bench.nezha_synth --out DIR [--services 46] [--cases 12] [--seed 0]"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from . import write_dataset


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.nezha_synth", description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--services", type=int, default=46)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    out = write_dataset(args.out, args.services, args.cases, args.seed)
    took = time.perf_counter() - began
    files = [p for p in out.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    print(f"wrote {out}: {len(files)} files, {size / 1e6:.1f} MB in {took:.1f} s")
    with open(out / "faults.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            print(
                f"  {row['case_id']}  {row['inject_time_utc']}  {row['fault_type']:<15} "
                f"{row['root_cause_pod']}  traces {row['trace_minutes_present_of_3']}/3"
            )


if __name__ == "__main__":
    main()
