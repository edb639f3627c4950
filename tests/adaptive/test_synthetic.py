"""The synthetic bank generator and response simulation."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from adaptive.framework import load_framework
from adaptive.irt import ItemParameters
from adaptive.itembank import DEFAULT_CUT_SCORES
from adaptive.synthetic import (
    A_MEDIAN,
    A_RANGE,
    C_RANGE,
    GRM_CATEGORIES,
    generate_synthetic_bank,
    level_bands,
    simulate_responses,
)

FW = load_framework()


@pytest.fixture(scope="module")
def default_bank():
    return generate_synthetic_bank(n_pilot_per_competence=3, seed=5)


def test_reproducible_by_seed_and_generator():
    one = generate_synthetic_bank(items_per_competence=16, seed=3).to_dict()
    assert generate_synthetic_bank(items_per_competence=16, seed=3).to_dict() == one
    from_generator = generate_synthetic_bank(items_per_competence=16, seed=np.random.default_rng(3))
    assert from_generator.to_dict()["items"] == one["items"]
    assert generate_synthetic_bank(items_per_competence=16, seed=4).to_dict()["items"] != one["items"]


def test_covers_every_competence_and_level(default_bank):
    active = [default_bank.items[i] for i in default_bank.select()]
    counts = Counter((it.competence, it.level) for it in active)
    assert {c for c, _ in counts} == set(FW.competence_ids)
    # 48 items per competence spread evenly: 6 per level
    assert set(counts.values()) == {6}
    assert len(counts) == 21 * 8
    assert all(FW.competence(it.competence).area_id == it.area for it in active)


def test_metadata(default_bank):
    assert default_bank.framework_version == FW.version
    assert default_bank.area_ids == list(FW.area_ids)
    assert default_bank.languages == ["en", "lt", "lv"]
    assert all(cuts == list(DEFAULT_CUT_SCORES) for cuts in default_bank.cut_scores.values())
    r = default_bank.area_correlation
    np.testing.assert_array_equal(np.diag(r), 1.0)
    assert np.all(r[~np.eye(5, dtype=bool)] == 0.6)
    assert default_bank.provenance["source"] == "synthetic" and default_bank.provenance["seed"] == 5
    default_bank.validate(FW)


def test_model_shares_and_pilots(default_bank):
    per_comp = Counter((it.competence, it.model, it.status) for it in default_bank)
    for comp in FW.competence_ids:
        # round(0.1 * 48) = 5 GRM, round(0.2 * 48) = 10 3PL, the rest 2PL
        assert per_comp[(comp, "GRM", "active")] == 5
        assert per_comp[(comp, "3PL", "active")] == 10
        assert per_comp[(comp, "2PL", "active")] == 33
        assert sum(n for (c, _, s), n in per_comp.items() if c == comp and s == "pilot") == 3
    assert {it.status for it in default_bank} == {"active", "pilot"}


def test_parameter_distributions(default_bank):
    items = list(default_bank)
    a = np.array([it.a for it in items])
    assert np.all((a >= A_RANGE[0]) & (a <= A_RANGE[1]))
    # log a ~ N(log 1.2, 0.25): the median of log a over 1,071 items has SE about
    # 1.25 * 0.25 / sqrt(1071) = 0.0096; allow 5 SE
    assert abs(np.median(np.log(a)) - np.log(A_MEDIAN)) < 0.048
    assert 0.2 < np.std(np.log(a)) < 0.3
    c = np.array([it.c for it in items if it.model == "3PL"])
    assert np.all((c >= C_RANGE[0]) & (c <= C_RANGE[1]))
    # Beta(4, 16): mean 0.2, SD 0.087; 231 items -> SE 0.006, allow 5 SE
    assert abs(c.mean() - 0.2) < 0.03
    assert all(it.c == 0.0 and it.d == 1.0 for it in items if it.model != "3PL")


def test_difficulty_tied_to_intended_level(default_bank):
    bands = level_bands(DEFAULT_CUT_SCORES)
    for it in default_bank:
        lo, hi = bands[it.level - 1]
        centre = float(np.mean(it.b))
        assert lo <= centre <= hi, (it.id, it.level, it.b)
    # mean difficulty rises with the intended level
    by_level = [np.mean([np.mean(it.b) for it in default_bank if it.level == lv]) for lv in range(1, 9)]
    assert np.all(np.diff(by_level) > 0)


def test_grm_items(default_bank):
    grm = [it for it in default_bank if it.model == "GRM"]
    assert grm
    for it in grm:
        assert len(it.b) == GRM_CATEGORIES - 1
        assert np.all(np.diff(it.b) > 0)
        assert it.key == list(range(GRM_CATEGORIES))
        assert it.n_options == GRM_CATEGORIES


def test_content_per_language(default_bank):
    for it in default_bank:
        for lang in ("en", "lt", "lv"):
            content = it.content[lang]
            assert content.stem.startswith(f"[{lang}] ")
            assert all(o.startswith(f"[{lang}] ") for o in content.options)
            assert it.competence in content.stem


def test_enemies_are_symmetric_pairs_in_one_competence(default_bank):
    with_enemies = [it for it in default_bank if it.enemies]
    assert len(with_enemies) == 2 * 21
    for it in with_enemies:
        (other_id,) = it.enemies
        other = default_bank.item(other_id)
        assert other.enemies == [it.id]
        assert other.competence == it.competence and other.level == it.level


def test_options(tmp_path):
    bank = generate_synthetic_bank(items_per_competence=8, languages=("en",), share_3pl=0.0,
                                   share_grm=0.0, area_correlation=0.3, cut_scores=(-3, -2, -1, 0, 1, 2, 3),
                                   n_enemy_pairs_per_competence=0, seed=1)
    assert {it.model for it in bank} == {"2PL"}
    assert not any(it.enemies for it in bank)
    assert bank.area_correlation[0, 1] == 0.3
    assert bank.cut_scores["4"] == [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="share"):
        generate_synthetic_bank(share_3pl=0.7, share_grm=0.5)
    with pytest.raises(ValueError, match="positive definite"):
        generate_synthetic_bank(area_correlation=-0.3)


# -- response simulation ----------------------------------------------------------------------
def test_simulated_frequencies_match_model_probabilities(default_bank):
    """Category frequencies at fixed theta agree with the model within 5 binomial SEs."""
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(default_bank), size=40, replace=False))
    grm = [i for i, it in enumerate(default_bank.items) if it.model == "GRM"][:5]
    three = [i for i, it in enumerate(default_bank.items) if it.model == "3PL"][:5]
    idx = np.unique(np.concatenate([idx, grm, three]))
    params = default_bank.parameters().subset(idx)
    n = 4000
    for theta in (-1.5, 0.0, 1.2):
        responses = simulate_responses(params, np.full(n, theta), rng)
        probs = params.category_probabilities(np.array([theta]))[0]  # (items, K)
        for j in range(len(idx)):
            k = params.n_categories[j]
            freq = np.bincount(responses[:, j], minlength=k) / n
            assert freq.size == k
            se = np.sqrt(probs[j, :k] * (1 - probs[j, :k]) / n) + 1e-9
            assert np.all(np.abs(freq - probs[j, :k]) < 5 * se + 1e-3), (j, theta, freq, probs[j, :k])


def test_simulated_responses_shape_range_and_seed(default_bank):
    params = default_bank.parameters()
    theta = np.random.default_rng(1).normal(size=300)
    r = simulate_responses(params, theta, 7)
    assert r.shape == (300, len(default_bank))
    assert r.min() == 0
    assert np.all(r <= (params.n_categories - 1)[None, :])
    assert np.array_equal(r, simulate_responses(params, theta, 7))
    assert not np.array_equal(r, simulate_responses(params, theta, 8))
    # GRM items use all 5 categories across a spread of thetas
    grm = params.is_polytomous
    assert set(np.unique(r[:, grm])) == set(range(GRM_CATEGORIES))
    # the sum score rises with theta (strong positive rank correlation over a 1,000-item test)
    order = np.argsort(theta)
    total = r.sum(axis=1)[order]
    assert np.corrcoef(np.arange(300), np.argsort(np.argsort(total)))[0, 1] > 0.9


def test_simulated_dichotomous_extremes():
    params = ItemParameters.dichotomous(a=[1.0, 2.0], b=[0.0, 0.5], c=[0.0, 0.25])
    r = simulate_responses(params, np.array([-1e3] * 2000 + [1e3] * 2000), 0)
    assert np.all(r[2000:] == 1)
    assert np.all(r[:2000, 0] == 0)
    # guessing floor c=0.25 at theta=-inf: 2,000 draws -> SE 0.0097
    assert abs(r[:2000, 1].mean() - 0.25) < 0.05
