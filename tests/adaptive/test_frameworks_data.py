"""Competence frameworks as data (issue 12): DigComp 3.0 from the JRC's JSON-LD, DigComp 2.2, an academy's
own framework in the digipath JSON format; round trips and one clear error per bad file."""

from __future__ import annotations

import collections
import copy
import json

import pytest

from adaptive.errors import DataFileError
from adaptive.framework import (
    DATA_DIR,
    Framework,
    get_framework,
    load_framework,
    packaged_frameworks,
    read_framework_file,
)

JSONLD = DATA_DIR / "digcomp-3.0" / "digcomp-3.0-data-supplement-2025-11-24.jsonld"
OWN = DATA_DIR / "examples" / "academy-transversal.json"


@pytest.fixture(scope="module")
def fw30() -> Framework:
    return get_framework("digcomp-3.0")


def test_digcomp_30_loads_with_the_published_counts(fw30):
    assert (fw30.id, fw30.name, fw30.version) == ("digcomp-3.0", "DigComp", "3.0")
    assert len(fw30.areas) == 5 and len(fw30.competences) == 21
    assert fw30.competence_ids[0] == "1.1" and fw30.competence_ids[-1] == "5.4"
    assert len(fw30.statements) == 362 and len(fw30.outcomes) == 523 and len(fw30.glossary) == 126
    assert fw30.level_scheme.codes == ("Basic", "Intermediate", "Advanced", "Highly advanced")
    # 3.0 renames: area 4 and competence 2.5
    assert fw30.area("4").name == "Safety, wellbeing and responsible use"
    assert fw30.competence("2.5").name == "Digital behaviour"
    assert fw30.provenance.doi == "10.2760/0001149" and fw30.provenance.licence == "CC BY 4.0"


def test_digcomp_30_level_mappings(fw30):
    assert fw30.scheme("eight-level").codes == tuple("12345678")
    assert fw30.scheme("six-level").codes == ("A1", "A2", "B1", "B2", "C1", "C2")
    assert fw30.mapping("four-level", "eight-level").pairs == {1: (1, 2), 2: (3, 4), 3: (5, 6), 4: (7, 8)}
    assert fw30.mapping("four-level", "six-level").pairs == {1: (1, 2), 2: (3, 4), 3: (5,), 4: (6,)}
    back = fw30.mapping("eight-level", "four-level")  # stated the other way round: inverted
    assert back.is_many_to_one and back.pairs == {k: ((k + 1) // 2,) for k in range(1, 9)}
    assert back.map_probabilities([0.1] * 6 + [0.2, 0.2], 4) == pytest.approx([0.2, 0.2, 0.2, 0.4])


def test_digcomp_30_statements_and_outcomes_are_tagged(fw30):
    raw = json.loads(JSONLD.read_text(encoding="utf-8"))["@graph"]
    outcomes = {n["@id"].split("/")[1]: n for n in raw if n["@type"] == "LearningOutcome"}
    lo = next(o for o in fw30.outcomes if o.id == "LO1.1.01")
    assert lo.description == outcomes["LO1.1.01"]["description"]
    assert (lo.competence_id, lo.level, lo.type, lo.ai_label) == ("1.1", 1, "attitude", "AI-Implicit")
    types = collections.Counter(o.type for o in fw30.outcomes)
    assert types == {"knowledge": 217, "skill": 199, "attitude": 107}
    levels = collections.Counter(s.level for s in (*fw30.statements, *fw30.outcomes))
    assert sum(levels.values()) == 885 and set(levels) == {1, 2, 3, 4}
    assert {s.ai_label for s in fw30.statements} == {
        "AI-Implicit",
        "AI-Explicit",
        "AI not Implicit or Explicit",
    }


@pytest.mark.parametrize("fid", ["digcomp-2.2", "digcomp-3.0"])
def test_packaged_frameworks_round_trip(tmp_path, fid):
    fw = packaged_frameworks()[fid]
    again = Framework.from_dict(fw.to_dict())
    assert again == fw and again.to_dict() == fw.to_dict()
    path = tmp_path / f"{fid}.json"
    path.write_text(json.dumps(fw.to_dict(), ensure_ascii=False), encoding="utf-8")
    assert load_framework(path) == fw


def test_digcomp_22_keeps_its_eight_levels():
    fw = get_framework("digcomp-2.2")
    assert fw is load_framework()
    assert fw.n_levels == 8 and fw.scheme_id == "eight-level" and fw.level(3).group == "intermediate"
    assert fw.provenance.doi == "10.2760/115376"


def test_own_framework_three_areas_five_levels_with_languages():
    fw = read_framework_file(OWN)
    assert fw.id == "academy-transversal-1.0" and fw.area_ids == ("T", "D", "P")
    assert fw.level_scheme.codes == ("Aware", "Novice", "Practitioner", "Senior", "Expert")
    assert fw.mapping("five-level", "three-band").pairs == {1: (1,), 2: (1,), 3: (2,), 4: (2,), 5: (3,)}
    assert [s.level for s in fw.statements] == [2, 3]  # codes in the file, numbers in the model
    assert fw.text(fw.area("T"), "name", "lv") == ("Darbs ar citiem", "lv")
    assert fw.text(fw.area("P"), "name", "lv") == ("Public service ethics", "en")  # fell back
    assert fw.languages == ("en", "lv")
    assert Framework.from_dict(fw.to_dict()) == fw


def _own() -> dict:
    return json.loads(OWN.read_text(encoding="utf-8"))


def _dup_competence(d):
    d["competences"].append({"id": "D.2", "area_id": "D", "name": "again"})


def _competence_in_no_area(d):
    d["competences"][2]["area_id"] = "X"


def _mapping_not_monotone(d):
    d["mappings"][0]["levels"]["Senior"] = ["Foundation"]


def _statement_level_out_of_scheme(d):
    d["statements"][1]["level"] = 6


def _mapping_level_out_of_scheme(d):
    d["mappings"][0]["levels"]["Expert"] = ["Master"]


def _outcome_bad_type(d):
    d["outcomes"][0]["type"] = "wisdom"


def _statement_unknown_competence(d):
    d["statements"][0]["competence_id"] = "Z.9"


@pytest.mark.parametrize(
    ("mutate", "column", "words"),
    [
        (_dup_competence, "competences[6].id", "duplicate competence id 'D.2'"),
        (_competence_in_no_area, "competences[2].area_id", "'D.1' is in no area"),
        (_mapping_not_monotone, "mappings[0].levels.Senior", "not monotone"),
        (_statement_level_out_of_scheme, "statements[1].level", "level 6, out of the scheme 'five-level'"),
        (
            _mapping_level_out_of_scheme,
            "mappings[0].levels.Expert",
            "'Master' is out of the scheme 'three-band'",
        ),
        (_outcome_bad_type, "outcomes[0].type", "type 'wisdom'"),
        (_statement_unknown_competence, "statements[0].competence_id", "unknown competence 'Z.9'"),
    ],
)
def test_bad_own_framework_files_give_one_clear_error(tmp_path, mutate, column, words):
    data = _own()
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        read_framework_file(path)
    assert info.value.file == str(path) and info.value.column == column
    assert words in info.value.reason
    assert str(path) in str(info.value) and column in str(info.value)


def test_bad_jsonld_names_the_node(tmp_path):
    data = json.loads(JSONLD.read_text(encoding="utf-8"))
    broken = copy.deepcopy(data)
    idx = next(i for i, n in enumerate(broken["@graph"]) if n["@type"] == "LearningOutcome")
    del broken["@graph"][idx]["competence_id"]
    path = tmp_path / "digcomp.jsonld"
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        read_framework_file(path)
    assert info.value.column == f"@graph[{idx}].competence_id" and "LearningOutcome/" in info.value.reason
    # a statement tagged with a level the file does not define
    broken = copy.deepcopy(data)
    idx = next(i for i, n in enumerate(broken["@graph"]) if n["@type"] == "CompetenceStatement")
    broken["@graph"][idx]["four_levels_proficiency_name"] = "ProficiencyLevel/Expert"
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(DataFileError, match="'Expert', out of the scheme 'four-level'"):
        read_framework_file(path)
