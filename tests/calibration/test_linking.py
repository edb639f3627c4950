"""Linking: scale constants recovered exactly from error-free anchors, drift flagged and dropped."""

from __future__ import annotations

import numpy as np
import pytest

from adaptive.calibration.linking import link, mean_sigma, stocking_lord, transform
from adaptive.errors import ValidationError
from adaptive.irt import ItemParameters


@pytest.fixture()
def anchors():
    rng = np.random.default_rng(0)
    n = 12
    old = ItemParameters.dichotomous(a=np.exp(rng.normal(0.2, 0.2, n)), b=rng.uniform(-2, 2, n))
    A, B = 1.25, -0.4
    # the same items calibrated on a population with theta_old = A theta_new + B
    new = ItemParameters.dichotomous(a=old.a * A, b=(old.b[:, 0] - B) / A)
    return old, new, A, B


def test_mean_sigma_and_stocking_lord_recover_constants(anchors):
    old, new, A, B = anchors
    assert mean_sigma(old, new) == pytest.approx((A, B), abs=1e-10)
    assert stocking_lord(old, new) == pytest.approx((A, B), abs=1e-4)
    back = transform(new, A, B)
    np.testing.assert_allclose(back.a, old.a)
    np.testing.assert_allclose(back.b, old.b)


def test_stocking_lord_with_grm_and_3pl_items():
    old = ItemParameters(
        model=np.array(["3PL", "GRM", "2PL"]),
        a=np.array([1.2, 0.9, 1.5]),
        b=np.array([[0.3, np.nan], [-1.0, 0.8], [-0.5, np.nan]]),
        c=np.array([0.2, 0, 0]),
    )
    A, B = 0.8, 0.5
    new = ItemParameters(model=old.model, a=old.a * A, b=(old.b - B) / A, c=old.c)
    assert stocking_lord(old, new) == pytest.approx((A, B), abs=1e-4)


def test_drift_flagged_and_dropped(anchors):
    old, new, A, B = anchors
    b = new.b.copy()
    b[3, 0] += 1.0 / A  # item 3 drifted by one logit on the old scale
    drifted = ItemParameters.dichotomous(a=new.a, b=b[:, 0])
    ids = [f"a{k}" for k in range(12)]
    res = link(old, drifted, ids, method="stocking-lord", drop_unstable=True)
    assert res.unstable == ["a3"] and res.dropped == ["a3"]
    assert (res.A, res.B) == pytest.approx((A, B), abs=1e-3)  # re-linked without the drifted anchor
    assert res.anchors.loc["a3", "delta_b"] == pytest.approx(1.0, abs=1e-3)
    # with standard errors: a 1-logit drift with SE 0.5 is within sampling error, not flagged
    res_se = link(old, drifted, ids, se_b_new=np.full(12, 0.5))
    assert res_se.unstable == []


def test_link_needs_two_anchors(anchors):
    old, new, _, _ = anchors
    with pytest.raises(ValidationError, match="at least 2"):
        link(old.subset([0]), new.subset([0]), ["x"])
    with pytest.raises(ValidationError, match="unknown linking method"):
        link(old, new, [str(k) for k in range(12)], method="haebara")
