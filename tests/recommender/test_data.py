"""Loaders: clear errors naming file/row/field, round trips, unknown ids reported, confidence weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptive.errors import DataFileError
from recommender.data import Catalogue, Learners, RoleProfiles, read_events, write_events
from recommender.interactions import EventWeights, Interactions

CATALOGUE = """content_id,title,language,format,duration_minutes,competences,level
C1,Intro,en,course,60,1.1;1.3,2
C2,Spreadsheets,lt,video,12,1.3,3
C3,Privacy,en,article,8,4.2,4
"""
ROLES = """role_id,title,competence,required_level
clerk,Clerk,1.3,4
clerk,Clerk,4.2,3
analyst,Analyst,1.3,6
"""
EVENTS = """learner_id,content_id,event,value,timestamp,event_id
u1,C1,viewed,,2025-01-01T10:00:00Z,e1
u1,C1,completed,,2025-01-02T10:00:00Z,e2
u1,C2,rated,5,2025-01-03T10:00:00Z,e3
u2,C3,enrolled,,2025-01-04T10:00:00Z,e4
u2,C9,viewed,,2025-01-05T10:00:00Z,e5
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_catalogue_roles_load(tmp_path):
    cat = Catalogue.read(write(tmp_path, "catalogue.csv", CATALOGUE))
    assert cat.ids.tolist() == ["C1", "C2", "C3"]
    assert cat.competences[0] == ("1.1", "1.3") and cat.level.tolist() == [2, 3, 4]
    assert cat.competence_matrix.shape == (3, 21) and cat.competence_matrix.sum() == 4
    roles = RoleProfiles.read(write(tmp_path, "roles.csv", ROLES))
    assert roles.required_levels("clerk") == {"1.3": 4, "4.2": 3}
    assert roles.title("analyst") == "Analyst"


@pytest.mark.parametrize(
    "row,field,bad,message",
    [
        (2, "level", "9", "level must be an integer in [1, 8]"),
        (3, "competences", "1.3;7.7", "unknown DigComp competence '7.7'"),
        (4, "format", "podcast", "format must be one of"),
        (3, "content_id", "C1", "duplicate content_id"),
    ],
)
def test_catalogue_errors_name_file_row_field(tmp_path, row, field, bad, message):
    frame = pd.read_csv(pd.io.common.StringIO(CATALOGUE), dtype=str, keep_default_na=False)
    frame.loc[row - 2, field] = bad
    path = tmp_path / "cat.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataFileError) as err:
        Catalogue.read(path)
    assert err.value.file == str(path) and err.value.line == row and err.value.column == field
    assert message in str(err.value) and str(path) in str(err.value) and f"row {row}" in str(err.value)


def test_missing_column_and_file(tmp_path):
    with pytest.raises(DataFileError, match="missing column 'required_level'"):
        RoleProfiles.read(write(tmp_path, "roles.csv", "role_id,title,competence\nclerk,Clerk,1.3\n"))
    with pytest.raises(DataFileError, match="not found"):
        read_events(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    "line,field,bad,message",
    [
        (3, "event", "liked", "event must be one of"),
        (4, "value", "", "'rated' event needs a numeric value"),
        (2, "timestamp", "yesterday", "timestamp must be ISO 8601"),
        (5, "event_id", "e1", "duplicate event_id"),
        (6, "learner_id", "", "learner_id is empty"),
    ],
)
def test_event_errors_name_row_and_field(tmp_path, line, field, bad, message):
    frame = pd.read_csv(pd.io.common.StringIO(EVENTS), dtype=str, keep_default_na=False)
    frame.loc[line - 2, field] = bad
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataFileError) as err:
        read_events(path)
    assert (err.value.line, err.value.column) == (line, field) and message in str(err.value)


def test_parquet_round_trip_and_minimal_public_log(tmp_path):
    events = read_events(write(tmp_path, "events.csv", EVENTS))
    write_events(events, tmp_path / "events.parquet")
    again = read_events(tmp_path / "events.parquet")
    pd.testing.assert_frame_equal(events, again)
    # a plain public log: user/item/count columns renamed, no event/timestamp
    plain = write(tmp_path, "plays.csv", "user,item,plays\n7,a,3\n7,b,1\n8,a,10\n")
    log = read_events(plain, rename={"user": "learner_id", "item": "content_id", "plays": "value"})
    assert log["event"].unique().tolist() == ["viewed"] and log["value"].tolist() == [3, 1, 10]
    inter = Interactions.from_events(log)
    assert inter.matrix.shape == (2, 2) and inter.matrix[inter.row("8"), inter.catalogue.position("a")] == 10


def test_confidence_weights_and_unknown_content_reported(tmp_path, caplog):
    cat = Catalogue.read(write(tmp_path, "catalogue.csv", CATALOGUE))
    events = read_events(write(tmp_path, "events.csv", EVENTS))
    w = EventWeights(viewed=1, enrolled=3, completed=8, rated=1.5, rating_midpoint=3)
    with caplog.at_level("WARNING"):
        inter = Interactions.from_events(events, cat, weights=w)
    assert inter.unknown_content == {"C9": 1}
    assert "not in the catalogue" in caplog.text
    m = inter.matrix
    u1, u2 = inter.row("u1"), inter.row("u2")
    assert m[u1, cat.position("C1")] == pytest.approx(1 + 8)  # viewed + completed
    assert m[u1, cat.position("C2")] == pytest.approx(1.5 * (5 - 3))  # a 5-star rating
    assert m[u2, cat.position("C3")] == pytest.approx(3)
    assert inter.completed[u1, cat.position("C1")] and not inter.completed[u2, cat.position("C3")]
    # a bad rating alone gives no positive
    low = pd.DataFrame(
        {
            "learner_id": ["u"],
            "content_id": ["C1"],
            "event": ["rated"],
            "value": [1.0],
            "timestamp": [0.0],
            "event_id": ["x"],
        }
    )
    assert Interactions.from_events(low, cat, weights=w).matrix.nnz == 0
    # stable id maps: rows are sorted learner ids whatever the event order
    shuffled = events.sample(frac=1, random_state=3)
    assert Interactions.from_events(shuffled, cat).learner_ids.tolist() == inter.learner_ids.tolist()


def test_learners_and_world_round_trip(tmp_path, world):
    paths = world.write(tmp_path / "w")
    cat = Catalogue.read(paths["catalogue"])
    roles = RoleProfiles.read(paths["roles"])
    learners = Learners.read(paths["learners"], roles=roles)
    events = read_events(paths["events"])
    assert cat.ids.tolist() == world.catalogue.ids.tolist()
    assert np.array_equal(roles.required, world.roles.required)
    assert np.array_equal(learners.levels, world.learners.levels)
    assert len(events) == len(world.events) and set(events["event"]) <= {
        "viewed",
        "enrolled",
        "completed",
        "rated",
    }
    assert np.all(np.diff(events["timestamp"].to_numpy()) >= 0)
    bad = learners.to_frame()
    bad.loc[4, "role_id"] = "astronaut"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataFileError) as err:
        Learners.read(tmp_path / "bad.csv", roles=roles)
    assert err.value.line == 6 and err.value.column == "role_id"


def test_catalogue_content_tagged_with_learning_outcomes(tmp_path):
    """Issue 12: an ``outcomes`` column of DigComp 3.0 learning outcome ids gives the content its
    competences and (unless given) its level: the top of the eight-level range of its highest outcome."""
    from adaptive.framework import get_framework

    fw = get_framework("digcomp-3.0")
    basic = next(o for o in fw.outcomes if o.competence_id == "1.1" and o.level == 1)
    advanced = next(o for o in fw.outcomes if o.competence_id == "4.2" and o.level == 3)
    path = tmp_path / "catalogue.csv"
    pd.DataFrame({"content_id": ["c1", "c2", "c3"], "title": ["a", "b", "c"], "language": "en",
                  "format": "video", "duration_minutes": 10, "competences": ["", "2.1", "3.1"],
                  "level": ["", "", "7"],
                  "outcomes": [basic.id, f"{basic.id};{advanced.id}", ""]}).to_csv(path, index=False)
    cat = Catalogue.read(path)
    assert cat.competences == [("1.1",), ("2.1", "1.1", "4.2"), ("3.1",)]
    assert cat.level.tolist() == [2, 6, 7]          # Basic -> 1-2, Advanced -> 5-6; a given level stays
    again = Catalogue.read(cat.write(tmp_path / "again.csv"))
    assert again.items["outcomes"].tolist() == [basic.id, f"{basic.id};{advanced.id}", ""]
    assert again.level.tolist() == [2, 6, 7]
    pd.DataFrame({"content_id": ["c1", "c2"], "outcomes": [basic.id, "LO9.9.99"]}).to_csv(path, index=False)
    with pytest.raises(DataFileError) as info:
        Catalogue.read(path)
    assert (info.value.line, info.value.column) == (3, "outcomes") and "LO9.9.99" in info.value.reason
