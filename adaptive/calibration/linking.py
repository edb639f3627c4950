"""Linking a new calibration onto an existing bank's scale through common (anchor) items.

Scale transformation ``theta_old = A * theta_new + B``: item parameters map as ``a* = a / A``,
``b* = A b + B`` (c unchanged). ``A, B`` by mean-sigma (anchor difficulties) or Stocking-Lord
(minimising the squared distance between the anchors' test characteristic curves over a N(0, 1)
weighted grid, started at mean-sigma). Anchor drift: per anchor the difference of the transformed
new difficulty from the bank value; an anchor is flagged unstable when the drift is practically
relevant (|delta b| > 0.3) and beyond sampling error: |delta b| / SE(b_new) > 2.58 when standard errors
are given, otherwise a robust z (median / IQR of the differences) above 2.5.
``link(..., drop_unstable=True)`` re-links without the flagged anchors (one pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from adaptive.errors import ValidationError
from adaptive.irt import ItemParameters

DRIFT_Z = 2.5
DRIFT_SE_Z = 2.58
DRIFT_ABS_B = 0.3


def transform(params: ItemParameters, A: float, B: float) -> ItemParameters:
    """Parameters expressed on the old scale."""
    return ItemParameters(
        model=params.model.copy(),
        a=params.a / A,
        b=A * params.b + B,
        c=params.c.copy(),
        d=params.d.copy(),
        n_categories=params.n_categories.copy(),
        ids=params.ids,
    )


def _first_b(params: ItemParameters) -> np.ndarray:
    """One location per item: the difficulty, or the mean GRM threshold."""
    return np.nanmean(params.b, axis=1)


def mean_sigma(old: ItemParameters, new: ItemParameters) -> tuple[float, float]:
    bo, bn = old.b[np.isfinite(old.b)], new.b[np.isfinite(new.b)]
    if bo.size != bn.size or bo.size < 2:
        raise ValidationError("mean-sigma needs at least 2 anchor difficulties with matching shapes")
    A = float(np.std(bo) / np.std(bn))
    return A, float(np.mean(bo) - A * np.mean(bn))


def stocking_lord(old: ItemParameters, new: ItemParameters, n_points: int = 41) -> tuple[float, float]:
    theta = np.linspace(-4, 4, n_points)
    w = np.exp(-0.5 * theta**2)
    w /= w.sum()
    target = old.expected_score(theta).sum(axis=1)

    def loss(x):
        A, B = x
        if A <= 0.05:
            return 1e10
        # new items evaluated on the old scale: P_new(theta_new) with theta_new = (theta - B) / A
        tcc = new.expected_score((theta - B) / A).sum(axis=1)
        return float(w @ (target - tcc) ** 2)

    start = np.array(mean_sigma(old, new))
    if not np.all(np.isfinite(start)) or start[0] <= 0.05:
        start = np.array([1.0, 0.0])
    res = minimize(
        loss, start, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-12, "maxiter": 2000}
    )
    return float(res.x[0]), float(res.x[1])


@dataclass
class LinkingResult:
    method: str
    A: float
    B: float
    anchors: pd.DataFrame  # per anchor: bank a/b, new a/b on the bank scale, deltas, robust z, unstable
    dropped: list[str] = field(default_factory=list)

    @property
    def unstable(self) -> list[str]:
        return list(self.anchors.index[self.anchors["unstable"]])

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "A": self.A,
            "B": self.B,
            "n_anchors": int(len(self.anchors)),
            "unstable_anchors": self.unstable,
            "dropped_anchors": list(self.dropped),
        }


def drift_table(ids, old: ItemParameters, new_on_old: ItemParameters, se_b_new=None) -> pd.DataFrame:
    """Per anchor drift; ``se_b_new`` (standard errors of the new difficulties, on the old scale) optional."""
    bo, bn = _first_b(old), _first_b(new_on_old)
    db = bn - bo
    med = np.median(db)
    iqr = np.subtract(*np.percentile(db, [75, 25]))
    scale = 0.74 * iqr if iqr > 1e-9 else max(np.std(db), 1e-9)
    z = (db - med) / scale
    big = np.abs(db) > DRIFT_ABS_B
    if se_b_new is not None:
        se = np.asarray(se_b_new, float)
        z_se = db / np.where(se > 0, se, np.nan)
        beyond = np.where(np.isfinite(z_se), np.abs(z_se) > DRIFT_SE_Z, np.abs(z) > DRIFT_Z)
    else:
        z_se = np.full(len(db), np.nan)
        beyond = np.abs(z) > DRIFT_Z
    return pd.DataFrame(
        {
            "a_bank": old.a,
            "b_bank": bo,
            "a_new": new_on_old.a,
            "b_new": bn,
            "delta_a": new_on_old.a - old.a,
            "delta_b": db,
            "robust_z": z,
            "z_se": z_se,
            "unstable": big & beyond,
        },
        index=pd.Index(list(ids), name="item_id"),
    )


def link(
    old: ItemParameters,
    new: ItemParameters,
    ids,
    method: str = "stocking-lord",
    drop_unstable: bool = False,
    se_b_new=None,
) -> LinkingResult:
    """Scale constants putting ``new`` (anchors as calibrated now) onto ``old`` (anchors in the bank)."""
    ids = list(ids)
    if len(ids) < 2:
        raise ValidationError(f"linking needs at least 2 anchor items, got {len(ids)}")
    fn = {"stocking-lord": stocking_lord, "mean-sigma": mean_sigma}.get(method)
    if fn is None:
        raise ValidationError(f"unknown linking method {method!r} (stocking-lord | mean-sigma)")
    A, B = fn(old, new)
    se = None if se_b_new is None else np.asarray(se_b_new, float)
    table = drift_table(ids, old, transform(new, A, B), None if se is None else se * A)
    dropped: list[str] = []
    if drop_unstable and table["unstable"].any() and (~table["unstable"]).sum() >= 2:
        keep = np.flatnonzero(~table["unstable"].to_numpy())
        dropped = [ids[k] for k in np.flatnonzero(table["unstable"].to_numpy())]
        A, B = fn(old.subset(keep), new.subset(keep))
        table = drift_table(ids, old, transform(new, A, B), None if se is None else se * A)
    return LinkingResult(method, A, B, table, dropped)
