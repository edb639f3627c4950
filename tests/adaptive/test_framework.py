"""The DigComp framework data file and its loader."""

from __future__ import annotations

import copy
import json

import pytest

from adaptive.errors import DataFileError, UnknownIdError
from adaptive.framework import (
    PACKAGED_FRAMEWORK,
    Area,
    Competence,
    Framework,
    load_framework,
)

# Official English names, DigComp 2.2 (Vuorikari, Kluzer & Punie 2022, EUR 31006 EN, pp. 4-5).
OFFICIAL_AREAS = {
    "1": "Information and data literacy",
    "2": "Communication and collaboration",
    "3": "Digital content creation",
    "4": "Safety",
    "5": "Problem solving",
}
OFFICIAL_COMPETENCES = {
    "1.1": "Browsing, searching and filtering data, information and digital content",
    "1.2": "Evaluating data, information and digital content",
    "1.3": "Managing data, information and digital content",
    "2.1": "Interacting through digital technologies",
    "2.2": "Sharing through digital technologies",
    "2.3": "Engaging in citizenship through digital technologies",
    "2.4": "Collaborating through digital technologies",
    "2.5": "Netiquette",
    "2.6": "Managing digital identity",
    "3.1": "Developing digital content",
    "3.2": "Integrating and re-elaborating digital content",
    "3.3": "Copyright and licences",
    "3.4": "Programming",
    "4.1": "Protecting devices",
    "4.2": "Protecting personal data and privacy",
    "4.3": "Protecting health and well-being",
    "4.4": "Protecting the environment",
    "5.1": "Solving technical problems",
    "5.2": "Identifying needs and technological responses",
    "5.3": "Creatively using digital technologies",
    "5.4": "Identifying digital competence gaps",
}
OFFICIAL_GROUPS = {1: "foundation", 2: "foundation", 3: "intermediate", 4: "intermediate",
                   5: "advanced", 6: "advanced", 7: "highly specialised", 8: "highly specialised"}


@pytest.fixture
def raw_framework() -> dict:
    return json.loads(PACKAGED_FRAMEWORK.read_text(encoding="utf-8"))


def write(tmp_path, data, name="variant.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_packaged_framework_is_digcomp_22():
    fw = load_framework()
    assert fw.version == "2.2"
    assert fw.name == "DigComp"
    assert {a.id: a.name for a in fw.areas} == OFFICIAL_AREAS
    assert {c.id: c.name for c in fw.competences} == OFFICIAL_COMPETENCES
    assert all(c.area_id == c.id.split(".")[0] for c in fw.competences)
    assert {lv.level: lv.group for lv in fw.levels} == OFFICIAL_GROUPS
    assert [lv.level for lv in fw.levels] == list(range(1, 9))
    assert fw.level_groups["advanced"] == (5, 6)


def test_packaged_framework_is_cached_and_ordered():
    assert load_framework() is load_framework()
    fw = load_framework()
    assert fw.area_ids == ("1", "2", "3", "4", "5")
    assert fw.competence_ids == tuple(OFFICIAL_COMPETENCES)
    assert [c.id for c in fw.competences_in("2")] == ["2.1", "2.2", "2.3", "2.4", "2.5", "2.6"]
    assert len(fw.competences_in("4")) == 4


def test_lookups_by_id():
    fw = load_framework()
    assert fw.area("4") == Area("4", "Safety")
    assert fw.competence("3.4") == Competence("3.4", "3", "Programming")
    assert fw.level(7).group == "highly specialised"


@pytest.mark.parametrize(("call", "kind", "bad"), [
    (lambda fw: fw.area("6"), "area", "6"),
    (lambda fw: fw.competence("2.7"), "competence", "2.7"),
    (lambda fw: fw.competences_in("9"), "area", "9"),
    (lambda fw: fw.level(9), "level", "9"),
    (lambda fw: fw.level(0), "level", "0"),
])
def test_unknown_ids_raise_unknown_id_error(call, kind, bad):
    with pytest.raises(UnknownIdError) as info:
        call(load_framework())
    assert info.value.kind == kind
    assert info.value.id == bad
    assert bad in str(info.value)
    assert isinstance(info.value, KeyError)  # callers using dict-style except KeyError still work


def test_to_dict_round_trip(raw_framework):
    fw = load_framework()
    again = Framework.from_dict(fw.to_dict())
    assert again == fw
    assert again.to_dict() == fw.to_dict()


def test_variant_framework_loads_from_file(tmp_path, raw_framework):
    # a national variant: new version, one renamed competence, one extra competence
    raw_framework["version"] = "2.2-LT"
    raw_framework["competences"][0]["name"] = "Naršymas"
    raw_framework["competences"].append({"id": "5.5", "area_id": "5", "name": "Using public e-services"})
    fw = load_framework(write(tmp_path, raw_framework))
    assert fw.version == "2.2-LT"
    assert fw.competence("1.1").name == "Naršymas"
    assert fw.competence("5.5").area_id == "5"
    assert len(fw.competences_in("5")) == 5
    assert load_framework().competence("1.1").name == OFFICIAL_COMPETENCES["1.1"]  # packaged one untouched


def test_numeric_version_is_read_as_string(tmp_path, raw_framework):
    raw_framework["version"] = 3.0
    assert load_framework(write(tmp_path, raw_framework)).version == "3.0"


def _dup_area(d):
    d["areas"].append(copy.deepcopy(d["areas"][1]))


def _dup_competence(d):
    d["competences"].append({"id": "2.3", "area_id": "2", "name": "again"})


def _unknown_area(d):
    d["competences"][4]["area_id"] = "7"


def _level_gap(d):
    d["levels"] = d["levels"][:6] + d["levels"][7:]


def _levels_from_zero(d):
    for lv in d["levels"]:
        lv["level"] -= 1


def _duplicate_level(d):
    d["levels"][7]["level"] = 7


def _level_not_int(d):
    d["levels"][2]["level"] = "3"


def _no_version(d):
    del d["version"]


def _empty_version(d):
    d["version"] = "  "


def _area_without_competences(d):
    d["areas"].append({"id": "6", "name": "Empty area"})


def _split_group(d):
    d["levels"][4]["group"] = "foundation"


def _missing_competence_name(d):
    del d["competences"][3]["name"]


def test_any_number_of_levels_loads(tmp_path, raw_framework):
    # nothing assumes 8 levels: the 2.2 shape with its first seven levels is a seven-level framework
    raw_framework["levels"] = raw_framework["levels"][:7]
    fw = load_framework(write(tmp_path, raw_framework))
    assert fw.n_levels == 7 and fw.level_scheme.codes == tuple("1234567")


@pytest.mark.parametrize(("mutate", "column", "words"), [
    (_dup_area, "areas[5].id", "duplicate area id '2'"),
    (_dup_competence, "competences[21].id", "duplicate competence id '2.3'"),
    (_unknown_area, "competences[4].area_id", "unknown area '7'"),
    (_level_gap, "levels", "numbered 1..7, found [1, 2, 3, 4, 5, 6, 8]"),
    (_levels_from_zero, "levels", "numbered 1..8"),
    (_duplicate_level, "levels", "numbered 1..8"),
    (_level_not_int, "levels[2].level", "must be an integer"),
    (_no_version, "version", "missing required field 'version'"),
    (_empty_version, "version", "non-empty"),
    (_area_without_competences, "competences", "have no competence"),
    (_split_group, "levels", "not a contiguous run"),
    (_missing_competence_name, "competences[3].name", "missing 'name'"),
])
def test_invalid_framework_files_name_file_and_field(tmp_path, raw_framework, mutate, column, words):
    mutate(raw_framework)
    path = write(tmp_path, raw_framework, "bad-framework.json")
    with pytest.raises(DataFileError) as info:
        load_framework(path)
    err = info.value
    assert err.file == str(path)
    assert err.column == column
    assert words in err.reason
    assert "bad-framework.json" in str(err) and column in str(err)


def test_broken_json_names_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "name": "DigComp",\n  "version": 2.2,,\n}', encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_framework(path)
    assert info.value.line == 3
    assert "broken.json" in str(info.value)


def test_missing_file_is_a_data_file_error(tmp_path):
    with pytest.raises(DataFileError, match="nope.json"):
        load_framework(tmp_path / "nope.json")


def test_framework_is_immutable_and_hashable():
    fw = load_framework()
    with pytest.raises(AttributeError):
        fw.version = "3.0"  # type: ignore[misc]
    assert hash(fw) == hash(Framework.from_dict(fw.to_dict()))
