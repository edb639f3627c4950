"""``/v1/catalogue`` and ``digipath catalogue import|export`` (issue 18): an organisation's own catalogue,
versioned and audit-logged, validated with the field (API) or file, row and column (CLI) named, served to
recommendations at once (new content ranked from its tags)."""

from __future__ import annotations

import copy

import typer
from sqlalchemy import select
from typer.testing import CliRunner

from api import cli_catalogue
from api.cli_catalogue import seed_demo_catalogue
from api.persistence.catalogue import catalogue_version
from api.persistence.tables import AuditEntry, CatalogueItem, Organisation
from api.settings import Settings
from recommender.live_catalogue import (
    FILE_COLUMNS,
    SEED_FILE,
    content_frame,
    records_from_catalogue,
    write_content_file,
)
from recommender.rankers.cold_start import MATCHED_ON_TAGS


def _content(content_id="NEW-1", **extra) -> dict:
    return {"content_id": content_id, "title": "Spotting phishing",
            "titles": {"lt": "Sukčiavimo atpažinimas"}, "format": "course", "languages": ["en", "lt"],
            "competences": ["4.2"], "level": 3,
            "duration_minutes": 45, "url": "https://academy.example/phishing", **extra}


def _audit(api, action: str) -> list[AuditEntry]:
    with api.app.state.services.sessionmaker() as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_create_read_update_retire_with_versions_history_and_audit(api):
    r = api.client.post("/v1/catalogue", json=_content(), headers=api.a)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["version"] == 1 and body["framework"] == "digcomp-2.2" and body["titles"]["lt"]
    assert api.client.post("/v1/catalogue", json=_content(), headers=api.a).status_code == 409
    page = api.client.get("/v1/catalogue", headers=api.a_diag).json()  # any key of the org reads it
    assert page["catalogue_version"] == 1 and page["total"] == 1

    change = {k: v for k, v in _content(level=4).items() if k != "content_id"}
    r = api.client.put("/v1/catalogue/NEW-1", json={**change, "expected_version": 1}, headers=api.a)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["level"] == 4
    stale = api.client.put("/v1/catalogue/NEW-1", json={**change, "expected_version": 1}, headers=api.a)
    assert stale.status_code == 409
    same = api.client.put("/v1/catalogue/NEW-1", json=change, headers=api.a)  # unchanged: no new version
    assert same.json()["version"] == 2

    r = api.client.delete("/v1/catalogue/NEW-1", headers=api.a)
    assert r.status_code == 200 and r.json()["status"] == "retired" and r.json()["version"] == 3
    assert api.client.get("/v1/catalogue?status=active", headers=api.a).json()["total"] == 0
    hist = api.client.get("/v1/catalogue/NEW-1/history", headers=api.a).json()["versions"]
    assert [(v["version"], v["action"]) for v in hist] == [(1, "created"), (2, "updated"), (3, "retired")]
    assert [v["record"]["level"] for v in hist] == [3, 4, 4]
    assert {v["changed_by"] for v in hist} == {body["updated_by"]} and body["updated_by"]
    assert [v["catalogue_version"] for v in hist] == [1, 2, 3]
    for action in ("catalogue.create", "catalogue.update", "catalogue.retire"):
        assert any(e.target == "content:NEW-1" for e in _audit(api, action)), action


def test_bad_records_are_refused_naming_the_field_and_nothing_changes(api):
    assert api.client.post("/v1/catalogue", json=_content("KEEP"), headers=api.a).status_code == 201
    bad = {
        "level": _content(level=9),                                  # DigComp 2.2 has eight levels
        "competences": _content(competences=["9.9"]),
        "outcomes": _content(framework="digcomp-3.0", outcomes=["LO-nope"]),
        "framework": _content(framework="no-such-framework"),
        "format": _content(format="podcast"),
    }
    for field, body in bad.items():
        r = api.client.post("/v1/catalogue", json=body, headers=api.a)
        assert r.status_code == 422 and r.json()["field"] == field, (field, r.text)
    r = api.client.post("/v1/catalogue", json={**_content(), "colour": "red"}, headers=api.a)
    assert r.status_code == 422
    r = api.client.put("/v1/catalogue/KEEP", json={**_content(level=0), "content_id": None}, headers=api.a)
    assert r.status_code == 422
    r = api.client.post("/v1/catalogue", json=_content("X"), headers=api.a_diag)
    assert r.status_code == 403
    page = api.client.get("/v1/catalogue", headers=api.a).json()
    assert page["total"] == 1 and page["catalogue_version"] == 1
    # a DigComp 3.0 record: its level is a code of the four-level scheme, its outcomes are 3.0 ids
    from adaptive.framework import get_framework

    lo = next(o for o in get_framework("digcomp-3.0").outcomes if o.competence_id == "4.2")
    good = _content("NEW-30", framework="digcomp-3.0", level="Intermediate", outcomes=[lo.id], competences=[])
    r = api.client.post("/v1/catalogue", json=good, headers=api.a)
    assert r.status_code == 201 and r.json()["level"] == 2, r.text


def test_organisations_keep_their_own_catalogue(api):
    assert api.client.post("/v1/catalogue", json=_content(), headers=api.a).status_code == 201
    assert api.client.get("/v1/catalogue/NEW-1", headers=api.b).status_code == 404
    assert api.client.get("/v1/catalogue", headers=api.b).json()["catalogue_version"] == 0
    assert api.client.delete("/v1/catalogue/NEW-1", headers=api.b).status_code == 404
    assert api.client.get("/v1/catalogue/NEW-1", headers=api.a).json()["status"] == "active"


def test_new_content_is_served_to_the_organisation_at_once_and_retiring_removes_it(api, bundle, world):
    role = world.roles.role_ids[0]
    required = bundle.roles.required_levels(role)
    gap_comp = max(required, key=required.get)
    # org-a's catalogue: the bundle's, plus new content for the role's most demanding competence
    records = records_from_catalogue(bundle.catalogue)
    with api.app.state.services.sessionmaker() as db:
        org_id = db.scalar(select(Organisation.id).where(Organisation.slug == "org-a"))
        cli_catalogue.import_records(db, org_id, records, "cli:test", "catalogue.csv")
        db.commit()
    k = 100  # the most a reply gives; the catalogue has 121 items
    before = api.client.get(f"/v1/roles/{role}/recommendations?k={k}", headers=api.a).json()["items"]
    level = int(bundle.interactions.learner_levels[bundle.interactions.learner_role == 0, :][:, list(
        bundle.catalogue.competence_ids).index(gap_comp)].mean()) + 1
    new = _content("NEW-ROLE", competences=[gap_comp], level=min(level, 8))
    assert api.client.post("/v1/catalogue", json=new, headers=api.a).status_code == 201
    after = api.client.get(f"/v1/roles/{role}/recommendations?k={k}", headers=api.a).json()["items"]
    got = {it["content_id"]: it for it in after}
    assert "NEW-ROLE" in got and MATCHED_ON_TAGS in got["NEW-ROLE"]["reason"]
    assert "NEW-ROLE" not in {it["content_id"] for it in before}
    # org-b has no catalogue of its own: the bundle's, without org-a's content
    other = api.client.get(f"/v1/roles/{role}/recommendations?k={k}", headers=api.b).json()["items"]
    assert "NEW-ROLE" not in {it["content_id"] for it in other}
    # retagging changes its score (it is matched on its tags, not on an id)
    far = {k_: v for k_, v in new.items() if k_ != "content_id"}
    api.client.put("/v1/catalogue/NEW-ROLE", json={**far, "level": 8 if level < 6 else 1}, headers=api.a)
    moved = {it["content_id"]: it for it in api.client.get(
        f"/v1/roles/{role}/recommendations?k={k}", headers=api.a).json()["items"]}
    assert moved.get("NEW-ROLE", {"score": float("-inf")})["score"] < got["NEW-ROLE"]["score"]
    api.client.put("/v1/catalogue/NEW-ROLE", json=far, headers=api.a)  # back to the matching level
    assert "NEW-ROLE" in {it["content_id"] for it in api.client.get(
        f"/v1/roles/{role}/recommendations?k={k}", headers=api.a).json()["items"]}
    assert api.client.delete("/v1/catalogue/NEW-ROLE", headers=api.a).status_code == 200
    gone = api.client.get(f"/v1/roles/{role}/recommendations?k={k}", headers=api.a).json()["items"]
    assert "NEW-ROLE" not in {it["content_id"] for it in gone}


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(cli_catalogue.app, name="catalogue")
    return app


def test_cli_import_is_all_or_nothing_and_export_round_trips(api, bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIPATH_HOME", str(api.settings.home))
    monkeypatch.setenv("DIGIPATH_DATABASE_URL", api.settings.resolved_database_url)
    records = records_from_catalogue(bundle.catalogue)[:20]
    good = write_content_file(records, tmp_path / "catalogue.csv")
    frame = content_frame(records)
    frame.loc[7, "level"] = "11"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    runner = CliRunner()
    r = runner.invoke(_cli(), ["catalogue", "import", str(tmp_path / "bad.csv"), "--org", "org-a"])
    assert r.exit_code == 1, r.output
    assert "bad.csv" in r.output and "row 9" in r.output and "'level'" in r.output
    assert "Traceback" not in r.output
    with api.app.state.services.sessionmaker() as db:
        assert db.scalar(select(CatalogueItem.id).limit(1)) is None  # the good rows were not stored either
    r = runner.invoke(_cli(), ["catalogue", "import", str(good), "--org", "org-a"])
    assert r.exit_code == 0 and "20 created" in r.output, r.output
    r = runner.invoke(_cli(), ["catalogue", "import", str(good), "--org", "org-a"])
    assert "20 unchanged" in r.output and "catalogue version" not in r.output
    r = runner.invoke(_cli(), ["catalogue", "import", str(good), "--org", "nobody"])
    assert r.exit_code == 1 and "no organisation 'nobody'" in r.output
    out = tmp_path / "export.csv"
    r = runner.invoke(_cli(), ["catalogue", "export", str(out), "--org", "org-a"])
    assert r.exit_code == 0, r.output
    assert out.read_text() == good.read_text()
    http = api.client.get("/v1/catalogue/export", headers=api.a_diag)  # the same file over HTTP
    assert http.status_code == 200 and http.text == good.read_text()
    assert api.client.get("/v1/catalogue/export", headers=api.b).text.strip() == ",".join(FILE_COLUMNS)
    assert any(e.detail.get("created") == 20 for e in _audit(api, "catalogue.import"))


def test_serve_seeds_the_demo_organisation_once(api, bundle):
    settings = Settings(home=api.settings.home, database_url=api.settings.resolved_database_url,
                        demo_org="org-a")
    assert seed_demo_catalogue(settings) is None  # bootstrap wrote no seed file
    (api.settings.home / "demo").mkdir(exist_ok=True)
    write_content_file(records_from_catalogue(bundle.catalogue), api.settings.home / "demo" / SEED_FILE)
    assert seed_demo_catalogue(settings) == len(bundle.catalogue)
    assert seed_demo_catalogue(settings) is None  # it has its own catalogue now
    with api.app.state.services.sessionmaker() as db:
        org_id = db.scalar(select(Organisation.id).where(Organisation.slug == "org-a"))
        assert catalogue_version(db, org_id) == 1


def test_served_view_is_cached_by_catalogue_version_and_follows_a_new_bundle(api, bundle, world):
    from api.persistence.catalogue import ServedCatalogues, apply_changes
    from recommender.live_catalogue import validate_content

    served = ServedCatalogues()
    with api.app.state.services.sessionmaker() as db:
        org_id = db.scalar(select(Organisation.id).where(Organisation.slug == "org-a"))
        assert served.bundle_for(db, org_id, bundle) is bundle  # no catalogue of its own: the bundle itself
        apply_changes(db, org_id, records_from_catalogue(bundle.catalogue), "test")
        db.commit()
        first = served.bundle_for(db, org_id, bundle)
        assert first is not bundle and served.bundle_for(db, org_id, bundle) is first  # cached
        new = validate_content({"content_id": "N1", "title": "n", "format": "video", "languages": ["en"],
                                "competences": ["1.1"], "level": 2})
        apply_changes(db, org_id, [new], "test")
        db.commit()
        second = served.bundle_for(db, org_id, bundle)
        assert second is not first and "N1" in second.catalogue.index and "N1" not in first.catalogue.index
        other = copy.copy(bundle)  # a promoted model: the view is rebuilt on it, the old one let go
        third = served.bundle_for(db, org_id, other)
        assert third is not second and third.ranker.base is other.ranker and len(served._views) == 1
