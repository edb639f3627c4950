"""An academy's own framework (3 areas, 5 levels) runs the whole multidimensional CAT (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

from adaptive.cat import CatConfig, CatSession
from adaptive.cat.simulation import simulate
from adaptive.framework import DATA_DIR, Framework, read_framework_file, register_framework
from adaptive.synthetic import default_cut_scores, generate_synthetic_bank
from tests.cat.conftest import run_session

OWN = DATA_DIR / "examples" / "academy-transversal.json"


@pytest.fixture(scope="module")
def own() -> Framework:
    return register_framework(read_framework_file(OWN))


def eight_level_twin(fw: Framework) -> Framework:
    """The same areas and competences with eight plain levels: the comparable 8-level framework."""
    d = fw.to_dict()
    d.update(
        id=fw.id + "-eight",
        level_scheme={"id": "eight-level", "levels": [{"level": k} for k in range(1, 9)]},
        schemes=[],
        mappings=[],
        statements=[],
        outcomes=[],
    )
    return Framework.from_dict(d)


def test_own_framework_cat_reports_five_level_probabilities(own):
    bank = generate_synthetic_bank(own, items_per_competence=20, languages=("en", "lv"), seed=5)
    assert bank.framework_id == own.id and bank.n_levels == 5 and bank.area_ids == ["T", "D", "P"]
    assert len(default_cut_scores(own)) == 4
    session = CatSession(bank, CatConfig(max_items=24, min_items=9), seed=1)
    run_session(session, bank, np.array([-1.5, 0.2, 1.6]), np.random.default_rng(4))
    assert session.finished and {e["area"] for e in session.log} == {"T", "D", "P"}
    prof = session.result().to_dict()
    assert prof["framework"] == {
        "id": own.id,
        "name": own.name,
        "version": "1.0",
        "level_scheme": {"id": "five-level", "levels": list(own.level_scheme.codes)},
    }
    for area, res in prof["areas"].items():
        probs = res["level_probabilities"]
        assert len(probs) == 5 and sum(probs) == pytest.approx(1, abs=1e-9), area
        assert res["level"] == int(np.argmax(probs)) + 1
        assert res["level_code"] == own.level(res["level"]).code
        (band,) = res["mapped_levels"]  # the framework's own mapping, many-to-one
        assert band["scheme"] == "three-band" and band["mapping"] == "many-to-one"
        assert sum(band["probabilities"].values()) == pytest.approx(1)
        assert band["levels"] == [
            own.scheme("three-band")
            .level(own.mapping("five-level", "three-band").targets(res["level"])[0])
            .code
        ]
    # the learner is far apart in the three areas: the levels say so
    levels = [prof["areas"][a]["level"] for a in ("T", "D", "P")]
    assert levels[0] <= levels[1] <= levels[2] and levels[0] < levels[2], levels


def test_five_levels_classify_at_least_as_well_as_eight(own):
    """Same areas, items per competence, seed, test design and simulees; only the level scheme differs."""
    config = CatConfig(max_items=18, min_items=9, se_target=0.3)
    accuracy = {}
    for fw in (own, eight_level_twin(own)):
        bank = generate_synthetic_bank(
            fw, items_per_competence=20, languages=("en",), seed=8, statement_items=False
        )
        res = simulate(bank, config, n_simulees=300, seed=2)
        accuracy[fw.n_levels] = np.mean([r["level_accuracy"] for r in res.area_report().values()])
    assert accuracy[5] >= accuracy[8] > 0.3, accuracy
