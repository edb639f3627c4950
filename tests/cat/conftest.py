"""Small synthetic banks shared by the CAT tests (generated, never read from disk)."""

from __future__ import annotations

import numpy as np
import pytest

from adaptive.synthetic import generate_synthetic_bank


@pytest.fixture(scope="session")
def bank():
    """21 competences x 12 active items (+1 pilot each), 2PL/3PL/GRM mix, two enemy pairs per competence."""
    return generate_synthetic_bank(items_per_competence=12, n_pilot_per_competence=1, languages=("en",),
                                   n_enemy_pairs_per_competence=2, seed=11, name="cat-test bank")


@pytest.fixture(scope="session")
def big_bank():
    """21 x 24 items: enough depth for the statistical tests."""
    return generate_synthetic_bank(items_per_competence=24, languages=("en",), seed=12, name="cat-stat bank")


def answer_for(bank, item_id: str, score: int) -> int:
    """An option index that scores ``score`` on ``item_id`` (inverts the key)."""
    it = bank.item(item_id)
    if it.is_polytomous:
        return list(it.key).index(score)
    return it.key if score == 1 else (it.key + 1) % it.n_options


def respond(bank, item_id: str, theta: np.ndarray, rng: np.random.Generator) -> int:
    """Simulate a learner with area thetas ``theta`` (bank area order) answering ``item_id``."""
    i = bank.index_of(item_id)
    t = theta[bank.item_areas()[i]]
    probs = bank.parameters([item_id]).category_probabilities(np.array([t]))[0, 0]
    k = int(rng.choice(len(probs), p=probs / probs.sum()))
    return answer_for(bank, item_id, k)


def run_session(session, bank, theta, rng, stop_after: int | None = None):
    while not session.finished and (stop_after is None or session.n_answered < stop_after):
        iid = session.next_item()
        session.answer(iid, respond(bank, iid, theta, rng))
    return session
