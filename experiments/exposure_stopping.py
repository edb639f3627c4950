"""Exposure control against precision and test length on the bootstrap-sized bank (issue 14, items 3 and 6).

For each (SE target, item cap) and exposure method (randomesque k=5, the service's default; Sympson-Hetter
calibrated 2 sampling SDs under the .25 target, ``digipath simulate``'s default): maximum exposure, share
of the bank never used, overlap, mean RMSE over areas, mean test length and the share of tests that ran to
the item cap (i.e. did not stop on precision). The evaluation runs use a seed the calibration did not.

    python -m experiments.exposure_stopping [--simulees 1000] [--seed 1]
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from adaptive.cat import CatConfig
from adaptive.cat.simulation import simulate, sympson_hetter_holding
from adaptive.framework import load_framework
from adaptive.synthetic import generate_synthetic_bank

SETTINGS = ((0.35, 40), (0.40, 48), (0.45, 40))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simulees", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    bank = generate_synthetic_bank(load_framework(), items_per_competence=16, seed=0)  # as models.bootstrap
    table = Table(title=f"Exposure vs precision and length ({len(bank)} items, {args.simulees} simulees)")
    for col in ("SE target", "cap", "exposure", "max exp.", "unused", "overlap", "RMSE", "mean length",
                "at cap"):
        table.add_column(col, justify="right")
    for se, cap in SETTINGS:
        for method in ("randomesque", "sympson-hetter"):
            cfg = CatConfig(se_target=se, max_items=cap, exposure=method)
            if method == "sympson-hetter":
                cfg.exposure_parameters, _, _ = sympson_hetter_holding(bank, cfg, target=0.25,
                                                                       n_simulees=1000, seed=args.seed + 1)
            rep = simulate(bank, cfg, n_simulees=args.simulees, seed=args.seed).report()
            s = rep["summary"]
            rmse = np.mean([a["rmse"] for a in rep["areas"].values()])
            table.add_row(f"{se:.2f}", str(cap), method, f"{s['max_exposure']:.3f}",
                          f"{s['share_unused']:.1%}", f"{s['overlap_rate']:.3f}", f"{rmse:.3f}",
                          f"{s['mean_length']:.1f}",
                          f"{rep['length_distribution']['share_at_cap']:.1%}")
    Console().print(table)


if __name__ == "__main__":
    main()
