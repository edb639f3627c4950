"""Test integrity (issue 13): nothing a client receives during a diagnostic tells whether an answer was
right, unless the organisation allows practice mode and the session asks for it.

The attack test repeats the key-harvesting attack of the issue through the API: N guessing sessions
record whatever the replies show, then M new sessions answer with the harvested "keys"; their mean final
theta is compared with M sessions that guess. With practice mode on the same attack must work (so the
test can fail); with the default settings it must do no better than guessing.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from api.persistence.tables import AuditEntry, DiagnosticSession
from experiments.integrity_attack import AREAS, harvest_attack
from tests.api.conftest import make_api

N_HARVEST = 30
M_ATTACK = 20
# Default progress: counts and bounds only.
PUBLIC_PROGRESS = {"answered", "max_items", "min_items_left", "max_items_left", "finished", "areas"}


def _attack(client, headers, practice: bool, seed: int) -> dict:  # noqa: ANN001
    return harvest_attack(client, headers, practice, seed, n_harvest=N_HARVEST, m_attack=M_ATTACK)


def test_harvesting_attack_works_only_in_practice_mode(settings, bank_v1, api):
    """Statistic: d = mean final theta (mean over the two areas) of M=20 sessions answered with the
    harvested keys minus that of M=20 guessing sessions, with its standard error over sessions
    se = sqrt(s_attack^2/M + s_guess^2/M). Default settings: the harvester learns nothing, so both groups
    guess and d ~ N(0, se); we require d < 3 se (a false alarm has one-sided probability 0.13%).
    Practice mode: the running estimate rises exactly on right answers, so d must exceed 3 se (the
    issue measured -0.74 -> +1.40). Seeds are fixed, so the run is reproducible.

    The harvester reads the replies during each diagnostic, as in the issue. A harvester that also
    regresses finished sessions' results on the options chosen still gains (the final estimate of a
    guessing session is higher when a guess was right): ``experiments/integrity_attack.py`` measures it;
    that channel is closed operationally (see the README), not by what a reply contains."""
    seeded = make_api(settings.model_copy(update={"cat_seed": 2026}), api.provider)
    try:
        client, admin = seeded.client, seeded.a
        default = _attack(client, admin, practice=False, seed=1)
        assert default["signals"] == 0 and default["keys"] == 0, default
        assert default["diff"] < 3 * default["se"], default

        r = client.patch("/v1/organisation/settings", json={"practice_mode": True}, headers=admin)
        assert r.status_code == 200 and r.json()["practice_mode"] is True
        practice = _attack(client, admin, practice=True, seed=1)
        assert practice["keys"] >= 10, practice
        assert practice["diff"] > 3 * practice["se"] and practice["diff"] > 1.0, practice
        print(
            f"\nattack statistic (harvest - guess, mean final theta, M={M_ATTACK}, N={N_HARVEST}): "
            f"default d={default['diff']:+.3f} (se {default['se']:.3f}; attack {default['attack']:+.2f}, "
            f"guess {default['guess']:+.2f}); practice d={practice['diff']:+.3f} (se {practice['se']:.3f}; "
            f"attack {practice['attack']:+.2f}, guess {practice['guess']:+.2f}, {practice['keys']} keys)"
        )
    finally:
        seeded.client.close()
        seeded.app.state.services.engine.dispose()


def _walk(value, path=()):  # noqa: ANN001
    """(path, key) of every dict key in a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*path, k)
            yield from _walk(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, (*path, i))


def test_default_replies_carry_progress_only_and_it_does_not_depend_on_correctness(api, bank_v1):
    """Two learners, one always right and one always wrong: every in-progress reply and status shows
    the same kind of progress (counts and bounds), and the fields that are not per-area counts follow
    from the number of answers alone."""
    by_answered: dict[int, dict] = {}
    for right, learner in ((True, "always-right"), (False, "always-wrong")):
        step = api.client.post(
            "/v1/diagnostics", json={"learner_id": learner, "areas": AREAS}, headers=api.a_diag
        ).json()
        while step["status"] != "finished":
            progress = step["progress"]
            assert set(progress) == PUBLIC_PROGRESS, progress
            assert all(set(a) == {"n_items"} for a in progress["areas"].values()), progress
            assert not {"theta", "se", "done", "level"} & {p[-1] for p in _walk(step)}, step
            bounds = {k: v for k, v in progress.items() if k != "areas"}
            assert by_answered.setdefault(progress["answered"], bounds) == bounds
            status = api.client.get(f"/v1/diagnostics/{step['session_id']}", headers=api.a_diag).json()
            assert status["progress"] == progress and status["practice"] is False
            item = step["item"]
            it = bank_v1.item(item["id"])
            if it.is_polytomous:
                answer = list(it.key).index(it.n_categories - 1 if right else 0)
            else:
                answer = it.key if right else (it.key + 1) % it.n_options
            step = api.client.post(
                f"/v1/diagnostics/{step['session_id']}/responses",
                json={"item_id": item["id"], "answer": answer, "sequence": item["sequence"]},
                headers=api.a_diag,
            ).json()
        status = api.client.get(f"/v1/diagnostics/{step['session_id']}", headers=api.a_diag).json()
        assert set(status["progress"]) == PUBLIC_PROGRESS
        assert all(set(a) == {"n_items"} for a in status["progress"]["areas"].values())
        assert sum(a["n_items"] for a in status["progress"]["areas"].values()) == status["answered"]
        # the result: evidence counts per competence, never raw item scores
        result = api.client.get(f"/v1/diagnostics/{step['session_id']}/result", headers=api.a_diag).json()
        for comp in result["profile"]["competences"].values():
            assert set(comp) == {"items", "theta", "se"}
            assert (comp["theta"] is None) == (comp["items"] < 5)
        assert "score" not in result["profile"]["competences"].__repr__()
        assert step["result"] == result["profile"]
    assert len(by_answered) >= 4


def test_items_shown_never_reveal_difficulty(api, bank_v1):
    shown = set()
    for seed in range(3):
        step = api.client.post("/v1/diagnostics", json={"learner_id": f"x{seed}"}, headers=api.a).json()
        shown |= set(step["item"])
        text = str(step["item"])
        assert not re.search(r"level", text, re.I), text
    assert shown == {
        "id",
        "sequence",
        "area",
        "competence",
        "language",
        "response_type",
        "stem",
        "options",
        "media",
    }
    for it in bank_v1.items:  # no stem of the demo bank names its level; ids are not numbered by level
        for content in it.content.values():
            assert not re.search(r"level", content.stem, re.I), content.stem
    first = {it.competence: it for it in reversed(bank_v1.items) if it.id.endswith("-001")}
    assert len({it.level for it in first.values()}) > 1  # item 001 is not level 1 everywhere


def test_practice_mode_needs_the_organisation_to_allow_it(api, bank_v1):
    def count() -> int:
        with api.app.state.services.sessionmaker() as db:
            return db.scalar(select(func.count()).select_from(DiagnosticSession))

    body = {"learner_id": "p1", "areas": ["1"], "practice": True}
    r = api.client.post("/v1/diagnostics", json=body, headers=api.a_diag)
    assert r.status_code == 403 and r.json()["type"].endswith("/practice-mode-not-allowed")
    assert count() == 0
    # only an admin key changes the organisation's settings, and only its own organisation's
    assert (
        api.client.patch(
            "/v1/organisation/settings", json={"practice_mode": True}, headers=api.a_diag
        ).status_code
        == 403
    )
    r = api.client.patch("/v1/organisation/settings", json={"practice_mode": "yes please"}, headers=api.a)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert api.client.patch(
        "/v1/organisation/settings", json={"practice_mode": True}, headers=api.a
    ).json() == {"slug": "org-a", "practice_mode": True}
    assert api.client.get("/v1/organisation/settings", headers=api.b).json()["practice_mode"] is False
    assert api.client.post("/v1/diagnostics", json=body, headers=api.b).status_code == 403
    step = api.client.post("/v1/diagnostics", json=body, headers=api.a_diag).json()
    assert step["progress"]["areas"]["1"]["theta"] == 0.0  # running estimates shown
    plain = api.client.post("/v1/diagnostics", json={**body, "practice": False}, headers=api.a_diag).json()
    assert "theta" not in plain["progress"]["areas"]["1"]  # allowed is not forced
    with api.app.state.services.sessionmaker() as db:
        assert (
            db.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "organisation.settings")
            )
            == 1
        )


def test_demo_item_ids_tell_neither_level_nor_pilot_status(bank_v1):
    pilot = [it for it in bank_v1.items if it.status == "pilot"]
    assert pilot and all(re.fullmatch(r"DC-\d\.\d-\d{3}", it.id) for it in bank_v1.items)
    numbers = {
        it.competence: sorted(int(x.id[-3:]) for x in bank_v1.items if x.competence == it.competence)
        for it in pilot
    }
    assert all(n == list(range(1, len(n) + 1)) for n in numbers.values())  # one numbering per competence
    assert len({int(it.id[-3:]) for it in pilot}) > 1  # pilot items are not always the last number
