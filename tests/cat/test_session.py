"""CatSession: determinism, persistence, replay, misuse errors, pilot and retired items."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adaptive.cat import CatConfig, CatSession
from adaptive.cat.profile import MIN_ITEMS_FOR_COMPETENCE_ESTIMATE, estimate_profile
from adaptive.cat.session import check_score
from adaptive.errors import (
    AlreadyAnsweredError,
    InvalidAnswerError,
    SessionFinishedError,
    UnknownIdError,
    ValidationError,
    WrongItemError,
)
from tests.cat.conftest import answer_for, respond, run_session

THETA = np.array([0.8, -0.4, 0.2, 1.2, -1.0])


def _state(s: CatSession) -> dict:
    e = s._engine
    return {"next": s.next_item(), "finished": s.finished, "log": s.log, "theta": e.posterior.theta.copy(),
            "cov": e.posterior.cov.copy(), "n_area": e.n_area.copy(), "progress": s.progress()}


def _assert_same(a: dict, b: dict) -> None:
    assert a["next"] == b["next"] and a["finished"] == b["finished"] and a["log"] == b["log"]
    np.testing.assert_array_equal(a["theta"], b["theta"])
    np.testing.assert_array_equal(a["cov"], b["cov"])
    np.testing.assert_array_equal(a["n_area"], b["n_area"])
    assert a["progress"] == b["progress"]


def test_same_seed_same_items_different_seed_different_items(bank):
    cfg = CatConfig(n_pilot=2)
    logs = []
    for seed in (5, 5, 6):
        s = run_session(CatSession(bank, cfg, seed=seed), bank, THETA, np.random.default_rng(0))
        logs.append([e["item_id"] for e in s.log])
    assert logs[0] == logs[1]
    assert logs[0] != logs[2]          # randomesque draws depend on the seed


def test_next_item_is_idempotent_until_answered(bank):
    s = CatSession(bank, CatConfig(), seed=1)
    first = s.next_item()
    assert first is not None and s.next_item() == first and s.next_item() == first
    s.answer(first, answer_for(bank, first, 1))
    assert s.next_item() != first


def test_json_round_trip_mid_session(bank):
    cfg = CatConfig(n_pilot=2, selection="d-optimal")
    rng = np.random.default_rng(3)
    live = run_session(CatSession(bank, cfg, seed=9, start_theta={"3": 0.5}), bank, THETA, rng, stop_after=9)
    text = live.to_json()
    json.loads(text)                        # plain JSON
    assert "key" not in text                 # only ids, answers and scores, never answer keys
    restored = CatSession.from_json(bank, text)
    _assert_same(_state(live), _state(restored))
    # both continue identically
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    run_session(live, bank, THETA, rng_a)
    run_session(restored, bank, THETA, rng_b)
    _assert_same(_state(live), _state(restored))
    assert live.result().to_dict() == restored.result().to_dict()


@pytest.mark.parametrize("selection,exposure", [("d-optimal", "randomesque"), ("max-info", None),
                                                ("shadow", "randomesque"), ("d-optimal", "sympson-hetter")])
def test_replay_from_log_equals_live_state(bank, selection, exposure):
    k = {it.id: 0.3 for it in bank.items[::2]} if exposure == "sympson-hetter" else None
    cfg = CatConfig(n_pilot=1, selection=selection, exposure=exposure, exposure_parameters=k)
    live = run_session(CatSession(bank, cfg, seed=21), bank, THETA, np.random.default_rng(8), stop_after=12)
    replayed = CatSession.replay(bank, cfg, 21, [dict(e) for e in live.log])
    _assert_same(_state(live), _state(replayed))
    np.testing.assert_array_equal(live._engine.used, replayed._engine.used)
    restored = CatSession.from_json(bank, live.to_json())
    _assert_same(_state(live), _state(restored))


def test_sympson_hetter_parameters_steer_the_session(bank):
    free = CatSession(bank, CatConfig(exposure=None), seed=3)
    best = free.next_item()
    cfg = CatConfig(exposure="sympson-hetter", exposure_parameters={best: 0.0})
    for seed in range(5):             # K = 0: the best item is never given (it is passed over)
        assert CatSession(bank, cfg, seed=seed).next_item() != best
    always = CatConfig(exposure="sympson-hetter", exposure_parameters={})
    assert CatSession(bank, always, seed=0).next_item() == best      # K = 1 everywhere: plain max


def test_replay_rejects_a_log_that_diverges(bank):
    cfg = CatConfig()
    live = run_session(CatSession(bank, cfg, seed=2), bank, THETA, np.random.default_rng(1), stop_after=4)
    log = [dict(e) for e in live.log]
    other = next(it.id for it in bank.items if it.id not in {e["item_id"] for e in log})
    log[2]["item_id"] = other
    with pytest.raises(ValidationError) as exc:
        CatSession.replay(bank, cfg, 2, log)
    assert exc.value.row == 2 and exc.value.field == "item_id"


def test_from_json_rejects_another_bank(bank, big_bank):
    s = run_session(CatSession(bank, CatConfig(), seed=2), bank, THETA, np.random.default_rng(1),
                    stop_after=1)
    with pytest.raises(ValidationError):
        CatSession.from_json(big_bank, s.to_json())
    with pytest.raises(ValidationError):
        CatSession.from_json(bank, "{not json")


def test_misuse_errors(bank):
    s = CatSession(bank, CatConfig(min_items=5, max_items=5, min_items_per_area=1), seed=4)
    pending = s.next_item()
    other = next(it.id for it in bank.items if it.id != pending)
    with pytest.raises(WrongItemError):
        s.answer(other, 0)
    n_opt = bank.item(pending).n_options
    for bad in (n_opt, -1, "1", 1.0, True, None):
        with pytest.raises(InvalidAnswerError):
            s.answer(pending, bad)
    assert s.n_answered == 0 and s.next_item() == pending       # errors change nothing
    s.answer(pending, 0)
    with pytest.raises(AlreadyAnsweredError):
        s.answer(pending, 0)
    run_session(s, bank, THETA, np.random.default_rng(0))
    assert s.finished and s.next_item() is None and s.n_answered == 5
    with pytest.raises(SessionFinishedError):
        s.answer(other, 0)


def test_bad_settings_name_the_field(bank):
    with pytest.raises(ValidationError) as exc:
        CatConfig(selection="magic")
    assert exc.value.field == "selection"
    with pytest.raises(ValidationError) as exc:
        CatConfig(min_items=50, max_items=40)
    assert exc.value.field == "max_items"
    with pytest.raises(ValidationError) as exc:
        CatConfig.from_dict({"se_target": 0.3, "colour": "red"})
    assert exc.value.field == "colour"
    with pytest.raises(UnknownIdError):
        CatSession(bank, CatConfig(areas=["9"]), seed=0)
    with pytest.raises(ValidationError) as exc:
        CatSession(bank, CatConfig(), seed=-1)
    assert exc.value.field == "seed"
    with pytest.raises(ValidationError) as exc:
        CatSession(bank, CatConfig(), seed=0, start_theta={"1": float("nan")})
    assert exc.value.field == "1"


def test_config_round_trip():
    cfg = CatConfig(areas=["1", "4"], selection="shadow", exposure="sympson-hetter",
                    exposure_parameters={"DC-1.1-001": 0.4}, classification_threshold=0.9, n_pilot=2)
    assert CatConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_pilot_items_are_given_logged_and_never_scored(bank):
    s = CatSession(bank, CatConfig(n_pilot=3), seed=7)
    rng = np.random.default_rng(5)
    pilots = 0
    while not s.finished:
        iid = s.next_item()
        before = s._engine.posterior.theta.copy(), s._engine.posterior.cov.copy()
        entry = s.answer(iid, respond(bank, iid, THETA, rng))
        if entry["is_pilot"]:
            pilots += 1
            assert bank.item(iid).status == "pilot"
            np.testing.assert_array_equal(s._engine.posterior.theta, before[0])
            np.testing.assert_array_equal(s._engine.posterior.cov, before[1])
        else:
            assert bank.item(iid).status == "active"
    assert pilots == 3
    profile = s.result().to_dict()
    assert sum(a["n_items"] for a in profile["areas"].values()) == s.n_answered - 3
    assert sum(c["items"] for c in profile["competences"].values()) == s.n_answered - 3


def test_retired_items_never_given(bank):
    retired = {it.id for k, it in enumerate(bank.items) if k % 3 == 0 and it.status == "active"}
    items = []
    for it in bank.items:
        copy = type(it)(**{**it.__dict__})
        if it.id in retired:
            copy.status = "retired"
        items.append(copy)
    b2 = bank.replace(items=items)
    given = set()
    for seed in range(6):
        s = CatSession(b2, CatConfig(n_pilot=1), seed=seed)
        run_session(s, b2, THETA, np.random.default_rng(seed))
        given |= {e["item_id"] for e in s.log}
    assert len(given) > 40 and not given & retired


def test_profile_shape_and_levels(bank):
    s = run_session(CatSession(bank, CatConfig(), seed=3), bank, THETA, np.random.default_rng(2))
    prof = s.result().to_dict()
    assert set(prof["areas"]) == set(bank.area_ids)
    for area in prof["areas"].values():
        assert set(area) == {"theta", "se", "level", "level_probabilities", "n_items", "level_code",
                             "mapped_levels"}
        assert len(area["level_probabilities"]) == 8
        assert area["level_code"] == str(area["level"])      # DigComp 2.2: levels 1..8
        assert abs(sum(area["level_probabilities"]) - 1) < 1e-9
        assert area["level"] == int(np.argmax(area["level_probabilities"])) + 1
    scored = [e for e in s.log if not e["is_pilot"]]
    assert sum(c["items"] for c in prof["competences"].values()) == len(scored)
    for comp in prof["competences"].values():     # evidence counts, never raw scores
        assert set(comp) == {"items", "theta", "se"}
        assert (comp["theta"] is not None) == (comp["items"] >= MIN_ITEMS_FOR_COMPETENCE_ESTIMATE)
    assert prof["framework"]["id"] == "digcomp-2.2"
    assert prof["framework"]["level_scheme"]["id"] == "eight-level"
    json.dumps(prof)


def test_competence_estimate_only_from_enough_items(bank):
    ids = [it.id for it in bank.items if it.competence == "1.1" and it.status == "active"
           and not it.is_polytomous][:MIN_ITEMS_FOR_COMPETENCE_ESTIMATE]
    few = estimate_profile(bank, ids[:-1], [1] * (len(ids) - 1)).competences["1.1"]
    assert few.items == len(ids) - 1 and few.theta is None and few.se is None
    right = estimate_profile(bank, ids, [1] * len(ids)).competences["1.1"]
    wrong = estimate_profile(bank, ids, [0] * len(ids)).competences["1.1"]
    assert right.items == len(ids) and right.theta > 0 > wrong.theta and 0 < right.se < 1


def test_progress_without_estimates_does_not_depend_on_correctness(bank):
    # the same seed answered all right vs all wrong: the item sequence differs, the public progress not
    config = CatConfig(areas=["1", "2"], min_items=4, max_items=10, n_pilot=1)
    runs = []
    for right in (True, False):
        s = CatSession(bank, config, seed=5)
        seen = []
        while s.next_item() is not None and len(seen) < 3:
            it = bank.item(s.next_item())
            if it.is_polytomous:
                answer = list(it.key).index(len(it.key) - 1 if right else 0)
            else:
                answer = it.key if right else (it.key + 1) % len(it.content["en"].options)
            s.answer(it.id, int(answer))
            p = s.progress(estimates=False)
            seen.append({k: v for k, v in p.items() if k != "areas"})
            assert set(p) == {"answered", "max_items", "min_items_left", "max_items_left", "finished",
                              "areas"}
            assert all(set(a) == {"n_items"} for a in p["areas"].values())
        runs.append(seen)
    assert runs[0] == runs[1]
    assert "theta" in s.progress()["areas"]["1"]


def test_subset_of_areas(bank):
    s = CatSession(bank, CatConfig(areas=["2", "5"]), seed=3)
    run_session(s, bank, THETA, np.random.default_rng(2))
    assert {e["area"] for e in s.log} <= {"2", "5"}
    assert set(s.result().to_dict()["areas"]) == {"2", "5"}
    assert all(c.startswith(("2.", "5.")) for c in s.result().to_dict()["competences"])


def test_start_theta_sets_the_prior_mean(bank):
    s = CatSession(bank, CatConfig(areas=["1", "2"]), seed=0, start_theta={"1": 1.5, "4": -1.0})
    prog = s.progress()["areas"]
    assert prog["1"]["theta"] == 1.5 and prog["2"]["theta"] == 0.0       # area 4 is not tested: ignored
    # the first item is the most informative one at the starting theta
    for start in (-1.5, 1.5):
        s1 = CatSession(bank, CatConfig(areas=["1"], exposure=None, competence_balancing=False), seed=0,
                        start_theta={"1": start})
        ids = [it.id for it in bank.items if it.area == "1" and it.status == "active"]
        info = bank.parameters(ids).information(np.array([start]))[0]
        assert s1.next_item() == ids[int(np.argmax(info))]
    with pytest.raises(UnknownIdError):
        CatSession(bank, CatConfig(), seed=0, start_theta={"9": 0.0})


def test_replay_rejects_malformed_entries(bank):
    s = run_session(CatSession(bank, CatConfig(), seed=2), bank, THETA, np.random.default_rng(1),
                    stop_after=3)
    log = [dict(e) for e in s.log]
    del log[1]["answer"]
    with pytest.raises(ValidationError) as exc:
        CatSession.replay(bank, CatConfig(), 2, log)
    assert exc.value.row == 1 and exc.value.field == "answer"


def test_platform_scores_run_the_same_session_as_options(bank):
    """A score sent by the delivery platform (no option) moves the session exactly as the option that
    earns it: same items, same posterior, same profile; the log keeps ``answer: None``; JSON round trip."""
    by_option = CatSession(bank, CatConfig(n_pilot=1), seed=4)
    by_score = CatSession(bank, CatConfig(n_pilot=1), seed=4)
    rng = np.random.default_rng(3)
    kinds = set()
    while not by_option.finished:
        iid = by_option.next_item()
        assert by_score.next_item() == iid
        option = respond(bank, iid, THETA, rng)
        score = bank.score(iid, option)
        kinds.add(bank.item(iid).is_polytomous)
        by_option.answer(iid, option)
        # platforms send numbers in their own forms: 1.0, "2", 0
        by_score.answer(iid, score=[float(score), str(score), score][by_score.n_answered % 3])
        if by_score.n_answered == 5:  # mid-session persistence of score-only entries
            by_score = CatSession.from_json(bank, by_score.to_json())
    assert kinds == {True, False}, "the session should meet dichotomous and GRM items"
    assert by_score.finished and [e["item_id"] for e in by_score.log] == [e["item_id"] for e in by_option.log]
    assert all(e["answer"] is None for e in by_score.log)
    assert [e["score"] for e in by_score.log] == [e["score"] for e in by_option.log]
    np.testing.assert_array_equal(by_score._engine.posterior.theta, by_option._engine.posterior.theta)
    assert by_score.result().to_dict() == by_option.result().to_dict()
    replayed = CatSession.from_json(bank, by_score.to_json())
    assert replayed.finished and replayed.result().to_dict() == by_score.result().to_dict()


def test_platform_scores_are_checked_against_the_item_model(bank):
    s = CatSession(bank, CatConfig(), seed=6)
    dichotomous = next(it for it in bank.items if not it.is_polytomous)
    grm = next(it for it in bank.items if it.is_polytomous)
    assert check_score(bank, dichotomous.id, 1) == 1 and check_score(bank, dichotomous.id, "0.0") == 0
    assert check_score(bank, grm.id, grm.max_score) == grm.max_score and grm.max_score >= 2
    for item, bad in [(dichotomous, 2), (dichotomous, -1), (dichotomous, 0.5), (dichotomous, True),
                      (dichotomous, "yes"), (dichotomous, float("nan")), (dichotomous, "inf"),
                      (dichotomous, None), (grm, grm.max_score + 1), (grm, 1.5)]:
        with pytest.raises(InvalidAnswerError) as exc:
            check_score(bank, item.id, bad)
        assert item.id in str(exc.value)
    assert "GRM" in str(pytest.raises(InvalidAnswerError, check_score, bank, grm.id, 9).value)
    pending = s.next_item()
    with pytest.raises(InvalidAnswerError):  # an option and a score at once: which one counts?
        s.answer(pending, 0, score=1)
    with pytest.raises(InvalidAnswerError):
        s.answer(pending)
    with pytest.raises(InvalidAnswerError):
        s.answer(pending, score=bank.item(pending).max_score + 1)
    assert s.n_answered == 0 and s.next_item() == pending  # nothing changed
    s.answer(pending, score=0)
    log = [dict(e) for e in s.log]
    del log[0]["score"]  # score-only entry without its score cannot be replayed
    with pytest.raises(ValidationError) as exc:
        CatSession.replay(bank, CatConfig(), 6, log)
    assert exc.value.row == 0
