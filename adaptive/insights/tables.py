"""Shared inputs and outputs of the organisation insights: learner frames, timestamps, completions,
groupings (organisation / role / unit) with small-group suppression, report tables with CSV export.

Everything works on pandas/numpy data and knows nothing of HTTP or the database. ``learners``: a frame (or
records) ``learner_id, role, unit`` (role/unit may be blank: ``(none)``); ``events``: learning events
``learner_id, content_id, event, timestamp`` (only ``completed`` counts).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from adaptive.errors import ValidationError
from adaptive.insights.suppression import overlap_mask, suppression_mask

NONE_LABEL = "(none)"
GROUPINGS = ("organisation", "role", "unit")
ORGANISATION = "all"

# ============================================================================ inputs
def learners_frame(learners) -> pd.DataFrame:
    """``learner_id, role, unit`` as strings (missing role/unit -> ``(none)``); errors name the row."""
    frame = pd.DataFrame(learners).copy() if not isinstance(learners, pd.DataFrame) else learners.copy()
    if frame.empty and "learner_id" not in frame.columns:      # no learners at all (e.g. a new organisation)
        frame = pd.DataFrame(columns=["learner_id", "role", "unit"], dtype=object)
    if "learner_id" not in frame.columns:
        raise ValidationError("missing column", where="learners", field="learner_id")
    for col in ("role", "unit"):
        if col not in frame.columns:
            frame[col] = None
    frame = frame[["learner_id", "role", "unit"]].reset_index(drop=True)
    ids = frame["learner_id"]
    bad = ids.isna() | (ids.astype(str).str.strip() == "")
    if bad.any():
        raise ValidationError("blank learner id", where="learners", row=int(np.flatnonzero(bad)[0]) + 1,
                              field="learner_id")
    frame["learner_id"] = ids.astype(str)
    dup = frame["learner_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise ValidationError(f"learner {frame['learner_id'][i]!r} listed twice", where="learners", row=i + 1,
                              field="learner_id")
    for col in ("role", "unit"):
        v = frame[col]
        blank = v.isna() | (v.astype(str).str.strip() == "")
        frame[col] = np.where(blank, NONE_LABEL, v.astype(str).str.strip())
    return frame


def timestamps(values, where: str, field: str) -> pd.Series:
    """Timestamps (datetimes, ISO strings or epoch seconds) as UTC datetimes; NaT allowed."""
    s = pd.Series(values)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return pd.to_datetime(s, unit="s", utc=True)
    out = pd.to_datetime(s, utc=True, errors="coerce", format="mixed")
    bad = out.isna() & s.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValidationError(f"not a timestamp: {s.iloc[i]!r}", where=where, row=i + 1, field=field)
    return out



def completions_frame(events) -> pd.DataFrame:
    """The first ``completed`` event per (learner, content): ``learner_id, content_id, completed_at``."""
    frame = pd.DataFrame(events).copy() if not isinstance(events, pd.DataFrame) else events.copy()
    if frame.empty:
        return pd.DataFrame({"learner_id": pd.Series(dtype=object), "content_id": pd.Series(dtype=object),
                             "completed_at": pd.Series(dtype="datetime64[ns, UTC]")})
    for col in ("learner_id", "content_id", "event"):
        if col not in frame.columns:
            raise ValidationError("missing column", where="events", field=col)
    if "timestamp" not in frame.columns:
        frame["timestamp"] = None
    frame = frame.reset_index(drop=True)
    frame["completed_at"] = timestamps(frame["timestamp"], "events", "timestamp")
    frame = frame[frame["event"].astype(str) == "completed"]
    frame = frame.assign(learner_id=frame["learner_id"].astype(str),
                         content_id=frame["content_id"].astype(str))
    frame = frame.sort_values("completed_at", kind="stable", na_position="first")
    return frame.drop_duplicates(["learner_id", "content_id"])[["learner_id", "content_id", "completed_at"]]


def group_labels(learners: pd.DataFrame) -> dict[str, np.ndarray]:
    return {"organisation": np.full(len(learners), ORGANISATION, dtype=object),
            "role": learners["role"].to_numpy(dtype=object), "unit": learners["unit"].to_numpy(dtype=object)}


def group_sizes(labels: dict[str, np.ndarray], min_size: int) -> tuple[pd.DataFrame, set]:
    """``grouping, group, n, suppressed`` and the set of suppressed (grouping, group) pairs."""
    rows, members = [], []
    for grouping, lab in labels.items():
        lab = lab.astype(str)
        vals, counts = np.unique(lab, return_counts=True) if len(lab) else ([], [])
        mask = suppression_mask(np.asarray(counts, dtype=np.int64), min_size)
        rows += [(grouping, v, int(c), bool(m)) for v, c, m in zip(vals, counts, mask, strict=True)]
        members += [lab == v for v in vals]
    if members:   # groups of different groupings that differ by a few people (overlaps)
        mask = overlap_mask(np.vstack(members), min_size, [r[3] for r in rows])
        rows = [(g, v, c, bool(m)) for (g, v, c, _), m in zip(rows, mask, strict=True)]
    frame = pd.DataFrame(rows, columns=["grouping", "group", "n", "suppressed"])
    hidden = {(g, v) for g, v, _, m in rows if m}
    frame["n"] = frame["n"].astype("Int64").mask(frame["suppressed"])
    return frame, hidden


def write_tables_csv(tables: dict[str, pd.DataFrame], out_dir) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in tables.items():
        paths[name] = out / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


class TableReport:
    """Result tables with CSV export."""

    table_names: tuple[str, ...] = ()

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in self.table_names}

    def to_csv(self, name: str) -> str:
        if name not in self.table_names:
            raise ValidationError(f"unknown table {name!r}; known: {', '.join(self.table_names)}",
                                  field="table")
        return getattr(self, name).to_csv(index=False)

    def write_csv(self, out_dir) -> dict[str, Path]:
        return write_tables_csv(self.tables(), out_dir)


def as_records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: NaN/NaT -> None, numpy scalars -> Python, timestamps -> ISO 8601."""
    out = []
    for rec in frame.to_dict(orient="records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, pd.Timestamp):
                v = None if pd.isna(v) else v.isoformat()
            elif v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
                v = None
            elif isinstance(v, np.generic):
                v = v.item()
            clean[k] = v
        out.append(clean)
    return out

