"""Benchmark 4: digipath's CAT engine side by side with catsim 0.21 on the same unidimensional 3PL bank
and the same simulees: maximum-information selection, start at theta = 0, fixed test length.

catsim estimates by maximum likelihood (bounded numerical search, Dodd's heuristic for constant
patterns); digipath by MAP under N(0, 1). To separate selection from estimation, both tests' final
response patterns are also re-scored with the same estimators (adaptive.estimation.map_estimate and
mle), so RMSE can be compared like for like.

    python -m experiments.cat_vs_catsim [--simulees 500] [--lengths 10 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from catsim.estimation import NumericalSearchEstimator
from catsim.initialization import FixedPointInitializer
from catsim.selection import MaxInfoSelector
from catsim.simulation import Simulator
from catsim.stopping import TestLengthStopper
from rich.console import Console
from rich.table import Table

from adaptive.cat import CatConfig
from adaptive.cat.simulation import simulate
from adaptive.estimation import map_estimate, mle
from adaptive.synthetic import generate_synthetic_bank


def rescore(params, item_lists, response_lists) -> tuple[np.ndarray, np.ndarray]:
    """MAP and MLE of each simulee's final pattern with the foundation's estimators."""
    out_map, out_mle = [], []
    for items, resp in zip(item_lists, response_lists, strict=True):
        sub = params.subset(np.asarray(items))
        r = np.asarray(resp, dtype=np.int64)
        out_map.append(map_estimate(sub, r).theta)
        out_mle.append(mle(sub, r).theta)
    return np.array(out_map), np.array(out_mle)


def rmse(est, truth) -> float:
    return float(np.sqrt(np.mean((np.asarray(est) - truth) ** 2)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simulees", type=int, default=500)
    ap.add_argument("--lengths", type=int, nargs="+", default=[10, 30])
    args = ap.parse_args()
    console = Console(width=150)
    full = generate_synthetic_bank(items_per_competence=100, share_3pl=1.0, share_grm=0.0, languages=("en",),
                                   seed=31)
    idx = np.flatnonzero(full.item_areas() == 0)             # area 1: a 300-item 3PL bank
    bank = full.replace(items=[full.items[i] for i in idx], area_ids=["1"], area_correlation=[[1.0]],
                        cut_scores={"1": full.cut_scores["1"]})
    params = bank.parameters()
    matrix = np.column_stack([params.a, params.b[:, 0], params.c, params.d])
    theta = np.random.default_rng(5).normal(size=args.simulees)
    table = Table(title=f"digipath vs catsim 0.21: {len(bank)}-item 3PL bank, {args.simulees} simulees, "
                        "max-info selection")
    for col in ("length", "engine", "wall s", "RMSE own estimator", "RMSE re-scored MAP",
                "RMSE re-scored MLE", "max exposure", "time ratio digipath/catsim"):
        table.add_column(col, justify="right")
    for length in args.lengths:
        ours = []
        for prior_sd in (1.0, 3.0):      # a flat-ish prior makes selection follow a near-ML estimate
            cfg = CatConfig(areas=["1"], selection="max-info", exposure=None, competence_balancing=False,
                            se_target=1e-3, min_items=length, max_items=length, min_items_per_area=0,
                            max_items_per_area=length, prior_sd=prior_sd)
            t0 = time.perf_counter()
            sim = simulate(bank, cfg, true_theta=theta[:, None], seed=1)
            wall = time.perf_counter() - t0
            items = [np.flatnonzero(row) for row in sim.administered]
            resp = [sim.responses[k, it] for k, it in enumerate(items)]
            ours.append((prior_sd, sim, wall, *rescore(params, items, resp)))

        simulator = Simulator(matrix.copy(), theta.copy(), seed=1)
        t0 = time.perf_counter()
        simulator.simulate(FixedPointInitializer(0.0), MaxInfoSelector(), NumericalSearchEstimator(),
                           TestLengthStopper(max_items=length))
        catsim_wall = time.perf_counter() - t0
        cs_items = simulator.administered_items
        cs_resp = [np.array(r, dtype=np.int64) for r in simulator.response_vectors]
        cs_map, cs_mle = rescore(params, cs_items, cs_resp)
        cs_exposure = np.bincount(np.concatenate(cs_items), minlength=len(bank)).max() / args.simulees

        for prior_sd, sim, wall, ours_map, ours_mle in ours:
            table.add_row(f"{length}", f"digipath (MAP, prior SD {prior_sd:g})", f"{wall:.2f}",
                          f"{rmse(sim.theta[:, 0], theta):.3f}", f"{rmse(ours_map, theta):.3f}",
                          f"{rmse(ours_mle, theta):.3f}", f"{sim.exposure_rates.max():.3f}",
                          f"{wall / catsim_wall:.3f}")
        table.add_row(f"{length}", "catsim (MLE)", f"{catsim_wall:.2f}",
                      f"{rmse(simulator.latest_estimations, theta):.3f}", f"{rmse(cs_map, theta):.3f}",
                      f"{rmse(cs_mle, theta):.3f}", f"{cs_exposure:.3f}", "1")
        console.print(f"length {length}: digipath {ours[0][2]:.2f} s, catsim {catsim_wall:.2f} s")
    console.print(table)
    console.print(f"RMSE sampling SD ~ RMSE/sqrt(2N) = {1 / np.sqrt(2 * args.simulees):.3f} x RMSE")


if __name__ == "__main__":
    main()
