"""Privacy of the insights over HTTP: no table shows a group under the minimum size, not even by difference;
per-learner rows only for a supervisor key, only of its units; every read is in the audit log."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from adaptive.synthetic_organisation import AREAS
from api.auth import create_key
from api.persistence.tables import AuditEntry
from tests.insights.conftest import profile
from tests.insights.test_api import seed

K = 5          # the service's minimum group size (the default setting)
BIG = {"alpha": 9, "beta": 8}
SMALL = "small-unit"


def _organisation(bundle, small: int):
    """Units alpha (9), beta (8) and a unit of ``small`` people who also have a role of their own; everyone
    has two diagnostics (low levels, so pathways are never empty) and some completions in between."""
    roles = list(bundle.roles.role_ids)
    people = []
    for unit, n in [*BIG.items(), (SMALL, small)]:
        for i in range(n):
            role = roles[2] if unit == SMALL else roles[i % 2]
            people.append((f"{unit}-{i}", role, unit))
    learners = pd.DataFrame(people, columns=["learner_id", "role", "unit"])
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    diags, events = [], []
    contents = list(bundle.catalogue.index)[:3]
    for j, lid in enumerate(learners["learner_id"]):
        lv1 = {a: 1 + (j + k) % 2 for k, a in enumerate(AREAS)}
        lv2 = {a: min(8, v + j % 3) for a, v in lv1.items()}
        diags.append({"learner_id": lid, "diagnostic_id": f"d1-{lid}", "finished_at": t0,
                      "profile": profile(lv1, theta=-1.0 + 0.05 * j)})
        diags.append({"learner_id": lid, "diagnostic_id": f"d2-{lid}", "finished_at": t0 + timedelta(days=60),
                      "profile": profile(lv2, theta=-0.5 + 0.07 * j)})
        for c, cid in enumerate(contents):
            if (j + c) % 2 == 0:
                events.append((lid, cid, "completed", 1.0, t0 + timedelta(days=10 + c), f"e-{lid}-{c}"))
    events = pd.DataFrame(events, columns=["learner_id", "content_id", "event", "value", "timestamp",
                                           "event_id"])
    return learners, diags, events


def _json(api, path, headers, **params) -> pd.DataFrame:
    r = api.client.get(path, params={"limit": 1000, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return pd.DataFrame(r.json()["items"])


def _no_small_group_by_difference(frame: pd.DataFrame, cell: list[str]) -> None:
    """In every partition (grouping x cell), shown groups have >= K people and the organisation minus
    the shown groups is nobody or >= K people."""
    org = frame[frame["grouping"] == "organisation"]
    for grouping in ("role", "unit"):
        part = frame[frame["grouping"] == grouping]
        for key, cells in (part.groupby(cell) if cell else [((), part)]):
            shown = cells.loc[~cells["suppressed"], "n"]
            assert (shown >= K).all(), (grouping, key, shown.tolist())
            match = org
            for c, v in zip(cell, key if isinstance(key, tuple) else (key,), strict=True):
                match = match[match[c] == v]
            if len(match) and not match["suppressed"].iloc[0]:
                rest = match["n"].iloc[0] - shown.sum()
                assert rest == 0 or rest >= K, (grouping, key, rest)
            hidden = cells[cells["suppressed"]]
            assert hidden["n"].isna().all()


@pytest.mark.parametrize("small", [1, 2, 3, 4, 5, 6])
def test_every_insights_table_suppresses_small_groups(api, bundle, small):
    learners, diags, events = _organisation(bundle, small)
    seed(api, "org-a", learners, diags, events)
    insights = api.key("org-a", "insights")
    shown = small >= K

    groups = _json(api, "/v1/insights/gaps", insights, table="groups")
    row = groups[(groups["grouping"] == "unit") & (groups["group"] == SMALL)].iloc[0]
    assert bool(row["suppressed"]) is not shown
    assert (row["n"] == small) if shown else pd.isna(row["n"])
    if not shown:   # complementary: "all - alpha - beta" would give the small unit back
        assert groups[(groups["grouping"] == "unit")]["suppressed"].sum() >= 2
    _no_small_group_by_difference(groups, [])
    for table, cell in (("levels", ["area"]), ("competences", ["competence"])):
        frame = _json(api, "/v1/insights/gaps", insights, table=table)
        assert not frame.empty
        small_rows = frame[frame["group"] == SMALL]
        assert len(small_rows) and (small_rows["suppressed"] != shown).all()
        _no_small_group_by_difference(frame, cell)
    largest = _json(api, "/v1/insights/gaps", insights, table="largest_gaps")
    if not shown:
        assert SMALL not in set(largest["group"])
    svg = api.client.get("/v1/insights/gaps/heatmap", params={"grouping": "unit", "format": "svg"},
                         headers=insights)
    assert svg.status_code == 200, svg.text
    assert (SMALL in svg.text) is shown and "alpha" in svg.text

    units = _json(api, "/v1/insights/pathways", insights, table="units")
    assert bool(units[(units["grouping"] == "unit") & (units["group"] == SMALL)]["suppressed"].iloc[0]) \
        is not shown
    _no_small_group_by_difference(units, [])
    impact = _json(api, "/v1/insights/impact", insights, table="groups")
    assert (impact.loc[impact["group"] == SMALL, "suppressed"] != shown).all()
    _no_small_group_by_difference(impact, ["area"])
    contents = _json(api, "/v1/insights/impact", insights, table="contents")
    assert not contents.empty
    visible = contents[~contents["suppressed"]]
    assert (visible["n_completed"] >= K).all() and (visible["n_not_completed"] >= K).all()
    # CSV is the same table: the small unit's figures are not in it either
    csv = api.client.get("/v1/insights/gaps", params={"table": "groups", "format": "csv"}, headers=insights)
    frame = pd.read_csv(io.StringIO(csv.text))
    assert bool(frame.loc[frame["group"] == SMALL, "n"].isna().all()) is not shown

    # per-learner tables: not for an insights key, whatever the unit's size
    for path, table in (("/v1/insights/pathways", "learners"), ("/v1/insights/impact", "changes")):
        for fmt in ("json", "csv"):
            r = api.client.get(path, params={"table": table, "format": fmt}, headers=insights)
            assert r.status_code == 403 and "supervisor" in r.json()["detail"], r.text


def test_a_supervisor_sees_the_learners_of_its_units_only(api, bundle):
    learners, diags, events = _organisation(bundle, 3)
    seed(api, "org-a", learners, diags, events)
    with api.app.state.services.sessionmaker() as db:
        sup = {"Authorization": f"Bearer {create_key(db, 'org-a', ['supervisor'], units=[SMALL])}"}
        token = create_key(db, "org-a", ["supervisor", "insights"], units=[SMALL, "beta"])
        both = {"Authorization": f"Bearer {token}"}
        with pytest.raises(ValueError, match="units"):
            create_key(db, "org-a", ["supervisor"])
        with pytest.raises(ValueError, match="supervisor"):
            create_key(db, "org-a", ["insights"], units=["alpha"])
        for bad in (["-bad"], ["tax\n"], [3], ["x" * 65]):
            with pytest.raises(ValueError, match="unit name"):
                create_key(db, "org-a", ["supervisor"], units=bad)
    rows = _json(api, "/v1/insights/pathways", sup, table="learners")
    assert sorted(rows["learner_id"]) == [f"{SMALL}-{i}" for i in range(3)]   # a unit of 3, to its supervisor
    assert set(rows["unit"]) == {SMALL}
    changes = _json(api, "/v1/insights/impact", sup, table="changes")
    assert set(changes["unit"]) == {SMALL} and len(changes) == 3 * len(AREAS)
    rows = _json(api, "/v1/insights/pathways", both, table="learners")
    assert set(rows["unit"]) == {SMALL, "beta"} and len(rows) == 3 + BIG["beta"]
    rows = _json(api, "/v1/insights/pathways", both, table="learners", unit="beta")
    assert set(rows["unit"]) == {"beta"}
    r = api.client.get("/v1/insights/pathways", params={"table": "learners", "unit": "alpha"}, headers=both)
    assert r.status_code == 403 and "alpha" in r.json()["detail"]
    csv = api.client.get("/v1/insights/impact", params={"table": "changes", "format": "csv"}, headers=sup)
    assert csv.status_code == 200 and "alpha-" not in csv.text and f"{SMALL}-0" in csv.text
    # supervisor alone is not the insights scope: no aggregates; admin without units: no per-learner rows
    assert api.client.get("/v1/insights/gaps", headers=sup).status_code == 403
    assert api.client.get("/v1/insights/pathways", headers=sup).status_code == 403
    assert api.client.get("/v1/insights/pathways", params={"table": "learners"},
                          headers=api.a).status_code == 403
    # another organisation's supervisor of a unit with the same name sees nobody from org-a
    with api.app.state.services.sessionmaker() as db:
        other = {"Authorization": f"Bearer {create_key(db, 'org-b', ['supervisor'], units=[SMALL])}"}
    assert api.client.get("/v1/insights/pathways", params={"table": "learners"},
                          headers=other).json()["total"] == 0


def test_every_insights_read_is_audit_logged(api, bundle):
    learners, diags, events = _organisation(bundle, 5)
    seed(api, "org-a", learners, diags, events)
    insights = api.key("org-a", "insights")
    with api.app.state.services.sessionmaker() as db:
        sup = {"Authorization": f"Bearer {create_key(db, 'org-a', ['supervisor'], units=['alpha'])}"}
    reads = [(insights, "/v1/insights/gaps", {"table": t}) for t in ("groups", "levels", "competences",
                                                                      "largest_gaps")]
    reads += [(insights, "/v1/insights/gaps/heatmap", {"grouping": "unit"}),
              (insights, "/v1/insights/pathways", {"table": "units"}),
              (insights, "/v1/insights/impact", {"table": "groups"}),
              (insights, "/v1/insights/impact", {"table": "contents", "format": "csv"}),
              (sup, "/v1/insights/pathways", {"table": "learners", "unit": "alpha"}),
              (sup, "/v1/insights/impact", {"table": "changes"})]
    for headers, path, params in reads:
        r = api.client.get(path, params=params, headers=headers)
        assert r.status_code == 200, r.text
    # refused reads are not logged as reads
    assert api.client.get("/v1/insights/impact", params={"table": "changes"}, headers=insights).status_code \
        == 403
    with api.app.state.services.sessionmaker() as db:
        entries = db.query(AuditEntry).filter(AuditEntry.action == "insights.read").order_by(AuditEntry.id)
        entries = entries.all()
    assert len(entries) == len(reads)
    for entry, (headers, path, params) in zip(entries, reads, strict=True):
        report = path.split("/")[3]
        table = "heatmap" if path.endswith("heatmap") else params["table"]
        assert entry.target == f"insights:{report}/{table}"
        assert headers["Authorization"].startswith(f"Bearer dp_{entry.key_id}_")
        assert entry.org_id is not None and entry.at is not None
    assert entries[-2].detail["units"] == ["alpha"] and entries[-2].detail["unit"] == "alpha"
