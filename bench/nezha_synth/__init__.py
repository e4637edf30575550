"""A synthetic incident dataset in the Nezha layout, of a train-ticket-like system of ~46 services.

The real development set (`shared/datasets/nezha-onlineboutique`, 11 services) is what an importer
and an investigator are built on; this generator writes a different and larger system in exactly
the same layout (files, headers, time formats, quirks), so that both can be checked to generalise to
40+ services they have never seen. Deterministic for a seed:

    write_dataset(Path("/tmp/rail"), services=46, cases=12, seed=0)
    python -m bench.nezha_synth --out /tmp/rail [--services 46] [--cases 12] [--seed 0]

Modules: `system` (services, call trees, pods), `simulate` (requests, faults, per-minute
aggregation), `metrics` (the metric folder), `render` (spans and log lines), `dataset` (cases and
files), `fmt` (the files' text conventions). Nothing here imports `sleuth`: the generator must stay
independent of the importer it tests.
"""

from .dataset import write_dataset

__all__ = ["write_dataset"]
