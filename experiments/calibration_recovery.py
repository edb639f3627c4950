"""Parameter recovery study for the MML-EM calibration (prints a recovery table).

Scenarios (true parameters drawn as in adaptive.synthetic: a ~ logN(log 1.2, 0.25), b ~ U(-2, 2),
c ~ Beta(5, 17), theta ~ N(0, 1)), each replicated ``--reps`` times with fixed seeds:

- 2PL, complete data, 2,000 persons x 40 items;
- 2PL, sparse CAT-like multistage design: 10-item router, then an easy or hard 30-item block chosen
  from the router score (MAR), 6,000 persons (~3,000 responses per block item);
- 3PL with the Beta(5, 17) prior on c, 3,000 and 10,000 persons x 30 items;
- GRM (5 categories), 2,000 persons x 15 items;
- full ``calibrate_bank`` on a synthetic DigComp bank (5 areas, 2PL/3PL/GRM mix, 30 % of responses
  missing at random), model choice per area and the area correlation (true 0.6).

Columns: RMSE and bias of each parameter, the 95 % Wald-interval coverage of the SEs, time per fit.

    python -m experiments.calibration_recovery [--reps 3] [--skip-bank]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy.special import expit

from adaptive.calibration.data import ResponseData
from adaptive.calibration.em import GRMCalibrator, ThreePLCalibrator, TwoPLCalibrator


def _stats(name, est, true, se=None):
    err = np.asarray(est) - np.asarray(true)
    out = {f"rmse_{name}": float(np.sqrt(np.nanmean(err**2))), f"bias_{name}": float(np.nanmean(err))}
    if se is not None:
        out[f"cover_{name}"] = float(np.nanmean(np.abs(err) <= 1.96 * np.asarray(se)))
    return out


def _params(rng, J, c=False):
    a = np.exp(rng.normal(np.log(1.2), 0.25, J))
    b = rng.uniform(-2, 2, J)
    return a, b, (rng.beta(5, 17, J) if c else np.zeros(J))


def run_2pl(seed, n=2000, J=40):
    rng = np.random.default_rng(seed)
    a, b, _ = _params(rng, J)
    th = rng.standard_normal(n)
    X = (rng.random((n, J)) < expit(a * (th[:, None] - b))).astype(float)
    t = time.perf_counter()
    m = TwoPLCalibrator().fit(X)
    return {
        **_stats("a", m.a_, a, m.se_["a"]),
        **_stats("b", m.b_[:, 0], b, m.se_["b"][:, 0]),
        "seconds": time.perf_counter() - t,
    }


def run_sparse(seed, n=6000):
    rng = np.random.default_rng(seed)
    a = np.exp(rng.normal(np.log(1.2), 0.25, 70))
    b = np.concatenate([rng.uniform(-1, 1, 10), rng.uniform(-2.5, 0.2, 30), rng.uniform(-0.2, 2.5, 30)])
    th = rng.standard_normal(n)
    X = (rng.random((n, 70)) < expit(a * (th[:, None] - b))).astype(float)
    hard = X[:, :10].sum(axis=1) >= 6
    X[np.ix_(hard, np.arange(10, 40))] = np.nan
    X[np.ix_(~hard, np.arange(40, 70))] = np.nan
    t = time.perf_counter()
    m = TwoPLCalibrator().fit(ResponseData.from_matrix(X))
    return {
        **_stats("a", m.a_, a, m.se_["a"]),
        **_stats("b", m.b_[:, 0], b, m.se_["b"][:, 0]),
        "seconds": time.perf_counter() - t,
        "se_method": m.se_method_,
    }


def run_3pl(seed, n=3000, J=30):
    rng = np.random.default_rng(seed)
    a, b, c = _params(rng, J, c=True)
    th = rng.standard_normal(n)
    X = (rng.random((n, J)) < c + (1 - c) * expit(a * (th[:, None] - b))).astype(float)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m = ThreePLCalibrator().fit(X)
    return {
        **_stats("a", m.a_, a, m.se_["a"]),
        **_stats("b", m.b_[:, 0], b, m.se_["b"][:, 0]),
        **_stats("c", m.c_, c, m.se_["c"]),
        "seconds": time.perf_counter() - t,
    }


def run_grm(seed, n=2000, J=15, K=5):
    rng = np.random.default_rng(seed)
    a = np.exp(rng.normal(np.log(1.2), 0.25, J))
    b = np.sort(rng.normal(0, 1, (J, K - 1)), axis=1) + np.linspace(-1.2, 1.2, K - 1)
    th = rng.standard_normal(n)
    star = expit(a[None, :, None] * (th[:, None, None] - b[None]))
    X = (star > rng.random((n, J, 1))).sum(axis=2).astype(float)
    t = time.perf_counter()
    m = GRMCalibrator().fit(X)
    ok = [len(cat) == K for cat in m.categories_]
    return {
        **_stats("a", m.a_[ok], a[ok], m.se_["a"][ok]),
        **_stats("b", m.b_[ok], b[ok], m.se_["b"][ok]),
        "seconds": time.perf_counter() - t,
    }


def run_bank(seed, n=5000, items_per_competence=12):
    from adaptive.calibration import calibrate_bank
    from adaptive.synthetic import generate_synthetic_bank, simulate_responses

    bank = generate_synthetic_bank(
        items_per_competence=items_per_competence,
        languages=("en",),
        seed=seed,
        n_enemy_pairs_per_competence=0,
    )
    rng = np.random.default_rng(seed)
    R = np.asarray(bank.area_correlation)
    theta = rng.standard_normal((n, len(bank.area_ids))) @ np.linalg.cholesky(R).T
    params, areas = bank.parameters(), bank.item_areas()
    X = np.empty((n, len(bank)))
    for d in range(len(bank.area_ids)):
        idx = np.flatnonzero(areas == d)
        X[:, idx] = simulate_responses(params.subset(idx), theta[:, d], rng)
    X[rng.random(X.shape) < 0.3] = np.nan
    data = ResponseData.from_matrix(X, item_ids=[it.id for it in bank.items])
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = calibrate_bank(data, template=bank, model="template", progress=False, seed=seed)
    secs = time.perf_counter() - t
    rows = {}
    in_bank = {x.id for x in res.bank.items}
    for model in ("2PL", "3PL", "GRM"):
        pairs = [(res.bank.item(it.id), it) for it in bank.items if it.model == model and it.id in in_bank]
        gb = np.concatenate([g.b for g, _ in pairs])
        tb = np.concatenate([it.b for _, it in pairs])
        rows[model] = {
            "n_items": len(pairs),
            "rmse_a": float(np.sqrt(np.mean([(g.a - t.a) ** 2 for g, t in pairs]))),
            "rmse_b": float(np.sqrt(np.mean((gb - tb) ** 2))),
        }
        if model == "3PL":
            rows[model]["rmse_c"] = float(np.sqrt(np.mean([(g.c - t.c) ** 2 for g, t in pairs])))
    off = res.bank.area_correlation[np.triu_indices(len(bank.area_ids), 1)]
    return rows, secs, float(off.mean()), float(off.min()), float(off.max()), res


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--skip-bank", action="store_true")
    args = ap.parse_args(argv)
    scen = [
        ("2PL complete, 2000 x 40", run_2pl, {}),
        ("2PL sparse multistage, 6000 persons", run_sparse, {}),
        ("3PL Beta(5,17) prior, 3000 x 30", run_3pl, {}),
        ("3PL Beta(5,17) prior, 10000 x 30", run_3pl, {"n": 10000}),
        ("GRM 5 categories, 2000 x 15", run_grm, {}),
    ]
    print(
        f"{'scenario':40s} {'RMSE a':>7s} {'RMSE b':>7s} {'RMSE c':>7s} {'bias b':>7s} "
        f"{'cov a':>6s} {'cov b':>6s} {'cov c':>6s} {'s/fit':>6s}"
    )
    for name, fn, kw in scen:
        res = [fn(seed, **kw) for seed in range(args.reps)]
        avg = {k: np.mean([r[k] for r in res]) for k in res[0] if k != "se_method"}

        def f(k, avg=avg):
            return f"{avg[k]:7.3f}" if k in avg else f"{'-':>7s}"

        def g(k, avg=avg):
            return f"{avg[k]:6.2f}" if k in avg else f"{'-':>6s}"

        print(
            f"{name:40s} {f('rmse_a')} {f('rmse_b')} {f('rmse_c')} {f('bias_b')} "
            f"{g('cover_a')} {g('cover_b')} {g('cover_c')} {avg['seconds']:6.2f}"
        )
    if not args.skip_bank:
        rows, secs, mean_r, lo, hi, res = run_bank(0)
        print(
            f"\ncalibrate_bank on a synthetic DigComp bank ({int(res.metrics['n_items_calibrated'])} items, "
            f"{int(res.metrics['n_persons'])} persons, {int(res.metrics['n_responses'])} responses): "
            f"{secs:.1f} s"
        )
        for model, r in rows.items():
            print(
                f"  {model}: "
                + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items())
            )
        print(f"  area correlation (true 0.6): mean {mean_r:.3f}, range [{lo:.3f}, {hi:.3f}]")
        print(f"  items flagged: {int(res.metrics['n_items_flagged'])}, excluded: {len(res.excluded)}")


if __name__ == "__main__":
    main()
