"""Helpers for the calibration tests (simulation with known truth)."""

from __future__ import annotations

import numpy as np
from scipy.special import expit


def simulate_2pl(n_persons, a, b, seed, theta=None):
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(n_persons) if theta is None else theta
    p = expit(a * (theta[:, None] - b))
    return (rng.random(p.shape) < p).astype(float), theta


def ci_se(lo_hi):
    """SE from a mirt 95% Wald interval [est, lo, hi]."""
    return (lo_hi[2] - lo_hi[1]) / (2 * 1.959964)


def small_bank(n_areas=2, items_per_competence=3, n_pilot=0, seed=0, share_grm=0.1, share_3pl=0.0):
    """A synthetic DigComp bank restricted to the first ``n_areas`` areas (keeps tests fast)."""
    import dataclasses

    from adaptive.framework import load_framework
    from adaptive.synthetic import generate_synthetic_bank

    fw = load_framework()
    areas = fw.areas[:n_areas]
    keep = {a.id for a in areas}
    small = dataclasses.replace(
        fw, areas=areas, competences=tuple(c for c in fw.competences if c.area_id in keep)
    )
    return generate_synthetic_bank(
        framework=small,
        items_per_competence=items_per_competence,
        languages=("en",),
        share_3pl=share_3pl,
        share_grm=share_grm,
        n_pilot_per_competence=n_pilot,
        seed=seed,
        n_enemy_pairs_per_competence=0,
    )


def simulate_bank_responses(bank, n_persons, seed, mean=0.0, sd=1.0, missing=0.0):
    """Correlated per-area thetas (the bank's area correlation), full responses, then MCAR missingness."""
    from adaptive.synthetic import simulate_responses

    rng = np.random.default_rng(seed)
    R = np.asarray(bank.area_correlation)
    theta = mean + sd * rng.standard_normal((n_persons, len(bank.area_ids))) @ np.linalg.cholesky(R).T
    areas = bank.item_areas()
    params = bank.parameters()
    X = np.empty((n_persons, len(bank)))
    for d in range(len(bank.area_ids)):
        idx = np.flatnonzero(areas == d)
        X[:, idx] = simulate_responses(params.subset(idx), theta[:, d], rng)
    if missing:
        X[rng.random(X.shape) < missing] = np.nan
    return X, theta
