"""The multidimensional CAT when its prior area correlation is wrong (issue 14, item 5).

Simulees' areas correlate r_true; the CAT's prior assumes r_assumed (equicorrelation), or treats areas as
independent. For each pair: 95% coverage of theta +- 1.96 SE (pooled over areas), RMSE, mean SE and mean
test length. Bootstrap-sized bank (16 items per competence), SE target .35 per area, cap 60 so that lengths
can differ, no exposure control (it would add its own loss of precision).

    python -m experiments.cat_misspecification [--simulees 1000] [--seed 3]
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from adaptive.cat import CatConfig
from adaptive.cat.simulation import equicorrelation, simulate
from adaptive.framework import load_framework
from adaptive.synthetic import generate_synthetic_bank

TRUE = (0.8, 0.5, 0.2)
ASSUMED = (0.8, 0.65, 0.5, None)  # None: independent areas


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simulees", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    bank = generate_synthetic_bank(load_framework(), items_per_competence=16, seed=0)
    d = len(bank.area_ids)
    table = Table(title=f"Assumed vs true area correlation ({args.simulees} simulees, SE target .35, cap 60)")
    for col in ("true r", "assumed r", "coverage", "RMSE", "mean SE", "mean length"):
        table.add_column(col, justify="right")
    for r_true in TRUE:
        for r_assumed in ASSUMED:
            cfg = CatConfig(max_items=60, exposure=None, independent_areas=r_assumed is None)
            b = bank.replace(area_correlation=equicorrelation(d, r_assumed if r_assumed is not None else 0.0))
            sim = simulate(b, cfg, n_simulees=args.simulees, seed=args.seed, correlation=r_true)
            err = sim.theta - sim.true_theta
            table.add_row(f"{r_true:.2f}", "independent" if r_assumed is None else f"{r_assumed:.2f}",
                          f"{(np.abs(err) <= 1.959964 * sim.se).mean():.3f}",
                          f"{np.sqrt((err ** 2).mean()):.3f}", f"{sim.se.mean():.3f}",
                          f"{sim.n_items.mean():.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
