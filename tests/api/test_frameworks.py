"""Frameworks over HTTP (issue 12): listing, detail with level schemes and mappings, statements and outcomes
filtered and paginated, ``?language=`` fallback, own frameworks from <home>/frameworks, and results that
carry their framework and mapped levels (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from adaptive.framework import DATA_DIR, get_framework
from adaptive.synthetic import generate_synthetic_bank
from api.persistence.tables import DiagnosticSession
from api.providers import StaticModelProvider
from tests.api.conftest import make_api
from tests.api.helpers import run_diagnostic

OWN = DATA_DIR / "examples" / "academy-transversal.json"


def _problem(r, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/" + slug) and body["status"] == status
    return body


def test_list_and_detail_of_digcomp_30(api):
    listed = api.client.get("/v1/frameworks", headers=api.a_diag).json()
    by_id = {f["id"]: f for f in listed["items"]}
    assert {"digcomp-2.2", "digcomp-3.0"} <= set(by_id) and listed["total"] == len(listed["items"])
    assert by_id["digcomp-3.0"]["counts"] == {
        "areas": 5,
        "competences": 21,
        "levels": 4,
        "statements": 362,
        "outcomes": 523,
        "glossary": 126,
    }
    assert by_id["digcomp-3.0"]["provenance"]["licence"] == "CC BY 4.0"
    fw = api.client.get("/v1/frameworks/digcomp-3.0", headers=api.a_diag).json()
    assert [lv["code"] for lv in fw["level_scheme"]["levels"]] == [
        "Basic",
        "Intermediate",
        "Advanced",
        "Highly advanced",
    ]
    assert len(fw["areas"]) == 5 and len(fw["competences"]) == 21
    maps = {(m["source"], m["target"]): m["levels"] for m in fw["mappings"]}
    assert maps["four-level", "eight-level"]["Basic"] == ["1", "2"]
    assert maps["four-level", "six-level"]["Advanced"] == ["C1"]
    assert fw["language"] == {"requested": "en", "default": "en", "fell_back": 0}
    # the 2.2 endpoint stays as existing clients know it
    old = api.client.get("/v1/framework", headers=api.a_diag).json()
    assert old["version"] == "2.2" and [lv["level"] for lv in old["levels"]] == list(range(1, 9))


def test_statements_and_outcomes_filtered_and_paginated(api):
    fw = get_framework("digcomp-3.0")
    expect = [s for s in fw.statements if s.competence_id == "4.2" and s.level == 2]
    url = "/v1/frameworks/digcomp-3.0/statements?competence=4.2&level=Intermediate&limit=3"
    page = api.client.get(url, headers=api.a_diag).json()
    assert page["total"] == len(expect) > 3 and [s["id"] for s in page["items"]] == [s.id for s in expect[:3]]
    assert all(s["level_code"] == "Intermediate" and s["level"] == 2 for s in page["items"])
    page2 = api.client.get(url + "&offset=3", headers=api.a_diag).json()
    assert [s["id"] for s in page2["items"]] == [s.id for s in expect[3:6]]
    out = api.client.get(
        "/v1/frameworks/digcomp-3.0/outcomes?area=3&type=skill&ai_label=AI-Explicit&limit=200",
        headers=api.a_diag,
    ).json()
    area3 = {c.id for c in fw.competences_in("3")}
    want = [
        o.id
        for o in fw.outcomes
        if o.competence_id in area3 and o.type == "skill" and o.ai_label == "AI-Explicit"
    ]
    assert out["total"] == len(want) > 0 and [o["id"] for o in out["items"]] == want
    assert (
        api.client.get("/v1/frameworks/digcomp-3.0/glossary?limit=200", headers=api.a_diag).json()["total"]
        == 126
    )


def test_language_falls_back_and_says_so(api):
    body = api.client.get("/v1/frameworks/digcomp-3.0?language=lv", headers=api.a_diag).json()
    assert body["language"]["requested"] == "lv" and body["language"]["default"] == "en"
    assert body["areas"][0]["fell_back"] == ["name", "description"] and body["language"]["fell_back"] > 50
    page = api.client.get(
        "/v1/frameworks/digcomp-3.0/statements?language=lt&limit=2", headers=api.a_diag
    ).json()
    assert page["language"]["fell_back"] == 2 and all(
        s["fell_back"] == ["description"] for s in page["items"]
    )


@pytest.mark.parametrize(
    ("url", "status", "slug"),
    [
        ("/v1/frameworks/digcomp-9.9", 404, "unknown-id"),
        ("/v1/frameworks/DROP%20TABLE", 422, "validation"),
        ("/v1/frameworks/digcomp-3.0/statements?level=Expert", 422, "validation"),
        ("/v1/frameworks/digcomp-3.0/statements?level=9", 422, "validation"),
        ("/v1/frameworks/digcomp-3.0/statements?competence=9.9", 422, "validation"),
        ("/v1/frameworks/digcomp-3.0/outcomes?type=wisdom", 422, "validation"),
        ("/v1/frameworks/digcomp-3.0/outcomes?limit=0", 422, "validation"),
        ("/v1/frameworks/digcomp-3.0?language=<script>", 422, "validation"),
    ],
)
def test_bad_requests_are_problems(api, url, status, slug):
    _problem(api.client.get(url, headers=api.a_diag), status, slug)


def test_frameworks_need_a_key(api):
    _problem(api.client.get("/v1/frameworks"), 401, "unauthorized")


def test_own_framework_files_are_loaded_and_a_bad_one_is_skipped(settings, bank_v1):
    folder = settings.home / "frameworks"
    folder.mkdir(parents=True)
    data = json.loads(OWN.read_text(encoding="utf-8"))
    data["id"] = "academy-api-test"
    (folder / "good.json").write_text(json.dumps(data), encoding="utf-8")
    bad = dict(data, id="academy-bad")
    bad["competences"] = data["competences"] + [{"id": "T.1", "area_id": "T", "name": "twice"}]
    (folder / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    api = make_api(settings, StaticModelProvider({"1": bank_v1}, champion="1"))
    try:
        ids = {f["id"] for f in api.client.get("/v1/frameworks", headers=api.a).json()["items"]}
        assert "academy-api-test" in ids and "academy-bad" not in ids
        body = api.client.get("/v1/frameworks/academy-api-test?language=lv", headers=api.a).json()
        names = {a["id"]: a for a in body["areas"]}
        assert names["T"]["name"] == "Darbs ar citiem" and "fell_back" not in names["T"]
        assert names["P"]["name"] == "Public service ethics" and names["P"]["fell_back"] == ["name"]
        assert [lv["code"] for lv in body["level_scheme"]["levels"]] == [
            "Aware",
            "Novice",
            "Practitioner",
            "Senior",
            "Expert",
        ]
        st = api.client.get(
            "/v1/frameworks/academy-api-test/statements?language=lv&level=Novice", headers=api.a
        ).json()
        assert st["items"][0]["description"].startswith("Raksta") and st["language"]["fell_back"] == 0
    finally:
        api.client.close()
        api.app.state.services.engine.dispose()


def test_a_22_result_reports_its_framework_and_the_30_levels(api, bank_v1):
    sid, _, final = run_diagnostic(api.client, api.a, bank_v1, 0.5, seed=3)
    result = api.client.get(f"/v1/diagnostics/{sid}/result", headers=api.a).json()
    profile = result["profile"]
    assert (
        profile["framework"]["id"] == "digcomp-2.2" and final["result"]["framework"] == profile["framework"]
    )
    for area in profile["areas"].values():
        p8 = area["level_probabilities"]
        four = next(
            m
            for m in area["mapped_levels"]
            if m["framework"] == "digcomp-3.0" and m["scheme"] == "four-level"
        )
        assert list(four["probabilities"].values()) == pytest.approx(
            [p8[0] + p8[1], p8[2] + p8[3], p8[4] + p8[5], p8[6] + p8[7]]
        )
        assert "crosswalk" in four["via"]
    # a result stored before frameworks were data (no framework, codes or mapped levels) still reads
    with api.app.state.services.sessionmaker() as db:
        stored = db.scalar(select(DiagnosticSession.result).where(DiagnosticSession.id == sid))
        old = {
            "areas": {
                a: {k: v for k, v in r.items() if k not in ("level_code", "mapped_levels")}
                for a, r in stored["areas"].items()
            },
            "competences": stored["competences"],
        }
        db.execute(update(DiagnosticSession).where(DiagnosticSession.id == sid).values(result=old))
        db.commit()
    again = api.client.get(f"/v1/diagnostics/{sid}/result", headers=api.a).json()["profile"]
    assert again["framework"] is None
    assert {a: r["level"] for a, r in again["areas"].items()} == {
        a: r["level"] for a, r in profile["areas"].items()
    }


def test_a_30_diagnostic_reports_four_levels(settings):
    bank = generate_synthetic_bank(
        get_framework("digcomp-3.0"),
        items_per_competence=6,
        languages=("en", "lt"),
        seed=4,
        name="digcomp 3.0 test bank",
    )
    api = make_api(settings, StaticModelProvider({"1": bank}, champion="1"))
    try:
        sid, _, final = run_diagnostic(api.client, api.a, bank, 0.0, seed=1)
        profile = api.client.get(f"/v1/diagnostics/{sid}/result", headers=api.a).json()["profile"]
        assert profile["framework"]["level_scheme"]["levels"] == [
            "Basic",
            "Intermediate",
            "Advanced",
            "Highly advanced",
        ]
        for area in profile["areas"].values():
            assert len(area["level_probabilities"]) == 4 and sum(
                area["level_probabilities"]
            ) == pytest.approx(1)
            assert area["level_code"] == profile["framework"]["level_scheme"]["levels"][area["level"] - 1]
            schemes = {(m["framework"], m["scheme"]) for m in area["mapped_levels"]}
            assert {
                ("digcomp-3.0", "eight-level"),
                ("digcomp-3.0", "six-level"),
                ("digcomp-2.2", "eight-level"),
            } <= schemes
    finally:
        api.client.close()
        api.app.state.services.engine.dispose()


def test_an_own_framework_diagnostic_reports_its_five_levels(settings):
    from adaptive.framework import read_framework_file

    folder = settings.home / "frameworks"
    folder.mkdir(parents=True)
    data = json.loads(OWN.read_text(encoding="utf-8"))
    data["id"] = "academy-diagnostic-test"
    (folder / "academy.json").write_text(json.dumps(data), encoding="utf-8")
    own = read_framework_file(folder / "academy.json")  # not registered here: the service does it at start
    bank = generate_synthetic_bank(
        own, items_per_competence=12, languages=("en", "lv"), seed=6, name="own bank"
    )
    api = make_api(settings, StaticModelProvider({"1": bank}, champion="1"))
    try:
        sid, _, _ = run_diagnostic(api.client, api.a, bank, 0.0, seed=2, language="lv")
        profile = api.client.get(f"/v1/diagnostics/{sid}/result", headers=api.a).json()["profile"]
        assert profile["framework"]["id"] == "academy-diagnostic-test"
        assert profile["framework"]["level_scheme"] == {
            "id": "five-level",
            "levels": list(own.level_scheme.codes),
        }
        assert set(profile["areas"]) == {"T", "D", "P"}
        for area in profile["areas"].values():
            assert len(area["level_probabilities"]) == 5 and sum(
                area["level_probabilities"]
            ) == pytest.approx(1)
            assert [m["scheme"] for m in area["mapped_levels"]] == ["three-band"]
    finally:
        api.client.close()
        api.app.state.services.engine.dispose()
