"""``CatSession``: one learner's adaptive diagnostic as a deterministic state machine.

All randomness is derived from ``seed`` and the item position (``default_rng([seed, 1, position])``),
so the state is a function of (bank, config, seed, start_theta, response log): ``to_json`` stores just
those and ``from_json``/``replay`` rebuild the exact live state by replaying the log.

An answer is scored here with the bank's key (the chosen option), or arrives scored by the delivery
platform (a score without an option: a CAT-service section that trusts the platform's scoring); the log
keeps ``answer: None`` for those, and the score is checked against the item's model either way.
"""

from __future__ import annotations

import json
import numbers

import numpy as np

from adaptive.cat.config import CatConfig
from adaptive.cat.engine import CatEngine, pilot_slots
from adaptive.cat.exposure import N_UNIFORMS
from adaptive.cat.profile import CompetenceProfile, ProfileEstimator
from adaptive.cat.start import resolve_areas
from adaptive.errors import (
    AlreadyAnsweredError,
    InvalidAnswerError,
    SessionFinishedError,
    ValidationError,
    WrongItemError,
)

_FORMAT = "digipath-cat-session/1"
# settings added to CatConfig after sessions were first stored, with the value those sessions ran with: a
# stored config is complete, so a missing field means it predates the field (its default has changed since)
_BEFORE_FIELD = {"prior_correlation_shrinkage": 0.0}


def check_score(bank, item_id: str, score) -> int:  # noqa: ANN001
    """A platform's score of ``item_id`` as the item's model has it: 0 or 1 for a dichotomous item, a
    category 0..K-1 for a GRM item. Integral numbers (``1.0``, ``"1"``) are taken; anything else is an
    ``InvalidAnswerError`` naming the item and what it takes."""
    item = bank.item(item_id)
    allowed = ("0 or 1 (a dichotomous item)" if not item.is_polytomous
               else f"a category 0..{item.max_score} (a GRM item with {item.n_categories} categories)")
    value = score
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            value = None
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value)
            or value != int(value) or not 0 <= int(value) <= item.max_score):
        raise InvalidAnswerError(f"item {item_id!r}: score must be {allowed}, got {score!r}")
    return int(value)


class CatSession:
    def __init__(self, bank, config: CatConfig | None = None, seed: int = 0,
                 start_theta: dict[str, float] | None = None):
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValidationError(f"must be a non-negative integer, got {seed!r}", where="CatSession",
                                  field="seed")
        self.bank = bank
        self.config = config if config is not None else CatConfig()
        self.seed = int(seed)
        self.start_theta = {str(k): float(v) for k, v in (start_theta or {}).items()}
        areas = resolve_areas(bank, self.config.areas)
        slots = pilot_slots(self.config, len(areas), np.random.default_rng([self.seed, 0]))
        self._engine = CatEngine(bank, self.config, 1, self.start_theta or None, pilot_positions=slots)
        self.areas = self._engine.areas
        self.log: list[dict] = []
        self._answered: set[str] = set()
        self._pending: str | None = None
        self._pending_pilot = False
        self.finished = False
        self._estimator: ProfileEstimator | None = None
        self._advance()

    # -- state machine ------------------------------------------------------------------------------
    def _advance(self) -> None:
        e = self._engine
        if e.finished[0]:
            self._finish()
            return
        u = np.random.default_rng([self.seed, 1, int(e.position[0])]).random((1, N_UNIFORMS))
        items, pilot = e.select(np.zeros(1, dtype=np.intp), u)
        if items[0] < 0:                        # nothing eligible is left
            self._finish()
            return
        self._pending = self._engine.tables.item_ids[items[0]]
        self._pending_pilot = bool(pilot[0])

    def _finish(self) -> None:
        self.finished = True
        self._pending = None
        self._pending_pilot = False

    def next_item(self) -> str | None:
        """The item to present (the same until it is answered); None once the test is over."""
        return self._pending

    @property
    def n_answered(self) -> int:
        return len(self.log)

    def answer(self, item_id: str, answer: int | None = None, *, score: int | None = None) -> dict:
        """Score ``answer`` (the option chosen) to the pending item with the bank's key, or take ``score``
        as the delivery platform scored it (no option; see :func:`check_score`), and move on; returns the
        log entry. Exactly one of the two."""
        if item_id in self._answered:
            raise AlreadyAnsweredError(f"item {item_id!r} was already answered in this session")
        if self.finished:
            raise SessionFinishedError(f"the session is finished; item {item_id!r} cannot be answered")
        if item_id != self._pending:
            raise WrongItemError(f"item {item_id!r} is not the pending item {self._pending!r}")
        if (answer is None) == (score is None):
            raise InvalidAnswerError(f"item {item_id!r}: give either the option chosen or the platform's "
                                     "score, not both or neither")
        if answer is None:
            score = check_score(self.bank, item_id, score)
        elif isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
            raise InvalidAnswerError(f"answer to item {item_id!r} must be an integer option index, "
                                     f"got {answer!r}")
        else:
            answer, score = int(answer), int(self.bank.score(item_id, int(answer)))
        e = self._engine
        i = e.tables.index[item_id]
        entry = {"item_id": item_id, "answer": answer, "score": score,
                 "area": e.tables.area_ids[e.tables.item_area[i]], "is_pilot": self._pending_pilot,
                 "position": int(e.position[0])}
        e.record(np.zeros(1, dtype=np.intp), np.array([i]), np.array([score]),
                 np.array([self._pending_pilot]))
        self.log.append(entry)
        self._answered.add(item_id)
        self._advance()
        return {**entry, "finished": self.finished}

    # -- reporting --------------------------------------------------------------------------------
    def progress(self, estimates: bool = True) -> dict:
        """Where the test stands. ``estimates=False`` is what a test taker may see while the test runs:
        counts and bounds that depend on how many items were answered, never on whether they were right
        (no running theta/SE, no per-area stop flags: those move with correctness, so shown after each
        answer they would reveal the key). Per-area counts include pilot items, so they do not tell which
        items were unscored either. ``estimates=True`` adds the running estimates (practice mode)."""
        cfg, e = self.config, self._engine
        n_areas = len(self.areas)
        per_area = {a: 0 for a in self.areas}
        for entry in self.log:
            per_area[entry["area"]] = per_area.get(entry["area"], 0) + 1
        # bounds from the configuration alone: the shortest test (as in ``pilot_slots``) and the longest
        # (pilot items come on top of max_items); a bank that runs out of items ends a test sooner
        shortest = max(cfg.min_items, min(cfg.max_items, n_areas * cfg.min_items_per_area), 1)
        longest = min(cfg.max_items, n_areas * cfg.max_items_per_area) + cfg.n_pilot
        answered = self.n_answered
        out = {
            "answered": answered,
            "max_items": longest,
            "min_items_left": 0 if self.finished else max(0, shortest - answered),
            "max_items_left": 0 if self.finished else max(0, longest - answered),
            "finished": self.finished,
            "areas": {a: {"n_items": n} for a, n in per_area.items()},
        }
        if estimates:
            theta, se = e.posterior.theta[0], e.posterior.se[0]
            out["operational_answered"] = int(e.n_items[0])
            for k, a in enumerate(self.areas):
                out["areas"][a].update(n_operational=int(e.n_area[0, k]), theta=float(theta[k]),
                                       se=float(se[k]), done=bool(e.area_done[0, k]))
        return out

    def result(self) -> CompetenceProfile:
        """The competence profile so far (final once ``finished``); pilot items are not in it.

        Scored by the one estimator of record (:class:`adaptive.cat.profile.ProfileEstimator`: joint
        MAP + Laplace under the session's prior), not by the CAT's grid-tabulated running estimate."""
        if self._estimator is None:
            self._estimator = ProfileEstimator(self.bank, self.areas, prior_sd=self.config.prior_sd,
                                               independent_areas=self.config.independent_areas,
                                               prior_correlation_shrinkage=(
                                                   self.config.prior_correlation_shrinkage),
                                               start_theta=self.start_theta or None)
        return self._estimator.estimate([e["item_id"] for e in self.log], [e["score"] for e in self.log])

    # -- persistence ------------------------------------------------------------------------------
    def _bank_fingerprint(self) -> dict:
        return {"name": getattr(self.bank, "name", None), "n_items": len(self._engine.tables.item_ids),
                "framework_version": getattr(self.bank, "framework_version", None)}

    def to_json(self) -> str:
        return json.dumps({"format": _FORMAT, "bank": self._bank_fingerprint(),
                           "config": self.config.to_dict(), "seed": self.seed,
                           "start_theta": self.start_theta, "log": self.log})

    @classmethod
    def from_json(cls, bank, s: str) -> CatSession:
        try:
            data = json.loads(s)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"not JSON: {exc}", where="session state") from exc
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValidationError(f"not a {_FORMAT} document", where="session state", field="format")
        session = cls.replay(bank, CatConfig.from_dict({**_BEFORE_FIELD, **data["config"]}), data["seed"],
                             data["log"],
                             data.get("start_theta") or None)
        expected = data.get("bank") or {}
        if expected and expected != session._bank_fingerprint():
            raise ValidationError(f"saved on bank {expected}, restored on {session._bank_fingerprint()}",
                                  where="session state", field="bank")
        return session

    @classmethod
    def replay(cls, bank, config: CatConfig, seed: int, log: list[dict],
               start_theta: dict[str, float] | None = None) -> CatSession:
        """Rebuild a session from its response log; the log must be the one this session would give. An
        entry with an ``answer`` is scored again with the key; one without (``answer`` None: scored by the
        platform) brings its ``score``."""
        session = cls(bank, config, seed, start_theta)
        for k, entry in enumerate(log):
            if not isinstance(entry, dict) or "answer" not in entry or (
                    entry["answer"] is None and entry.get("score") is None):
                raise ValidationError("each log entry needs 'item_id' and 'answer' (or, scored by the "
                                      "platform, 'answer': null and 'score')", where="session log",
                                      row=k, field="answer")
            if session.finished or entry.get("item_id") != session.next_item():
                raise ValidationError(f"log entry {k} gives item {entry.get('item_id')!r} but the session "
                                      f"asks {session.next_item()!r}", where="session log", row=k,
                                      field="item_id")
            if entry["answer"] is None:
                session.answer(entry["item_id"], score=entry["score"])
            else:
                session.answer(entry["item_id"], entry["answer"])
        return session
