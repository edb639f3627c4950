"""The operator tier: organisations (type, sector, units), their keys, the models and cross-organisation
aggregates for ``operator`` keys only; organisation admins keep to their organisation; ``/readyz``."""

from __future__ import annotations

import time
import uuid

import numpy as np
from sqlalchemy import select

from api.auth import get_or_create_org
from api.persistence.tables import AuditEntry, DiagnosticSession, Learner


def _problem(r, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == f"https://digipath.example/problems/{slug}"
    return r.json()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_operator_manages_organisations(api):
    op = api.key("academy", "operator")
    body = {"slug": "museum-of-art", "name": "Museum of Art", "type": "museum", "sector": "culture",
            "units": ["curators", "education", "curators"]}
    r = api.client.post("/v1/operator/organisations", json=body, headers=op)
    assert r.status_code == 201, r.text
    assert r.json() == {**body, "units": ["curators", "education"], "created_at": r.json()["created_at"],
                        "active_keys": 0}
    _problem(api.client.post("/v1/operator/organisations", json=body, headers=op), 409, "conflict")
    for bad in ({**body, "slug": "Museum"}, {**body, "units": ["ok", ""]}, {**body, "colour": "red"},
                {"slug": "x"}):
        _problem(api.client.post("/v1/operator/organisations", json=bad, headers=op), 422, "validation")
    r = api.client.patch("/v1/operator/organisations/museum-of-art",
                         json={"sector": "heritage", "type": None}, headers=op)
    assert r.status_code == 200 and r.json()["sector"] == "heritage" and r.json()["type"] is None
    assert r.json()["name"] == "Museum of Art" and r.json()["units"] == ["curators", "education"]
    _problem(api.client.patch("/v1/operator/organisations/museum-of-art", json={"name": None}, headers=op),
             422, "validation")
    _problem(api.client.patch("/v1/operator/organisations/nowhere", json={"name": "x"}, headers=op),
             404, "not-found")
    slugs = [o["slug"] for o in api.client.get("/v1/operator/organisations", headers=op).json()["items"]]
    assert {"academy", "org-a", "org-b", "museum-of-art"} <= set(slugs)
    one = api.client.get("/v1/operator/organisations/museum-of-art", headers=op).json()
    assert one["sector"] == "heritage"

    # its keys: an operator creates, lists and revokes keys of any organisation (which must exist)
    r = api.client.post("/v1/admin/keys", json={"org": "museum-of-art", "scopes": ["admin"]}, headers=op)
    assert r.status_code == 201 and r.json()["org"] == "museum-of-art"
    museum_admin = _bearer(r.json()["token"])
    _problem(api.client.post("/v1/admin/keys", json={"org": "no-such-org", "scopes": ["admin"]}, headers=op),
             404, "not-found")
    assert api.client.get("/v1/operator/organisations/museum-of-art", headers=op).json()["active_keys"] == 1
    everything = api.client.get("/v1/admin/keys", headers=op).json()["items"]
    assert {"org-a", "org-b", "museum-of-art", "academy"} <= {k["org"] for k in everything}
    a_keys = api.client.get("/v1/admin/keys", params={"org": "org-a"}, headers=op).json()["items"]
    assert a_keys and {k["org"] for k in a_keys} == {"org-a"}
    a_admin_id = api.a["Authorization"].split("_")[1]
    assert api.client.post(f"/v1/admin/keys/{a_admin_id}/revoke", headers=op).status_code == 200
    _problem(api.client.get("/v1/framework", headers=api.a), 401, "unauthorized")

    # the new organisation's admin: its own keys only, no organisations, no models
    assert api.client.get("/v1/admin/keys", headers=museum_admin).status_code == 200
    _problem(api.client.get("/v1/operator/organisations", headers=museum_admin), 403, "forbidden")
    with api.app.state.services.sessionmaker() as db:
        actions = [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions.count("organisation.create") == 1 and actions.count("organisation.update") == 1
    assert actions.count("key.create") == 1 and actions.count("key.revoke") == 1


def test_organisation_admin_is_refused_every_operator_action(api):
    op = api.key("academy", "operator")
    for method, path, body in (
        ("get", "/v1/operator/organisations", None),
        ("get", "/v1/operator/organisations/org-a", None),
        ("post", "/v1/operator/organisations", {"slug": "x-org", "name": "X"}),
        ("patch", "/v1/operator/organisations/org-a", {"sector": "health"}),
        ("post", "/v1/admin/models/reload", None),
        ("post", "/v1/operator/models/digcomp-item-bank/promote", {"version": 2}),
        ("get", "/v1/operator/insights/gaps", None),
    ):
        for headers in (api.a, api.a_diag, api.key("org-b", "insights")):
            r = getattr(api.client, method)(path, headers=headers, **({"json": body} if body else {}))
            _problem(r, 403, "forbidden")
        _problem(getattr(api.client, method)(path, **({"json": body} if body else {})), 401, "unauthorized")
    # nothing changed: the champion is still version 1 and no organisation was created or edited
    assert api.client.get("/v1/models", headers=api.a).json()["served"]["digcomp-item-bank"] == "1"
    orgs = {o["slug"]: o for o in api.client.get("/v1/operator/organisations", headers=op).json()["items"]}
    assert "x-org" not in orgs and orgs["org-a"]["sector"] is None


def test_operator_promotes_and_reloads_models_but_reads_no_learner_data(api):
    op = api.key("academy", "operator")
    r = api.client.post("/v1/operator/models/digcomp-item-bank/promote", json={"version": 2}, headers=op)
    assert r.status_code == 200, r.text
    assert r.json()["served"]["digcomp-item-bank"] == "2"
    assert api.client.post("/v1/diagnostics", json={"learner_id": "u1"}, headers=api.a_diag).json()[
        "bank_version"] == "2"
    _problem(api.client.post("/v1/operator/models/digcomp-item-bank/promote", json={"version": 9},
                             headers=op), 404, "model-not-found")
    _problem(api.client.post("/v1/operator/models/other-model/promote", json={"version": 1}, headers=op),
             422, "validation")
    api.provider.set_champion("1")
    assert api.client.post("/v1/admin/models/reload", headers=op).json()["served"]["digcomp-item-bank"] == "1"
    with api.app.state.services.sessionmaker() as db:
        actions = [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["models.promote", "models.reload"]
    # operator is service-wide management, not an organisation scope: no learner data through it
    for path in ("/v1/admin/responses/export", "/v1/admin/events/export", "/v1/insights/gaps"):
        _problem(api.client.get(path, headers=op), 403, "forbidden")
    _problem(api.client.post("/v1/diagnostics", json={"learner_id": "u2"}, headers=op), 403, "forbidden")


def _profile(theta: float) -> dict:
    p = np.zeros(8)
    p[3] = 1.0
    return {"areas": {"1": {"theta": theta, "se": 0.3, "level": 4, "level_probabilities": p.tolist()}}}


def _seed(api, slug: str, sector: str | None, thetas: list[float]) -> None:
    with api.app.state.services.sessionmaker() as db:
        org = get_or_create_org(db, slug)
        org.sector = sector
        for i, theta in enumerate(thetas):
            learner = Learner(org_id=org.id, external_id=f"p{i}", role=None, unit="u")
            db.add(learner)
            db.flush()
            db.add(DiagnosticSession(
                id=str(uuid.uuid4()), org_id=org.id, learner_id=learner.id, bank_version="1", language="en",
                areas=["1"], seed=0, status="finished", sequence=0, state="{}", result=_profile(theta),
                version=1))
        db.commit()


def test_academy_aggregates_by_sector_suppress_small_groups(api):
    # culture: 6 + 2 learners in two organisations; municipal: 5; health: 2 (the same external ids in each)
    _seed(api, "museum-1", "culture", [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    _seed(api, "museum-2", "culture", [2.0, 2.0])
    _seed(api, "city", "municipal", [-1.0] * 5)
    _seed(api, "clinic", "health", [3.0, 3.0])
    op = api.key("academy", "operator")
    r = api.client.get("/v1/operator/insights/gaps", params={"by": "sector", "table": "groups"}, headers=op)
    assert r.status_code == 200, r.text
    groups = {(g["grouping"], g["group"]): g for g in r.json()["items"]}
    assert groups[("all", "all")]["n"] == 15
    assert groups[("sector", "culture")]["n"] == 8 and not groups[("sector", "culture")]["suppressed"]
    # health (2) is under 5; municipal (5) is suppressed too, else 15 - 8 - 5 would give health's 2 back
    for sector in ("health", "municipal"):
        assert groups[("sector", sector)]["suppressed"] and groups[("sector", sector)]["n"] is None
    levels = api.client.get("/v1/operator/insights/gaps", params={"by": "sector", "table": "levels",
                                                                  "grouping": "sector"}, headers=op).json()
    by_sector = {row["group"]: row for row in levels["items"] if row["area"] == "1"}
    assert abs(by_sector["culture"]["mean_theta"] - np.mean([0, .2, .4, .6, .8, 1, 2, 2])) < 1e-9
    assert by_sector["health"]["mean_theta"] is None and by_sector["municipal"]["mean_theta"] is None
    # by organisation: museum-2 and clinic (2 each) and, complementarily, city (5) are hidden
    params = {"by": "organisation", "table": "groups", "grouping": "organisation"}
    orgs = api.client.get("/v1/operator/insights/gaps", params=params, headers=op).json()
    shown = {g["group"] for g in orgs["items"] if not g["suppressed"]}
    assert shown == {"museum-1"}
    # the service's floor holds here too
    _problem(api.client.get("/v1/operator/insights/gaps", params={"min_group_size": 2}, headers=op),
             422, "validation")
    params = {"table": "groups", "format": "csv"}
    csv = api.client.get("/v1/operator/insights/gaps", params=params, headers=op)
    assert csv.status_code == 200 and csv.text.startswith("grouping,group,n,suppressed")
    with api.app.state.services.sessionmaker() as db:
        reads = db.scalars(select(AuditEntry).where(AuditEntry.action == "insights.academy.read")).all()
    assert len(reads) == 4


def test_readyz_details_only_for_admins_and_operators(api):
    r = api.client.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}
    for headers in (api.a_diag, {"Authorization": "Bearer nonsense"}):
        assert api.client.get("/readyz", headers=headers).json() == {"status": "ready"}
    for headers in (api.a, api.key("academy", "operator")):
        body = api.client.get("/readyz", headers=headers).json()
        assert body["status"] == "ready" and body["checks"]["database"] == "ok"
        assert body["checks"]["models"] == "ok" and body["checks"]["worker"].startswith("pid ")


def test_readyz_hides_why_it_is_not_ready_from_anonymous_callers(settings, bank_v1):
    from api.providers import StaticModelProvider
    from tests.api.conftest import make_api

    broken = make_api(settings, StaticModelProvider({"1": bank_v1}, champion="7"))  # no such version
    try:
        r = broken.client.get("/readyz")
        assert r.status_code == 503 and r.json() == {"status": "not-ready"}
        r = broken.client.get("/readyz", headers=broken.a)
        assert r.status_code == 503 and "version '7' is not available" in r.json()["checks"]["models"]
    finally:
        broken.client.close()
        broken.app.state.services.engine.dispose()


def test_a_reload_through_one_instance_reaches_another_on_the_same_database(settings, bank_v1, bank_v2,
                                                                           bundle):
    """Two service instances (as two workers or hosts): the other one follows an operator's reload by
    itself, in the background, on the look it makes for revoked keys."""
    from api.providers import StaticModelProvider
    from tests.api.conftest import make_api

    tuned = settings.model_copy(update={"key_cache_seconds": 30.0, "key_check_seconds": 0.2})
    banks = {"1": bank_v1, "2": bank_v2}
    apis = [make_api(tuned, StaticModelProvider(banks, champion="1", recommender=bundle)) for _ in range(2)]
    one, two = apis
    try:
        op = one.key("academy", "operator")

        def served_by_two() -> str:
            return two.client.get("/v1/models", headers=op).json()["served"]["digcomp-item-bank"]

        two.provider.set_champion("2")  # what two's registry would say now; it serves 1 until told
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:
            assert served_by_two() == "1"
            time.sleep(0.05)
        assert one.client.post("/v1/admin/models/reload", headers=op).status_code == 200
        deadline = time.monotonic() + 3.0
        while served_by_two() != "2":
            assert time.monotonic() < deadline, "the other instance did not follow the reload"
            time.sleep(0.05)
    finally:
        for api in apis:
            api.client.close()
            api.app.state.services.engine.dispose()
