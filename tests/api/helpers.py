"""Shared helpers for the API tests: a simulated test taker and database URLs."""

from __future__ import annotations

import os

import numpy as np
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("DIGIPATH_TEST_DATABASE_URL")


class SimulatedTaker:
    """Answers items as a person with true ``theta`` per area would under the bank's IRT model.

    The test holds the bank (the client never sees keys): the sampled score category is mapped back
    to an option index with the key, exactly what a real learner's click would be.
    """

    def __init__(self, bank, theta: dict[str, float] | float, seed: int = 0):  # noqa: ANN001
        self.bank = bank
        self.theta = theta
        self.rng = np.random.default_rng(seed)

    def theta_for(self, area: str) -> float:
        return self.theta if isinstance(self.theta, float | int) else self.theta[area]

    def answer(self, item: dict) -> int:
        it = self.bank.item(item["id"])
        probs = self.bank.parameters([it.id]).category_probabilities(np.array([self.theta_for(it.area)]))[
            0, 0
        ]
        probs = probs[: it.n_categories] / probs[: it.n_categories].sum()
        score = int(self.rng.choice(len(probs), p=probs))
        if it.is_polytomous:
            return int(list(it.key).index(score))
        wrong = [i for i in range(it.n_options) if i != it.key]
        return int(it.key) if score == 1 else int(self.rng.choice(wrong))


def reset_postgres(url: str) -> None:
    """Empty the test database (drop and recreate the public schema)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def run_diagnostic(
    client,
    headers,
    bank,
    theta,
    *,
    seed=0,
    learner="learner-1",
    areas=None,  # noqa: ANN001
    language="en",
    max_steps=200,
) -> tuple[str, list[dict], dict]:
    """Start and finish a diagnostic over HTTP; returns (session id, the replies, the final reply)."""
    body = {"learner_id": learner, "language": language}
    if areas is not None:
        body["areas"] = areas
    r = client.post("/v1/diagnostics", json=body, headers=headers)
    assert r.status_code == 201, r.text
    step = r.json()
    taker = SimulatedTaker(bank, theta, seed)
    replies = [step]
    for _ in range(max_steps):
        if step["status"] == "finished":
            break
        item = step["item"]
        r = client.post(
            f"/v1/diagnostics/{step['session_id']}/responses",
            json={"item_id": item["id"], "answer": taker.answer(item), "sequence": item["sequence"]},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        step = r.json()
        replies.append(step)
    assert step["status"] == "finished"
    return step["session_id"], replies, step
