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
