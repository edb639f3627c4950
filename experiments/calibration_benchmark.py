"""Speed of the 2PL MML-EM on a CAT-log-sized sparse data set.

20,000 persons x 500 items at 10% density (each person answers 50 random items), true parameters
a ~ logN(log 1.2, 0.25), b ~ N(0, 1), theta ~ N(0, 1). Prints the fit time, EM cycles and the
parameter recovery (RMSE of a and b).

    python -m experiments.calibration_benchmark [--persons 20000 --items 500 --density 0.1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.special import expit

from adaptive.calibration.data import ResponseData
from adaptive.calibration.em import TwoPLCalibrator


def simulate_sparse_2pl(n_persons, n_items, density, seed=0):
    rng = np.random.default_rng(seed)
    a = np.exp(rng.normal(np.log(1.2), 0.25, n_items))
    b = rng.normal(0, 1, n_items)
    theta = rng.normal(0, 1, n_persons)
    per_person = max(2, int(round(density * n_items)))
    # each person: a random subset of items (argsort of uniform keys, vectorised)
    cols = np.argsort(rng.random((n_persons, n_items)), axis=1)[:, :per_person].ravel()
    rows = np.repeat(np.arange(n_persons), per_person)
    p = expit(a[cols] * (theta[rows] - b[cols]))
    x = (rng.random(p.size) < p).astype(np.int64)
    data = ResponseData(
        np.arange(n_persons).astype(str), np.array([f"i{j:04d}" for j in range(n_items)]), rows, cols, x
    )
    return data, a, b, theta


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=20000)
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--density", type=float, default=0.1)
    ap.add_argument("--se", default="observed", choices=["observed", "none"])
    args = ap.parse_args(argv)
    data, a, b, _ = simulate_sparse_2pl(args.persons, args.items, args.density)
    print(
        f"{args.persons} persons x {args.items} items, {data.n_responses} responses "
        f"({data.n_responses / (args.persons * args.items):.1%} density)"
    )
    t0 = time.perf_counter()
    m = TwoPLCalibrator(se_method=args.se, progress=True).fit(data)
    dt = time.perf_counter() - t0
    print(
        f"2PL MML-EM fit incl. SEs ({m.se_method_}): {dt:.1f} s, {m.n_iter_} EM cycles, "
        f"converged={m.converged_}, logLik={m.loglik_:.1f}"
    )
    order = np.argsort(m.item_ids_)
    rmse_a = float(np.sqrt(np.mean((m.a_[order] - a) ** 2)))
    rmse_b = float(np.sqrt(np.mean((m.b_[order, 0] - b) ** 2)))
    print(
        f"RMSE a = {rmse_a:.3f}, RMSE b = {rmse_b:.3f} (~{data.n_responses // args.items} responses per item)"
    )
    print(f"mean SE a = {np.nanmean(m.se_['a']):.3f}, mean SE b = {np.nanmean(m.se_['b'][:, 0]):.3f}")


if __name__ == "__main__":
    main()
