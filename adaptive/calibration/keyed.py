"""Keyed scoring of raw multiple-choice answers, and distractor analysis.

Raw answers are option codes (``A``, ``B``, ``0``, ``1`` ...; a multiple-response answer lists the chosen
codes separated by ``;``). An :class:`AnswerKey` maps each item's option codes to scores:

- key file ``item_id,key``: one code = single-choice item (that option scores 1, every other 0); several
  codes ``A;C`` = multiple-response item, scored 1 only when exactly that set of options is chosen (order
  irrelevant, all or nothing);
- a bank (``--template``): each option's score is :meth:`ItemBank.score` of that option, so a calibration
  scores exactly as the live service does (GRM items: the option's category score).

Omitted / not-reached answers carry a code of their own (``--missing CODE``); they are treated as missing
(default: an omission says nothing reliable about ability when it is due to running out of time) or scored
wrong, the user's choice. A blank cell is always "not administered".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from adaptive.calibration.data import (
    ResponseData,
    _raise_bad_rows,
    _read_csv,
    first_attempts,
    refuse_duplicate_columns,
    require_columns,
)
from adaptive.errors import DataFileError, ValidationError

MULTI_SEPARATOR = ";"
MISSING_AS = ("missing", "wrong")
OMITTED = "(omitted)"


def normalise_code(code: str) -> str:
    """A multiple-response answer as its sorted set of codes, so ``C;A`` and ``A;C`` are the same answer."""
    code = code.strip()
    if MULTI_SEPARATOR in code:
        return MULTI_SEPARATOR.join(sorted({c.strip() for c in code.split(MULTI_SEPARATOR) if c.strip()}))
    return code


@dataclass
class AnswerKey:
    """Per item, the score of each answer code; ``valid`` (bank keys) lists the only codes allowed."""

    scores: dict[str, dict[str, int]]
    valid: dict[str, set[str]] = field(default_factory=dict)
    source: str = "<key>"

    @classmethod
    def from_csv(cls, path: str | Path) -> AnswerKey:
        df = _read_csv(path)
        file = str(path)
        require_columns(df, ("item_id", "key"), file)
        bad: list[tuple[int, str, str]] = []
        scores: dict[str, dict[str, int]] = {}
        for k, (iid, key) in enumerate(zip(df["item_id"].str.strip(), df["key"].str.strip(), strict=True)):
            line = k + 2
            if not iid:
                bad.append((line, "item_id", "empty item_id"))
            elif not key:
                bad.append((line, "key", f"empty key for item {iid!r}"))
            elif iid in scores:
                bad.append((line, "item_id", f"duplicate item_id {iid!r}"))
            else:
                scores[iid] = {normalise_code(key): 1}
        bad.sort()
        _raise_bad_rows(file, bad)
        return cls(scores, source=file)

    @classmethod
    def from_bank(cls, bank) -> AnswerKey:
        """The keys of a bank: option ``o`` (0-based, as the service records answers) scores
        ``bank.score(item, o)`` -- the one scoring rule of the service."""
        scores, valid = {}, {}
        for it in bank.items:
            if it.key is None or it.n_options < 2:
                continue
            scores[it.id] = {str(o): bank.score(it.id, o) for o in range(it.n_options)}
            valid[it.id] = set(scores[it.id])
        if not scores:
            raise ValidationError("the bank has no keyed items", where="template")
        return cls(scores, valid, source="template bank")

    def is_key(self, item_id: str, code: str) -> bool:
        return self.scores[item_id].get(code, 0) > 0


@dataclass
class RawResponses:
    """Raw answer codes in long form: one row per (person, item) with the code as written."""

    table: pd.DataFrame  # person_id, item_id, code, line
    source: str
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_csv(cls, path: str | Path, wide: bool = False) -> RawResponses:
        df = _read_csv(path)
        file = str(path)
        notes: list[str] = []
        if wide:
            refuse_duplicate_columns(path)
            person = df["person_id"].str.strip() if "person_id" in df.columns else None
            items = [c for c in df.columns if c != "person_id"]
            if not items:
                raise DataFileError("no item columns", file=file, line=1)
            if person is None:
                person = pd.Series([str(k + 1) for k in range(len(df))])
            long = pd.DataFrame(
                {
                    "person_id": np.repeat(person.to_numpy(), len(items)),
                    "item_id": np.tile(np.array([str(c).strip() for c in items], dtype=object), len(df)),
                    "code": df[items].to_numpy().ravel(),
                    "line": np.repeat(np.arange(len(df)) + 2, len(items)),
                }
            )
        else:
            require_columns(df, ("person_id", "item_id", "response"), file)
            # the service's export holds the scored response and the option the learner chose
            # (``answer``, 0-based): a key scores the answer; rows without one (anonymised rows of erased
            # learners) cannot be re-scored and are left out
            code = "answer" if "answer" in df.columns else "response"
            first, note = first_attempts(df)
            notes = [note] if note else []
            if code == "answer":
                n_blank = int(((df["answer"].str.strip() == "") & first).sum())
                if n_blank:
                    notes.append(f"{n_blank} response(s) without the chosen option (anonymised rows) cannot "
                                 f"be scored with the key and were left out")
            long = pd.DataFrame(
                {
                    "person_id": df["person_id"].str.strip(),
                    "item_id": df["item_id"].str.strip(),
                    "code": df[code],
                    "line": np.arange(len(df)) + 2,
                }
            )[first]
        long["code"] = long["code"].astype(str).map(normalise_code)
        long = long[long["code"] != ""].reset_index(drop=True)  # blank: not administered
        return cls(long, file, notes)


@dataclass
class KeyedScoring:
    data: ResponseData  # scored responses, ready for calibration
    raw: pd.DataFrame  # person_id, item_id, code, score (NaN = treated as missing)
    missing_codes: tuple[str, ...]
    missing_as: str

    def describe(self) -> str:
        n_om = int(self.raw["code"].isin(self.missing_codes).sum())
        how = "scored wrong" if self.missing_as == "wrong" else "treated as missing"
        codes = ", ".join(repr(c) for c in self.missing_codes) or "none"
        return f"keyed scoring: {n_om} omitted/not-reached answers (codes {codes}) {how}"


def score_responses(
    raw: RawResponses, key: AnswerKey, missing_codes=(), missing_as: str = "missing"
) -> KeyedScoring:
    """Score raw answer codes with ``key``; an item without a key or a code the key's bank does not
    offer is an error naming the line, item and value."""
    if missing_as not in MISSING_AS:
        raise ValidationError(
            f"missing_as must be one of {MISSING_AS}, got {missing_as!r}", field="missing_as"
        )
    missing_codes = tuple(normalise_code(str(c)) for c in missing_codes)
    t = raw.table
    bad: list[tuple[int, str, str]] = []
    unkeyed = sorted(set(t["item_id"]) - set(key.scores))
    if unkeyed:
        raise ValidationError(
            f"{len(unkeyed)} item(s) in the responses have no key in {key.source}: {unkeyed[:5]}",
            where=raw.source,
        )
    score = np.empty(len(t))
    for k, (iid, code, line) in enumerate(zip(t["item_id"], t["code"], t["line"], strict=True)):
        if code in missing_codes:
            score[k] = 0.0 if missing_as == "wrong" else np.nan
            continue
        valid = key.valid.get(iid)
        if valid is not None and code not in valid:
            bad.append(
                (int(line), iid, f"answer {code!r} to item {iid!r} is not one of its options {sorted(valid)}")
            )
            continue
        score[k] = key.scores[iid].get(code, 0)
    bad.sort()
    _raise_bad_rows(raw.source, bad)
    scored = t.assign(score=score)
    keep = np.isfinite(score)
    data = ResponseData._from_long(
        t["person_id"].to_numpy()[keep],
        t["item_id"].to_numpy()[keep],
        score[keep].astype(np.int64),
        raw.source,
        t["line"].to_numpy()[keep],
    )
    data.notes += raw.notes
    return KeyedScoring(data, scored, missing_codes, missing_as)


def distractor_analysis(scoring: KeyedScoring, n_groups: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per item and option: proportion chosen and point-biserial with ability, plus a miskey flag.

    Ability is the rest score: the person's proportion of the maximum score on the *other* items they
    answered (so the item does not correlate with itself, and sparse designs are comparable). An option
    is a possible miskey when it scores 0, correlates positively with ability and more than the key.
    Omitted answers appear as the option ``(omitted)``. Second table: share choosing each option per
    ability group (quantiles of the rest score), for option curves.
    """
    t = scoring.raw.copy()
    t["s"] = t["score"].fillna(0.0)
    t["imax"] = t["item_id"].map(t.groupby("item_id")["s"].max().clip(lower=1.0))
    # the person's score and maximum over the other items they answered
    rest_score = t.groupby("person_id")["s"].transform("sum") - t["s"]
    rest_max = t.groupby("person_id")["imax"].transform("sum") - t["imax"]
    t["rest"] = np.where(rest_max > 0, rest_score / rest_max.where(rest_max > 0, 1.0), np.nan)
    t["option"] = np.where(t["code"].isin(scoring.missing_codes), OMITTED, t["code"])
    rows, curves = [], []
    for iid, g in t.groupby("item_id", sort=True):
        g = g[np.isfinite(g["rest"])]
        n = len(g)
        if n < 2:
            continue
        rest = g["rest"].to_numpy()
        groups = (
            pd.qcut(pd.Series(rest).rank(method="first"), n_groups, labels=False) if n >= n_groups else None
        )
        opts = sorted(set(g["option"]))
        recs = []
        for opt in opts:
            chosen = (g["option"] == opt).to_numpy().astype(float)
            sd = chosen.std() * rest.std()
            r = float(np.mean((chosen - chosen.mean()) * (rest - rest.mean())) / sd) if sd > 0 else np.nan
            is_key = opt != OMITTED and g.loc[g["option"] == opt, "score"].max() > 0
            recs.append(
                {
                    "item_id": iid,
                    "option": opt,
                    "key": bool(is_key),
                    "n": int(chosen.sum()),
                    "proportion": float(chosen.mean()),
                    "point_biserial": r,
                }
            )
            if groups is not None:
                share = pd.Series(chosen).groupby(groups.to_numpy()).mean()
                curves += [
                    {"item_id": iid, "option": opt, "ability_group": int(q) + 1, "proportion": float(v)}
                    for q, v in share.items()
                ]
        key_r = max(
            (x["point_biserial"] for x in recs if x["key"] and np.isfinite(x["point_biserial"])),
            default=-np.inf,
        )
        for x in recs:
            r = x["point_biserial"]
            x["flag"] = (
                "possible miskey"
                if not x["key"] and x["option"] != OMITTED and np.isfinite(r) and r > 0 and r > key_r
                else ""
            )
        rows += recs
    cols = ["item_id", "option", "key", "n", "proportion", "point_biserial", "flag"]
    return pd.DataFrame(rows, columns=cols), pd.DataFrame(
        curves, columns=["item_id", "option", "ability_group", "proportion"]
    )


def attach_keyed_scoring(result, scoring: KeyedScoring) -> None:
    """Add the distractor analysis to a :class:`CalibrationResult` (report section, CSVs, option curves)
    and flag possible miskeys among the calibrated items."""
    table, curves = distractor_analysis(scoring)
    result.distractors, result.option_curves = table, curves
    result.notes.append(scoring.describe())
    result.params["scoring"] = f"keyed; missing codes {list(scoring.missing_codes)} {scoring.missing_as}"
    miskeyed = table[table["flag"] != ""]
    for iid, g in miskeyed.groupby("item_id"):
        flag = f"possible miskey (option {', '.join(g['option'])} correlates more with ability than the key)"
        result.notes.append(f"item {iid}: {flag}")
        if iid in result.items.index:
            old = result.items.at[iid, "flags"]
            result.items.at[iid, "flags"] = f"{old}; {flag}" if old else flag
    if len(result.items):
        result.metrics["n_items_flagged"] = float((result.items["flags"] != "").sum())
    result.metrics["n_possible_miskeys"] = float(miskeyed["item_id"].nunique())
