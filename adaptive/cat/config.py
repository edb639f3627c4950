"""CAT settings: one JSON-serialisable dataclass shared by sessions, the simulator and the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from adaptive.cat.exposure import DEFAULT_BANDS
from adaptive.errors import ValidationError

SELECTIONS = ("max-info", "d-optimal", "shadow")
EXPOSURES = (None, "randomesque", "sympson-hetter", "conditional-sympson-hetter")


@dataclass
class CatConfig:
    """Settings of one adaptive diagnostic.

    Defaults suit a five-area DigComp diagnostic: 6-8 items per area, at most 40 items in all.
    Pilot items come on top of ``max_items`` (they are never scored). The SE target .55 (reliability
    ~.70 per area) is what a bootstrap-sized bank delivers within 40 items under the default exposure
    control and prior: 98-99.8% of learners stop on it, after ~30 items (``python -m
    experiments.exposure_stopping``). SE .50 takes ~44-46 items (cap 48: 40-74% stop on it); SE .35 would
    need about twice the information per area: twice the items, or a bank of more informative items.
    """

    areas: list[str] | None = None            # None: all areas of the bank
    selection: str = "d-optimal"
    se_target: float = 0.55
    min_items: int = 10
    max_items: int = 40
    min_items_per_area: int = 2
    max_items_per_area: int = 12
    classification_threshold: float | None = None
    # conditional Sympson-Hetter with the parameters stored with the bank (calibrated when the bank is
    # registered to hold exposure <= .25 in every theta band); randomesque for a bank without them
    exposure: str | None = "conditional-sympson-hetter"
    randomesque_k: int = 5
    # Sympson-Hetter K_i by item id (missing: 1); conditional: a list of K per band of exposure_bands
    # (None: the bank's stored parameters and bands)
    exposure_parameters: dict[str, float | list[float]] | None = None
    exposure_bands: list[float] | None = None   # conditional: theta band edges (None: exposure.DEFAULT_BANDS)
    n_pilot: int = 0
    competence_balancing: bool = True         # Kingsbury-Zara spread over the competences of an area
    prior_sd: float = 1.0                     # prior SD of each area's theta (correlations from the bank)
    independent_areas: bool = False           # ignore the bank's area correlations (separate per-area CATs)
    # the prior uses (1 - s) x the bank's area correlations: robust to a true correlation lower than the
    # calibrated one. .4 is the smallest item cost keeping 95% coverage >= .93 when the true correlation
    # is .3 under the assumed one (python -m experiments.cat_misspecification: .946 at .8 -> .5, .934 at
    # .5 -> .2, where no shrinkage gives .866 and .918)
    prior_correlation_shrinkage: float = 0.4
    shadow_pool_per_competence: int = 24      # shadow test: best candidates kept per competence for the MIP
    # items this test must not give (e.g. those a learner saw in the last diagnostic), where the bank allows:
    # an eligibility mask under every selection and exposure method. An area left with fewer unexcluded
    # operational items than min_items_per_area gets its excluded items back (all of them); so does the
    # whole test if fewer than min_items remain. Ids not in the bank are ignored (an older bank's items).
    exclude_items: list[str] | None = None
    # "gentle start": the first gentle_start operational items only among those the learner is predicted to
    # succeed on (expected score / max score >= gentle_p at the current estimate), relaxing to plain
    # selection when none is left; 0 = off (cost in items and RMSE: experiments/gentle_start.py)
    gentle_start: int = 0
    gentle_p: float = 0.7

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        def bad(field: str, reason: str) -> ValidationError:
            return ValidationError(reason, where="CatConfig", field=field)

        if self.selection not in SELECTIONS:
            raise bad("selection", f"must be one of {SELECTIONS}, got {self.selection!r}")
        if self.exposure not in EXPOSURES:
            raise bad("exposure", f"must be one of {EXPOSURES}, got {self.exposure!r}")
        if not self.se_target > 0:
            raise bad("se_target", f"must be > 0, got {self.se_target}")
        if self.min_items < 0 or self.max_items < 1 or self.min_items > self.max_items:
            raise bad("max_items",
                      f"need 0 <= min_items <= max_items, got {self.min_items}, {self.max_items}")
        if self.min_items_per_area < 0 or self.max_items_per_area < max(1, self.min_items_per_area):
            raise bad("max_items_per_area",
                      f"need 0 <= min_items_per_area <= max_items_per_area, got "
                      f"{self.min_items_per_area}, {self.max_items_per_area}")
        if self.classification_threshold is not None and not 0 < self.classification_threshold <= 1:
            raise bad("classification_threshold", f"must be in (0, 1], got {self.classification_threshold}")
        if self.randomesque_k < 1:
            raise bad("randomesque_k", f"must be >= 1, got {self.randomesque_k}")
        if self.n_pilot < 0:
            raise bad("n_pilot", f"must be >= 0, got {self.n_pilot}")
        if not self.prior_sd > 0:
            raise bad("prior_sd", f"must be > 0, got {self.prior_sd}")
        if not 0 <= self.prior_correlation_shrinkage <= 1:
            raise bad("prior_correlation_shrinkage",
                      f"must be in [0, 1], got {self.prior_correlation_shrinkage}")
        if self.exposure_bands is not None and (
                len(self.exposure_bands) == 0 or any(np.diff(self.exposure_bands) <= 0)
                or not np.all(np.isfinite(self.exposure_bands))):
            raise bad("exposure_bands", f"must be increasing finite theta values, got {self.exposure_bands}")
        if self.exposure_parameters is not None:
            n_bands = (len(self.exposure_bands or DEFAULT_BANDS) + 1
                       if self.exposure == "conditional-sympson-hetter" else None)
            for item_id, k in self.exposure_parameters.items():
                ks = np.atleast_1d(np.asarray(k, dtype=float))
                if n_bands is None and (np.ndim(k) != 0):
                    raise bad("exposure_parameters", f"item {item_id!r}: one K per item, got {k}")
                if n_bands is not None and len(ks) != n_bands:
                    raise bad("exposure_parameters", f"item {item_id!r}: one K per theta band ({n_bands}), "
                                                     f"got {k}")
                if not np.all((ks >= 0) & (ks <= 1)):
                    raise bad("exposure_parameters", f"item {item_id!r}: K must be in [0, 1], got {k}")
        if self.exclude_items is not None and not all(isinstance(i, str) for i in self.exclude_items):
            raise bad("exclude_items", "must be a list of item ids (strings)")
        if self.gentle_start < 0:
            raise bad("gentle_start", f"must be >= 0, got {self.gentle_start}")
        if not 0 < self.gentle_p < 1:
            raise bad("gentle_p", f"must be in (0, 1), got {self.gentle_p}")
        if self.areas is not None and len(self.areas) == 0:
            raise bad("areas", "must name at least one area (or be null for all areas)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CatConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError(f"unknown setting(s) {unknown}", where="CatConfig", field=unknown[0])
        data = dict(data)
        if data.get("areas") is not None:
            data["areas"] = [str(a) for a in data["areas"]]
        if data.get("exclude_items") is not None:
            data["exclude_items"] = [str(i) for i in data["exclude_items"]]
        if data.get("exposure_parameters") is not None:
            data["exposure_parameters"] = {str(k): [float(x) for x in v] if isinstance(v, list | tuple)
                                           else float(v) for k, v in data["exposure_parameters"].items()}
        if data.get("exposure_bands") is not None:
            data["exposure_bands"] = [float(x) for x in data["exposure_bands"]]
        return cls(**data)
