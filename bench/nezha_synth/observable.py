"""Which of a draw's wrong-answer (`return`) cases leave a trace anywhere but the entry's error count.

    python -m bench.nezha_synth.observable --seed 6 --cases 24

A caller that gets a wrong answer aborts the calls it would have made next and fails its own
caller (`simulate.evaluate`: the first failure aborts the rest). So a wrong answer shows in the
spans only where some service on the way up still had calls to make: a request cut short. Where the
faulty service is the last call of its caller, its caller the last call of its own, and so on up to
the gateway, in every operation that reaches it, no span changes at all (spans carry no error flag);
and when the caller that rejects the answer is the gateway (it logs nothing) or the case kept no
logs, no log line names it either. Then the only thing that moves is the gateway's error count, the
same for every service on those paths: no investigator can tell them apart from this data.

This reads the generator's own plan (the ground truth), so it is a bench tool about the dataset,
never something the investigator may use.
"""

from __future__ import annotations

import argparse

import numpy as np

from .dataset import plan
from .system import ENTRY, Operation, build


def last_call_paths(op: Operation, node: int) -> bool:
    """Whether every node from `node` up to the gateway is its parent's last call."""
    while op.parents[node] >= 0:
        parent = op.parents[node]
        if op.children[parent][-1] != node:
            return False
        node = parent
    return True


def silent(service: str, ops: tuple[Operation, ...]) -> bool:
    """A wrong answer from `service` cuts no request short in any operation that reaches it."""
    nodes = [(op, i) for op in ops for i, s in enumerate(op.services) if s == service]
    return bool(nodes) and all(last_call_paths(op, i) for op, i in nodes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.nezha_synth.observable", description=__doc__)
    parser.add_argument("--services", type=int, default=46)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)  # the same draws, in the same order, as write_dataset
    system = build(args.services, rng)
    _, cases = plan(system, args.cases, rng)
    for c in cases:
        if c.fault.kind != "return":
            continue
        svc = c.fault.service
        callers = {
            op.services[op.parents[i]]
            for op in system.operations
            for i, s in enumerate(op.services)
            if s == svc
        }
        logged = bool(c.log_windows) and callers != {ENTRY}
        spans = not silent(svc, system.operations)
        verdict = "observable" if spans or logged else "entry error count only"
        why = ", ".join(w for w, on in (("cut-short requests", spans), ("callers' logs", logged)) if on)
        print(f"{c.fault.case_id}  {svc:<32} {verdict}{f' ({why})' if why else ''}")


if __name__ == "__main__":
    main()
