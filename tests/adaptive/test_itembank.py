"""Item banks: lookups, IRT views, scoring, public view, validation, JSON and CSV round trips."""

from __future__ import annotations

import copy
import csv
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adaptive.errors import (
    DataFileError,
    InvalidAnswerError,
    ItemBankValidationError,
    UnknownIdError,
)
from adaptive.framework import Framework, load_framework
from adaptive.itembank import DEFAULT_CUT_SCORES, Item, ItemBank, ItemContent
from adaptive.synthetic import generate_synthetic_bank

FW = load_framework()


@pytest.fixture(scope="module")
def small_bank() -> ItemBank:
    # 21 competences x 8 items, a quarter 3PL and a quarter GRM, plus pilots: every item kind present
    return generate_synthetic_bank(items_per_competence=8, share_3pl=0.25, share_grm=0.25,
                                   n_pilot_per_competence=1, languages=("en", "lt"), seed=11)


@pytest.fixture
def bank_dict(small_bank) -> dict:
    return copy.deepcopy(small_bank.to_dict())


def first(d: dict, model: str) -> dict:
    return next(it for it in d["items"] if it["model"] == model)


# -- lookups and IRT views ------------------------------------------------------------------------
def test_lookups(small_bank):
    it = small_bank.items[17]
    assert small_bank.item(it.id) is it
    assert small_bank.index_of(it.id) == 17
    assert len(small_bank) == 21 * 9
    assert [x.id for x in small_bank] == [x.id for x in small_bank.items]
    with pytest.raises(UnknownIdError) as info:
        small_bank.item("no-such-item")
    assert info.value.kind == "item" and info.value.id == "no-such-item"


def test_parameters_match_items_and_subsets_keep_order(small_bank):
    full = small_bank.parameters()
    assert small_bank.parameters() is full  # cached: the CAT asks on every step
    assert full.n_items == len(small_bank)
    for i, it in enumerate(small_bank.items):
        assert full.model[i] == it.model
        assert full.a[i] == it.a and full.c[i] == it.c and full.d[i] == it.d
        assert full.n_categories[i] == it.n_categories
        k = len(it.b)
        np.testing.assert_array_equal(full.b[i, :k], it.b)
        assert np.all(np.isnan(full.b[i, k:]))
    ids = [small_bank.items[i].id for i in (40, 3, 120, 3)]
    sub = small_bank.parameters(ids)
    assert list(sub.ids) == ids
    theta = np.linspace(-3, 3, 7)
    np.testing.assert_array_equal(sub.category_probabilities(theta),
                                  full.category_probabilities(theta)[:, [40, 3, 120, 3]])
    with pytest.raises(UnknownIdError, match="nope"):
        small_bank.parameters([ids[0], "nope"])


def test_item_areas_and_select(small_bank):
    areas = small_bank.item_areas()
    assert areas.shape == (len(small_bank),)
    assert [small_bank.area_ids[k] for k in areas] == [it.area for it in small_bank.items]
    active = small_bank.select()
    pilot = small_bank.select("pilot")
    assert len(active) == 21 * 8 and len(pilot) == 21
    assert all(small_bank.items[i].status == "active" for i in active)
    assert sorted(small_bank.select(("active", "pilot"))) == sorted(active + pilot)


def test_cut_scores_array(small_bank):
    cuts = small_bank.cut_scores_array()
    assert cuts.shape == (5, 7)
    np.testing.assert_array_equal(cuts, np.tile(DEFAULT_CUT_SCORES, (5, 1)))


# -- scoring and the public view ----------------------------------------------------------------
def test_score_dichotomous_and_graded(small_bank):
    mc = next(it for it in small_bank if it.model in ("2PL", "3PL"))
    for answer in range(mc.n_options):
        assert small_bank.score(mc.id, answer) == int(answer == mc.key)
    grm = next(it for it in small_bank if it.model == "GRM")
    assert [small_bank.score(grm.id, k) for k in range(grm.n_options)] == grm.key
    assert small_bank.score(mc.id, np.int64(mc.key)) == 1


@pytest.mark.parametrize("answer", [-1, 4, 99, True, "1", 1.0, None])
def test_out_of_range_answers_are_rejected(small_bank, answer):
    mc = next(it for it in small_bank if it.model == "2PL")
    with pytest.raises(InvalidAnswerError) as info:
        small_bank.score(mc.id, answer)
    assert mc.id in str(info.value)


def test_score_unknown_item(small_bank):
    with pytest.raises(UnknownIdError):
        small_bank.score("missing", 0)


def test_public_item_never_carries_the_key(small_bank):
    for it in small_bank.items:
        for lang in small_bank.languages:
            public = small_bank.public_item(it.id, lang)
            assert set(public) == {"id", "area", "competence", "language", "response_type", "stem",
                                   "options", "media"}
            text = json.dumps(public)
            assert '"key"' not in text
            # the served view is the same whatever the key: it carries no information about it
            other = copy.deepcopy(it)
            other.key = [4, 3, 2, 1, 0] if it.is_polytomous else (it.key + 1) % it.n_options
            twin = ItemBank([other], languages=small_bank.languages, area_ids=small_bank.area_ids,
                            cut_scores=small_bank.cut_scores)
            assert json.dumps(twin.public_item(it.id, lang)) == text
    mc = next(it for it in small_bank if it.model == "2PL")
    public = small_bank.public_item(mc.id, "lt")
    assert public["stem"].startswith("[lt] ") and public["options"] == mc.content["lt"].options


def test_public_item_unknown_language(small_bank):
    with pytest.raises(UnknownIdError) as info:
        small_bank.public_item(small_bank.items[0].id, "fr")
    assert info.value.kind == "language"


# -- validation: each rule names the item and the field -----------------------------------------
def mut(model, fn):
    """Apply ``fn`` to the first item of ``model``; return that item's id."""
    def apply(d):
        it = first(d, model)
        fn(it, d)
        return it["id"]
    return apply


def _dup_id(it, d):
    d["items"][5]["id"] = it["id"]


def _set(field, value):
    def fn(it, d):
        it[field] = value
    return fn


def _other_area_competence(it, d):
    it["competence"] = "4.1" if it["area"] != "4" else "1.1"


def _drop_lang(it, d):
    del it["content"]["lt"]


def _options(n):
    def fn(it, d):
        for c in it["content"].values():
            c["options"] = [f"o{k}" for k in range(n)]
    return fn


def _enemy(it, d):
    it["enemies"] = ["DC-9.9-001"]


def _self_enemy(it, d):
    it["enemies"] = [it["id"]]


def _empty_stem(it, d):
    it["content"]["en"]["stem"] = "   "


def _options_differ(it, d):
    it["content"]["lt"]["options"] = it["content"]["lt"]["options"][:-1]


@pytest.mark.parametrize(("mutate", "field", "words"), [
    (mut("2PL", _dup_id), "id", "duplicate item id"),
    (mut("2PL", _set("competence", "6.1")), "competence", "unknown competence '6.1'"),
    (mut("2PL", _other_area_competence), "competence", "belongs to area"),
    (mut("2PL", _set("area", "6")), "competence", "belongs to area '"),
    (mut("2PL", _set("a", 0.0)), "a", "> 0"),
    (mut("2PL", _set("a", -1.2)), "a", "> 0"),
    (mut("3PL", _set("c", 1.0)), "c", "[0, 1)"),
    (mut("3PL", _set("c", -0.1)), "c", "[0, 1)"),
    (mut("2PL", _set("c", 0.2)), "c", "c must be 0"),
    (mut("3PL", _set("d", 0.9)), "d", "d must be 1"),
    (lambda d: (first(d, "3PL").update(model="4PL", c=0.3, d=0.3), first(d, "4PL")["id"])[1], "d", "(c, 1]"),
    (lambda d: (first(d, "3PL").update(model="4PL", c=0.1, d=1.2), first(d, "4PL")["id"])[1], "d", "(c, 1]"),
    (mut("GRM", _set("b", [0.5, 0.2, 0.9, 1.4])), "b", "strictly increasing"),
    (mut("GRM", _set("b", [0.5, 0.5, 0.9, 1.4])), "b", "strictly increasing"),
    (mut("GRM", _set("b", [0.1, 0.5, 0.9])), "content.options", "needs 4 options"),
    (mut("GRM", _set("b", [])), "b", "at least one threshold"),
    (mut("2PL", _set("b", [0.1, 0.4])), "b", "exactly one difficulty"),
    (mut("2PL", _set("b", [float("nan")])), "b", "finite"),
    (mut("2PL", _set("key", None)), "key", "missing scoring key"),
    (mut("GRM", _set("key", None)), "key", "missing scoring key"),
    (mut("2PL", _set("key", 4)), "key", "out of range"),
    (mut("2PL", _set("key", -1)), "key", "out of range"),
    (mut("2PL", _set("key", [0, 1])), "key", "index of the correct option"),
    (mut("GRM", _set("key", [0, 1, 2, 3, 5])), "key", "0..4"),
    (mut("GRM", _set("key", [0, 1, 2, 3])), "key", "4 scores for 5 options"),
    (mut("GRM", _set("key", [0, 1, 1, 3, 4])), "key", "cover every category"),
    (mut("GRM", _set("key", 2)), "key", "list of scores"),
    (mut("2PL", _set("key", "A")), "key", "integer"),
    (mut("2PL", _drop_lang), "content.lt", "missing content for declared language 'lt'"),
    (mut("2PL", _empty_stem), "content.en.stem", "empty stem"),
    (mut("2PL", _options(1)), "content.options", "at least 2 options"),
    (mut("GRM", _options(4)), "content.options", "needs 5 options"),
    (mut("2PL", _options_differ), "content", "differs between languages"),
    (mut("2PL", _set("status", "draft")), "status", "active, pilot, retired"),
    (mut("2PL", _set("level", 9)), "level", "1..8"),
    (mut("2PL", _set("level", 0)), "level", "1..8"),
    (mut("2PL", _set("model", "5PL")), "model", "unknown IRT model"),
    (mut("2PL", _enemy), "enemies", "'DC-9.9-001' is not in the bank"),
    (mut("2PL", _self_enemy), "enemies", "own enemy"),
    (mut("2PL", _set("a", "high")), "a", "must be a number"),
    (mut("2PL", _set("level", "3")), "level", "integer"),
])
def test_item_validation_errors_name_item_and_field(bank_dict, mutate, field, words):
    item_id = mutate(bank_dict)
    with pytest.raises(ItemBankValidationError) as info:
        ItemBank.from_dict(bank_dict)
    err = info.value
    assert err.item_id == item_id
    assert err.field == field
    assert words in err.reason
    assert repr(item_id) in str(err) and repr(field) in str(err)


@pytest.mark.parametrize(("mutate", "field", "words"), [
    (lambda d: d["cut_scores"]["3"].reverse(), "cut_scores.3", "strictly increasing"),
    (lambda d: d["cut_scores"]["2"].pop(), "cut_scores.2", "need 7 cut scores"),
    (lambda d: d["cut_scores"].pop("5"), "cut_scores", "bank areas"),
    (lambda d: d["area_correlation"][0].__setitem__(1, 0.2), "area_correlation", "symmetric"),
    (lambda d: d["area_correlation"][2].__setitem__(2, 0.9), "area_correlation", "diagonal"),
    (lambda d: d.__setitem__("area_correlation", (np.full((5, 5), -0.5) + 1.5 * np.eye(5)).tolist()),
     "area_correlation", "positive definite"),
    (lambda d: d.__setitem__("area_correlation", np.eye(4).tolist()), "area_correlation", "5x5"),
    (lambda d: d.__setitem__("languages", ["en", "en"]), "languages", "without repeats"),
    (lambda d: d.__setitem__("area_ids", ["1", "2", "3", "4", "9"]), "area_ids", "'9' is not in DigComp"),
    (lambda d: d.pop("items"), "items", "missing required field"),
    (lambda d: d.__setitem__("format", "something-else"), "format", "not an item bank"),
])
def test_bank_metadata_validation(bank_dict, mutate, field, words):
    mutate(bank_dict)
    with pytest.raises(ItemBankValidationError) as info:
        ItemBank.from_dict(bank_dict)
    assert info.value.field == field
    assert words in info.value.reason


def test_validate_against_another_framework_version(small_bank):
    raw = load_framework().to_dict()
    raw["version"] = "3.0"
    v3 = Framework.from_dict(raw)
    with pytest.raises(ItemBankValidationError) as info:
        small_bank.validate(v3)
    assert info.value.field == "framework_version"
    # a bank built for the other version validates against it
    bank3 = generate_synthetic_bank(framework=v3, items_per_competence=8, seed=2)
    assert bank3.framework_version == "3.0"
    bank3.validate(v3)
    ItemBank.from_dict(bank3.to_dict(), framework=v3)


def test_constructor_defaults():
    content = {"en": ItemContent("stem", ["x", "y"])}
    bank = ItemBank([Item("i1", "2", "2.1", 3, "2PL", 1.0, [0.0], content=content, key=1)])
    assert bank.area_ids == ["2"]
    assert bank.cut_scores == {"2": list(DEFAULT_CUT_SCORES)}
    np.testing.assert_array_equal(bank.area_correlation, np.eye(1))
    bank.validate()
    assert bank.score("i1", 1) == 1


# -- JSON and CSV round trips ---------------------------------------------------------------------
def test_json_round_trip_exact(small_bank, tmp_path):
    path = small_bank.save_json(tmp_path / "sub" / "bank.json")
    again = ItemBank.load_json(path)
    assert again.to_dict() == small_bank.to_dict()
    assert again.items == small_bank.items
    np.testing.assert_array_equal(again.area_correlation, small_bank.area_correlation)
    resaved = again.save_json(tmp_path / "again.json")
    assert path.read_text(encoding="utf-8") == resaved.read_text(encoding="utf-8")


def test_load_json_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"items": [\n1,,]}', encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        ItemBank.load_json(bad)
    assert info.value.line == 2 and "bad.json" in str(info.value)
    with pytest.raises(DataFileError, match="missing.json"):
        ItemBank.load_json(tmp_path / "missing.json")


def test_csv_round_trip_exact(small_bank, tmp_path):
    path = small_bank.export_parameters_csv(tmp_path / "params.csv")
    again = small_bank.with_parameters_from_csv(path)
    assert again.to_dict() == small_bank.to_dict()
    assert again is not small_bank


def test_csv_import_replaces_parameters(small_bank, tmp_path):
    path = small_bank.export_parameters_csv(tmp_path / "params.csv")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    target = rows[0]["item_id"]
    rows[0]["a"] = "2.5"
    kept = rows[1]["item_id"]
    del rows[1]  # items absent from the file keep their parameters
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    new = small_bank.with_parameters_from_csv(path)
    assert new.item(target).a == 2.5
    assert new.parameters([target]).a[0] == 2.5
    assert small_bank.item(target).a != 2.5  # original untouched
    assert new.item(kept) == small_bank.item(kept)


def _rewrite(path, edit):
    lines = path.read_text(encoding="utf-8").splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _cell(lines, line, column, value):
    header = lines[0].split(",")
    cells = list(csv.reader([lines[line - 1]]))[0]
    cells[header.index(column)] = value
    buf = []
    csv.writer(_Collect(buf)).writerow(cells)
    lines[line - 1] = buf[0].rstrip("\r\n")


class _Collect:
    def __init__(self, buf):
        self.buf = buf

    def write(self, s):
        self.buf.append(s)


@pytest.mark.parametrize(("edit", "line", "column", "words"), [
    (lambda ls: _cell(ls, 3, "a", "abc"), 3, "a", "not a number"),
    (lambda ls: _cell(ls, 4, "a", "-0.5"), 4, "a", "> 0"),
    (lambda ls: _cell(ls, 2, "item_id", "ghost"), 2, "item_id", "unknown item id 'ghost'"),
    (lambda ls: ls.append(ls[5]), None, "item_id", "duplicate row"),
    (lambda ls: ls.__setitem__(0, ls[0].replace(",a,", ",slope,")), 1, "a", "missing column 'a'"),
    (lambda ls: _cell(ls, 2, "model", "6PL"), 2, "model", "unknown IRT model"),
])
def test_csv_import_errors_name_file_line_column(small_bank, tmp_path, edit, line, column, words):
    path = small_bank.export_parameters_csv(tmp_path / "params.csv")
    _rewrite(path, edit)
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    with pytest.raises(DataFileError) as info:
        small_bank.with_parameters_from_csv(path)
    err = info.value
    assert err.file == str(path)
    assert err.line == (line if line is not None else n_lines)
    assert err.column == column
    assert words in err.reason
    assert "params.csv" in str(err)


def test_csv_import_thresholds_checked(small_bank, tmp_path):
    path = small_bank.export_parameters_csv(tmp_path / "params.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    grm_line = next(i for i, ln in enumerate(lines, start=1) if ",GRM," in ln)
    _rewrite(path, lambda ls: _cell(ls, grm_line, "b2", "-9.0"))
    with pytest.raises(DataFileError) as info:
        small_bank.with_parameters_from_csv(path)
    assert info.value.line == grm_line and info.value.column == "b1"
    assert "strictly increasing" in info.value.reason


# -- property-based round trips ----------------------------------------------------------------
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
slopes = st.floats(min_value=1e-6, max_value=1e3, allow_nan=False, exclude_min=False)
id_text = st.text(alphabet="abcXYZ019-_.,\" ;é", min_size=1, max_size=8)
free_text = st.text(max_size=20)


@st.composite
def items(draw, item_id: str, languages: tuple[str, ...]) -> Item:
    comp = draw(st.sampled_from(FW.competences))
    model = draw(st.sampled_from(("1PL", "2PL", "3PL", "4PL", "GRM")))
    a = draw(slopes)
    c, d = 0.0, 1.0
    if model == "GRM":
        b = sorted(draw(st.lists(finite, min_size=1, max_size=5, unique=True)))
        n_options = len(b) + 1
        key = draw(st.permutations(list(range(n_options))))
    else:
        b = [draw(finite)]
        n_options = draw(st.integers(2, 6))
        key = draw(st.integers(0, n_options - 1))
        if model in ("3PL", "4PL"):
            c = draw(st.floats(min_value=0.0, max_value=0.9, allow_nan=False))
        if model == "4PL":
            d = draw(st.floats(min_value=c, max_value=1.0, exclude_min=True, allow_nan=False))
    content = {
        lang: ItemContent(stem="s" + draw(free_text), options=[draw(free_text) for _ in range(n_options)],
                          media=draw(st.lists(free_text, max_size=2)))
        for lang in languages
    }
    return Item(id=item_id, area=comp.area_id, competence=comp.id, level=draw(st.integers(1, 8)),
                model=model, a=a, b=b, c=c, d=d, status=draw(st.sampled_from(("active", "pilot", "retired"))),
                content=content, key=key)


@st.composite
def banks(draw) -> ItemBank:
    languages = tuple(draw(st.lists(st.sampled_from(("en", "lt", "lv", "et")), min_size=1, max_size=3,
                                    unique=True)))
    ids = draw(st.lists(id_text, min_size=1, max_size=6, unique=True))
    its = [draw(items(i, languages)) for i in ids]
    if len(its) >= 2 and draw(st.booleans()):
        its[0].enemies.append(its[1].id)
        its[1].enemies.append(its[0].id)
    cuts = {a: sorted(draw(st.lists(finite, min_size=7, max_size=7, unique=True))) for a in FW.area_ids}
    r = draw(st.floats(min_value=-0.2, max_value=0.95))
    corr = np.full((5, 5), r)
    np.fill_diagonal(corr, 1.0)
    bank = ItemBank(its, framework_version="2.2", languages=languages, cut_scores=cuts,
                    area_ids=FW.area_ids, area_correlation=corr,
                    provenance={"note": draw(free_text)}, name=draw(free_text))
    bank.validate(FW)
    return bank


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bank=banks())
def test_random_banks_round_trip_json_and_csv(bank, tmp_path):
    again = ItemBank.from_dict(json.loads(json.dumps(bank.to_dict())))
    assert again.to_dict() == bank.to_dict()
    assert again.items == bank.items
    path = tmp_path / "p.csv"
    bank.export_parameters_csv(path)
    assert bank.with_parameters_from_csv(path).items == bank.items


def test_numpy_values_become_plain_json(tmp_path):
    # what a calibration run hands over: numpy scalars and arrays
    content = {"en": ItemContent("stem", ["1", "2", "3"])}
    item = Item("g1", "5", "5.1", np.int64(4), "GRM", np.float64(1.3), np.array([-0.5, 0.7]),
                content=content, key=np.array([0, 1, 2]))
    assert item.level == 4 and type(item.level) is int
    assert item.b == [-0.5, 0.7] and item.key == [0, 1, 2]
    bank = ItemBank([item], provenance={"loglik": np.float64(-12.5), "n": np.int64(3), "v": np.ones(2)})
    bank.validate()
    again = ItemBank.load_json(bank.save_json(tmp_path / "b.json"))
    assert again.items == [item]
    assert again.provenance == {"loglik": -12.5, "n": 3, "v": [1.0, 1.0]}


# -- one rule set for item parameters (adaptive.irt), levels from the cut scores -----------------
@pytest.mark.parametrize(("model", "changes", "field"), [
    ("2PL", {"a": -1.0}, "a"),
    ("2PL", {"b": [0.1, 0.4]}, "b"),
    ("2PL", {"c": 0.2}, "c"),
    ("3PL", {"c": 1.0}, "c"),
    ("3PL", {"d": 0.9}, "d"),
    ("GRM", {"b": [0.5, 0.2, 0.9]}, "b"),
    ("2PL", {"model": "5PL"}, "model"),
])
def test_bank_and_item_parameters_report_the_same_rule(model, changes, field):
    from adaptive.errors import ValidationError
    from adaptive.irt import ItemParameters
    from adaptive.itembank import check_item_parameters, parameter_arrays

    base = {"2PL": {"b": [0.0]}, "3PL": {"b": [0.0], "c": 0.2}, "GRM": {"b": [-1.0, 0.0, 1.0]}}[model]
    fields = {"id": "q1", "area": "1", "competence": "1.1", "level": 3, "model": model, "a": 1.2, **base}
    item = Item(**{**fields, **changes})
    with pytest.raises(ItemBankValidationError) as bank_err:
        check_item_parameters([item])
    with pytest.raises(ValidationError) as irt_err:
        ItemParameters(**parameter_arrays([item]), ids=["q1"])
    assert bank_err.value.item_id == "q1" and bank_err.value.field == field
    assert irt_err.value.field == field and irt_err.value.reason == bank_err.value.reason


def test_a_bank_with_other_levels_validates_without_a_framework():
    content = {"en": ItemContent("stem", ["x", "y"])}
    cuts = {"1": [-1.0, 0.0, 1.0]}                                     # 4 levels
    items = [Item("i1", "1", "1.1", 4, "2PL", 1.0, [0.0], content=content, key=1)]
    bank = ItemBank(items, framework_version="x", cut_scores=cuts)
    bank.validate()                                                    # no packaged framework for "x"
    assert bank.n_levels == 4 and bank.cut_scores_array().shape == (1, 3)
    too_high = ItemBank([Item("i1", "1", "1.1", 5, "2PL", 1.0, [0.0], content=content, key=1)],
                        framework_version="x", cut_scores=cuts)
    with pytest.raises(ItemBankValidationError) as info:
        too_high.validate()
    assert info.value.field == "level" and "1..4" in info.value.reason


def test_the_package_keeps_every_name_of_the_old_module():
    import adaptive.itembank as ib

    for name in ("Item", "ItemBank", "ItemContent", "DEFAULT_CUT_SCORES", "STATUSES", "N_LEVELS", "N_CUTS",
                 "FORMAT", "FORMAT_VERSION", "PARAMETERIZATION", "CSV_FIXED_COLUMNS", "check_item",
                 "check_item_parameters"):
        assert hasattr(ib, name), name
    assert ib.N_LEVELS == len(ib.DEFAULT_CUT_SCORES) + 1 and ib.N_CUTS == len(ib.DEFAULT_CUT_SCORES)


def test_public_item_function_and_method_agree_and_hide_the_key(small_bank):
    from adaptive.itembank import public_item

    it = small_bank.items[0]
    shown = small_bank.public_item(it.id, "en")
    assert shown == public_item(it, "en")
    assert "key" not in shown and "a" not in shown and "b" not in shown
