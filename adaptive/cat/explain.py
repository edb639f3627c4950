"""A competence profile explained in the framework's own words: what was measured, on how many items,
how precisely, what the level means, and how it was scored (transparency of a high-risk AI use).

Plain data in, plain data out: the service, a notebook or a report renders the same explanation.
"""

from __future__ import annotations

import functools
from statistics import NormalDist

from adaptive.cat.profile import MIN_ITEMS_FOR_COMPETENCE_ESTIMATE
from adaptive.estimation import level_of

COVERAGE = 0.9
# SE thresholds of the plain-words precision reading, in theta units: a level band (between two cuts of
# DigComp 2.2 banks) is ~0.6 wide, so SE <= 0.3 pins the level to about one band either way.
PRECISION_WORDS = ((0.3, "high"), (0.5, "moderate"), (float("inf"), "low"))

SCORING_METHOD = (
    "Item response theory. The area abilities (theta) are the joint maximum a posteriori (MAP) estimate "
    "from the scored answers under the item bank's correlated prior over areas; the standard error (SE) "
    "comes from the curvature of the posterior (Laplace approximation). The level is the most likely "
    "level under that posterior, using the bank's theta cut scores. Pilot items are administered to "
    "calibrate them and never scored."
)


# Who scored a response: the service, with the item bank's answer key (the option chosen), or the delivery
# platform, whose score of the item was taken as given (a 1EdTech CAT section with ``scoring: platform``).
SCORED_BY = {
    "server": "the option chosen was scored by digipath with the item bank's answer key",
    "platform": "the delivery platform scored the item and sent its score, which digipath took as given "
                "(after checking it fits the item's model)",
}


def scored_by(entry: dict) -> str:
    """Who scored one entry of a session's response log: a platform-scored entry carries no option."""
    return "platform" if entry.get("answer") is None else "server"


def explain_responses(log: list[dict]) -> list[dict]:
    """Per response of a session log (``CatSession.log``), in the order given: the item, its area and who
    scored it. Never the option chosen nor the score: together with the item they would reveal its key."""
    return [{"sequence": k + 1, "item_id": e["item_id"], "area": e.get("area"), "scored_by": scored_by(e)}
            for k, e in enumerate(log)]


def precision_words(se: float) -> str:
    return next(word for limit, word in PRECISION_WORDS if se <= limit)


def explain_profile(profile: dict, cut_scores: dict, framework=None, *, prior_sd: float = 1.0,  # noqa: ANN001
                    independent_areas: bool = False, coverage: float = COVERAGE,
                    prior_correlation_shrinkage: float = 0.0, log: list[dict] | None = None) -> dict:
    """Explanation of ``profile`` (``CompetenceProfile.to_dict()``) scored on a bank with ``cut_scores``
    (``{area: cuts}``). ``framework`` (``adaptive.framework.Framework`` of the bank's version, or None)
    supplies area names and level descriptors; descriptors are given only when its level scheme has as
    many levels as the cut scores define. ``log``: the session's response log, to say per response who
    scored it (:func:`explain_responses`)."""
    z = NormalDist().inv_cdf(0.5 + coverage / 2)
    pct = round(coverage * 100)
    areas = {}
    for area_id, r in profile.get("areas", {}).items():
        theta, se = float(r["theta"]), float(r["se"])
        entry: dict = {
            "name": _area_name(framework, area_id),
            "items": r.get("n_items"),
            "theta": theta,
            "se": se,
            "precision": precision_words(se),
        }
        cuts = cut_scores.get(area_id)
        level = r.get("level")
        if cuts and level is not None:
            low, high = level_of(theta - z * se, cuts), level_of(theta + z * se, cuts)
            probs = r.get("level_probabilities") or []
            p = float(probs[level - 1]) if len(probs) >= level else None
            entry["level"] = level
            entry["level_probability"] = p
            entry["level_range"] = [low, high]
            name = functools.partial(_level_label, framework, n_levels=len(cuts) + 1)
            span = name(low) if low == high else f"between {name(low)} and {name(high)}"
            entry["reading"] = (
                f"{entry['precision'].capitalize()} precision (SE {se:.2f}) from {r.get('n_items')} items: "
                f"{name(level)} is the most likely"
                + (f" (probability {p:.0%})" if p is not None else "")
                + f"; with {pct}% certainty the level is {span}."
            )
            entry["level_meaning"] = _descriptor(framework, level, len(cuts) + 1)
        else:
            entry["reading"] = (f"{entry['precision'].capitalize()} precision (SE {se:.2f}) from "
                                f"{r.get('n_items')} items; the item bank defines no levels.")
        areas[area_id] = entry
    competences = profile.get("competences", {})
    out = {
        "framework": None if framework is None else {"name": framework.name, "version": framework.version},
        "areas_measured": list(areas),
        "areas": areas,
        "competences": {
            "with_estimate": sorted(c for c, e in competences.items() if e.get("theta") is not None),
            "rule": f"each competence reports how many scored items gave evidence; an estimate only from "
                    f"{MIN_ITEMS_FOR_COMPETENCE_ESTIMATE} items on (fewer are too imprecise and would reveal "
                    f"which answers were right)",
        },
        "scoring": {
            "method": SCORING_METHOD,
            "estimator": "MAP (joint over areas) + Laplace SE",
            "prior": {"sd": float(prior_sd),
                      "area_correlations": "none" if independent_areas else "item bank",
                      "correlation_shrinkage": (0.0 if independent_areas
                                                else float(prior_correlation_shrinkage))},
            "level_range_coverage": coverage,
        },
    }
    if log is not None:
        responses = explain_responses(log)
        out["responses"] = responses
        out["scoring"]["scored_by"] = {w: sum(r["scored_by"] == w for r in responses) for w in SCORED_BY}
        out["scoring"]["scored_by_meaning"] = dict(SCORED_BY)
    return out


def _area_name(framework, area_id: str) -> str | None:  # noqa: ANN001
    if framework is None:
        return None
    try:
        return framework.area(area_id).name
    except KeyError:            # UnknownIdError is a KeyError: a bank area the framework does not name
        return None


def _level_label(framework, level: int, *, n_levels: int) -> str:  # noqa: ANN001
    """'level 3', or the framework's own name for it ('Advanced (level 3)') where its scheme fits."""
    if framework is None or len(framework.levels) != n_levels:
        return f"level {level}"
    code = framework.levels[level - 1].label
    return f"level {level}" if code == str(level) else f"{code} (level {level})"


def _descriptor(framework, level: int, n_levels: int) -> dict | None:  # noqa: ANN001
    if framework is None or len(framework.levels) != n_levels:
        return None
    lv = framework.levels[level - 1]
    # whatever descriptors the framework's level carries (DigComp 2.2: group, complexity, autonomy,
    # cognitive domain), in its own words
    out = {"level": level}
    for name in ("code", "name", "group", "complexity", "autonomy", "cognitive_domain", "description"):
        value = getattr(lv, name, None)
        if isinstance(value, str) and value:
            out[name] = value
    return out
