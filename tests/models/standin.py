"""A tiny stand-in for ``recommender.bundle.RecommenderBundle`` (same save/load/recommend surface).

Used only to test the MLflow plumbing independently of the real recommender; the bootstrap test
exercises the real one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Recommendation:
    content_id: str
    score: float
    reason: str


class TinyBundle:
    """Ranks a fixed catalogue by a per-learner rotation: deterministic and easy to check."""

    def __init__(self, catalogue: list[str], framework_version: str = "2.2", metrics: dict | None = None):
        self.catalogue = list(catalogue)
        self.roles: dict = {}
        self.framework_version = framework_version
        self.metrics = dict(metrics or {})

    def recommend(self, learner_id, k=10, profile=None, role=None, events=None, exclude_completed=True,
                  language=None, format=None):
        shift = sum(map(ord, str(learner_id))) % len(self.catalogue)
        order = self.catalogue[shift:] + self.catalogue[:shift]
        return [Recommendation(c, 1.0 / (r + 1), f"role {role}" if role else "rotation")
                for r, c in enumerate(order[:k])]

    def save(self, directory):
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        data = {"catalogue": self.catalogue, "framework_version": self.framework_version,
                "metrics": self.metrics}
        (directory / "bundle.json").write_text(json.dumps(data))

    @classmethod
    def load(cls, directory):
        data = json.loads((Path(directory) / "bundle.json").read_text())
        return cls(data["catalogue"], data["framework_version"], data["metrics"])
