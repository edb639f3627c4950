"""The catalogue an academy maintains (live data), validated, and merged with a bundle's at serving time.

A content record (what the API takes and ``digipath catalogue import`` reads, one row per content):

- ``content_id``; ``title`` and ``titles`` (translations, ``{language: title}``; in a file one
  ``title_<language>`` column each); ``format`` (one of :data:`recommender.data.FORMATS`); ``languages``
  (in a file ``language``, ``;``-separated); ``framework`` (a loaded framework id, default
  :data:`DEFAULT_FRAMEWORK`) whose ids and level scheme ``competences``, ``outcomes`` (its learning
  outcome or competence statement ids) and ``level`` (a level number or code of its scheme) are in;
  ``duration_minutes``; ``url``; ``status`` (``active`` or ``retired``).

The rankers compare content with learners on the eight-level scale over the bundle's competences
(:func:`recommender.data.ranking_level`); content tagged with another framework's competences that the
bundle does not rank is kept and served by id, only without those tags in its score.

:func:`merge_catalogue` builds what a bundle serves for one academy: the bundle's content in the bundle's
order (the model's columns; content the academy does not list, or retired, is kept but never
recommended) with the academy's titles and tags, followed by the academy's content the model has never
seen, which :class:`recommender.rankers.cold_start.ColdStartRanker` scores from its tags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from adaptive.errors import DataFileError, UnknownIdError, ValidationError
from recommender.data import (
    FORMATS,
    LEVELS_FRAMEWORK,
    Catalogue,
    framework_statements,
    read_table,
    write_table,
)

DEFAULT_FRAMEWORK = LEVELS_FRAMEWORK  # the eight-level scheme the bundle's catalogue and roles are in
STATUSES = ("active", "retired")
CONTENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"
# the file form: what ``catalogue export`` writes and ``catalogue import`` / ``recommender train`` read
FILE_COLUMNS = ("content_id", "title", "format", "language", "framework", "competences", "outcomes", "level",
                "duration_minutes", "url", "status")
TITLE_PREFIX = "title_"
SEED_FILE = "catalogue_live.csv"  # the demo bundle's catalogue as records: bootstrap writes, serve seeds
FIELDS = ("content_id", "title", "titles", "format", "languages", "framework", "competences", "outcomes",
          "level", "duration_minutes", "url", "status")


def _fail(reason: str, field: str) -> ValidationError:
    return ValidationError(reason, field=field)


def _text(value, field: str, max_len: int, required: bool = True) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise _fail("is required", field)
    if len(text) > max_len:
        raise _fail(f"at most {max_len} characters, got {len(text)}", field)
    return text


def _id_list(value, field: str) -> list[str]:
    if value is None or value == "":
        return []
    items = value.split(";") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise _fail("must be a list of ids", field)
    out = [str(x).strip() for x in items if str(x).strip()]
    return list(dict.fromkeys(out))


def validate_content(record: dict) -> dict:
    """A content record checked against its framework and normalised (the form stored and exported).

    Raises :class:`ValidationError` naming the field; unknown fields are refused so a typo is not lost.
    """
    from adaptive.framework import get_framework

    unknown = sorted(set(record) - set(FIELDS))
    if unknown:
        raise _fail(f"unknown field; known: {', '.join(FIELDS)}", unknown[0])
    content_id = _text(record.get("content_id"), "content_id", 128)
    if not re.fullmatch(CONTENT_ID_PATTERN, content_id):
        raise _fail(f"{content_id!r}: letters, digits and . _ : @ - (not first)", "content_id")
    title = _text(record.get("title"), "title", 500)
    titles = record.get("titles") or {}
    if not isinstance(titles, dict):
        raise _fail("must map a language code to a title", "titles")
    clean_titles = {}
    for lang, text in titles.items():
        if not re.fullmatch(LANGUAGE_PATTERN, str(lang)):
            raise _fail(f"{lang!r} is not a language code (en, lt, pt-BR)", "titles")
        if text is not None and str(text).strip():
            clean_titles[str(lang)] = _text(text, "titles", 500)
    fmt = _text(record.get("format"), "format", 32)
    if fmt not in FORMATS:
        raise _fail(f"must be one of {', '.join(FORMATS)}, got {fmt!r}", "format")
    languages = _id_list(record.get("languages"), "languages")
    if not languages:
        raise _fail("at least one language code is required", "languages")
    for lang in languages:
        if not re.fullmatch(LANGUAGE_PATTERN, lang):
            raise _fail(f"{lang!r} is not a language code (en, lt, pt-BR)", "languages")
    framework_id = _text(record.get("framework") or DEFAULT_FRAMEWORK, "framework", 64)
    try:
        fw = get_framework(framework_id)
    except UnknownIdError as exc:
        raise _fail(str(exc), "framework") from None
    competences = _id_list(record.get("competences"), "competences")
    for c in competences:
        if c not in set(fw.competence_ids):
            raise _fail(f"unknown competence {c!r} in {fw.id}", "competences")
    outcomes = _id_list(record.get("outcomes"), "outcomes")
    statements = framework_statements(fw) if outcomes else {}
    for o in outcomes:
        if o not in statements:
            raise _fail(f"unknown learning outcome or statement {o!r} in {fw.id}", "outcomes")
    level = record.get("level")
    if level is not None and str(level).strip() != "":
        raw = str(level).strip()
        try:
            level = fw.level_scheme.number(int(raw) if raw.isdigit() else raw)
        except UnknownIdError as exc:
            raise _fail(str(exc), "level") from None
    else:
        level = None
    if not competences and not outcomes:
        raise _fail("tag the content with competences or learning outcomes (what it develops)", "competences")
    duration = record.get("duration_minutes")
    if duration is not None and str(duration).strip() != "":
        try:
            duration = float(duration)
        except (TypeError, ValueError):
            raise _fail(f"must be a number of minutes, got {duration!r}", "duration_minutes") from None
        if not np.isfinite(duration) or not 0 <= duration <= 100_000:
            raise _fail(f"must be between 0 and 100000 minutes, got {duration}", "duration_minutes")
    else:
        duration = None
    url = _text(record.get("url"), "url", 2000, required=False) or None
    if url is not None and not re.fullmatch(r"https?://[^\s]+", url):
        raise _fail("must be an http(s) address", "url")
    status = _text(record.get("status") or "active", "status", 16)
    if status not in STATUSES:
        raise _fail(f"must be active or retired, got {status!r}", "status")
    return {
        "content_id": content_id, "title": title, "titles": clean_titles, "format": fmt,
        "languages": languages, "framework": fw.id, "competences": competences, "outcomes": outcomes,
        "level": level, "duration_minutes": duration, "url": url, "status": status,
    }


# ------------------------------------------------------------------------------------------ files
def read_content_file(path: str | Path) -> list[dict]:
    """Validated content records of a catalogue file (CSV/TSV/Parquet). The first bad row raises
    :class:`DataFileError` naming the file, the line (header = line 1) and the column; nothing is
    returned then, so an import with a bad row changes nothing."""
    frame = read_table(path, "catalogue")
    source = str(path)
    if "content_id" not in frame.columns:
        raise DataFileError(f"missing column 'content_id' (has {list(frame.columns)})", file=source, line=1,
                            column="content_id")
    known = {*FILE_COLUMNS, "languages", "titles"}
    for col in frame.columns:
        if col not in known and not col.startswith(TITLE_PREFIX):
            raise DataFileError(f"unknown column {col!r}; known: {', '.join(FILE_COLUMNS)}, title_<language>",
                                file=source, line=1, column=col)
    title_cols = [c for c in frame.columns if c.startswith(TITLE_PREFIX)]
    records, seen = [], {}
    for i, row in enumerate(frame.to_dict(orient="records")):
        line = i + 2
        rec = {k: row[k] for k in FILE_COLUMNS if k in row and k != "language"}
        rec["languages"] = row.get("language", row.get("languages", ""))
        rec["titles"] = {c[len(TITLE_PREFIX):]: row[c] for c in title_cols}
        try:
            clean = validate_content(rec)
        except ValidationError as exc:
            column = {"languages": "language", "titles": None}.get(exc.field, exc.field)
            if exc.field == "titles":
                column = next((c for c in title_cols if str(row[c]).strip()), "title")
            raise DataFileError(exc.reason, file=source, line=line, column=column) from None
        if clean["content_id"] in seen:
            raise DataFileError(f"duplicate content_id {clean['content_id']!r} (first on line "
                                f"{seen[clean['content_id']]})", file=source, line=line, column="content_id")
        seen[clean["content_id"]] = line
        records.append(clean)
    return records


def content_frame(records: Iterable[dict]) -> pd.DataFrame:
    """Records in the file form (:data:`FILE_COLUMNS` plus one ``title_<language>`` column per
    translation): what ``catalogue export`` writes, ``catalogue import`` and ``recommender train`` read."""
    records = list(records)
    langs = sorted({lang for r in records for lang in (r.get("titles") or {})})
    rows = []
    for r in records:
        row = {
            "content_id": r["content_id"], "title": r["title"], "format": r["format"],
            "language": ";".join(r["languages"]), "framework": r["framework"],
            "competences": ";".join(r["competences"]), "outcomes": ";".join(r["outcomes"]),
            "level": "" if r.get("level") is None else str(int(r["level"])),
            "duration_minutes": _minutes(r.get("duration_minutes")),
            "url": r.get("url") or "", "status": r.get("status") or "active",
        }
        for lang in langs:
            row[TITLE_PREFIX + lang] = (r.get("titles") or {}).get(lang, "")
        rows.append(row)
    return pd.DataFrame(rows, columns=[*FILE_COLUMNS, *(TITLE_PREFIX + x for x in langs)])


def write_content_file(records: Iterable[dict], path: str | Path) -> Path:
    return write_table(content_frame(records), path)


def records_from_catalogue(catalogue: Catalogue) -> list[dict]:
    """A bundle's catalogue as content records (the demo academy's catalogue is seeded from it)."""
    out = []
    for i, cid in enumerate(catalogue.ids):
        duration = catalogue.duration[i]
        out.append(validate_content({
            "content_id": str(cid), "title": str(catalogue.titles[i]) or str(cid),
            "format": str(catalogue.format[i]) or "course",
            "languages": str(catalogue.language[i]) or "en",
            # the bundle's levels are eight-level, its competences already hold those of its outcomes
            "framework": DEFAULT_FRAMEWORK,
            "competences": list(catalogue.competences[i]),
            "level": int(catalogue.level[i]) or None,
            "duration_minutes": None if np.isnan(duration) else float(duration),
        }))
    return out


# ------------------------------------------------------------------------------------------ merging
def merge_catalogue(known: Catalogue, records: Sequence[dict]) -> Catalogue:
    """What a bundle trained on ``known`` serves for an academy whose catalogue is ``records``.

    Positions ``0 .. len(known) - 1`` are the bundle's content in its order (so the model's scores line
    up); the academy's records replace their titles and tags, and content the academy does not list
    or has retired is unavailable. The academy's other content follows, in record order.
    """
    comp_ids = known.competence_ids
    ranked = set(comp_ids)
    by_id = {r["content_id"]: r for r in records}
    rows = []
    for i, cid in enumerate(known.ids):
        r = by_id.get(str(cid))
        if r is None:
            rows.append(_known_row(known, i))
        else:
            rows.append(_ranking_row(r, ranked))
    known_ids = set(known.index)
    rows.extend(_ranking_row(r, ranked) for r in records if r["content_id"] not in known_ids)
    frame = pd.DataFrame(rows, columns=["content_id", "title", "language", "format", "duration_minutes",
                                        "competences", "outcomes", "level", "framework", "status"])
    if not any(r["outcomes"] for r in records):
        frame = frame.drop(columns="outcomes")
    return Catalogue.from_frame(frame, comp_ids, source="<live catalogue>")


def _known_row(known: Catalogue, i: int) -> dict:
    """A bundle item the academy does not list: kept in place, never recommended."""
    return {"content_id": str(known.ids[i]), "title": str(known.titles[i]),
            "language": str(known.language[i]),
            "format": str(known.format[i]), "duration_minutes": _minutes(known.duration[i]),
            "competences": ";".join(known.competences[i]), "outcomes": "",
            "level": str(int(known.level[i])) if known.level[i] > 0 else "", "framework": DEFAULT_FRAMEWORK,
            "status": "retired"}


def _minutes(value) -> str:
    return "" if value is None or value != value else f"{float(value):g}"


def _ranking_row(r: dict, ranked: set[str]) -> dict:
    from adaptive.framework import get_framework

    fw = get_framework(r["framework"])
    statements = framework_statements(fw) if r["outcomes"] else {}
    # only tags the bundle ranks on: another framework's competences stay in the record, not in the score
    outcomes = [o for o in r["outcomes"] if statements[o].competence_id in ranked]
    return {"content_id": r["content_id"], "title": r["title"], "language": ";".join(r["languages"]),
            "format": r["format"], "duration_minutes": _minutes(r.get("duration_minutes")),
            "competences": ";".join(c for c in r["competences"] if c in ranked),
            "outcomes": ";".join(outcomes),
            "level": "" if r.get("level") is None else str(r["level"]), "framework": fw.id,
            "status": r.get("status") or "active"}


__all__ = ["DEFAULT_FRAMEWORK", "FILE_COLUMNS", "validate_content", "read_content_file", "content_frame",
           "write_content_file", "records_from_catalogue", "merge_catalogue"]
