"""A result explains its levels in the bank's own framework: DigComp 3.0's four named levels and their
descriptors, not DigComp 2.2's eight (the explanation reads the framework the bank was built on)."""

from __future__ import annotations

import numpy as np

from adaptive.cat import CatConfig, CatSession
from adaptive.cat.explain import explain_profile
from adaptive.framework import framework_for_bank, get_framework
from adaptive.synthetic import generate_synthetic_bank


def test_a_digcomp_3_result_is_explained_in_its_four_named_levels():
    framework = get_framework("digcomp-3.0")
    bank = generate_synthetic_bank(framework=framework, items_per_competence=8, languages=("en",), seed=3)
    assert framework_for_bank(bank) is framework
    cat = CatSession(bank, CatConfig(max_items=20, min_items=10, exposure=None), seed=1)
    rng = np.random.default_rng(0)
    item = cat.next_item()
    while item is not None:
        cat.answer(item, int(rng.integers(len(bank.item(item).content["en"].options))))
        item = cat.next_item()
    profile = cat.result().to_dict()
    explained = explain_profile(profile, bank.cut_scores, framework_for_bank(bank))
    assert explained["framework"] == {"name": framework.name, "version": "3.0"}
    names = {lv.level: lv.code for lv in framework.levels}
    assert set(names.values()) == {"Basic", "Intermediate", "Advanced", "Highly advanced"}
    for area_id, entry in explained["areas"].items():
        level = profile["areas"][area_id]["level"]
        assert 1 <= level <= 4 and entry["name"] == framework.area(area_id).name
        assert f"{names[level]} (level {level}) is the most likely" in entry["reading"]
        meaning = entry["level_meaning"]
        assert meaning["code"] == names[level]
        assert meaning["description"] == framework.levels[level - 1].description
