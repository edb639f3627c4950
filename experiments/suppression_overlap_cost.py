"""What the overlap rule of the insights suppression costs: time and suppressed rows, with and without it.

    python -m experiments.suppression_overlap_cost [--learners 1000] [--repeat 5]

On a generated organisation (``adaptive.synthetic_organisation``), each report (gap overview, training
impact, pathway progress) is computed ``--repeat`` times with the rule and with ``overlap_mask`` replaced
by "hide nothing more", interleaved (the machine is shared); prints the median times and how many rows
each variant suppresses in all the report's tables.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import adaptive.insights.impact as impact_module
import adaptive.insights.suppression as suppression_module
import adaptive.insights.tables as tables_module
from adaptive.insights import gap_overview, training_impact
from adaptive.synthetic import generate_synthetic_bank
from adaptive.synthetic_organisation import generate_organisation
from recommender.progress import pathway_progress

MODULES = (suppression_module, tables_module, impact_module)


def _no_overlap_rule(members, min_size=5, hidden=None):  # noqa: ANN001, ANN202
    return np.zeros(len(members), bool) if hidden is None else np.asarray(hidden, bool).copy()


def _suppressed(report) -> int:  # noqa: ANN001
    return sum(int(t["suppressed"].sum()) for t in report.tables().values() if "suppressed" in t.columns)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    bank = generate_synthetic_bank(items_per_competence=24, languages=("en",), seed=0)
    org = generate_organisation(args.learners, seed=0, bank=bank)
    reports = {
        "gap_overview": lambda: gap_overview(org.learners, org.diagnostics, org.roles),
        "training_impact": lambda: training_impact(org.learners, org.diagnostics, org.events,
                                                   catalogue=org.catalogue, prior=org.prior),
        "pathway_progress": lambda: pathway_progress(org.learners, org.pathways, org.events),
    }
    rule = suppression_module.overlap_mask
    for name, build in reports.items():
        times = {"with": [], "without": []}
        rows = {}
        build()                                          # warm-up
        for _ in range(args.repeat):
            for variant, fn in (("without", _no_overlap_rule), ("with", rule)):
                for module in MODULES:
                    module.overlap_mask = fn
                t0 = time.perf_counter()
                report = build()
                times[variant].append((time.perf_counter() - t0) * 1000)
                rows[variant] = _suppressed(report)
        for module in MODULES:
            module.overlap_mask = rule
        print(f"{name}: {statistics.median(times['without']):.0f} ms without the overlap rule, "
              f"{statistics.median(times['with']):.0f} ms with; suppressed rows {rows['without']} -> "
              f"{rows['with']} ({len(org.learners)} learners)")


if __name__ == "__main__":
    main()
