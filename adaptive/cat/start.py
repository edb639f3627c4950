"""Starting point of a diagnostic: the prior over the areas' thetas."""

from __future__ import annotations

import numpy as np

from adaptive.errors import UnknownIdError, ValidationError


def resolve_areas(bank, areas: list[str] | None) -> list[str]:
    """The bank's areas the test covers, in bank order (UnknownIdError for an area not in the bank)."""
    bank_areas = [str(a) for a in bank.area_ids]
    if areas is None:
        return bank_areas
    for a in areas:
        if str(a) not in bank_areas:
            raise UnknownIdError("area", str(a))
    wanted = {str(a) for a in areas}
    return [a for a in bank_areas if a in wanted]


def prior(bank, areas: list[str], start_theta: dict[str, float] | None = None,
          prior_sd: float = 1.0, independent: bool = False,
          correlation_shrinkage: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Prior mean and covariance over ``areas``.

    The mean is 0 (the reference scale) unless ``start_theta`` gives a value for an area, e.g. from
    the learner's role or a previous diagnostic; the correlations are the bank's area correlations
    (identity when ``independent``: then an answer only informs its own area), shrunk towards the
    identity by ``correlation_shrinkage`` s: (1 - s) R + s I. A calibrated correlation carries sampling
    error and may not hold for the learners tested; shrinking it keeps the reported SEs honest when the
    true correlation is lower (experiments/cat_misspecification.py).
    """
    bank_areas = [str(a) for a in bank.area_ids]
    idx = [bank_areas.index(a) for a in areas]
    corr = np.asarray(getattr(bank, "area_correlation", None) if getattr(bank, "area_correlation", None)
                      is not None else np.eye(len(bank_areas)), dtype=float)
    corr = np.eye(len(idx)) if independent else corr[np.ix_(idx, idx)]
    if not 0 <= correlation_shrinkage <= 1:
        raise ValidationError(f"must be in [0, 1], got {correlation_shrinkage}", where="prior",
                              field="prior_correlation_shrinkage")
    corr = (1 - correlation_shrinkage) * corr + correlation_shrinkage * np.eye(len(idx))
    mean = np.zeros(len(areas))
    for area, value in (start_theta or {}).items():
        if str(area) not in bank_areas:
            raise UnknownIdError("area", str(area), f"start_theta names area {area!r} not in the item bank")
        if str(area) not in areas:       # e.g. a role profile covering every area; this test has fewer
            continue
        value = float(value)
        if not np.isfinite(value) or abs(value) > 4:
            raise ValidationError(f"must be finite and within [-4, 4], got {value}", where="start_theta",
                                  field=str(area))
        mean[areas.index(str(area))] = value
    cov = corr * prior_sd**2
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError as exc:
        raise ValidationError("not positive definite", where="item bank", field="area_correlation") from exc
    return mean, cov
