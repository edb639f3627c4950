"""Selection criteria, the grid posterior against the reference estimator, content rules, shadow test."""

from __future__ import annotations

import numpy as np
import pytest

import adaptive.cat.engine as engine_mod
from adaptive.cat import CatConfig, CatSession
from adaptive.cat.engine import CatEngine
from adaptive.cat.simulation import simulate
from adaptive.cat.start import prior
from adaptive.estimation import MultidimensionalPosterior, level_probabilities, level_probabilities_batch
from adaptive.synthetic import generate_synthetic_bank
from tests.cat.conftest import run_session

SHRINK = CatConfig().prior_correlation_shrinkage      # the default prior: (1 - s) R + s I

THETA = np.array([0.8, -0.4, 0.2, 1.2, -1.0])


def test_d_optimal_det_ratio_identity_and_choice(bank):
    """Segall's criterion: det(P + I_j e_d e_d') / det(P) = 1 + I_j Sigma[d, d]; the engine's pick is the
    brute-force determinant maximiser."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    precision = a @ a.T + 5 * np.eye(5)
    sigma = np.linalg.inv(precision)
    for d in range(5):
        e = np.zeros(5)
        e[d] = 1
        ratio = np.linalg.det(precision + 0.7 * np.outer(e, e)) / np.linalg.det(precision)
        assert ratio == pytest.approx(1 + 0.7 * sigma[d, d], rel=1e-12)

    eng = CatEngine(bank, CatConfig(exposure=None, competence_balancing=False), 1)
    eng.posterior.cov[0] = sigma
    eng.posterior.theta[0] = rng.normal(size=5) * 0.5
    item = eng.select(np.array([0]), np.zeros((1, 64)))[0][0]
    t = eng.tables
    gi = t.grid_index(eng.posterior.theta[0])
    ok = np.flatnonzero(eng.balancer.operational)
    dets = [np.linalg.det(precision + t.info[gi[eng.item_dim[j]], j]
                          * np.diag(eng.item_dim[j] == np.arange(5))) for j in ok]
    assert item == ok[int(np.argmax(dets))]


def test_grid_posterior_matches_reference_estimator():
    """The engine's batched MAP/Laplace equals adaptive.estimation.MultidimensionalPosterior (2PL: observed
    = expected information, so the SEs must agree too)."""
    bank = generate_synthetic_bank(items_per_competence=10, share_3pl=0, share_grm=0, languages=("en",),
                                   seed=3)
    rng = np.random.default_rng(1)
    s = run_session(CatSession(bank, CatConfig(exposure=None), seed=0), bank, THETA, rng)
    ids = [e["item_id"] for e in s.log]
    dims = bank.item_areas()[[bank.index_of(i) for i in ids]]
    ref = MultidimensionalPosterior(*prior(bank, bank.area_ids, None, 1.0, False, SHRINK)).estimate(
        bank.parameters(ids), dims, np.array([e["score"] for e in s.log]))
    prof = s.result().to_dict()["areas"]
    # tolerances: grid interpolation (step 0.05) of smooth score functions and the 1e-3 Newton stop
    np.testing.assert_allclose([prof[a]["theta"] for a in bank.area_ids], ref.theta, atol=5e-3)
    np.testing.assert_allclose([prof[a]["se"] for a in bank.area_ids], ref.se, atol=5e-3)


def test_grid_posterior_theta_matches_reference_on_mixed_models(bank):
    s = run_session(CatSession(bank, CatConfig(), seed=5), bank, THETA, np.random.default_rng(2))
    ids = [e["item_id"] for e in s.log if not e["is_pilot"]]
    dims = bank.item_areas()[[bank.index_of(i) for i in ids]]
    scores = np.array([e["score"] for e in s.log if not e["is_pilot"]])
    ref = MultidimensionalPosterior(*prior(bank, bank.area_ids, None, 1.0, False, SHRINK)).estimate(
        bank.parameters(ids), dims, scores)
    np.testing.assert_allclose(s._engine.posterior.theta[0], ref.theta, atol=5e-3)
    # SEs: expected (engine) vs observed (reference) information differ for 3PL/GRM items, only slightly
    np.testing.assert_allclose(s._engine.posterior.se[0], ref.se, rtol=0.15)


def test_level_probabilities_batch_matches_reference(bank):
    cuts = np.array([bank.cut_scores[a] for a in bank.area_ids])
    theta = np.array([[-2.0, -0.3, 0.0, 0.9, 2.5]])
    se = np.array([[0.3, 0.5, 0.2, 0.4, 1.0]])
    got = level_probabilities_batch(theta, se, cuts)[0]
    for k in range(5):
        np.testing.assert_allclose(got[k], level_probabilities(theta[0, k], se[0, k], cuts[k]), atol=1e-12)


@pytest.mark.parametrize("selection,exposure", [("d-optimal", "randomesque"), ("max-info", None),
                                                ("d-optimal", None)])
def test_sparse_candidates_equal_dense_selection(bank, monkeypatch, selection, exposure):
    cfg = CatConfig(selection=selection, exposure=exposure, n_pilot=1)
    fast = simulate(bank, cfg, n_simulees=150, seed=4)
    monkeypatch.setattr(engine_mod, "SPARSE_SELECTION", False)
    dense = simulate(bank, cfg, n_simulees=150, seed=4)
    np.testing.assert_array_equal(fast.administered, dense.administered)
    np.testing.assert_array_equal(fast.theta, dense.theta)


def test_max_info_takes_the_most_uncertain_area(bank):
    eng = CatEngine(bank, CatConfig(selection="max-info", exposure=None, competence_balancing=False), 1)
    eng.posterior.cov[0] = np.diag([0.2, 0.9, 0.5, 0.3, 0.4])
    item = eng.select(np.array([0]), np.zeros((1, 64)))[0][0]
    assert eng.item_dim[item] == 1


def _with_many_enemies(bank):
    """Copy of ``bank`` where, in each competence, items of neighbouring difficulty are enemies (the items
    a CAT would most like to give together)."""
    items = [type(it)(**{**it.__dict__, "enemies": list(it.enemies)}) for it in bank.items]
    by_comp: dict[str, list] = {}
    for it in items:
        if it.status == "active":
            by_comp.setdefault(it.competence, []).append(it)
    for comp_items in by_comp.values():
        comp_items.sort(key=lambda it: it.b[0])
        for x, y in zip(comp_items[::2], comp_items[1::2], strict=False):
            x.enemies.append(y.id)
            y.enemies.append(x.id)
    return bank.replace(items=items)


def test_enemies_never_together_and_no_repeats():
    bank = _with_many_enemies(generate_synthetic_bank(items_per_competence=10, languages=("en",), seed=5))
    sim = simulate(bank, CatConfig(se_target=0.05, max_items=40, max_items_per_area=10), n_simulees=300,
                   seed=1)
    pairs = [(bank.index_of(it.id), bank.index_of(e)) for it in bank.items for e in it.enemies]
    assert len(pairs) > 100
    a = sim.administered
    assert a.sum(axis=1).tolist() == sim.n_items.tolist()        # every item once per test
    for i, j in pairs:
        assert not (a[:, i] & a[:, j]).any(), (bank.items[i].id, bank.items[j].id)


def test_per_area_minimum_and_maximum(bank):
    cfg = CatConfig(se_target=0.01, min_items_per_area=3, max_items_per_area=6, max_items=40)
    long_ = simulate(bank, cfg, n_simulees=200, seed=2)
    assert long_.n_area.max() == 6 and long_.n_area.min() == 6      # SE never reached: every area to its max
    assert (long_.n_items == 30).all()
    short = simulate(bank, CatConfig(se_target=5.0, min_items=0, min_items_per_area=3, max_items_per_area=6),
                     n_simulees=200, seed=2)
    assert (short.n_area == 3).all()                                 # SE met at once: just the minimum


def test_competence_spread_within_areas(bank):
    cfg = CatConfig(se_target=0.01, max_items_per_area=8, max_items=40)
    sim = simulate(bank, cfg, n_simulees=100, seed=3)
    cat_engine = CatEngine(bank, CatConfig(), 1)
    comp = cat_engine.tables.item_competence
    for comps in cat_engine.balancer.area_competences:
        counts = np.stack([sim.administered[:, comp == c].sum(axis=1) for c in comps], axis=1)
        assert (counts.max(axis=1) - counts.min(axis=1) <= 1).all()   # Kingsbury-Zara: round robin


def test_se_stop(bank):
    # the prior with the bank's correlations (.6) as the thresholds below were set for
    cfg = CatConfig(se_target=0.5, max_items=40, min_items=0, min_items_per_area=1, max_items_per_area=12,
                    prior_correlation_shrinkage=0.0)
    sim = simulate(bank, cfg, n_simulees=300, seed=6, rescore=False)     # what the stopping rule saw
    early = sim.n_items < cfg.max_items
    assert early.mean() > 0.9 and sim.n_items.mean() < 25
    met = (sim.se[early] <= 0.5) | (sim.n_area[early] >= 12)
    assert met.all()


def test_classification_rule_shortens_the_test(bank):
    base = CatConfig(se_target=0.3, max_items=40, min_items=5, min_items_per_area=1,
                     prior_correlation_shrinkage=0.0)
    plain = simulate(bank, base, n_simulees=300, seed=7)
    cfg = CatConfig(**{**base.to_dict(), "classification_threshold": 0.5})
    ruled = simulate(bank, cfg, n_simulees=300, seed=7, rescore=False)   # what the stopping rule saw
    assert ruled.n_items.mean() < plain.n_items.mean() - 2
    probs = level_probabilities_batch(ruled.theta, ruled.se, ruled.cuts).max(axis=-1)
    early = ruled.n_items < cfg.max_items
    ok = (probs[early] >= 0.5) | (ruled.se[early] <= 0.3) | (ruled.n_area[early] >= cfg.max_items_per_area)
    assert ok.all()


def test_shadow_test_meets_every_constraint():
    bank = generate_synthetic_bank(items_per_competence=10, n_enemy_pairs_per_competence=3, languages=("en",),
                                   seed=8)
    cfg = CatConfig(selection="shadow", se_target=0.01, max_items=16, min_items=16, min_items_per_area=2,
                    max_items_per_area=4, exposure=None)
    enemy = {(it.id, e) for it in bank.items for e in it.enemies}
    for seed in range(2):
        s = run_session(CatSession(bank, cfg, seed=seed), bank, THETA, np.random.default_rng(seed))
        ids = [e["item_id"] for e in s.log]
        assert len(ids) == 16 and len(set(ids)) == 16
        assert not any((a, b) in enemy for a in ids for b in ids)
        n_area = s._engine.n_area[0]
        assert n_area.min() >= 2 and n_area.max() <= 4
        comps = s._engine.balancer.area_competences
        n_comp = s._engine.n_competence[0]
        for d, cs in enumerate(comps):           # |n_c - n_d / #competences| <= 1
            assert np.all(np.abs(n_comp[cs] - n_area[d] / len(cs)) <= 1 + 1e-9)
        assert s._engine.selector.n_fallback == 0


def test_shadow_test_when_area_limits_cap_the_length():
    bank = generate_synthetic_bank(items_per_competence=6, languages=("en",), seed=8)
    cfg = CatConfig(selection="shadow", max_items=40, max_items_per_area=2, min_items_per_area=1,
                    se_target=0.01, exposure=None)
    s = run_session(CatSession(bank, cfg, seed=0), bank, THETA, np.random.default_rng(0))
    assert s.finished and s.n_answered == 10 and (s._engine.n_area == 2).all()
    assert s._engine.selector.n_fallback == 0          # the MIP stayed feasible throughout
