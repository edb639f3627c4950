"""Plans as pure functions (recommender.progress, issue 18): the difference of an updated plan on a
constructed case, the merge of a new pathway with people's decisions, adjustments and their errors."""

from __future__ import annotations

import pandas as pd
import pytest

from adaptive.errors import ValidationError
from recommender.data import Catalogue
from recommender.progress import adjust_plan, plan_difference, plan_status, propose_plan


def step(cid: str, comp: str, level: int, **kw) -> dict:
    return {"content_id": cid, "competence": comp, "competence_name": "", "level": level, "title": f"T {cid}",
            "reason": f"step towards {comp} level {level}", "score": 1.0, **kw}


def ids(steps) -> list[str]:
    return [s["content_id"] for s in steps]


def test_difference_of_a_constructed_update_names_each_change_and_why():
    # before: 1.1 needed levels 3-4, 2.3 levels 3-4, 4.4 level 4 (E), 2.4 level 5 (H) last
    current = [step("A", "1.1", 3), step("B", "1.1", 4), step("C", "2.3", 3), step("D", "2.3", 4),
               step("E", "4.4", 4), step("H", "2.4", 5), step("X", "3.1", 2, hidden=True)]
    # after a new diagnostic: 1.1 reached level 4; the 2.4 gap is now the largest; F is now preferred
    # over E for 4.4 level 4; a new gap in 5.1
    proposed = [step("H", "2.4", 5), step("F", "4.4", 4), step("C", "2.3", 3), step("D", "2.3", 4),
                step("G", "5.1", 4), step("G2", "5.1", 5), step("X", "3.1", 2, hidden=True)]
    levels = {"1.1": 4.0, "2.3": 2.0, "2.4": 3.0, "4.4": 3.0, "5.1": 3.0}
    diff = plan_difference(current, proposed, levels=levels, catalogue_ids=[*"ABCDEFGHX", "G2"])

    assert [(a["content_id"], a["position"]) for a in diff.added] == [("F", 2), ("G", 5), ("G2", 6)]
    assert diff.added[0]["why"] == "replaces E for 4.4 level 4"
    assert diff.added[1]["why"] == "new gap: 5.1 is at level 3, the target needs level 4 or more"
    assert diff.added[2]["why"] == "another step towards 5.1 level 5"
    assert [(r["content_id"], r["position"]) for r in diff.removed] == [("A", 1), ("B", 2), ("E", 5)]
    assert diff.removed[0]["why"].startswith("the learner's level in 1.1 is now 4")
    assert diff.removed[1]["why"].startswith("the learner's level in 1.1 is now 4")
    assert diff.removed[2]["why"] == "replaced by F for 4.4 level 4"
    # C and D keep their order; only H moved (not C and D "down" because of it)
    assert [(m["content_id"], m["from_position"], m["to_position"]) for m in diff.reordered] == [("H", 6, 1)]
    assert "2.4 now comes earlier" in diff.reordered[0]["why"]
    assert diff.unchanged == 2 and diff.changed
    assert len(diff.summary) == 7 and diff.summary[0].startswith("+ F (4.4 level 4) at step 2")
    # the hidden step is in neither plan's visible steps: no change reported for it
    assert "X" not in str(diff.to_dict())


def test_removed_content_left_the_catalogue_and_no_change():
    current = [step("A", "1.1", 3), step("B", "1.1", 4)]
    diff = plan_difference(current, [step("B", "1.1", 4)], levels={"1.1": 2.0}, catalogue_ids=["B"])
    assert diff.removed[0]["why"] == "the content is no longer in the catalogue"
    diff = plan_difference(current, [step("B", "1.1", 4)], levels={"1.1": 2.0}, catalogue_ids=["A", "B"])
    assert diff.removed[0]["why"] == "no longer recommended for the learner's current gaps"
    same = plan_difference(current, [dict(s) for s in current])
    assert not same.changed and same.unchanged == 2 and same.summary == ["no change"]


def test_proposal_keeps_what_people_decided_at_their_place():
    current = [step("A", "1.1", 3), step("B", "1.1", 4, pinned=True),
               step("C", "2.3", 3, deadline="2027-01-01"), step("X", "3.1", 2, hidden=True),
               step("M", "2.4", 2, origin="added"), step("Z", "2.3", 5)]
    recommended = [step("P", "5.1", 3), step("C", "2.3", 3), step("X", "3.1", 2), step("Q", "5.1", 4)]
    out = propose_plan(current, recommended, completed={"A"})
    # held: A (completed) at 1, B (pinned) at 2, X (hidden) at 4, M (added) at 5; fresh fill the rest;
    # Z (neither held nor recommended) is gone
    assert ids(out) == ["A", "B", "P", "X", "M", "C", "Q"]
    by = {s["content_id"]: s for s in out}
    assert by["X"]["hidden"] and by["B"]["pinned"] and by["M"]["origin"] == "added"
    assert by["C"]["deadline"] == "2027-01-01"        # a recommended step keeps its deadline
    # a held step far down a long plan lands at the end of a short one, in plan order
    long = [step(f"S{i}", "1.1", 3) for i in range(7)] + [step("K", "1.2", 3, pinned=True)]
    assert ids(propose_plan(long, [step("P", "5.1", 3), step("Q", "5.1", 4)])) == ["P", "Q", "K"]
    assert ids(propose_plan([], recommended)) == ["P", "C", "X", "Q"]


def _catalogue() -> Catalogue:
    frame = pd.DataFrame({"content_id": ["N1", "N2"], "title": ["New one", "New two"], "language": "en",
                          "format": "course", "duration_minutes": 30.0, "competences": ["2.1;2.2", "3.1"],
                          "level": [4, 2]})
    return Catalogue.from_frame(frame)


def test_adjustments_apply_in_order_and_record_the_author():
    plan = [step("A", "1.1", 3), step("B", "1.1", 4), step("C", "2.3", 3)]
    who = {"key_id": "k1", "name": "Head of unit", "scope": "supervisor"}
    out, applied = adjust_plan(plan, [
        {"op": "add", "content_id": "N1", "position": 1, "deadline": "2027-03-31T00:00:00Z"},
        {"op": "hide", "content_id": "B"},
        {"op": "move", "content_id": "C", "position": 2},
        {"op": "deadline", "content_id": "A", "deadline": "2027-02-01T00:00:00Z"},
        {"op": "pin", "content_id": "A"},
    ], author=who, at="2026-12-02T09:00:00+00:00", catalogue=_catalogue(),
        competence_names={"2.1": "Interacting"})
    assert ids(out) == ["N1", "C", "A", "B"]
    by = {s["content_id"]: s for s in out}
    assert (by["N1"]["origin"], by["N1"]["competence"], by["N1"]["level"], by["N1"]["pinned"]) == \
        ("added", "2.1", 4, True)
    assert by["N1"]["competence_name"] == "Interacting" and by["N1"]["deadline"] == "2027-03-31T00:00:00Z"
    assert by["B"]["hidden"] and by["C"]["pinned"] and by["A"]["pinned"]
    assert by["A"]["deadline"] == "2027-02-01T00:00:00Z"
    assert all(by[c]["changed_by"] == who for c in ("N1", "B", "C", "A"))
    assert [a["op"] for a in applied] == ["add", "hide", "move", "deadline", "pin"]
    assert applied[2] == {"op": "move", "content_id": "C", "from_position": 4, "to_position": 2}
    assert applied[3]["previous"] is None
    status = plan_status(out, {"C": "2026-12-03T10:00:00+00:00"})
    assert (status["n_steps"], status["n_completed"], status["next_content_id"]) == (3, 1, "N1")
    assert [s["status"] for s in status["steps"]] == ["open", "completed", "open", "hidden"]


@pytest.mark.parametrize("changes, field", [
    ([{"op": "hide", "content_id": "A"}, {"op": "pin", "content_id": "nope"}], "content_id"),
    ([{"op": "add", "content_id": "A"}], "content_id"),              # already a step
    ([{"op": "add", "content_id": "NOT-IN-CATALOGUE"}], "content_id"),
    ([{"op": "move", "content_id": "A", "position": 9}], "position"),
    ([{"op": "delete", "content_id": "A"}], "op"),
])
def test_a_bad_adjustment_names_the_change_and_applies_nothing(changes, field):
    plan = [step("A", "1.1", 3), step("B", "1.1", 4)]
    before = [dict(s) for s in plan]
    with pytest.raises(ValidationError) as err:
        adjust_plan(plan, changes, author={"key_id": "k"}, at="now", catalogue=_catalogue())
    assert err.value.field == field and err.value.where == f"changes[{len(changes) - 1}]"
    assert plan == before


def test_proposal_keeps_an_open_steps_content_where_the_pathway_asks_for_the_same_competence_and_level():
    current = [step("A", "1.1", 3), step("B", "1.2", 4), step("R", "2.1", 2)]
    # the fresh pathway asks for 1.1 level 3 and 1.2 level 4 again, but picked other content for both
    recommended = [step("A2", "1.1", 3), step("B2", "1.2", 4), step("N", "3.1", 2)]
    assert ids(propose_plan(current, recommended)) == ["A", "B", "N"]
    # content that may no longer be served is replaced; without a plan the pathway stands as it is
    assert ids(propose_plan(current, recommended, available={"A", "A2", "B2", "N"})) == ["A", "B2", "N"]
    assert ids(propose_plan([], recommended)) == ["A2", "B2", "N"]
    diff = plan_difference(current, propose_plan(current, recommended))
    assert [r["content_id"] for r in diff.removed] == ["R"] and [a["content_id"] for a in diff.added] == ["N"]
