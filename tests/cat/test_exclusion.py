"""``CatConfig.exclude_items``: an eligibility mask under every selection and exposure method."""

from __future__ import annotations

import numpy as np
import pytest

from adaptive.cat import CatConfig, CatSession
from adaptive.cat.exposure import MaxCriterion, Randomesque, SympsonHetter
from adaptive.cat.simulation import simulate
from tests.cat.conftest import run_session

THETA = np.array([0.3, -0.6, 1.0, 0.0, -1.2])
SELECTIONS = ("max-info", "d-optimal", "shadow")
EXPOSURES = {None: MaxCriterion, "randomesque": Randomesque, "sympson-hetter": SympsonHetter}


def _items(session: CatSession) -> set[str]:
    return {e["item_id"] for e in session.log}


@pytest.mark.parametrize("selection", SELECTIONS)
@pytest.mark.parametrize("exposure", list(EXPOSURES))
def test_no_excluded_item_is_given_and_exposure_control_stays(bank, selection, exposure):
    base = {"selection": selection, "exposure": exposure, "n_pilot": 2, "max_items": 20, "se_target": 0.3}
    if exposure == "sympson-hetter":
        base["exposure_parameters"] = {it.id: 0.5 for it in bank.items[::3]}
    for seed in range(3):
        first = run_session(CatSession(bank, CatConfig(**base), seed=seed), bank, THETA,
                            np.random.default_rng(seed))
        seen = sorted(_items(first))
        # the same learner, the same seed, the same answers: without exclusion the test repeats itself
        again = run_session(CatSession(bank, CatConfig(**base), seed=seed), bank, THETA,
                            np.random.default_rng(seed))
        assert _items(again) == set(seen)
        retest = CatSession(bank, CatConfig(**base, exclude_items=seen), seed=seed)
        assert isinstance(retest._engine.exposure, EXPOSURES[exposure])      # still the configured method
        assert retest.config.exposure == exposure
        if exposure == "sympson-hetter":
            assert retest.config.exposure_parameters == base["exposure_parameters"]
        run_session(retest, bank, THETA, np.random.default_rng(seed))
        assert retest.finished and retest.result().areas
        assert not _items(retest) & set(seen)
        assert retest.log[-1]["position"] + 1 >= 20        # as long a test as before (the bank allows it)


def test_randomesque_still_randomises_among_unseen_items(bank):
    """Exclusion must not turn randomesque into max-info: over 40 seeds the first item of a retest varies
    (max-info would give one item every time; randomesque with k=5 gives ~5 different ones)."""
    seen = [e["item_id"] for e in run_session(CatSession(bank, CatConfig(), seed=0), bank, THETA,
                                              np.random.default_rng(0)).log]
    firsts = {CatSession(bank, CatConfig(exclude_items=seen), seed=s).next_item() for s in range(40)}
    assert len(firsts) >= 3 and not firsts & set(seen)


def test_exclusion_is_part_of_the_stored_session(bank):
    seen = [it.id for it in bank.items[:60]]
    cfg = CatConfig(exclude_items=seen, n_pilot=1)
    live = run_session(CatSession(bank, cfg, seed=4), bank, THETA, np.random.default_rng(4), stop_after=8)
    restored = CatSession.from_json(bank, live.to_json())
    assert restored.config.exclude_items == seen
    assert restored.next_item() == live.next_item() and restored.log == live.log
    assert CatConfig.from_dict(cfg.to_dict()) == cfg


def test_an_area_without_enough_unseen_items_gets_its_items_back(bank):
    area2 = [it.id for it in bank.items if it.area == "2"]
    area3 = [it.id for it in bank.items if it.area == "3"][:5]
    cfg = CatConfig(exclude_items=area2 + area3, min_items_per_area=2, max_items=20)
    s = run_session(CatSession(bank, cfg, seed=1), bank, THETA, np.random.default_rng(1))
    n_area = s.result().areas
    assert n_area["2"].n_items >= 2                          # fell back to seen items for area 2 only
    assert not _items(s) & set(area3)                        # area 3 has enough unseen items: still excluded
    # unknown ids (an older bank's items) are ignored
    CatSession(bank, CatConfig(exclude_items=["no-such-item"]), seed=0)


def test_batched_simulation_honours_the_mask(bank):
    seen = [it.id for it in bank.items if it.status == "active"][::2]
    sim = simulate(bank, CatConfig(exclude_items=seen, max_items=20), n_simulees=100, seed=3, rescore=False)
    given = np.asarray(sim.item_ids)[sim.administered.any(axis=0)]
    assert len(given) > 20 and not set(given) & set(seen)
