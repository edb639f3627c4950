"""Learner records over HTTP (issue 18): role, unit, language and objectives; who may write them; the
objectives and the role's current profile define the gaps and the pathway; data rights cover them.
SQLite and PostgreSQL (the ``api`` fixture); the organisations' role profiles are the served
recommender's (seeded like ``digipath serve`` seeds the demo's)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from api.persistence.tables import AuditEntry, LearnerObjective
from recommender.profiles import LearnerBatch
from tests.api.helpers import run_diagnostic

ROLE = "clerk"  # tests/api/e2e_models.small_world: requires every competence (1.3 at level 3)


def _problem(r, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/" + slug)
    return body


def _supervisor(api, org: str, units: list[str]) -> dict:
    from api.auth import create_key

    with api.app.state.services.sessionmaker() as db:
        return {"Authorization": f"Bearer {create_key(db, org, ['supervisor'], units=units)}"}


def _audit(api, action: str) -> list[AuditEntry]:
    with api.app.state.services.sessionmaker() as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_a_learner_record_is_created_read_replaced_and_patched_and_each_write_is_audited(api, world):
    assert ROLE in world.roles.role_ids
    body = {"role": ROLE, "unit": "tax-office", "language": "lt",
            "objectives": [{"competence": "5.3", "target_level": 6, "deadline": "2027-06-30"}]}
    r = api.client.put("/v1/learners/emp-1", json=body, headers=api.a)
    assert r.status_code == 201, r.text
    got = api.client.get("/v1/learners/emp-1", headers=api.a).json()
    assert (got["role"], got["unit"], got["language"]) == (ROLE, "tax-office", "lt")
    assert got["role_profile"] == {"role_id": ROLE, "version": 1}
    [obj] = got["objectives"]
    assert (obj["competence"], obj["target_level"], obj["deadline"], obj["framework"]) == (
        "5.3", 6, "2027-06-30", "digcomp-2.2")
    # the same record again: 200, nothing changed, no audit entry
    assert api.client.put("/v1/learners/emp-1", json=body, headers=api.a).status_code == 200
    # PATCH changes only what it sends; the objective set earlier keeps who set it and when
    r = api.client.patch("/v1/learners/emp-1", json={"language": "en"}, headers=api.a)
    assert r.status_code == 200, r.text
    patched = r.json()
    assert (patched["role"], patched["unit"], patched["language"]) == (ROLE, "tax-office", "en")
    assert patched["objectives"] == got["objectives"]
    # PUT replaces the record: fields left out are cleared
    r = api.client.put("/v1/learners/emp-1", json={"role": ROLE}, headers=api.a)
    assert r.status_code == 200 and r.json()["objectives"] == [] and r.json()["unit"] is None
    assert [e.detail["fields"] for e in _audit(api, "learner.create")] == [
        ["language", "objectives", "role", "unit"]]
    assert [e.detail["fields"] for e in _audit(api, "learner.update")] == [
        ["language"], ["language", "objectives", "unit"]]
    assert all(e.target == "learner:emp-1" for e in _audit(api, "learner.update"))
    # PATCH of an unknown learner, and another organisation: 404
    r = api.client.patch("/v1/learners/nobody", json={"language": "en"}, headers=api.a)
    _problem(r, 404, "not-found")
    _problem(api.client.get("/v1/learners/emp-1", headers=api.b), 404, "not-found")


def test_bad_objectives_and_roles_are_422_naming_them_and_change_nothing(api):
    good = {"role": ROLE, "objectives": [{"competence": "1.3", "target_level": 4}]}
    assert api.client.put("/v1/learners/emp-2", json=good, headers=api.a).status_code == 201
    before = api.client.get("/v1/learners/emp-2", headers=api.a).json()
    cases = [
        ({"objectives": [{"competence": "9.9", "target_level": 3}]}, "9.9", "objectives[0].competence"),
        ({"objectives": [{"competence": "1.3", "target_level": 9}]}, "9", "objectives[0].target_level"),
        ({"objectives": [{"competence": "1.3", "target_level": "C1"}]}, "C1", "objectives[0].target_level"),
        ({"objectives": [{"competence": "1.1", "target_level": 3}, {"competence": "1.1", "target_level": 4}]},
         "1.1", "objectives[1].competence"),
        ({"role": "no-such-role"}, "no-such-role", "role"),
        ({"objectives": [{"competence": "1.3", "target_level": 3, "framework": "no-such-fw"}]}, "no-such-fw",
         "framework"),
    ]
    for patch, named, field in cases:
        body = _problem(api.client.patch("/v1/learners/emp-2", json=patch, headers=api.a), 422, "validation")
        assert named in body["detail"] and field in body["detail"], (patch, body)
    # in DigComp 3.0's four-level scheme, a level code is accepted and 5 is out of the scheme
    r = api.client.patch("/v1/learners/emp-2", headers=api.a, json={"objectives": [
        {"competence": "1.3", "target_level": "Advanced", "framework": "digcomp-3.0"}]})
    assert r.status_code == 200 and r.json()["objectives"][0]["target_level"] == 3
    body = _problem(api.client.patch("/v1/learners/emp-2", headers=api.a, json={"objectives": [
        {"competence": "1.3", "target_level": 5, "framework": "digcomp-3.0"}]}), 422, "validation")
    assert "four-level" in body["detail"]
    after = api.client.get("/v1/learners/emp-2", headers=api.a).json()
    assert [(o["competence"], o["target_level"], o["framework"]) for o in after["objectives"]] == [
        ("1.3", 3, "digcomp-3.0")], "only the good write changed the record"
    assert after["role"] == before["role"] == ROLE and after["unit"] == before["unit"]


def test_only_the_platform_or_a_supervisor_of_the_learners_unit_may_write_a_record(api):
    assert api.client.put("/v1/learners/in-b", json={"unit": "beta"}, headers=api.a).status_code == 201
    sup = _supervisor(api, "org-a", ["alpha"])
    r = api.client.put("/v1/learners/in-a", json={"unit": "alpha", "role": ROLE}, headers=sup)
    assert r.status_code == 201, r.text
    r = api.client.patch("/v1/learners/in-a", headers=sup, json={
        "objectives": [{"competence": "2.1", "target_level": 5}]})
    assert r.status_code == 200 and r.json()["objectives"][0]["set_by"] != ""
    # not a learner of their units, not moving one out, not creating one elsewhere or without a unit
    _problem(api.client.patch("/v1/learners/in-b", json={"language": "en"}, headers=sup), 403, "forbidden")
    _problem(api.client.get("/v1/learners/in-b", headers=sup), 403, "forbidden")
    _problem(api.client.patch("/v1/learners/in-a", json={"unit": "beta"}, headers=sup), 403, "forbidden")
    _problem(api.client.put("/v1/learners/new-b", json={"unit": "beta"}, headers=sup), 403, "forbidden")
    _problem(api.client.put("/v1/learners/new-x", json={}, headers=sup), 403, "forbidden")
    # keys without a learner-writing scope
    for scopes in (("events",), ("insights",)):
        r = api.client.put("/v1/learners/in-a", json={"unit": "alpha"}, headers=api.key("org-a", *scopes))
        _problem(r, 403, "forbidden")
    assert api.client.get("/v1/learners/in-a", headers=api.a).json()["unit"] == "alpha"
    # a supervisor's read of a record is audit-logged
    assert api.client.get("/v1/learners/in-a", headers=sup).status_code == 200
    assert [e.target for e in _audit(api, "learner.read")] == ["learner:in-a"]


def _gap(body: dict, competence: str) -> dict | None:
    return next((g for g in body["gaps"] if g["competence"] == competence), None)


def test_an_objective_changes_the_gaps_and_the_pathway_as_stated(api, bank_v1, world):
    """Required level = max(role requirement, objective): an objective above the role's requirement
    becomes the target (from: objective); one below leaves the role's (from: role, objective named)."""
    assert api.client.put("/v1/learners/obj-1", json={"role": ROLE}, headers=api.a).status_code == 201
    # theta -2.5 is level 1 under the bank's cuts (-2.0, -1.3, ...), whatever seed the service draws
    run_diagnostic(api.client, api.a, bank_v1, -2.5, learner="obj-1", areas=["1"], seed=2)
    before = api.client.get("/v1/learners/obj-1/pathway", headers=api.a).json()
    need = world.roles.required_levels(ROLE)["1.3"]
    g = _gap(before, "1.3")
    level = g["level"]
    assert level is not None and level < need, "a low-theta learner is below the role in 1.3"
    assert (g["required_level"], g["from"], g["objective"]) == (need, "role", None)
    assert g["role_profile"] == {"role_id": ROLE, "version": 1} == before["role_profile"]
    steps_13 = [s["level"] for s in before["steps"] if s["competence"] == "1.3"]
    assert steps_13 and max(steps_13) <= need

    objectives = [{"competence": "1.3", "target_level": 6, "deadline": "2027-01-31"},
                  {"competence": "1.1", "target_level": 1}]
    r = api.client.patch("/v1/learners/obj-1", json={"objectives": objectives}, headers=api.a)
    assert r.status_code == 200, r.text
    after = api.client.get("/v1/learners/obj-1/pathway", headers=api.a).json()
    g = _gap(after, "1.3")
    assert (g["required_level"], g["from"]) == (6, "objective")
    assert g["objective"] == {"target_level": 6, "deadline": "2027-01-31"} and g["gap"] == 6 - level
    g = _gap(after, "1.1")  # the role asks more than the objective: the role's level stands
    assert g["from"] == "role" and g["required_level"] == world.roles.required_levels(ROLE)["1.1"]
    assert g["objective"]["target_level"] == 1
    steps_13 = [s for s in after["steps"] if s["competence"] == "1.3"]
    above = [s for s in steps_13 if s["level"] > need]
    assert above, "the objective adds steps above the role's requirement"
    assert all(s["level"] <= 6 for s in steps_13)
    assert all("your objective is 6" in s["reason"] for s in above)
    # the gap ranking follows too: the recommendations reply carries the same gaps
    recs = api.client.get("/v1/learners/obj-1/recommendations?k=5", headers=api.a).json()
    assert recs["strategy"] == "gap" and _gap(recs, "1.3")["from"] == "objective"


def test_a_role_without_a_profile_is_404_and_a_missing_role_logs_nothing(api, bank_v1, bundle, caplog):
    run_diagnostic(api.client, api.a, bank_v1, -2.5, learner="r1", areas=["1"])  # well below level 5
    r = api.client.get("/v1/learners/r1/pathway?role=no-such-role", headers=api.a)
    assert _problem(r, 404, "unknown-id")["detail"].startswith("unknown role 'no-such-role'")
    _problem(api.client.get("/v1/roles/no-such-role/recommendations", headers=api.a), 404, "unknown-id")
    # no role and no objectives: the default target, said in the reply
    body = api.client.get("/v1/learners/r1/pathway", headers=api.a).json()
    assert body["steps"] and body["gaps"] == []
    assert "no role requirements and no objectives apply" in body["notes"][-1]
    # learners of a role the recommender's training data never held (a profile made through the API)
    # in an organisation-wide insights request: not one log line per learner
    r = api.client.put("/v1/roles/archivist", json={"required_levels": {"1.3": 5}}, headers=api.a)
    assert r.status_code == 201, r.text
    for i in range(3):
        r = api.client.put(f"/v1/learners/arch-{i}", json={"role": "archivist"}, headers=api.a)
        assert r.status_code == 201
        run_diagnostic(api.client, api.a, bank_v1, -1.0, learner=f"arch-{i}", areas=["1"], seed=i)
    with caplog.at_level(logging.DEBUG, logger="recommender"):
        assert api.client.get("/v1/insights/pathways", headers=api.a).status_code == 200
        # a missing role as pandas gives it (NaN) is no role, not an unknown role "nan"
        batch = LearnerBatch.single(bundle.interactions, None, None, float("nan"))
    assert not [rec for rec in caplog.records if "role" in rec.getMessage()]
    assert batch.role[0] == -1 and batch.unknown_content == []


def test_objectives_are_in_the_learners_export_and_gone_after_erasure(api):
    r = api.client.put("/v1/learners/subject-9", headers=api.a, json={
        "role": ROLE, "language": "lt", "objectives": [{"competence": "4.2", "target_level": 5}]})
    assert r.status_code == 201
    export = api.client.get("/v1/learners/subject-9/export", headers=api.a).json()
    objectives = export["tables"]["learner_objectives"]
    assert [(o["competence"], o["target_level"]) for o in objectives] == [("4.2", 5)]
    assert export["tables"]["learners"][0]["language"] == "lt"
    assert "learner.create" in [a["action"] for a in export["audit"]]
    assert api.client.delete("/v1/learners/subject-9", headers=api.a).status_code == 200
    with api.app.state.services.sessionmaker() as db:
        assert db.scalars(select(LearnerObjective)).all() == []
    _problem(api.client.get("/v1/learners/subject-9", headers=api.a), 404, "not-found")
