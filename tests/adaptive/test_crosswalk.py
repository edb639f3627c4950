"""The DigComp 2.2 <-> 3.0 crosswalk and results reported through it (issue 12)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adaptive.cat.profile import estimate_profile
from adaptive.crosswalk import PACKAGED_CROSSWALKS, crosswalk, read_crosswalk
from adaptive.errors import DataFileError
from adaptive.framework import get_framework
from adaptive.synthetic import generate_synthetic_bank


def test_competences_map_one_to_one_titles_differ():
    cw = crosswalk("digcomp-2.2", "digcomp-3.0")
    fw22, fw30 = get_framework("digcomp-2.2"), get_framework("digcomp-3.0")
    assert cw.competences == {c: c for c in fw22.competence_ids} and len(cw.competences) == 21
    renamed = [
        c for c in fw22.competence_ids if fw22.competence(c).name != fw30.competence(cw.competence(c)).name
    ]
    assert len(renamed) == 12 and "2.5" in renamed  # Netiquette -> Digital behaviour
    assert sum(fw22.area(a).name != fw30.area(a).name for a in fw22.area_ids) == 4
    assert cw.levels.pairs == {k: (k,) for k in range(1, 9)}  # 2.2 level k = 3.0 eight-level k
    back = crosswalk("digcomp-3.0", "digcomp-2.2")
    assert back.competences == cw.competences and back.levels.source == "eight-level"


def _profile(bank, theta: float):
    rng = np.random.default_rng(3)
    ids = [it.id for it in bank.items if it.status == "active"][:120]
    p = bank.parameters(ids).category_probabilities(np.array([theta]))[0]
    scores = [int(rng.choice(len(row), p=row / row.sum())) for row in p]
    return estimate_profile(bank, ids, scores).to_dict()


def test_a_22_result_is_reported_on_30_with_the_mapping_stated():
    bank = generate_synthetic_bank(items_per_competence=8, languages=("en",), seed=2)
    prof = _profile(bank, 0.3)
    assert prof["framework"]["id"] == "digcomp-2.2"
    for res in prof["areas"].values():
        p8 = res["level_probabilities"]
        mapped = {(m["framework"], m["scheme"]): m for m in res["mapped_levels"]}
        four = mapped["digcomp-3.0", "four-level"]
        assert four["probabilities"] == pytest.approx(
            dict(
                zip(
                    ("Basic", "Intermediate", "Advanced", "Highly advanced"),
                    [p8[0] + p8[1], p8[2] + p8[3], p8[4] + p8[5], p8[6] + p8[7]],
                    strict=True,
                )
            )
        )
        assert four["levels"] == [
            ("Basic", "Intermediate", "Advanced", "Highly advanced")[(res["level"] - 1) // 2]
        ]
        assert four["mapping"] == "many-to-one" and "crosswalk digcomp-2.2 eight-level" in four["via"]
        six = mapped["digcomp-3.0", "six-level"]
        assert sum(six["probabilities"].values()) == pytest.approx(1)
        assert six["probabilities"]["C1"] == pytest.approx(p8[4] + p8[5])
        assert mapped["digcomp-3.0", "eight-level"]["mapping"] == "one-to-one"


def test_a_30_result_reports_four_levels_and_ranges_in_the_other_schemes():
    bank = generate_synthetic_bank(
        get_framework("digcomp-3.0"), items_per_competence=8, languages=("en",), seed=2
    )
    assert bank.framework_id == "digcomp-3.0" and bank.cut_scores["1"] == [-1.3, 0.0, 1.2]
    prof = _profile(bank, 0.3)
    assert prof["framework"]["level_scheme"] == {
        "id": "four-level",
        "levels": ["Basic", "Intermediate", "Advanced", "Highly advanced"],
    }
    for res in prof["areas"].values():
        assert len(res["level_probabilities"]) == 4 and sum(res["level_probabilities"]) == pytest.approx(1)
        mapped = {(m["framework"], m["scheme"]): m for m in res["mapped_levels"]}
        k = res["level"]
        assert mapped["digcomp-3.0", "eight-level"]["levels"] == [str(2 * k - 1), str(2 * k)]
        assert mapped["digcomp-3.0", "eight-level"]["probabilities"] is None  # a range: no split
        assert mapped["digcomp-2.2", "eight-level"]["levels"] == [str(2 * k - 1), str(2 * k)]
        assert "crosswalk digcomp-3.0" in mapped["digcomp-2.2", "eight-level"]["via"]


@pytest.mark.parametrize(
    ("mutate", "column", "words"),
    [
        (
            lambda d: d["competences"].update({"2.5": "2.9"}),
            "competences.2.5",
            "'2.9', which is not in digcomp-3.0",
        ),
        (lambda d: d["competences"].update({"2.5": "2.4"}), "competences", "one to one"),
        (lambda d: d["levels"]["levels"].update({"4": [2]}), "levels.levels.4", "not monotone"),
        (lambda d: d.update(target="digcomp-9"), "target", "'digcomp-9' is not loaded"),
    ],
)
def test_bad_crosswalk_files_name_file_and_entry(tmp_path, mutate, column, words):
    data = json.loads(PACKAGED_CROSSWALKS[0].read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "cw.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        read_crosswalk(path)
    assert info.value.file == str(path) and info.value.column == column and words in info.value.reason


def test_a_whole_22_profile_reported_on_30_and_back():
    from adaptive.crosswalk import profile_on

    bank = generate_synthetic_bank(items_per_competence=8, languages=("en",), seed=4)
    prof = _profile(bank, -0.4)
    on30 = profile_on(prof, get_framework("digcomp-3.0"))
    assert (
        on30["framework"]["level_scheme"]["id"] == "four-level"
        and on30["reported_from"]["id"] == "digcomp-2.2"
    )
    for a, res in on30["areas"].items():
        p8 = prof["areas"][a]["level_probabilities"]
        assert res["level"] == (prof["areas"][a]["level"] + 1) // 2
        assert res["level_probabilities"] == pytest.approx(
            [p8[0] + p8[1], p8[2] + p8[3], p8[4] + p8[5], p8[6] + p8[7]]
        )
        assert res["via"].startswith("crosswalk digcomp-2.2")
    assert set(on30["competences"]) == set(prof["competences"])
    bank30 = generate_synthetic_bank(
        get_framework("digcomp-3.0"), items_per_competence=8, languages=("en",), seed=4
    )
    prof30 = _profile(bank30, 1.0)
    on22 = profile_on(prof30, get_framework("digcomp-2.2"))
    for a, res in on22["areas"].items():
        k = prof30["areas"][a]["level"]
        assert res["levels"] == [str(2 * k - 1), str(2 * k)] and res["level"] == 2 * k - 1
        assert res["level_probabilities"] is None  # a range: the four levels do not split
