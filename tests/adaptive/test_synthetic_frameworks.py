"""Synthetic banks on any framework (issue 12): DigComp 3.0 with its real statements as self-assessment
items, an own framework's level count, and items naming what they measure."""

from __future__ import annotations

import json

import pytest

from adaptive.errors import ItemBankValidationError
from adaptive.framework import get_framework
from adaptive.itembank import ItemBank
from adaptive.synthetic import default_cut_scores, generate_synthetic_bank


@pytest.fixture(scope="module")
def bank30():
    return generate_synthetic_bank(
        get_framework("digcomp-3.0"), items_per_competence=8, languages=("en", "lt"), seed=3
    )


def test_digcomp_30_statements_become_self_assessment_items(bank30):
    fw = get_framework("digcomp-3.0")
    rating = [it for it in bank30.items if it.model == "GRM"]
    assert len(rating) == 362 and bank30.n_levels == 4
    statements = {s.id: s for s in fw.statements}
    assert sorted(m for it in rating for m in it.measures) == sorted(statements)
    for it in rating:
        st = statements[it.measures[0]]
        assert (it.competence, it.level) == (st.competence_id, st.level)
        assert st.description in it.content["en"].stem and st.description in it.content["lt"].stem
        assert it.content["en"].options[-1] == "Strongly agree"
    knowledge = [it for it in bank30.items if it.model != "GRM"]
    outcomes = {o.id: o for o in fw.outcomes}
    assert len(knowledge) == 21 * 8
    assert all(
        outcomes[it.measures[0]].type == "knowledge"
        and outcomes[it.measures[0]].competence_id == it.competence
        for it in knowledge
    )


def test_bank_round_trip_keeps_what_items_measure(tmp_path, bank30):
    again = ItemBank.load_json(bank30.save_json(tmp_path / "b.json"))
    assert again.framework_id == "digcomp-3.0"
    assert [it.measures for it in again.items] == [it.measures for it in bank30.items]


def test_an_item_measuring_another_competence_is_refused(bank30):
    items = list(bank30.items)
    items[0] = type(items[0])(**{**items[0].__dict__, "measures": ["CS5.4.01"]})
    with pytest.raises(ItemBankValidationError) as info:
        bank30.replace(items=items).validate()
    assert (
        info.value.item_id == items[0].id and info.value.field == "measures" and "CS5.4.01" in str(info.value)
    )


def test_cut_scores_follow_the_scheme():
    assert default_cut_scores(get_framework("digcomp-3.0")) == (-1.3, 0.0, 1.2)  # eight-level boundaries
    assert len(default_cut_scores(get_framework("digcomp-2.2"))) == 7
    bank22 = generate_synthetic_bank(items_per_competence=4, languages=("en",), seed=1)
    assert bank22.framework_id == "digcomp-2.2" and not any(it.measures for it in bank22.items)


def test_a_bank_stored_before_framework_ids_loads_as_digcomp_22(tmp_path):
    from adaptive.cat.profile import estimate_profile

    bank = generate_synthetic_bank(items_per_competence=4, languages=("en",), seed=2)
    path = bank.save_json(tmp_path / "old.json")
    stored = json.loads(path.read_text(encoding="utf-8"))
    del stored["framework_id"]                    # the format before issue 12
    path.write_text(json.dumps(stored), encoding="utf-8")
    old = ItemBank.load_json(path)
    assert old.framework_id == "digcomp-2.2"
    prof = estimate_profile(old, [it.id for it in old.items[:20]], [1] * 20).to_dict()
    assert prof["framework"]["id"] == "digcomp-2.2" and len(prof["areas"]["1"]["level_probabilities"]) == 8
