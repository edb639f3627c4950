"""Competence profile dicts (``CompetenceProfile.to_dict()``) as arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def profile_levels(profile: dict | None, competence_ids: Sequence[str]) -> np.ndarray:
    """Level per competence (NaN: unknown) from a competence profile dict.

    ``{"areas": {"1": {"level": 3, ...}}, "competence_levels": {"1.3": 2}}``: a competence takes its
    area's level (DigComp ids: area ``"1"`` holds ``"1.x"``) unless ``competence_levels`` names it.
    """
    levels = np.full(len(competence_ids), np.nan)
    if not profile:
        return levels
    areas = profile.get("areas") or {}
    for j, cid in enumerate(competence_ids):
        area = areas.get(cid.split(".")[0])
        if isinstance(area, dict) and area.get("level") is not None:
            levels[j] = float(area["level"])
    for cid, lv in (profile.get("competence_levels") or {}).items():
        if cid in competence_ids and lv is not None:
            levels[list(competence_ids).index(cid)] = float(lv)
    return np.clip(levels, 1, 8)
