"""Input layer: long/wide CSV, metadata, bad rows reported with file/line/column, item screening."""

from __future__ import annotations

import numpy as np
import pytest

from adaptive.calibration.data import ResponseData, read_item_metadata, screen_items
from adaptive.errors import DataFileError, ValidationError


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_long_csv_sparse_and_blank_is_missing(tmp_path):
    text = "person_id,item_id,response,session_id\np1,i1,1,s\np1,i2,0,s\np2,i2,,s\np2,i3,2,s\n"
    p = write(tmp_path, "log.csv", text)
    d = ResponseData.from_long_csv(p)
    assert list(d.person_ids) == ["p1", "p2"]
    assert list(d.item_ids) == ["i1", "i2", "i3"]
    assert d.n_responses == 3  # the blank response is not a zero
    m = d.to_matrix()
    assert m[0, 0] == 1 and m[0, 1] == 0 and np.isnan(m[1, 1]) and m[1, 2] == 2 and np.isnan(m[1, 0])


def test_long_csv_collects_all_bad_rows_with_line_and_column(tmp_path):
    rows = ["person_id,item_id,response", "p1,i1,1", "p1,i2,x", "p2,,1", "p2,i1,0.5", "p3,i1,-1"]
    p = write(tmp_path, "bad.csv", "\n".join(rows) + "\n")
    with pytest.raises(DataFileError) as ei:
        ResponseData.from_long_csv(p)
    e = ei.value
    assert e.file == str(p) and e.line == 3 and e.column == "response"
    assert [(ln, col) for ln, col, _ in e.bad_rows] == [
        (3, "response"),
        (4, "item_id"),
        (5, "response"),
        (6, "response"),
    ]
    assert "4 bad row(s)" in str(e) and "line 3" in str(e) and str(p) in str(e)


def test_long_csv_duplicate_response_and_missing_column(tmp_path):
    p = write(tmp_path, "dup.csv", "person_id,item_id,response\np1,i1,1\np1,i1,0\n")
    with pytest.raises(DataFileError, match="duplicate response") as ei:
        ResponseData.from_long_csv(p)
    assert ei.value.line == 3
    q = write(tmp_path, "nocol.csv", "person,item_id,response\np1,i1,1\n")
    with pytest.raises(DataFileError, match="person_id") as ei:
        ResponseData.from_long_csv(q)
    assert ei.value.line == 1
    with pytest.raises(DataFileError, match="not found"):
        ResponseData.from_long_csv(tmp_path / "nope.csv")


def test_wide_csv_with_person_column_and_bad_cell(tmp_path):
    p = write(tmp_path, "wide.csv", "person_id,q1,q2\na,1,\nb,0,1\n")
    d = ResponseData.from_wide_csv(p)
    assert d.n_responses == 3 and list(d.item_ids) == ["q1", "q2"]
    bad = write(tmp_path, "wide_bad.csv", "q1,q2\n1,0\n1,yes\n")
    with pytest.raises(DataFileError) as ei:
        ResponseData.from_wide_csv(bad)
    assert (ei.value.line, ei.value.column) == (3, "q2")


def test_metadata_validation(tmp_path):
    text = "item_id,area,competence,level,model\ni1,1,1.1,3,2pl\ni2,2,2.1,9,2PL\ni3,2,2.1,2,XYZ\n"
    p = write(tmp_path, "meta.csv", text)
    with pytest.raises(DataFileError) as ei:
        read_item_metadata(p)
    assert [(ln, col) for ln, col, _ in ei.value.bad_rows] == [(3, "level"), (4, "model")]
    ok = write(tmp_path, "meta_ok.csv", "item_id,area,model\ni1,1,2pl\n")
    m = read_item_metadata(ok)
    assert m.loc["i1", "model"] == "2PL"


def test_screen_items_reports_and_keeps_going():
    X = np.full((50, 3), np.nan)
    X[:, 0] = np.tile([0, 1], 25)
    X[:, 1] = 1  # no variance
    X[:5, 2] = [0, 1, 0, 1, 1]  # too few responses
    data = ResponseData.from_matrix(X, item_ids=["ok", "flat", "rare"])
    kept, excluded = screen_items(data, min_responses=30)
    assert kept == ["ok"]
    reasons = dict(excluded)
    assert "no variance" in reasons["flat"] and "too few responses (5 < 30)" in reasons["rare"]


def test_from_arrays_and_subset():
    d = ResponseData.from_arrays(["a", "a", "b"], ["x", "y", "y"], [1, 0, float("nan")])
    assert d.n_responses == 2
    s = d.subset_items(["y"])
    assert list(s.person_ids) == ["a"] and s.n_responses == 1
    with pytest.raises(ValidationError, match="not a non-negative integer"):
        ResponseData.from_arrays(["a"], ["x"], [1.5])
