"""Role profiles the academy maintains (issue 18): ``/v1/roles`` versioned CRUD per organisation, the
``digipath roles`` CLI (a bad row changes nothing and is named), and the service following the current
version without retraining the recommender. SQLite and PostgreSQL (the ``api`` fixture)."""

from __future__ import annotations

import pandas as pd
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from api import cli_roles
from api.persistence.tables import AuditEntry
from tests.api.helpers import run_diagnostic

ROLE = "clerk"  # in tests/api/e2e_models.small_world, seeded as every organisation's version 1


def _problem(r, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/" + slug)
    return body


def test_role_profiles_are_versioned_per_organisation(api, world):
    listed = api.client.get("/v1/roles?limit=200", headers=api.a_diag).json()
    assert listed["total"] == len(world.roles.role_ids)
    assert {x["role_id"]: x["required_levels"] for x in listed["items"]} == {
        r: world.roles.required_levels(r) for r in world.roles.role_ids}
    body = {"title": "Archivist", "required_levels": {"1.3": 5, "2.1": "3"}}
    r = api.client.put("/v1/roles/archivist", json=body, headers=api.a)
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["required_levels"]) == (1, {"1.3": 5, "2.1": 3})
    # the same content again is no new version; a change is
    assert api.client.put("/v1/roles/archivist", json=body, headers=api.a).json()["version"] == 1
    body["required_levels"]["1.3"] = 6
    r = api.client.put("/v1/roles/archivist", json=body, headers=api.a)
    assert r.status_code == 200 and r.json()["version"] == 2
    assert api.client.get("/v1/roles/archivist", headers=api.a).json()["required_levels"]["1.3"] == 6
    old = api.client.get("/v1/roles/archivist?version=1", headers=api.a).json()
    assert old["required_levels"]["1.3"] == 5 and old["version"] == 1
    # retiring is a version too; the history stays, the role is gone
    r = api.client.delete("/v1/roles/archivist", headers=api.a)
    assert r.status_code == 200 and r.json()["retired"] and r.json()["version"] == 3
    _problem(api.client.get("/v1/roles/archivist", headers=api.a), 404, "unknown-id")
    history = api.client.get("/v1/roles/archivist/versions", headers=api.a).json()["versions"]
    assert [(v["version"], v["retired"]) for v in history] == [(1, False), (2, False), (3, True)]
    assert all(v["created_by"] == history[0]["created_by"] != "" for v in history)
    assert api.client.put("/v1/roles/archivist", json=body, headers=api.a).status_code == 201  # back: v4
    with api.app.state.services.sessionmaker() as db:
        actions = db.scalars(select(AuditEntry.action).where(AuditEntry.target == "role:archivist")
                             .order_by(AuditEntry.id)).all()
    assert actions == ["role.create", "role.update", "role.retire", "role.create"]
    # another organisation's roles are its own: org-b neither sees nor changes org-a's
    _problem(api.client.get("/v1/roles/archivist", headers=api.b), 404, "unknown-id")
    r = api.client.put(f"/v1/roles/{ROLE}", json={"required_levels": {"1.1": 1}}, headers=api.b)
    assert r.json()["version"] == 2
    assert api.client.get(f"/v1/roles/{ROLE}", headers=api.a).json()["version"] == 1
    # writing needs admin
    _problem(api.client.put("/v1/roles/x", json=body, headers=api.key("org-a", "recommendations")),
             403, "forbidden")
    _problem(api.client.delete(f"/v1/roles/{ROLE}", headers=api.a_diag), 403, "forbidden")


def test_bad_role_profiles_are_422_naming_the_competence_or_level(api):
    cases = [
        ({"required_levels": {"9.9": 3}}, "9.9"),
        ({"required_levels": {"1.1": 9}}, "9"),
        ({"required_levels": {"1.1": 5}, "framework": "digcomp-3.0"}, "four-level"),
        ({"required_levels": {"1.1": 2}, "framework": "no-such-framework"}, "no-such-framework"),
        ({"required_levels": {}}, "required_levels"),
    ]
    for body, named in cases:
        r = api.client.put("/v1/roles/bad-role", json=body, headers=api.a)
        assert r.status_code == 422 and named in r.text, (body, r.text)
    _problem(api.client.get("/v1/roles/bad-role", headers=api.a), 404, "unknown-id")
    # DigComp 3.0's named levels: a code is stored as its number in that scheme
    r = api.client.put("/v1/roles/dc3-role", headers=api.a,
                       json={"framework": "digcomp-3.0", "required_levels": {"1.1": "Advanced"}})
    assert r.status_code == 201 and r.json()["required_levels"] == {"1.1": 3}


def test_a_changed_role_profile_applies_at_once_without_retraining(api, bank_v1, world):
    bundle_before, version_before = api.provider.recommender()
    trained = bundle_before.roles.required.copy()
    r = api.client.post("/v1/diagnostics", json={"learner_id": "c1", "role": ROLE, "areas": ["1"]},
                        headers=api.a)
    assert r.status_code == 201
    # theta -2.5 is level 1 under the bank's cuts (-2.0, -1.3, ...): below every requirement in area 1
    run_diagnostic(api.client, api.a, bank_v1, -2.5, learner="c1", areas=["1"], seed=5)
    before = api.client.get("/v1/learners/c1/pathway", headers=api.a).json()
    role_recs_before = api.client.get(f"/v1/roles/{ROLE}/recommendations?k=5", headers=api.a).json()
    assert before["role_profile"] == {"role_id": ROLE, "version": 1}
    assert {s["competence"] for s in before["steps"]} >= {"1.1"}
    # the academy now asks for 1.2 at level 6 and nothing of 1.1
    required = {c: lv for c, lv in world.roles.required_levels(ROLE).items() if c != "1.1"} | {"1.2": 6}
    assert api.client.put(f"/v1/roles/{ROLE}", json={"required_levels": required}, headers=api.a).json()[
        "version"] == 2
    after = api.client.get("/v1/learners/c1/pathway", headers=api.a).json()
    assert after["role_profile"] == {"role_id": ROLE, "version": 2}
    assert "1.1" not in {s["competence"] for s in after["steps"]} | {g["competence"] for g in after["gaps"]}
    gap = next(g for g in after["gaps"] if g["competence"] == "1.2")
    assert gap["required_level"] == 6 and gap["role_profile"]["version"] == 2
    assert max(s["level"] for s in after["steps"] if s["competence"] == "1.2") > max(
        [s["level"] for s in before["steps"] if s["competence"] == "1.2"] or [0])
    # the role's content follows the profile: now led by 1.2, no 1.1-only content
    recs = api.client.get(f"/v1/roles/{ROLE}/recommendations?k=5", headers=api.a).json()
    assert recs["role_profile"]["version"] == 2 and recs["strategy"] == "gap:role"
    assert all(set(it["competences"]) - {"1.1"} for it in recs["items"])
    ids = [it["content_id"] for it in recs["items"]]
    assert ids != [it["content_id"] for it in role_recs_before["items"]]
    assert any("1.2" in it["competences"] and "the role needs 6" in it["reason"] for it in recs["items"])
    # a role the training data never held gets content for its requirements
    r = api.client.put("/v1/roles/archivist", json={"required_levels": {"4.3": 4}}, headers=api.a)
    assert r.status_code == 201
    recs = api.client.get("/v1/roles/archivist/recommendations?k=3", headers=api.a).json()
    assert recs["items"] and all("4.3" in it["competences"] for it in recs["items"])
    # ... and nothing was retrained: the same bundle object, version and trained role profiles
    bundle_after, version_after = api.provider.recommender()
    assert bundle_after is bundle_before and version_after == version_before
    assert (bundle_after.roles.required == trained).all()
    # insights compare levels with the current profiles too: a retired role has no requirements there
    notes = lambda: api.client.get("/v1/insights/gaps", headers=api.a).json()["notes"]  # noqa: E731
    assert not any(ROLE in n for n in notes())
    assert api.client.delete(f"/v1/roles/{ROLE}", headers=api.a).status_code == 200
    assert any("without a role profile" in n and ROLE in n for n in notes())


def _cli(api, monkeypatch, tmp_path, *args: str):
    monkeypatch.setenv("DIGIPATH_HOME", str(tmp_path))
    monkeypatch.setenv("DIGIPATH_DATABASE_URL", api.settings.database_url)
    app = typer.Typer()
    app.add_typer(cli_roles.app, name="roles")
    return CliRunner().invoke(app, ["roles", *args])


def test_roles_import_is_all_or_nothing_and_names_file_row_and_field(api, monkeypatch, tmp_path):
    listed = lambda: api.client.get("/v1/roles?limit=200", headers=api.a).json()["items"]  # noqa: E731
    before = listed()
    good = pd.DataFrame([("archivist", "Archivist", "1.3", 5), ("archivist", "Archivist", "2.1", 3),
                         (ROLE, "Administrative clerk", "1.1", 6)], columns=cli_roles_columns())
    bad = pd.concat([good, pd.DataFrame([("archivist", "Archivist", "9.9", 3)], columns=good.columns)])
    path = tmp_path / "roles.csv"
    bad.to_csv(path, index=False)
    r = _cli(api, monkeypatch, tmp_path, "import", str(path), "--org", "org-a")
    assert r.exit_code == 1 and "Traceback" not in r.output
    line = " ".join(r.output.split())
    assert str(path.name) in line and "row 5" in line and "'competence'" in line and "9.9" in line, line
    assert listed() == before, "a bad row changes nothing"
    bad = good.copy()
    bad.loc[1, "required_level"] = 12
    bad.to_csv(path, index=False)
    r = _cli(api, monkeypatch, tmp_path, "import", str(path), "--org", "org-a")
    assert r.exit_code == 1 and "row 3" in r.output and "'required_level'" in r.output
    r = _cli(api, monkeypatch, tmp_path, "import", str(path), "--org", "no-such-org")
    assert r.exit_code == 1
    good.to_csv(path, index=False)
    r = _cli(api, monkeypatch, tmp_path, "import", str(path), "--org", "org-a", "--dry-run")
    assert r.exit_code == 0 and listed() == before
    r = _cli(api, monkeypatch, tmp_path, "import", str(path), "--org", "org-a")
    assert r.exit_code == 0, r.output
    assert '"created": ["archivist"]' in r.stdout and f'"updated": ["{ROLE}"]' in r.stdout
    clerk = api.client.get(f"/v1/roles/{ROLE}", headers=api.a).json()
    assert (clerk["version"], clerk["required_levels"], clerk["created_by"][:4]) == (2, {"1.1": 6}, "cli:")
    # export -> import: nothing changes; list shows the current versions
    out = tmp_path / "export.csv"
    assert _cli(api, monkeypatch, tmp_path, "export", "--org", "org-a", "--out", str(out)).exit_code == 0
    r = _cli(api, monkeypatch, tmp_path, "import", str(out), "--org", "org-a")
    assert r.exit_code == 0 and '"created": [], "updated": []' in r.stdout
    r = _cli(api, monkeypatch, tmp_path, "list", "--org", "org-a")
    assert r.exit_code == 0 and f"{ROLE}\tv2" in r.stdout and "archivist\tv1" in r.stdout
    with api.app.state.services.sessionmaker() as db:
        assert db.scalars(select(AuditEntry.action).where(AuditEntry.action == "roles.import")).all() == [
            "roles.import"] * 2


def cli_roles_columns() -> list[str]:
    from api.persistence.roles import ROLE_COLUMNS

    return list(ROLE_COLUMNS)


def test_writers_racing_on_a_role_get_a_version_each_or_a_409(api):
    from concurrent.futures import ThreadPoolExecutor

    def put(level: int) -> int:
        body = {"required_levels": {"1.1": 1 + level % 8}, "title": f"racer {level}"}
        return api.client.put("/v1/roles/racer", json=body, headers=api.a).status_code

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(put, range(12)))
    assert set(codes) <= {200, 201, 409}, codes
    history = api.client.get("/v1/roles/racer/versions", headers=api.a).json()["versions"]
    versions = [v["version"] for v in history]
    assert versions == list(range(1, len(versions) + 1))
    assert len(versions) == codes.count(200) + codes.count(201)


def test_a_role_anywhere_is_bounded_as_stored_and_a_diagnostic_names_a_profiled_role(api):
    """Role ids fit the role columns (64 characters) wherever a request names one: on PostgreSQL a longer
    one was a DataError (500) on POST /v1/diagnostics. Where the organisation keeps role profiles, a
    diagnostic's role is one of them, as on PUT /v1/learners (422 naming the field, nothing stored)."""
    from api.persistence.tables import ROLE_ID_LENGTH, DiagnosticSession, Learner

    longest, too_long = "r" * ROLE_ID_LENGTH, "r" * (ROLE_ID_LENGTH + 1)
    r = api.client.put(f"/v1/roles/{longest}", json={"required_levels": {"1.3": 5}}, headers=api.a)
    assert r.status_code == 201, r.text
    r = api.client.post("/v1/diagnostics", json={"learner_id": "long-role", "role": longest}, headers=api.a)
    assert r.status_code == 201, r.text
    for role in (too_long, "r" * 128):
        body = _problem(api.client.post("/v1/diagnostics", json={"learner_id": "too-long", "role": role},
                                        headers=api.a), 422, "validation")
        assert body["detail"].startswith("body.role:"), body
    # every other door that takes a role: the same bound
    for method, url, kwargs in (
        ("put", f"/v1/roles/{too_long}", {"json": {"required_levels": {"1.3": 5}}}),
        ("get", f"/v1/roles/{too_long}", {}),
        ("put", "/v1/learners/too-long", {"json": {"role": too_long}}),
        ("get", f"/v1/learners/long-role/pathway?role={too_long}", {}),
        ("get", f"/v1/learners/long-role/plan/proposal?role={too_long}", {}),
        ("post", "/v1/learners/long-role/plan", {"json": {"role": too_long}}),
    ):
        r = getattr(api.client, method)(url, headers=api.a, **kwargs)
        assert "role" in _problem(r, 422, "validation")["detail"], (method, url, r.text)
    # a role the organisation has no profile of (or only a retired one): 422 naming it, nothing stored
    assert api.client.delete(f"/v1/roles/{longest}", headers=api.a).status_code == 200
    for role in ("no-such-role", longest):
        body = _problem(api.client.post("/v1/diagnostics", json={"learner_id": "unknown-role", "role": role},
                                        headers=api.a), 422, "validation")
        assert f"unknown role {role!r}" in body["detail"] and body["field"] == "role", body
    # an organisation without role profiles records the role it is given
    org_c = api.key("org-c", "admin")
    r = api.client.post("/v1/diagnostics", json={"learner_id": "free-role", "role": "no-such-role"},
                        headers=org_c)
    assert r.status_code == 201, r.text
    with api.app.state.services.sessionmaker() as db:
        stored = dict(db.execute(select(Learner.external_id, Learner.role)).all())
        sessions = db.scalars(select(DiagnosticSession.role).order_by(DiagnosticSession.created_at)).all()
    assert stored == {"long-role": longest, "free-role": "no-such-role"}
    assert sessions == [longest, "no-such-role"]
