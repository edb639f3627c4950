"""``/v1/insights/...`` in the real app (TestClient, migrated SQLite per test, the API tests' fixtures).

Two organisations are seeded with generated learners, finished diagnostics and events (the generated
organisation of ``conftest.org``, under different role/unit names for org-b); the HTTP figures must equal
the library's on the caller's organisation alone.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from adaptive.insights import gap_overview, training_impact
from adaptive.synthetic_organisation import AREAS
from api.auth import get_or_create_org
from api.persistence.tables import DiagnosticSession, Learner, LearningEvent
from tests.api.helpers import run_diagnostic


def _problem(r, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == f"https://digipath.example/problems/{slug}" and body["status"] == status
    return body


def _subset(org, n: int = 150):
    """The first n regular learners plus the tiny groups (at the end), with their records."""
    keep = np.r_[np.arange(n), np.arange(len(org.learners) - 8, len(org.learners))]
    learners = org.learners.iloc[keep].reset_index(drop=True)
    ids = set(learners["learner_id"])
    diags = [d for d in org.diagnostics if d["learner_id"] in ids]
    events = org.events[org.events["learner_id"].isin(ids)]
    return learners, diags, events


def seed(api, slug: str, learners: pd.DataFrame, diags: list[dict], events: pd.DataFrame) -> None:
    """Write learners, finished diagnostics and events of one organisation straight into the database."""
    with api.app.state.services.sessionmaker() as db:
        org = get_or_create_org(db, slug)
        rows = {r.learner_id: Learner(org_id=org.id, external_id=r.learner_id, role=r.role, unit=r.unit)
                for r in learners.itertuples()}
        db.add_all(rows.values())
        db.flush()
        for d in diags:
            t = pd.Timestamp(d["finished_at"]).to_pydatetime()
            db.add(DiagnosticSession(
                id=str(uuid.uuid4()), org_id=org.id, learner_id=rows[d["learner_id"]].id, bank_version="1",
                language="en", role=rows[d["learner_id"]].role, areas=list(AREAS), seed=0, status="finished",
                sequence=0, pending_item=None, state="{}", result=d["profile"], version=1, created_at=t,
                updated_at=t, finished_at=t))
        db.add_all(LearningEvent(org_id=org.id, learner_id=rows[e.learner_id].id,
                                 event_id=f"{slug}-{e.event_id}", content_id=e.content_id, event=e.event,
                                 value=e.value, timestamp=pd.Timestamp(e.timestamp).to_pydatetime())
                   for e in events.itertuples())
        db.commit()


@pytest.fixture
def two_orgs(api, org, bundle):
    role_ids = list(bundle.roles.role_ids)
    names = sorted(set(org.learners["role"]))
    a_roles = {r: role_ids[i % len(role_ids)] for i, r in enumerate(names)}
    learners, diags, events = _subset(org)
    a = learners.assign(role=learners["role"].map(a_roles))
    seed(api, "org-a", a, diags, events)
    # org-b: other people (ids prefixed), units of its own, every learner in one role
    b = learners.assign(learner_id="b-" + learners["learner_id"], unit="b-" + learners["unit"],
                        role=role_ids[-1])
    b_diags = [{**d, "learner_id": "b-" + d["learner_id"]} for d in diags]
    b_events = events.assign(learner_id="b-" + events["learner_id"])
    seed(api, "org-b", b, b_diags, b_events)
    return a, diags, events, b


def supervisor(api, org: str, units) -> dict:
    """Headers of a supervisor key of ``org`` for ``units`` (per-learner tables)."""
    from api.auth import create_key

    with api.app.state.services.sessionmaker() as db:
        return {"Authorization": f"Bearer {create_key(db, org, ['supervisor'], units=sorted(set(units)))}"}


def _get(api, path, headers=None, **params):
    r = api.client.get(path, params=params, headers=headers or api.a)
    assert r.status_code == 200, r.text
    return r


def test_gaps_equal_the_library_on_the_callers_organisation_only(api, two_orgs, bundle):
    a, diags, _, b = two_orgs
    expected = gap_overview(a, diags, bundle.roles)
    body = _get(api, "/v1/insights/gaps", table="competences", limit=1000).json()
    assert body["total"] == len(expected.competences) and body["min_group_size"] == 5
    key = ["grouping", "group", "competence"]
    got = pd.DataFrame(body["items"]).sort_values(key).reset_index(drop=True)
    want = expected.competences.sort_values(key).reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    assert (got[key] == want[key]).all().all() and (got["suppressed"] == want["suppressed"]).all()
    np.testing.assert_allclose(got["share_below"].astype(float), want["share_below"].astype(float),
                               equal_nan=True)
    units = set(got.loc[got["grouping"] == "unit", "group"])
    assert units and not any(u.startswith("b-") for u in units)
    groups = pd.DataFrame(_get(api, "/v1/insights/gaps", table="groups").json()["items"])
    n_diagnosed = len({d["learner_id"] for d in diags})
    assert groups.loc[groups["grouping"] == "organisation", "n"].item() == n_diagnosed
    assert "legal" in set(groups["group"]) and groups.loc[groups["group"] == "legal", "n"].isna().all()
    # org-b sees its own people only
    b_groups = pd.DataFrame(_get(api, "/v1/insights/gaps", headers=api.b, table="groups").json()["items"])
    assert set(b_groups.loc[b_groups["grouping"] == "unit", "group"]) == set(b["unit"])
    # pagination and filtering
    page = _get(api, "/v1/insights/gaps", table="competences", grouping="role", offset=3, limit=4).json()
    assert page["offset"] == 3 and len(page["items"]) == 4
    assert {i["grouping"] for i in page["items"]} == {"role"}


def test_csv_and_heatmap(api, two_orgs):
    sup = supervisor(api, "org-a", two_orgs[0]["unit"])
    r = _get(api, "/v1/insights/gaps", table="levels", format="csv")
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="gaps-levels.csv"' in r.headers["content-disposition"]
    csv = pd.read_csv(io.StringIO(r.text), dtype={"group": str, "area": str})
    js = pd.DataFrame(_get(api, "/v1/insights/gaps", table="levels", limit=1000).json()["items"])
    assert len(csv) == len(js) and list(csv.columns) == list(js.columns)
    assert not csv["group"].str.startswith("b-").any()
    png = _get(api, "/v1/insights/gaps/heatmap", grouping="unit")
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    svg = _get(api, "/v1/insights/gaps/heatmap", grouping="unit", format="svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "finance" in svg.text and "b-finance" not in svg.text and "legal" not in svg.text
    for table in ("groups", "contents", "changes"):
        r = _get(api, "/v1/insights/impact", sup if table == "changes" else None, table=table, format="csv")
        assert r.headers["content-type"].startswith("text/csv") and "b-emp" not in r.text
    r = _get(api, "/v1/insights/pathways", sup, table="learners", format="csv")
    assert "b-emp" not in r.text


def test_impact_equals_the_library_and_carries_the_caveat(api, two_orgs, bundle):
    a, diags, events, _ = two_orgs
    body = _get(api, "/v1/insights/impact", table="contents", limit=1000).json()
    assert body["notes"][0].startswith("Observational")
    key = ["content_id", "area"]
    got = pd.DataFrame(body["items"]).sort_values(key).reset_index(drop=True)
    want = training_impact(a, diags, events, catalogue=bundle.catalogue.items).contents
    want = want.sort_values(key).reset_index(drop=True)
    assert len(got) == len(want) and set(got["content_id"]) == set(want["content_id"])
    np.testing.assert_allclose(got["difference"].astype(float), want["difference"].astype(float),
                               equal_nan=True)
    assert "difference_adjusted" in got.columns          # the CAT prior of the served bank is known
    changes = _get(api, "/v1/insights/impact", supervisor(api, "org-a", a["unit"]), table="changes",
                   limit=1).json()
    retested = {d["learner_id"] for d in diags if d["diagnostic_id"].startswith("d2")}
    assert changes["total"] == len(AREAS) * len(retested)


def test_auth_scopes_and_validation(api, two_orgs):
    _problem(api.client.get("/v1/insights/gaps"), 401, "unauthorized")
    _problem(api.client.get("/v1/insights/gaps", headers=api.a_diag), 403, "forbidden")
    insights = api.key("org-a", "insights")
    assert api.client.get("/v1/insights/gaps", headers=insights).status_code == 200
    _problem(api.client.get("/v1/insights/impact", headers=insights, params={"table": "secrets"}), 422,
             "validation")
    body = _problem(api.client.get("/v1/insights/gaps", headers=insights, params={"min_group_size": 2}), 422,
                    "validation")
    assert "min_group_size" in body["detail"]
    assert _get(api, "/v1/insights/gaps", table="groups", min_group_size=50).json()["min_group_size"] == 50
    _problem(api.client.get("/v1/insights/gaps/heatmap", headers=insights, params={"format": "gif"}), 422,
             "validation")


def test_unit_on_diagnostics_and_pathway_progress_end_to_end(api, bank_v1, bundle):
    """Five learners of one unit take a diagnostic over HTTP; one completes the first step of the pathway
    the service recommended; the unit's progress shows it."""
    role = bundle.roles.role_ids[0]
    for i in range(5):
        r = api.client.post("/v1/diagnostics", headers=api.a,
                            json={"learner_id": f"u{i}", "role": role, "unit": "tax-office"})
        assert r.status_code == 201, r.text
    for i in range(5):
        # theta -1.7 is level 2 under the bank's cuts (-2.0, -1.3, ...): below every role requirement (>= 3),
        # so the pathway is never empty whatever seed the service draws for the session
        run_diagnostic(api.client, api.a, bank_v1, -1.7, seed=i, learner=f"u{i}")
    with api.app.state.services.sessionmaker() as db:
        units = {x.external_id: x.unit for x in db.query(Learner).filter(Learner.external_id.like("u%"))}
    assert units == {f"u{i}": "tax-office" for i in range(5)}
    _problem(api.client.post("/v1/diagnostics", json={"learner_id": "u9", "unit": "bad unit!"},
                             headers=api.a), 422, "validation")
    path = _get(api, "/v1/learners/u0/pathway").json()["steps"]
    assert path, "a low-theta learner has gaps to close"
    when = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    r = api.client.post("/v1/learning-events", headers=api.a, json={"events": [
        {"event_id": "e1", "learner_id": "u0", "content_id": path[0]["content_id"], "event": "completed",
         "timestamp": when}]})
    assert r.status_code == 200, r.text
    sup = supervisor(api, "org-a", ["tax-office"])
    learners = pd.DataFrame(_get(api, "/v1/insights/pathways", sup, table="learners").json()["items"])
    row = learners.set_index("learner_id").loc["u0"]
    assert row["n_steps"] == len(path) and row["n_completed"] == 1 and row["unit"] == "tax-office"
    units = pd.DataFrame(_get(api, "/v1/insights/pathways", table="units").json()["items"])
    unit = units[(units["grouping"] == "unit") & (units["group"] == "tax-office")].iloc[0]
    assert unit["n"] == 5 and unit["steps_completed"] == 1
    # another organisation sees none of it
    sup_b = supervisor(api, "org-b", ["tax-office"])
    assert _get(api, "/v1/insights/pathways", headers=sup_b, table="learners").json()["total"] == 0


def head_revision(url: str) -> str:
    from alembic.script import ScriptDirectory

    from api import db

    return ScriptDirectory.from_config(db.alembic_config(url)).get_current_head()


def test_unit_migration_round_trip(tmp_path):
    from alembic import command
    from sqlalchemy import create_engine, inspect

    from api import db

    url = f"sqlite:///{tmp_path / 'm.db'}"
    db.upgrade(url)
    engine = create_engine(url)
    assert "unit" in {c["name"] for c in inspect(engine).get_columns("learners")}
    command.downgrade(db.alembic_config(url), "0001")
    assert "unit" not in {c["name"] for c in inspect(engine).get_columns("learners")}
    db.upgrade(url)
    assert "unit" in {c["name"] for c in inspect(engine).get_columns("learners")}
    assert db.current_revision(engine) == head_revision(url)
    engine.dispose()


def test_a_retest_avoids_the_items_seen_last_time(api, bank_v1):
    def items(replies):
        return {r["item"]["id"] for r in replies if r.get("item")}

    _, first, _ = run_diagnostic(api.client, api.a, bank_v1, 0.0, seed=1, learner="retaker")
    _, second, final = run_diagnostic(api.client, api.a, bank_v1, 0.0, seed=1, learner="retaker")
    assert items(first) and items(second) and not items(first) & items(second)
    assert final["result"]["areas"]
    # without the exclusion the same answers meet many of the same items (control: a new learner)
    _, other, _ = run_diagnostic(api.client, api.a, bank_v1, 0.0, seed=1, learner="first-timer")
    assert len(items(first) & items(other)) >= 3
    # the exclusion is part of the stored session: a third test (avoiding the second's items) goes on
    # the same way after the live session cache is gone (the state is replayed from the database)
    from tests.api.helpers import SimulatedTaker

    taker = SimulatedTaker(bank_v1, 0.0, seed=2)
    step = api.client.post("/v1/diagnostics", json={"learner_id": "retaker"}, headers=api.a).json()
    third = [step]
    while step["status"] != "finished":
        api.app.state.services.diagnostics.cache.clear()
        item = step["item"]
        answer = {"item_id": item["id"], "answer": taker.answer(item), "sequence": item["sequence"]}
        r = api.client.post(f"/v1/diagnostics/{step['session_id']}/responses", headers=api.a, json=answer)
        assert r.status_code == 200, r.text
        step = r.json()
        third.append(step)
    assert items(third) and not items(third) & items(second)


def test_exclude_items_keeps_the_configured_exposure_control():
    from adaptive.cat import CatConfig
    from api.insights.retest import exclude_items

    base = {"max_items": 12, "exposure": "randomesque"}
    assert exclude_items(base, []) == base
    out = exclude_items(base, ["DC-1.1-001", "DC-1.1-001", "DC-2.1-003"])
    assert out == {**base, "exclude_items": ["DC-1.1-001", "DC-2.1-003"]}
    calibrated = {"exposure": "sympson-hetter", "exposure_parameters": {"DC-1.1-001": 0.4, "DC-3.1-002": 0.7},
                  "exclude_items": ["DC-5.1-001"]}
    out = exclude_items(calibrated, ["DC-1.1-001"])
    assert out["exposure_parameters"] == calibrated["exposure_parameters"]
    assert out["exclude_items"] == ["DC-5.1-001", "DC-1.1-001"]
    assert CatConfig.from_dict(out).exclude_items == ["DC-5.1-001", "DC-1.1-001"]   # a valid configuration


def test_the_service_floor_for_group_size(tmp_path, sqlite_template, bank_v1, bundle, org):
    import shutil

    from api.providers import StaticModelProvider
    from api.settings import Settings
    from tests.api.conftest import make_api

    shutil.copy(sqlite_template, tmp_path / "digipath.db")
    settings = Settings(home=tmp_path, key_cache_seconds=0.0, insights_min_group_size=40)
    api = make_api(settings, StaticModelProvider({"1": bank_v1}, "1", recommender=bundle))
    try:
        learners, diags, events = _subset(org)
        seed(api, "org-a", learners, diags, events)
        body = _get(api, "/v1/insights/gaps", table="groups").json()
        assert body["min_group_size"] == 40
        groups = pd.DataFrame(body["items"])
        shown = groups[~groups["suppressed"]]
        assert (shown["n"] >= 40).all() and groups["suppressed"].sum() > 3
        _problem(api.client.get("/v1/insights/gaps", headers=api.a, params={"min_group_size": 5}), 422,
                 "validation")
    finally:
        api.client.close()
        api.app.state.services.engine.dispose()


def test_pathways_read_learners_profiles_and_objectives_once_not_per_learner(api, org, bundle):
    """GET /v1/insights/pathways issues as many SQL statements for 100 learners as for 50 (the learner
    records, role profiles and objectives are read in one query each), and the required levels it uses are
    those the per-learner path (/pathway) computes."""
    import threading

    from sqlalchemy import event

    from api.auth import Principal
    from api.insights.service import load_organisation, recommended_pathways
    from api.persistence.learners import find_learner
    from api.persistence.roles import organisation_targets
    from api.persistence.tables import LearnerObjective
    from api.routers.learners import model_learner_key, required_levels

    role_ids = list(bundle.roles.role_ids)
    learners, diags, events = _subset(org, 100)
    learners = learners.assign(role=[role_ids[i % len(role_ids)] for i in range(len(learners))])
    small = set(learners["learner_id"].iloc[:50])
    small_diags = [d for d in diags if d["learner_id"] in small]
    seed(api, "org-a", learners.iloc[:50], small_diags, events[events["learner_id"].isin(small)])
    seed(api, "org-b", learners, diags, events)
    with api.app.state.services.sessionmaker() as db:   # objectives for every third learner of each
        for x in db.query(Learner).order_by(Learner.id).all()[::3]:
            db.add(LearnerObjective(learner_id=x.id, framework_id="digcomp-2.2", competence="1.3",
                                    target_level=8, set_by="test"))
        db.commit()
    diagnosed = {"org-a": len({d["learner_id"] for d in small_diags}),
                 "org-b": len({d["learner_id"] for d in diags})}
    assert diagnosed["org-a"] >= 40 and diagnosed["org-b"] >= 2 * diagnosed["org-a"] - 10
    with_pathway = {}

    engine = api.app.state.services.engine
    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        # the request's statements, not those of the service's periodic daemon threads (key revocation
        # check, service signals), which run whatever the requests
        if not threading.current_thread().daemon:
            seen.append(statement)

    counts = {}
    for slug, headers in (("org-a", api.a), ("org-b", api.b)):
        _get(api, "/v1/insights/pathways", headers)  # warm: the served catalogue is cached per organisation
        seen.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            units = _get(api, "/v1/insights/pathways", headers).json()["items"]
        finally:
            event.remove(engine, "before_cursor_execute", count)
        counts[slug] = len(seen)
        with_pathway[slug] = next(u for u in units if u["grouping"] == "organisation")["n"]
    assert counts["org-a"] == counts["org-b"] < 20, (counts, seen)
    assert with_pathway["org-b"] > 1.5 * with_pathway["org-a"] > 30, with_pathway

    # the same required levels, and so the same pathways, as read learner by learner
    with api.app.state.services.sessionmaker() as db:
        org_id = get_or_create_org(db, "org-b").id
        principal = Principal(org_id, "org-b", "test", frozenset({"admin"}))
        read = organisation_targets(db, org_id)
        data = load_organisation(db, org_id)
        by_one, by_all = {}, {}
        for lid in data.learners["learner_id"]:
            x = find_learner(db, org_id, lid)
            one = required_levels(db, principal, x, x.role, False, bundle)[0]
            every = required_levels(db, principal, x, x.role, False, bundle, read)[0]
            by_one[lid] = None if one is None else (one.levels, one.sources, one.notes)
            by_all[lid] = None if every is None else (every.levels, every.sources, every.notes)
        assert by_all == by_one
        from_objective = [v for v in by_all.values() if v is not None and "1.3" in v[1]
                          and v[1]["1.3"]["from"] == "objective"]
        assert len(from_objective) >= 30
        key = lambda lid: model_learner_key(principal, lid)  # noqa: E731
        assert recommended_pathways(data, bundle, key, lambda lid: by_all[lid] and by_all[lid][0]) == \
            recommended_pathways(data, bundle, key, lambda lid: by_one[lid] and by_one[lid][0])
