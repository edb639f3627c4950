"""Response data for calibration: long (CAT log) or wide CSV, item metadata, item screening.

Responses are kept sparse as (person index, item index, score) triplets: a CAT log gives each
person a few items, and the likelihood is taken over observed responses only (never zero-filled).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from adaptive.errors import DataFileError, ValidationError

MAX_REPORTED_BAD_ROWS = 5
METADATA_COLUMNS = ("item_id", "area", "competence", "level", "model")
KNOWN_MODELS = ("1PL", "2PL", "3PL", "4PL", "GRM")


def _raise_bad_rows(file: str, bad: list[tuple[int, str, str]]) -> None:
    """Collect every bad row, report the first few in one error naming file, line and column."""
    if not bad:
        return
    first_line, first_col, first_reason = bad[0]
    shown = "; ".join(f"line {ln}, column {col!r}: {why}" for ln, col, why in bad[:MAX_REPORTED_BAD_ROWS])
    more = (
        f" (and {len(bad) - MAX_REPORTED_BAD_ROWS} more bad rows)" if len(bad) > MAX_REPORTED_BAD_ROWS else ""
    )
    err = DataFileError(f"{len(bad)} bad row(s): {shown}{more}", file=file, line=first_line, column=first_col)
    err.bad_rows = bad
    err.first_reason = first_reason
    raise err


def _read_csv(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise DataFileError("file not found", file=str(path))
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise DataFileError("file is empty", file=str(path)) from exc
    except pd.errors.ParserError as exc:  # ragged rows: pandas names the line
        raise DataFileError(f"malformed CSV: {exc}", file=str(path)) from exc


def require_columns(df: pd.DataFrame, columns, file: str) -> None:  # noqa: ANN001 - a sequence of names
    """A ``DataFileError`` naming the first missing column (line 1: the header) and all that are missing."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        what = f"column {missing[0]!r}" if len(missing) == 1 else f"column(s) {missing}"
        raise DataFileError(f"missing required {what}; found {list(df.columns)}", file=file, line=1,
                            column=missing[0])


def refuse_duplicate_columns(path) -> None:
    """pandas silently renames a repeated header ``X`` to ``X.1``: a copied column would be calibrated
    as a second item (with a slope at its bound), so a repeated item column is an error."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        header = [h.strip() for h in next(csv.reader(fh), [])]
    seen, dup = set(), []
    for h in header:
        if h in seen and h not in dup:
            dup.append(h)
        seen.add(h)
    if dup:
        raise DataFileError(
            f"duplicate item column(s) {dup}: each item must appear once", file=str(path), line=1
        )


def _parse_scores(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strings -> (scores as float with NaN for blank, is_blank, is_bad)."""
    stripped = values.str.strip()
    blank = (stripped == "") | stripped.str.upper().isin(["NA", "NAN"])
    try:  # fast path: a vectorised string -> float cast; bad cells make it raise
        num = stripped.where(~blank, "nan").astype("float64").to_numpy(dtype=float)
    except (ValueError, TypeError):
        num = pd.to_numeric(stripped.where(~blank), errors="coerce").to_numpy(dtype=float)
    bad = ~blank.to_numpy() & (~np.isfinite(num) | (num != np.round(num)) | (num < 0))
    return num, blank.to_numpy(), bad


def first_attempts(df: pd.DataFrame) -> tuple[np.ndarray, str | None]:
    """Rows to keep of a long response log (``person_id``, ``item_id``[, ``session_id``,
    ``administered_at``]) where a person answered an item again in a later diagnostic (a retest that
    could not avoid the item): the first attempt only, the one given to someone who had not seen the item
    (as calibration assumes); later ones are dropped. First = earliest ``administered_at`` (ISO time),
    else first in the file. Repeats within one session, or in a file without ``session_id``, are kept
    (and refused later as duplicates: they are not retests). Returns (keep mask, a note or None)."""
    keep = np.ones(len(df), dtype=bool)
    if "session_id" not in df.columns or not len(df):
        return keep, None
    person, item = df["person_id"].str.strip(), df["item_id"].str.strip()
    repeated = pd.Series(list(zip(person, item, strict=True))).duplicated(keep=False).to_numpy()
    if not repeated.any():
        return keep, None
    sub = pd.DataFrame({"person": person[repeated].to_numpy(), "item": item[repeated].to_numpy(),
                        "session": df["session_id"].str.strip()[repeated].to_numpy(),
                        "at": (df["administered_at"].str.strip()[repeated].to_numpy()
                               if "administered_at" in df.columns else ""),
                        "row": np.flatnonzero(repeated)})
    sub = sub.sort_values(["person", "item", "at", "row"], kind="stable")
    first_session = sub.groupby(["person", "item"])["session"].transform("first")
    later = (sub["session"] != first_session).to_numpy()     # another diagnostic than the first attempt's
    keep[sub["row"].to_numpy()[later]] = False
    n = int(later.sum())
    if not n:
        return keep, None
    return keep, (f"{n} repeated response(s) of a person to an item in a later session (retests) dropped: "
                  f"the first attempt of each is calibrated")


@dataclass
class ResponseData:
    """Sparse item responses: ``scores[k]`` is the integer score of person ``rows[k]`` on item ``cols[k]``."""

    person_ids: np.ndarray
    item_ids: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    scores: np.ndarray
    source: str = "<arrays>"
    notes: list[str] = field(default_factory=list)    # what reading changed (e.g. retests dropped)

    def __post_init__(self):
        self.person_ids = np.asarray(self.person_ids, dtype=object).astype(str)
        self.item_ids = np.asarray(self.item_ids, dtype=object).astype(str)
        self.rows = np.asarray(self.rows, dtype=np.int64)
        self.cols = np.asarray(self.cols, dtype=np.int64)
        self.scores = np.asarray(self.scores, dtype=np.int64)

    # ---- constructors -------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls, person_ids: Sequence, item_ids: Sequence, responses: Sequence, source: str = "<arrays>"
    ) -> ResponseData:
        """Long form: one (person, item, score) per entry; NaN/None scores are treated as missing."""
        p = np.asarray(person_ids, dtype=object).astype(str)
        i = np.asarray(item_ids, dtype=object).astype(str)
        r = pd.to_numeric(pd.Series(list(responses), dtype=object), errors="coerce").to_numpy(dtype=float)
        if not (len(p) == len(i) == len(r)):
            raise ValidationError("person_ids, item_ids and responses differ in length", where=source)
        keep = np.isfinite(r)
        bad = np.flatnonzero(keep & ((r != np.round(r)) | (r < 0)))
        if bad.size:
            raise ValidationError(
                f"response {r[bad[0]]!r} is not a non-negative integer score",
                where=source,
                row=int(bad[0]),
                field="response",
            )
        return cls._from_long(p[keep], i[keep], r[keep].astype(np.int64), source, lines=np.flatnonzero(keep))

    @classmethod
    def _from_long(cls, p, i, r, source, lines) -> ResponseData:
        rows, person_ids = pd.factorize(pd.Series(p, dtype=object), sort=True)  # hashing: fast on 1e6 ids
        cols, item_ids = pd.factorize(pd.Series(i, dtype=object), sort=True)
        person_ids, item_ids = np.asarray(person_ids, dtype=object), np.asarray(item_ids, dtype=object)
        key = rows.astype(np.int64) * len(item_ids) + cols
        order = np.argsort(key, kind="stable")
        dup = np.flatnonzero(np.diff(key[order]) == 0)
        if dup.size:
            bad = [
                (
                    int(lines[order[k + 1]]),
                    "item_id",
                    f"duplicate response of person {p[order[k + 1]]!r} to item {i[order[k + 1]]!r}",
                )
                for k in dup
            ]
            bad.sort()
            _raise_bad_rows(source, bad)
        return cls(person_ids, item_ids, rows, cols, r, source=source)

    @classmethod
    def from_matrix(
        cls,
        matrix,
        item_ids: Sequence | None = None,
        person_ids: Sequence | None = None,
        source: str = "<matrix>",
    ) -> ResponseData:
        """Wide array (persons x items) with NaN for not administered."""
        m = np.asarray(matrix, dtype=float)
        if m.ndim != 2:
            raise ValidationError("response matrix must be 2-dimensional", where=source)
        n, j = m.shape
        item_ids = np.asarray(item_ids if item_ids is not None else [f"item{k + 1}" for k in range(j)])
        person_ids = np.asarray(person_ids if person_ids is not None else [str(k) for k in range(n)])
        rows, cols = np.nonzero(np.isfinite(m))
        vals = m[rows, cols]
        bad = np.flatnonzero((vals != np.round(vals)) | (vals < 0))
        if bad.size:
            raise ValidationError(
                f"response {vals[bad[0]]!r} is not a non-negative integer score",
                where=source,
                row=int(rows[bad[0]]),
                field=str(item_ids[cols[bad[0]]]),
            )
        return cls(person_ids, item_ids, rows, cols, vals.astype(np.int64), source=source)

    @classmethod
    def from_long_csv(cls, path: str | Path) -> ResponseData:
        """``person_id,item_id,response``: the service's export (``/v1/admin/responses/export``) as is.
        With ``session_id`` a person's repeated answer to an item in a later session (a retest) is dropped,
        keeping the first attempt (:func:`first_attempts`); other columns are ignored."""
        df = _read_csv(path)
        file = str(path)
        require_columns(df, ("person_id", "item_id", "response"), file)
        lines = np.arange(len(df)) + 2  # header is line 1
        bad: list[tuple[int, str, str]] = []
        for col in ("person_id", "item_id"):
            empty = (df[col].str.strip() == "").to_numpy()
            bad += [(int(ln), col, f"empty {col}") for ln in lines[empty]]
        scores, blank, bad_score = _parse_scores(df["response"])
        bad += [
            (int(ln), "response", f"response {df['response'].iloc[k]!r} is not a non-negative integer")
            for k, ln in zip(np.flatnonzero(bad_score), lines[bad_score], strict=True)
        ]
        bad.sort()
        _raise_bad_rows(file, bad)
        first, note = first_attempts(df)
        keep = ~blank & first
        data = cls._from_long(
            df["person_id"].str.strip().to_numpy()[keep],
            df["item_id"].str.strip().to_numpy()[keep],
            scores[keep].astype(np.int64),
            file,
            lines[keep],
        )
        data.notes += [note] if note else []
        return data

    @classmethod
    def from_wide_csv(cls, path: str | Path, person_column: str | None = None) -> ResponseData:
        """A column per item, blank = not administered; ``person_id`` column used when present."""
        df = _read_csv(path)
        file = str(path)
        refuse_duplicate_columns(path)
        if person_column is None and "person_id" in df.columns:
            person_column = "person_id"
        if person_column is not None:
            if person_column not in df.columns:
                raise DataFileError(f"no column {person_column!r}", file=file, line=1, column=person_column)
            person_ids = df[person_column].str.strip().to_numpy()
            df = df.drop(columns=[person_column])
        else:
            person_ids = np.array([str(k + 1) for k in range(len(df))])
        if df.shape[1] == 0:
            raise DataFileError("no item columns", file=file, line=1)
        lines = np.arange(len(df)) + 2
        bad: list[tuple[int, str, str]] = []
        values = np.full(df.shape, np.nan)
        for j, col in enumerate(df.columns):
            num, blank, bad_score = _parse_scores(df[col])
            values[:, j] = np.where(blank | bad_score, np.nan, num)
            bad += [
                (int(lines[k]), str(col), f"value {df[col].iloc[k]!r} is not a non-negative integer")
                for k in np.flatnonzero(bad_score)
            ]
        bad.sort()
        _raise_bad_rows(file, bad)
        if len(set(person_ids)) != len(person_ids):
            _, first = np.unique(person_ids, return_index=True)
            dup = sorted(set(range(len(person_ids))) - set(first))
            _raise_bad_rows(
                file,
                [
                    (int(lines[k]), person_column or "person_id", f"duplicate person id {person_ids[k]!r}")
                    for k in dup
                ],
            )
        return cls.from_matrix(
            values, item_ids=[str(c).strip() for c in df.columns], person_ids=person_ids, source=file
        )

    # ---- views ----------------------------------------------------------------------------
    @property
    def n_persons(self) -> int:
        return len(self.person_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_responses(self) -> int:
        return len(self.scores)

    def to_matrix(self) -> np.ndarray:
        """Dense persons x items float matrix with NaN for missing (small data only)."""
        m = np.full((self.n_persons, self.n_items), np.nan)
        m[self.rows, self.cols] = self.scores
        return m

    def responses_per_item(self) -> np.ndarray:
        return np.bincount(self.cols, minlength=self.n_items)

    def subset_items(self, item_ids: Sequence[str]) -> ResponseData:
        """Keep only these items (in this order) and the persons who answered at least one of them."""
        pos = {iid: k for k, iid in enumerate(self.item_ids)}
        missing = [i for i in item_ids if i not in pos]
        if missing:
            raise ValidationError(f"items not in the response data: {missing[:5]}", where=self.source)
        new_col = np.full(self.n_items, -1)
        new_col[[pos[i] for i in item_ids]] = np.arange(len(item_ids))
        keep = new_col[self.cols] >= 0
        persons, rows = np.unique(self.rows[keep], return_inverse=True)
        return ResponseData(
            self.person_ids[persons],
            np.asarray(item_ids),
            rows,
            new_col[self.cols[keep]],
            self.scores[keep],
            source=self.source,
        )


def screen_items(data: ResponseData, min_responses: int = 30) -> tuple[list[str], list[tuple[str, str]]]:
    """Items fit to calibrate, and (item_id, reason) for those left out (too few responses, no variance)."""
    n = data.responses_per_item()
    lo = np.full(data.n_items, np.iinfo(np.int64).max)
    hi = np.full(data.n_items, -1)
    np.minimum.at(lo, data.cols, data.scores)
    np.maximum.at(hi, data.cols, data.scores)
    kept, excluded = [], []
    for j, iid in enumerate(data.item_ids):
        if n[j] < min_responses:
            excluded.append((str(iid), f"too few responses ({n[j]} < {min_responses})"))
        elif lo[j] == hi[j]:
            excluded.append((str(iid), f"no variance (all {n[j]} responses = {lo[j]})"))
        else:
            kept.append(str(iid))
    return kept, excluded


def read_item_metadata(path: str | Path) -> pd.DataFrame:
    """Item metadata CSV (item_id, area[, competence, level, model]) indexed by item_id."""
    df = _read_csv(path)
    file = str(path)
    require_columns(df, ("item_id", "area"), file)
    df = df.apply(lambda s: s.str.strip())
    lines = np.arange(len(df)) + 2
    bad: list[tuple[int, str, str]] = []
    for k, row in enumerate(df.itertuples(index=False)):
        d = row._asdict()
        if not d["item_id"]:
            bad.append((int(lines[k]), "item_id", "empty item_id"))
        if not d["area"]:
            bad.append((int(lines[k]), "area", "empty area"))
        if "model" in d and d["model"] and d["model"].upper() not in KNOWN_MODELS:
            bad.append(
                (int(lines[k]), "model", f"unknown model {d['model']!r} (expected one of {KNOWN_MODELS})")
            )
        if "level" in d and d["level"]:
            try:
                lvl = int(d["level"])
                if not 1 <= lvl <= 8:
                    raise ValueError
            except ValueError:
                bad.append((int(lines[k]), "level", f"level {d['level']!r} is not an integer 1..8"))
    dup = df["item_id"].duplicated().to_numpy()
    bad += [(int(ln), "item_id", "duplicate item_id") for ln in lines[dup]]
    bad.sort()
    _raise_bad_rows(file, bad)
    if "model" in df.columns:
        df["model"] = df["model"].str.upper()
    return df.set_index("item_id")
