"""Study 3: items needed to reach SE <= 0.35 in every area.

Multidimensional CAT (Bayesian D-optimal, correlated prior) vs five separate unidimensional CATs
(independent priors, max-information in the most uncertain area) vs a fixed form (the items most
informative at theta = 0, areas in rotation), at area correlations 0.5 and 0.8. No exposure control,
competence spread on; each area stops at SE <= target (at most 30 items per area).

    python -m experiments.cat_efficiency [--simulees 2000] [--se-target 0.35]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from adaptive.cat import CatConfig
from adaptive.cat.posterior import BatchPosterior
from adaptive.cat.simulation import correlated_thetas, equicorrelation, simulate
from adaptive.cat.tables import tables_for
from adaptive.synthetic import generate_synthetic_bank, simulate_responses

MAX_PER_AREA = 30


def fixed_form(bank, true_theta: np.ndarray, se_target: float, rng,
               correlated: bool) -> tuple[np.ndarray, ...]:
    """Administer one fixed linear form to everyone; return the position at which every area first has
    SE <= target (the form length when never), final theta and SE at that position."""
    t = tables_for(bank)
    areas = bank.item_areas()
    active = np.array([it.status == "active" for it in bank.items])
    d = len(bank.area_ids)
    info0 = t.info[t.grid_index(np.array(0.0))]
    per_area = [np.flatnonzero(active & (areas == k)) for k in range(d)]
    per_area = [idx[np.argsort(-info0[idx], kind="stable")][:MAX_PER_AREA] for idx in per_area]
    form = np.array([per_area[k][j] for j in range(MAX_PER_AREA) for k in range(d)])
    params = bank.parameters()
    n = len(true_theta)
    resp = np.zeros((n, len(form)), dtype=np.int64)
    for k in range(d):
        cols = np.flatnonzero(areas[form] == k)
        resp[:, cols] = simulate_responses(params.subset(form[cols]), true_theta[:, k], rng)
    cov = np.asarray(bank.area_correlation) if correlated else np.eye(d)
    post = BatchPosterior(t, np.zeros(d), cov, n)
    rows = np.arange(n)
    length = np.full(n, len(form))
    theta, se = np.zeros((n, d)), np.zeros((n, d))
    done = np.zeros(n, dtype=bool)
    for pos, item in enumerate(form):
        post.add(rows, np.full(n, areas[item]), np.full(n, item), resp[:, pos])
        post.update(rows)
        reached = ~done & (post.se <= se_target).all(axis=1)
        length[reached] = pos + 1
        theta[reached], se[reached] = post.theta[reached], post.se[reached]
        done |= reached
    theta[~done], se[~done] = post.theta[~done], post.se[~done]
    return length, theta, se, done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simulees", type=int, default=2000)
    ap.add_argument("--se-target", type=float, default=0.35)
    ap.add_argument("--items-per-competence", type=int, default=48)
    args = ap.parse_args()
    console = Console(width=140)
    table = Table(title=f"Items to SE <= {args.se_target} in every area ({args.simulees} simulees)")
    for col in ("corr", "design", "mean items", "sd", "reached target", "RMSE (mean of areas)",
                "saving vs separate", "saving vs fixed"):
        table.add_column(col, justify="right")
    base = dict(se_target=args.se_target, max_items=5 * MAX_PER_AREA, max_items_per_area=MAX_PER_AREA,
                min_items_per_area=1, min_items=5, exposure=None)
    for r in (0.5, 0.8):
        t0 = time.perf_counter()
        bank = generate_synthetic_bank(items_per_competence=args.items_per_competence, languages=("en",),
                                       area_correlation=r, seed=21)
        rng = np.random.default_rng(100 + int(10 * r))
        theta = correlated_thetas(args.simulees, equicorrelation(5, r), rng)
        rows = {}
        for name, cfg in (("multidimensional CAT", CatConfig(**base)),
                          ("5 separate CATs",
                           CatConfig(**base, independent_areas=True, selection="max-info"))):
            sim = simulate(bank, cfg, true_theta=theta, seed=1)
            reached = (sim.se <= args.se_target + 1e-9).all(axis=1)
            rmse = np.sqrt(((sim.theta - theta) ** 2).mean(axis=0)).mean()
            rows[name] = (sim.n_items, reached, rmse)
        for name, correlated in (("fixed form", False), ("fixed form, MAP w/ correlations", True)):
            length, est, _, reached = fixed_form(bank, theta, args.se_target, np.random.default_rng(7),
                                                 correlated)
            rows[name] = (length, reached, np.sqrt(((est - theta) ** 2).mean(axis=0)).mean())
        sep, fixed = rows["5 separate CATs"][0].mean(), rows["fixed form"][0].mean()
        for name, (length, reached, rmse) in rows.items():
            table.add_row(f"{r:g}", name, f"{length.mean():.1f}", f"{length.std():.1f}",
                          f"{reached.mean():.1%}", f"{rmse:.3f}", f"{1 - length.mean() / sep:+.1%}",
                          f"{1 - length.mean() / fixed:+.1%}")
        console.print(f"correlation {r}: {time.perf_counter() - t0:.1f} s")
    console.print(table)


if __name__ == "__main__":
    main()
