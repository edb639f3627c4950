"""Learning catalogue, role profiles, learners and learning events: tables, validation, CSV/Parquet I/O.

Every loader validates row by row and raises :class:`adaptive.errors.DataFileError` naming the file, the
line (1-based, header = line 1; for Parquet the 1-based record number + 1 so it reads the same) and the
column. Tables are kept as pandas frames plus the numpy arrays the rankers use.

File formats (CSV or Parquet, chosen by suffix):

- catalogue: ``content_id, title, language, format, duration_minutes, competences, level``; ``competences``
  is a ``;``-separated list of DigComp competence ids (``"1.3;1.4"``), ``level`` the DigComp level 1..8 the
  content targets; ``language`` may list several (``"en;lt"``). Optional: ``outcomes`` (learning outcome
  or statement ids), ``framework`` (the framework whose level scheme ``level`` and ids are in, converted to
  the eight levels the rankers use) and ``status`` (``retired`` content is kept but never recommended):
  what ``digipath catalogue export`` writes reads here too.
- roles (long form): ``role_id, title, competence, required_level`` (one row per required competence).
- learners: ``learner_id, role_id[, language]`` and optionally one ``level_<competence>`` column per
  competence holding the learner's measured level (blank: unknown).
- events: ``learner_id, content_id, event, value, timestamp, event_id`` with ``event`` in
  viewed|enrolled|completed|rated. ``event`` may be absent (every row is a ``viewed``), ``value`` may be
  blank (1) and ``timestamp``/``event_id`` may be absent (row order is time order), so a plain public
  implicit-feedback log (user, item[, count]) loads too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from adaptive.errors import DataFileError, UnknownIdError

EVENT_TYPES = ("viewed", "enrolled", "completed", "rated")
FORMATS = ("course", "video", "article", "webinar", "exercise")
CATALOGUE_COLUMNS = ("content_id", "title", "language", "format", "duration_minutes", "competences", "level")
ROLE_COLUMNS = ("role_id", "title", "competence", "required_level")
EVENT_COLUMNS = ("learner_id", "content_id", "event", "value", "timestamp", "event_id")
LEVEL_PREFIX = "level_"


def default_competence_ids() -> tuple[str, ...]:
    """Competence ids of the packaged DigComp framework (``1.1`` .. ``5.4``)."""
    from adaptive.framework import load_framework

    return tuple(load_framework().competence_ids)


def competence_names() -> dict[str, str]:
    from adaptive.framework import load_framework

    return {c.id: c.name for c in load_framework().competences}


DELIMITERS = ",\t;|"


def sniff_delimiter(path: str | Path) -> str:
    """The delimiter of a text table (comma, tab, semicolon or pipe) guessed from its first lines."""
    import csv

    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        head = "".join(fh.readline() for _ in range(20))
    try:
        return csv.Sniffer().sniff(head, delimiters=DELIMITERS).delimiter
    except csv.Error:  # one column, or no delimiter the sniffer trusts: the most frequent candidate
        counts = {d: head.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def read_table(
    path: str | Path, name: str = "table", sep: str | None = None, names: Sequence[str] | None = None
) -> pd.DataFrame:
    """Read a CSV/TSV or Parquet file as strings (blank cells as ''); errors name the file.

    ``sep`` is the delimiter of a text file (None: sniffed among comma, tab, semicolon and pipe; ``\\t``
    may be written for a tab). ``names`` gives the columns of a file without a header row.
    """
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{name} file not found", file=str(path))
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            frame = frame.astype(object).where(frame.notna(), "").astype(str)
            if names:
                if len(names) != frame.shape[1]:
                    raise DataFileError(f"{len(names)} column names given for {frame.shape[1]} columns",
                                        file=str(path))
                frame.columns = list(names)
        else:
            sep = {"\\t": "\t", "tab": "\t"}.get(sep, sep) if sep else sniff_delimiter(path)
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, sep=sep, header=None if names else "infer",
                names=list(names) if names else None, index_col=False,
            )
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataFileError(f"cannot read {name}: {exc}", file=str(path)) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    for col in columns:
        if col not in frame.columns:
            raise DataFileError(
                f"missing column {col!r} (has {list(frame.columns)})", file=source, line=1, column=col
            )


def _first_bad(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def _to_numeric(
    frame: pd.DataFrame,
    col: str,
    source: str,
    *,
    integer: bool = False,
    lo=None,
    hi=None,
    allow_blank: bool = False,
    default=np.nan,
) -> np.ndarray:
    """Parse a column as numbers; the first bad cell raises with its line (header is line 1)."""
    raw = frame[col].astype(str).str.strip()
    blank = (raw == "").to_numpy()
    values = pd.to_numeric(raw.where(~blank, None), errors="coerce").to_numpy(dtype=float, copy=True)
    bad = np.isnan(values) & ~blank
    if not allow_blank:
        bad |= blank
    if integer:
        bad |= ~blank & ~np.isnan(values) & (values != np.round(values))
    if lo is not None:
        bad |= ~np.isnan(values) & (values < lo)
    if hi is not None:
        bad |= ~np.isnan(values) & (values > hi)
    row = _first_bad(bad)
    if row is not None:
        rng = f" in [{lo}, {hi}]" if lo is not None or hi is not None else ""
        kind = "an integer" if integer else "a number"
        raise DataFileError(
            f"{col} must be {kind}{rng}, got {raw.iloc[row]!r}", file=source, line=row + 2, column=col
        )
    values[blank] = default
    return values


def _check_ids(frame: pd.DataFrame, col: str, source: str, unique: bool = False) -> np.ndarray:
    ids = frame[col].astype(str).str.strip().to_numpy()
    row = _first_bad(ids == "")
    if row is not None:
        raise DataFileError(f"{col} is empty", file=source, line=row + 2, column=col)
    if unique:
        dup = pd.Series(ids).duplicated().to_numpy()
        row = _first_bad(dup)
        if row is not None:
            raise DataFileError(f"duplicate {col} {ids[row]!r}", file=source, line=row + 2, column=col)
    return ids


# ----------------------------------------------------------------------------------------------- catalogue
class Catalogue:
    """The learning catalogue: one row per content item, with arrays for vectorised ranking.

    ``competence_matrix`` is a (n_items, n_competences) 0/1 CSR matrix over ``competence_ids``
    (framework order); ``level`` is the targeted DigComp level (0 when unknown, e.g. a public data set
    without metadata); ``available`` is False for retired content (kept so ids and history stay, never
    recommended).
    """

    def __init__(self, items: pd.DataFrame, competence_ids: Sequence[str]):
        self.items = items.reset_index(drop=True)
        self.competence_ids = tuple(competence_ids)
        self.ids = self.items["content_id"].to_numpy(dtype=object).astype(str)
        self.index = {cid: i for i, cid in enumerate(self.ids)}
        self.titles = self.items["title"].astype(str).to_numpy()
        self.language = self.items["language"].astype(str).to_numpy()
        self.format = self.items["format"].astype(str).to_numpy()
        self.level = self.items["level"].to_numpy(dtype=np.int64)
        self.duration = self.items["duration_minutes"].to_numpy(dtype=float)
        self.competences = [tuple(c for c in str(s).split(";") if c) for s in self.items["competences"]]
        comp_index = {c: j for j, c in enumerate(self.competence_ids)}
        rows, cols = [], []
        for i, comps in enumerate(self.competences):
            for c in comps:
                rows.append(i)
                cols.append(comp_index[c])
        self.competence_matrix = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(len(self.ids), len(self.competence_ids)),
        )
        status = self.items["status"] if "status" in self.items.columns else None
        self.available = (
            (status.astype(str).str.strip() != "retired").to_numpy()
            if status is not None
            else np.ones(len(self.ids), dtype=bool)
        )
        self._language_masks: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, content_id: str) -> int:
        try:
            return self.index[content_id]
        except KeyError:
            raise UnknownIdError("content", content_id) from None

    def mask(self, language: str | None = None, format: str | None = None) -> np.ndarray:
        """Boolean (n_items,) mask of available content in the given language and/or format (None: any)."""
        keep = self.available.copy()
        if language is not None:
            keep &= self.in_language(language)
        if format is not None:
            keep &= self.format == format
        return keep

    def in_language(self, language: str) -> np.ndarray:
        """Content offered in ``language`` (one of its ``;``-separated languages); cached per language."""
        got = self._language_masks.get(language)
        if got is None:
            got = self.language == language
            multi = np.flatnonzero(np.char.find(self.language.astype(str), ";") >= 0)
            for i in multi:
                got[i] = language in self.language[i].split(";")
            self._language_masks[language] = got
        return got

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, competence_ids: Sequence[str] | None = None, source: str = "<catalogue>"
    ) -> Catalogue:
        frame = frame.copy()
        frame.columns = [str(c).strip() for c in frame.columns]
        _require_columns(frame, ("content_id",), source)
        for col, default in (
            ("title", ""),
            ("language", ""),
            ("format", ""),
            ("duration_minutes", ""),
            ("competences", ""),
            ("level", ""),
        ):
            if col not in frame.columns:
                frame[col] = default
        frame = frame.astype({c: str for c in CATALOGUE_COLUMNS})
        ids = _check_ids(frame, "content_id", source, unique=True)
        competence_ids = tuple(competence_ids) if competence_ids is not None else default_competence_ids()
        known = set(competence_ids)
        for i, cell in enumerate(frame["competences"].to_numpy()):
            for c in (x.strip() for x in str(cell).split(";") if x.strip()):
                if c not in known:
                    raise DataFileError(
                        f"unknown DigComp competence {c!r} for content {ids[i]!r}",
                        file=source,
                        line=i + 2,
                        column="competences",
                    )
        fmt = frame["format"].str.strip().to_numpy()
        bad = ~np.isin(fmt, (*FORMATS, ""))
        row = _first_bad(bad)
        if row is not None:
            raise DataFileError(
                f"format must be one of {FORMATS}, got {fmt[row]!r}",
                file=source,
                line=row + 2,
                column="format",
            )
        if "framework" in frame.columns:
            level = _framework_levels(frame, ids, source)
        else:
            level = _to_numeric(frame, "level", source, integer=True, lo=1, hi=8, allow_blank=True, default=0)
        duration = _to_numeric(frame, "duration_minutes", source, lo=0, allow_blank=True)
        tags = _outcome_tags(frame, ids, known, source) if "outcomes" in frame.columns else None
        status = frame["status"].str.strip().to_numpy() if "status" in frame.columns else None
        if status is not None:
            row = _first_bad(~np.isin(status, ("active", "retired", "")))
            if row is not None:
                raise DataFileError(f"status must be active or retired, got {status[row]!r}", file=source,
                                    line=row + 2, column="status")
        if tags is not None:
            # content tagged with learning outcomes develops their competences and, unless its level is
            # given, targets the top of the eight-level range of its highest outcome level
            frame["competences"] = [
                ";".join(dict.fromkeys([*(x.strip() for x in str(c).split(";") if x.strip()), *comps]))
                for c, comps in zip(frame["competences"], tags[1], strict=True)
            ]
            level = np.where(level > 0, level, tags[2])
        items = pd.DataFrame(
            {
                "content_id": ids,
                "title": frame["title"].str.strip().to_numpy(),
                "language": frame["language"].str.strip().to_numpy(),
                "format": fmt,
                "duration_minutes": duration,
                "competences": [
                    ";".join(x.strip() for x in str(s).split(";") if x.strip()) for s in frame["competences"]
                ],
                "level": level.astype(np.int64),
                # with a framework column the outcomes are folded into competences and the eight-level
                # level; kept as a column they would be read back as DigComp 3.0 ids from a saved bundle
                **({"outcomes": tags[0]} if tags is not None and "framework" not in frame.columns else {}),
                **({"status": np.where(status == "", "active", status)} if status is not None else {}),
            }
        )
        return cls(items, competence_ids)

    @classmethod
    def from_ids(cls, content_ids: Iterable[str], competence_ids: Sequence[str] = ()) -> Catalogue:
        """A metadata-free catalogue for an event log that comes without one (public data sets)."""
        ids = pd.unique(pd.Series([str(x) for x in content_ids]))
        frame = pd.DataFrame(
            {
                "content_id": ids,
                "title": ids,
                "language": "",
                "format": "",
                "duration_minutes": np.nan,
                "competences": "",
                "level": 0,
            }
        )
        return cls(frame, competence_ids)

    @classmethod
    def read(cls, path: str | Path, competence_ids: Sequence[str] | None = None) -> Catalogue:
        return cls.from_frame(read_table(path, "catalogue"), competence_ids, source=str(path))

    def to_frame(self) -> pd.DataFrame:
        out = self.items.copy()
        out["level"] = [str(int(v)) if v > 0 else "" for v in out["level"]]  # 0 = unknown -> blank
        return out

    def write(self, path: str | Path) -> Path:
        return write_table(self.to_frame(), path)


RANKING_SCHEME = "eight-level"  # the scheme of learners' levels and role requirements the rankers compare
LEVELS_FRAMEWORK = "digcomp-2.2"  # whose eight-level scheme ``level`` is in without a ``framework``
OUTCOMES_FRAMEWORK = "digcomp-3.0"  # whose outcome ids an ``outcomes`` column holds without ``framework``


def ranking_level(framework, level: int) -> int:
    """A level of ``framework``'s own scheme on the rankers' eight-level scale (the top of the range it
    maps to, as for outcomes); 0 (unknown) when the framework's scheme has no mapping to it."""
    if framework.scheme_id == RANKING_SCHEME:
        return int(level)
    to_eight = framework.mapping(framework.scheme_id, RANKING_SCHEME)
    return max(to_eight.targets(int(level))) if to_eight is not None else 0


def framework_statements(framework) -> dict:
    """Learning outcomes and competence statements of a framework by id (what content may be tagged with)."""
    return {o.id: o for o in (*framework.statements, *framework.outcomes)}


def _row_frameworks(frame: pd.DataFrame, source: str, default: str) -> list:
    from adaptive.errors import UnknownIdError
    from adaptive.framework import get_framework

    cells = frame["framework"].str.strip().to_numpy() if "framework" in frame.columns else None
    out = []
    for i in range(len(frame)):
        fid = (cells[i] if cells is not None else "") or default
        try:
            out.append(get_framework(fid))
        except UnknownIdError as exc:
            raise DataFileError(str(exc), file=source, line=i + 2, column="framework") from None
    return out


def _framework_levels(frame: pd.DataFrame, ids, source: str) -> np.ndarray:
    """``level`` cells (a number or code of the row's framework's level scheme) on the eight-level scale."""
    from adaptive.errors import UnknownIdError

    frameworks = _row_frameworks(frame, source, LEVELS_FRAMEWORK)
    levels = np.zeros(len(frame), dtype=np.int64)
    for i, cell in enumerate(frame["level"].str.strip().to_numpy()):
        if not cell:
            continue
        fw = frameworks[i]
        try:
            number = fw.level_scheme.number(int(cell) if cell.isdigit() else cell)
        except UnknownIdError as exc:
            raise DataFileError(f"{exc} for content {ids[i]!r}", file=source, line=i + 2,
                                column="level") from None
        levels[i] = ranking_level(fw, number)
    return levels


def _outcome_tags(frame: pd.DataFrame, ids, known: set[str], source: str):
    """(outcomes cells, competences per row, eight-level target per row) of a catalogue ``outcomes``
    column: ``;``-separated learning outcome (or statement) ids of the row's framework (DigComp 3.0's
    ``LO1.1.01`` without a ``framework`` column)."""
    frameworks = _row_frameworks(frame, source, OUTCOMES_FRAMEWORK)
    by_fw: dict[str, dict] = {}
    cells, comps, levels = [], [], np.zeros(len(frame), dtype=np.int64)
    for i, cell in enumerate(frame["outcomes"].fillna("").astype(str).to_numpy()):
        fw = frameworks[i]
        by_id = by_fw.setdefault(fw.id, framework_statements(fw))
        tagged = [x.strip() for x in cell.split(";") if x.strip()]
        for x in tagged:
            if x not in by_id:
                raise DataFileError(f"unknown {fw.name} {fw.version} learning outcome {x!r} for content "
                                    f"{ids[i]!r}", file=source, line=i + 2, column="outcomes")
            if by_id[x].competence_id not in known:
                raise DataFileError(f"outcome {x!r} is of competence {by_id[x].competence_id!r}, not in the "
                                    "catalogue's framework", file=source, line=i + 2, column="outcomes")
        cells.append(";".join(tagged))
        comps.append(list(dict.fromkeys(by_id[x].competence_id for x in tagged)))
        if tagged:
            levels[i] = max(ranking_level(fw, by_id[x].level) for x in tagged)
    return cells, comps, levels


# ----------------------------------------------------------------------------------------------- roles
class RoleProfiles:
    """Role profiles: required DigComp level per competence (0 = not required), (n_roles, n_comp)."""

    def __init__(
        self,
        role_ids: Sequence[str],
        titles: Sequence[str],
        required: np.ndarray,
        competence_ids: Sequence[str],
    ):
        self.role_ids = tuple(str(r) for r in role_ids)
        self.titles = tuple(titles)
        self.required = np.asarray(required, dtype=np.int64)
        self.competence_ids = tuple(competence_ids)
        self.index = {r: i for i, r in enumerate(self.role_ids)}

    def __len__(self) -> int:
        return len(self.role_ids)

    def position(self, role_id: str) -> int:
        try:
            return self.index[role_id]
        except KeyError:
            raise UnknownIdError("role", role_id) from None

    def title(self, role_id: str) -> str:
        return self.titles[self.position(role_id)]

    def required_levels(self, role_id: str) -> dict[str, int]:
        row = self.required[self.position(role_id)]
        return {c: int(v) for c, v in zip(self.competence_ids, row, strict=True) if v > 0}

    @classmethod
    def empty(cls, competence_ids: Sequence[str] = ()) -> RoleProfiles:
        return cls((), (), np.zeros((0, len(competence_ids)), dtype=np.int64), competence_ids)

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, competence_ids: Sequence[str] | None = None, source: str = "<roles>"
    ) -> RoleProfiles:
        frame = frame.astype(str)
        frame.columns = [str(c).strip() for c in frame.columns]
        _require_columns(frame, ROLE_COLUMNS, source)
        competence_ids = tuple(competence_ids) if competence_ids is not None else default_competence_ids()
        comp_index = {c: j for j, c in enumerate(competence_ids)}
        role_ids = _check_ids(frame, "role_id", source)
        comps = frame["competence"].str.strip().to_numpy()
        for i, c in enumerate(comps):
            if c not in comp_index:
                raise DataFileError(
                    f"unknown DigComp competence {c!r}", file=source, line=i + 2, column="competence"
                )
        levels = _to_numeric(frame, "required_level", source, integer=True, lo=1, hi=8).astype(np.int64)
        order = list(pd.unique(pd.Series(role_ids)))
        rindex = {r: i for i, r in enumerate(order)}
        titles = [""] * len(order)
        required = np.zeros((len(order), len(competence_ids)), dtype=np.int64)
        seen: set[tuple[str, str]] = set()
        for i, (r, c, lv, t) in enumerate(
            zip(role_ids, comps, levels, frame["title"].str.strip(), strict=True)
        ):
            if (r, c) in seen:
                raise DataFileError(
                    f"role {r!r} lists competence {c!r} twice", file=source, line=i + 2, column="competence"
                )
            seen.add((r, c))
            required[rindex[r], comp_index[c]] = lv
            titles[rindex[r]] = titles[rindex[r]] or t
        return cls(order, titles, required, competence_ids)

    @classmethod
    def read(cls, path: str | Path, competence_ids: Sequence[str] | None = None) -> RoleProfiles:
        return cls.from_frame(read_table(path, "roles"), competence_ids, source=str(path))

    def to_frame(self) -> pd.DataFrame:
        rows = [
            (r, t, c, int(lv))
            for r, t, req in zip(self.role_ids, self.titles, self.required, strict=True)
            for c, lv in zip(self.competence_ids, req, strict=True)
            if lv > 0
        ]
        return pd.DataFrame(rows, columns=list(ROLE_COLUMNS))

    def write(self, path: str | Path) -> Path:
        return write_table(self.to_frame(), path)


# ----------------------------------------------------------------------------------------------- learners
@dataclass
class Learners:
    """Known learners: role and (optionally) measured level per competence (NaN: unknown)."""

    ids: np.ndarray
    role_ids: np.ndarray  # '' for no role
    levels: np.ndarray  # (n, n_comp) float, NaN = unknown
    competence_ids: tuple[str, ...]
    language: np.ndarray = field(default=None)

    def __post_init__(self):
        self.ids = np.asarray(self.ids).astype(str)
        self.role_ids = np.asarray(self.role_ids).astype(str)
        self.levels = np.asarray(self.levels, dtype=float)
        if self.language is None:
            self.language = np.full(len(self.ids), "", dtype=object)
        self.index = {x: i for i, x in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        competence_ids: Sequence[str] | None = None,
        roles: RoleProfiles | None = None,
        source: str = "<learners>",
    ) -> Learners:
        frame = frame.astype(str)
        _require_columns(frame, ("learner_id",), source)
        competence_ids = tuple(competence_ids) if competence_ids is not None else default_competence_ids()
        ids = _check_ids(frame, "learner_id", source, unique=True)
        role_ids = (
            frame["role_id"].str.strip().to_numpy() if "role_id" in frame.columns else np.full(len(ids), "")
        )
        if roles is not None:
            for i, r in enumerate(role_ids):
                if r and r not in roles.index:
                    raise DataFileError(f"unknown role {r!r}", file=source, line=i + 2, column="role_id")
        levels = np.full((len(ids), len(competence_ids)), np.nan)
        known = set(competence_ids)
        for col in frame.columns:
            if col.startswith(LEVEL_PREFIX):
                comp = col[len(LEVEL_PREFIX) :]
                if comp not in known:
                    raise DataFileError(
                        f"unknown DigComp competence {comp!r} in column name", file=source, line=1, column=col
                    )
                levels[:, competence_ids.index(comp)] = _to_numeric(
                    frame, col, source, lo=1, hi=8, allow_blank=True
                )
        language = frame["language"].str.strip().to_numpy() if "language" in frame.columns else None
        return cls(ids, role_ids, levels, competence_ids, language)

    @classmethod
    def read(
        cls, path: str | Path, competence_ids: Sequence[str] | None = None, roles: RoleProfiles | None = None
    ) -> Learners:
        return cls.from_frame(read_table(path, "learners"), competence_ids, roles, source=str(path))

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame({"learner_id": self.ids, "role_id": self.role_ids, "language": self.language})
        for j, c in enumerate(self.competence_ids):
            frame[LEVEL_PREFIX + c] = self.levels[:, j]
        return frame

    def write(self, path: str | Path) -> Path:
        return write_table(self.to_frame(), path)


# ----------------------------------------------------------------------------------------------- events
def validate_events(frame: pd.DataFrame, source: str = "<events>") -> pd.DataFrame:
    """Validate and normalise an event table; returns columns ``EVENT_COLUMNS`` sorted by time.

    ``timestamp`` becomes float seconds since the epoch (ISO strings or numbers accepted).
    """
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    _require_columns(frame, ("learner_id", "content_id"), source)
    frame = frame.astype(str)
    n = len(frame)
    learners = _check_ids(frame, "learner_id", source)
    content = _check_ids(frame, "content_id", source)
    if "event" in frame.columns:
        event = frame["event"].str.strip().str.lower().to_numpy()
        row = _first_bad(~np.isin(event, EVENT_TYPES))
        if row is not None:
            raise DataFileError(
                f"event must be one of {EVENT_TYPES}, got {frame['event'].iloc[row]!r}",
                file=source,
                line=row + 2,
                column="event",
            )
    else:
        event = np.full(n, "viewed", dtype=object)
    value = (
        _to_numeric(frame, "value", source, allow_blank=True, default=np.nan)
        if "value" in frame.columns
        else np.full(n, np.nan)
    )
    rated = event == "rated"
    row = _first_bad(rated & np.isnan(value))
    if row is not None:
        raise DataFileError(
            "a 'rated' event needs a numeric value", file=source, line=row + 2, column="value"
        )
    value = np.where(np.isnan(value), 1.0, value)
    row = _first_bad(~rated & (value < 0))
    if row is not None:
        raise DataFileError(
            "value (a count) must be >= 0 for viewed/enrolled/completed",
            file=source,
            line=row + 2,
            column="value",
        )
    if "timestamp" in frame.columns:
        raw = frame["timestamp"].str.strip()
        numeric = pd.to_numeric(raw, errors="coerce")
        ts = numeric.to_numpy(dtype=float, copy=True)
        need = np.isnan(ts)
        if need.any():
            parsed = pd.to_datetime(raw[need], errors="coerce", utc=True, format="ISO8601")
            secs = np.full(need.sum(), np.nan)
            ok = parsed.notna().to_numpy()
            if ok.any():  # resolution-agnostic (pandas 3 may parse to s/ms/us)
                epoch = pd.Timestamp(0, tz="UTC")
                secs[ok] = (parsed[ok] - epoch).dt.total_seconds().to_numpy()
            ts[need] = secs
        row = _first_bad(np.isnan(ts))
        if row is not None:
            raise DataFileError(
                f"timestamp must be ISO 8601 or seconds since the epoch, got {raw.iloc[row]!r}",
                file=source,
                line=row + 2,
                column="timestamp",
            )
    else:
        ts = np.arange(n, dtype=float)
    if "event_id" in frame.columns:
        event_id = _check_ids(frame, "event_id", source, unique=True)
    else:
        event_id = np.array([f"e{i}" for i in range(n)], dtype=object)
    out = pd.DataFrame(
        {
            "learner_id": learners,
            "content_id": content,
            "event": event,
            "value": value,
            "timestamp": ts,
            "event_id": event_id,
        }
    )
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def read_events(
    path: str | Path,
    rename: dict[str, str] | None = None,
    sep: str | None = None,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read and validate an event log (CSV/TSV/Parquet). ``rename`` maps file columns to ours; ``sep``
    and ``names`` as in :func:`read_table`."""
    frame = read_table(path, "events", sep=sep, names=names)
    if rename:
        missing = [c for c in rename if c not in frame.columns]
        if missing:
            raise DataFileError(
                f"cannot rename column {missing[0]!r}: not in the file (has {list(frame.columns)})",
                file=str(path), line=1, column=missing[0],
            )
        frame = frame.rename(columns=rename)
    if not names and "learner_id" not in frame.columns and _looks_like_data(frame.columns):
        raise DataFileError(
            f"the first row {list(frame.columns)} looks like data, not a header: name the columns "
            "(--names learner_id,content_id,value,timestamp)", file=str(path), line=1)
    return validate_events(frame, source=str(path))


def _looks_like_data(columns) -> bool:
    return sum(str(c).replace(".", "", 1).isdigit() for c in columns) >= 2


def write_events(events: pd.DataFrame, path: str | Path) -> Path:
    out = events.copy()
    out["timestamp"] = pd.to_datetime(out["timestamp"], unit="s", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return write_table(out[list(EVENT_COLUMNS)], path)


def unknown_content(events: pd.DataFrame, catalogue: Catalogue) -> dict[str, int]:
    """Content ids in the events that the catalogue does not know, with their event counts."""
    known = np.isin(events["content_id"].to_numpy(dtype=str), catalogue.ids)
    if known.all():
        return {}
    counts = events.loc[~known, "content_id"].value_counts()
    return {str(k): int(v) for k, v in counts.items()}
