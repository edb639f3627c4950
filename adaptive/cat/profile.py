"""The competence profile a finished (or interrupted) diagnostic ends with."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adaptive.cat.stopping import level_probabilities_batch


@dataclass
class AreaResult:
    theta: float
    se: float
    level: int | None                         # most likely DigComp level 1..8 (None: bank has no cut scores)
    level_probabilities: list[float] | None
    n_items: int


@dataclass
class CompetenceEvidence:
    items: int
    score: int
    max_score: int


@dataclass
class CompetenceProfile:
    areas: dict[str, AreaResult]
    competences: dict[str, CompetenceEvidence] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "areas": {a: {"theta": r.theta, "se": r.se, "level": r.level,
                          "level_probabilities": r.level_probabilities, "n_items": r.n_items}
                      for a, r in self.areas.items()},
            "competences": {c: {"items": e.items, "score": e.score, "max_score": e.max_score}
                            for c, e in self.competences.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> CompetenceProfile:
        return cls(areas={a: AreaResult(**r) for a, r in data["areas"].items()},
                   competences={c: CompetenceEvidence(**e) for c, e in data.get("competences", {}).items()})


def build_profile(areas: list[str], theta: np.ndarray, se: np.ndarray, n_area: np.ndarray,
                  cuts: np.ndarray | None, competence_ids: list[str], competence_items: np.ndarray,
                  competence_score: np.ndarray, competence_max: np.ndarray) -> CompetenceProfile:
    """Profile of one examinee from plain arrays (theta, se, n_area: (D,); competence arrays: (C,))."""
    probs = level_probabilities_batch(theta, se, cuts) if cuts is not None else None
    area_results = {}
    for k, a in enumerate(areas):
        p = None if probs is None else [float(x) for x in probs[k]]
        area_results[a] = AreaResult(theta=float(theta[k]), se=float(se[k]),
                                     level=None if p is None else int(np.argmax(p)) + 1,
                                     level_probabilities=p, n_items=int(n_area[k]))
    comps = {c: CompetenceEvidence(int(competence_items[j]), int(competence_score[j]), int(competence_max[j]))
             for j, c in enumerate(competence_ids)}
    return CompetenceProfile(area_results, comps)
