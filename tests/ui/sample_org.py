"""A small organisation made through the public API, as a learning platform would make it: learners in
roles and units take whole diagnostics (answers from simulated test takers) and complete some steps of
their pathways. Used by the browser tests (the HR view needs groups large enough to show) and by
``python -m experiments.screenshots``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np

from tests.api.helpers import SimulatedTaker


@dataclass(frozen=True)
class Group:
    role: str
    unit: str
    size: int
    mean_theta: float  # the group's mean true ability (every area)


def take_diagnostic(client: httpx.Client, bank, learner_id: str, theta: dict[str, float] | float, *,  # noqa: ANN001
                    role: str | None = None, unit: str | None = None, seed: int = 0,
                    language: str = "en") -> str:
    """One whole diagnostic over HTTP; returns its session id."""
    body = {"learner_id": learner_id, "language": language}
    if role is not None:
        body["role"] = role
    if unit is not None:
        body["unit"] = unit
    r = client.post("/v1/diagnostics", json=body)
    r.raise_for_status()
    step = r.json()
    taker = SimulatedTaker(bank, theta, seed)
    while step["status"] != "finished":
        item = step["item"]
        answer = {"item_id": item["id"], "answer": taker.answer(item), "sequence": item["sequence"]}
        r = client.post(f"/v1/diagnostics/{step['session_id']}/responses", json=answer)
        r.raise_for_status()
        step = r.json()
    return step["session_id"]


def populate(client: httpx.Client, bank, groups: list[Group], *, seed: int = 0,  # noqa: ANN001
             completion: float = 0.4) -> list[str]:
    """Learners of ``groups`` take a diagnostic each; then each completes about ``completion`` of the steps
    of their pathway (learning events after the diagnostic). ``client`` carries a key with the diagnostics,
    recommendations and events scopes. Returns the learner ids."""
    rng = np.random.default_rng(seed)
    areas = list(bank.area_ids)
    learners = []
    for g, group in enumerate(groups):
        for i in range(group.size):
            learner = f"{group.unit}-{group.role}-{i:02d}"
            theta = {a: float(group.mean_theta + rng.normal(0, 0.6)) for a in areas}
            take_diagnostic(client, bank, learner, theta, role=group.role, unit=group.unit, seed=1000 * g + i)
            learners.append(learner)
    when = datetime.now(UTC) + timedelta(minutes=1)  # completions count after the diagnostic
    events = []
    for learner in learners:
        r = client.get(f"/v1/learners/{learner}/pathway")
        r.raise_for_status()
        for step in r.json()["steps"]:
            if rng.random() < completion:
                events.append({"event_id": f"done-{learner}-{step['content_id']}", "learner_id": learner,
                               "content_id": step["content_id"], "event": "completed",
                               "timestamp": when.isoformat()})
    for start in range(0, len(events), 500):
        client.post("/v1/learning-events", json={"events": events[start:start + 500]}).raise_for_status()
    return learners
