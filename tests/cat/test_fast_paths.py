"""The single-session fast paths of the engine (issue 7 performance work) give exactly the results of
the general code: stacked candidates vs the per-area loop, reduceat balancing vs the per-area loop, the
one-examinee posterior update vs the batched one. Exact equality, because a session is persisted as its
response log and replayed: any difference could change which item is given."""

from __future__ import annotations

import numpy as np
import pytest

from adaptive.cat import CatConfig, CatSession
from adaptive.cat.balancing import ContentBalancer
from adaptive.cat.posterior import BatchPosterior
from adaptive.cat.selection import RankedCandidates
from tests.cat.conftest import respond


def _run(bank, config, seed, theta):  # noqa: ANN001, ANN202
    rng = np.random.default_rng(seed)
    cat = CatSession(bank, config, seed)
    while not cat.finished:
        item = cat.next_item()
        cat.answer(item, respond(bank, item, theta, rng))
    return cat.log, cat.progress(), cat.result().to_dict()


@pytest.mark.parametrize("selection", ["d-optimal", "max-info"])
def test_stacked_and_grouped_paths_equal_the_per_area_loops(big_bank, monkeypatch, selection):
    config = CatConfig(selection=selection, max_items=24, min_items_per_area=2)
    thetas = np.random.default_rng(3).normal(0, 1, size=(6, len(big_bank.area_ids)))
    fast = [_run(big_bank, config, s, thetas[s]) for s in range(6)]
    assert any(r.stacked is not None for r in _ranked(big_bank))      # the fast path was taken
    original_init = ContentBalancer.__init__

    def loop_only(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        original_init(self, *args, **kwargs)
        self._grouped = None

    monkeypatch.setattr(ContentBalancer, "__init__", loop_only)
    for ranked in _ranked(big_bank):
        monkeypatch.setattr(ranked, "stacked", None)
    slow = [_run(big_bank, config, s, thetas[s]) for s in range(6)]
    assert fast == slow
    assert len({tuple(e["item_id"] for e in log) for log, _, _ in fast}) > 1   # different tests were given


def _ranked(bank):  # noqa: ANN001, ANN202
    from adaptive.cat.tables import tables_for

    derived = tables_for(bank).derived
    return [v for k, v in derived.items() if k[0] == "ranked" and isinstance(v, RankedCandidates)]


def test_one_examinee_update_equals_the_general_update(big_bank):
    from adaptive.cat.tables import tables_for

    t = tables_for(big_bank)
    d = len(big_bank.area_ids)
    cov = 0.5 * np.ones((d, d)) + 0.5 * np.eye(d)
    rng = np.random.default_rng(8)
    posterior = BatchPosterior(t, np.zeros(d), cov, n=2)
    for _ in range(15):   # the same answers for examinees 0 and 1
        i = int(rng.integers(t.n_items))
        score = int(rng.integers(t.n_categories[i]))
        both = np.array([0, 1])
        posterior.add(both, np.full(2, t.item_area[i]), np.full(2, i), np.full(2, score))
        posterior._update_many(np.array([1]))    # the general (batched) code on one row
        posterior.update(np.array([0]))          # the one-examinee path
        np.testing.assert_array_equal(posterior.theta[0], posterior.theta[1])
        np.testing.assert_array_equal(posterior.cov[0], posterior.cov[1])
    assert np.abs(posterior.theta[0]).max() > 0.1    # the answers moved theta
