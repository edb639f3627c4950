"""Competence frameworks as data: areas, competences, a level scheme of any size with mappings to other
schemes, competence statements and learning outcomes, a glossary, texts per language and provenance.

Three ways in, one model out (:class:`Framework`):

- the digipath framework JSON (``digipath-framework/1``, documented in ``adaptive/data/README.md``): what
  an academy writes for its own framework, and what :meth:`Framework.to_dict` writes (round trip);
  the older DigComp 2.2 shape (``levels`` with ``group``, no ``level_scheme``) is read as well;
- the JRC's DigComp 3.0 Data Supplement (JSON-LD, ``@graph``), read unchanged by :func:`from_jsonld`;
- the packaged frameworks (:func:`packaged_frameworks`): DigComp 2.2 and DigComp 3.0, listed with their
  provenance in ``adaptive/data/frameworks.json``.

Nothing here assumes a number of levels: a framework's own scheme (``level_scheme``) has as many levels
as its data says, and results are reported in it. Loading validates everything; an error is a
``DataFileError`` naming the file, the entry (``competences[3].area_id``) and what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from adaptive.errors import DataFileError, UnknownIdError
from adaptive.jsonio import read_json_file

DATA_DIR = Path(__file__).parent / "data"
PACKAGED_FRAMEWORK = DATA_DIR / "digcomp-2.2.json"
PACKAGED_MANIFEST = DATA_DIR / "frameworks.json"
FORMAT = "digipath-framework/1"
DEFAULT_FRAMEWORK_ID = "digcomp-2.2"  # load_framework() without a path, as before
# DigComp 2.2's four groups of its eight levels (kept for callers of the 2.2 model)
LEVEL_GROUPS = ("foundation", "intermediate", "advanced", "highly specialised")
STATEMENT_TYPES = ("knowledge", "skill", "attitude")

Translations = dict[str, dict[str, str]]  # language -> field -> text


def _tr() -> Any:
    # a dict field of a frozen dataclass: compared, never hashed
    return field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Area:
    id: str
    name: str
    description: str = ""
    translations: Translations = _tr()


@dataclass(frozen=True)
class Competence:
    id: str
    area_id: str
    name: str
    description: str = ""
    translations: Translations = _tr()


@dataclass(frozen=True)
class ProficiencyLevel:
    level: int  # 1..L within its scheme
    group: str = ""  # DigComp 2.2: foundation, intermediate, ...
    # DigComp 2.2 describes each level by task complexity, autonomy and cognitive domain
    complexity: str = ""
    autonomy: str = ""
    cognitive_domain: str = ""
    code: str = ""  # short label: "Basic", "B1", "3" (default: the number)
    name: str = ""
    description: str = ""
    translations: Translations = _tr()

    @property
    def label(self) -> str:
        return self.code or str(self.level)


@dataclass(frozen=True)
class LevelScheme:
    id: str
    name: str
    levels: tuple[ProficiencyLevel, ...]

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(lv.label for lv in self.levels)

    def level(self, level: int) -> ProficiencyLevel:
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= len(self.levels):
            raise UnknownIdError(
                "level",
                str(level),
                f"unknown proficiency level {level!r} in scheme {self.id!r} (1..{len(self.levels)})",
            )
        return self.levels[level - 1]

    def number(self, code_or_level: str | int) -> int:
        """The level number of a code ("B1", "Basic") or number (``UnknownIdError`` otherwise)."""
        if isinstance(code_or_level, int) and not isinstance(code_or_level, bool):
            return self.level(code_or_level).level
        for lv in self.levels:
            if str(code_or_level) in (lv.code, lv.name, str(lv.level)):
                return lv.level
        raise UnknownIdError(
            "level",
            str(code_or_level),
            f"unknown level {code_or_level!r} in scheme {self.id!r} ({', '.join(self.codes)})",
        )


@dataclass(frozen=True)
class LevelMapping:
    """Which levels of ``target`` each level of ``source`` corresponds to (monotone, total on source).

    Many-to-one (every source level has one target level): probabilities carry over exactly by summing.
    One-to-many (DigComp 3.0 Basic -> eight-level 1-2): a level maps to a range, probabilities do not."""

    source: str
    target: str
    pairs: dict[int, tuple[int, ...]] = _tr()
    note: str = ""

    def targets(self, level: int) -> tuple[int, ...]:
        return self.pairs[level]

    @property
    def is_many_to_one(self) -> bool:
        return all(len(t) == 1 for t in self.pairs.values())

    def inverse(self) -> LevelMapping:
        inv: dict[int, list[int]] = {}
        for s, ts in sorted(self.pairs.items()):
            for t in ts:
                inv.setdefault(t, []).append(s)
        return LevelMapping(
            self.target, self.source, {t: tuple(v) for t, v in sorted(inv.items())}, note=self.note
        )

    def compose(self, then: LevelMapping) -> LevelMapping:
        """This mapping followed by ``then`` (whose source is this one's target)."""
        pairs = {
            s: tuple(sorted({u for t in ts for u in then.pairs.get(t, ())})) for s, ts in self.pairs.items()
        }
        return LevelMapping(
            self.source, then.target, pairs, note="; ".join(n for n in (self.note, then.note) if n)
        )

    def map_probabilities(self, probabilities: Sequence[float], n_target: int) -> list[float] | None:
        """Target-scheme probabilities (sums), or None when a level maps to a range of levels."""
        if not self.is_many_to_one:
            return None
        out = [0.0] * n_target
        for s, p in enumerate(probabilities, start=1):
            out[self.pairs[s][0] - 1] += float(p)
        return out


@dataclass(frozen=True)
class Statement:
    """A competence statement or a learning outcome (``type``: knowledge, skill or attitude; outcomes)."""

    id: str
    competence_id: str
    level: int  # in the framework's own level scheme
    description: str
    ai_label: str = ""
    type: str = ""
    translations: Translations = _tr()


@dataclass(frozen=True)
class GlossaryTerm:
    term: str
    explanation: str
    translations: Translations = _tr()


@dataclass(frozen=True)
class Provenance:
    title: str = ""
    version: str = ""
    doi: str = ""
    url: str = ""
    date: str = ""
    licence: str = ""
    citation: str = ""
    changes: str = ""  # what was changed from the source (CC BY asks to say so)

    def to_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if getattr(self, k)}


@dataclass(frozen=True)
class Framework:
    name: str
    version: str
    areas: tuple[Area, ...]
    competences: tuple[Competence, ...]
    levels: tuple[ProficiencyLevel, ...]  # the framework's own level scheme, results use it
    source: str = ""
    id: str = ""
    language: str = "en"
    scheme_id: str = "levels"
    scheme_name: str = ""
    schemes: tuple[LevelScheme, ...] = ()  # other schemes its levels map to
    mappings: tuple[LevelMapping, ...] = ()
    statements: tuple[Statement, ...] = ()
    outcomes: tuple[Statement, ...] = ()
    glossary: tuple[GlossaryTerm, ...] = ()
    provenance: Provenance = field(default_factory=Provenance)
    _area_index: dict[str, Area] = field(default=None, init=False, repr=False, compare=False, hash=False)
    _competence_index: dict[str, Competence] = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        # frozen: derived values are set once through object.__setattr__
        if not self.id:
            object.__setattr__(self, "id", framework_id(self.name, self.version))
        object.__setattr__(self, "_area_index", {a.id: a for a in self.areas})
        object.__setattr__(self, "_competence_index", {c.id: c for c in self.competences})

    # -- lookups ---------------------------------------------------------------------------------
    def area(self, id: str) -> Area:
        try:
            return self._area_index[str(id)]
        except KeyError:
            raise UnknownIdError(
                "area",
                str(id),
                f"unknown area id {id!r} in {self.name} {self.version}; known: {', '.join(self.area_ids)}",
            ) from None

    def competence(self, id: str) -> Competence:
        try:
            return self._competence_index[str(id)]
        except KeyError:
            raise UnknownIdError(
                "competence", str(id), f"unknown competence id {id!r} in {self.name} {self.version}"
            ) from None

    def level(self, level: int) -> ProficiencyLevel:
        return self.level_scheme.level(level)

    def competences_in(self, area_id: str) -> tuple[Competence, ...]:
        self.area(area_id)
        return tuple(c for c in self.competences if c.area_id == str(area_id))

    @property
    def area_ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.areas)

    @property
    def competence_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.competences)

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def level_groups(self) -> dict[str, tuple[int, ...]]:
        groups: dict[str, tuple[int, ...]] = {}
        for lv in self.levels:
            groups[lv.group] = groups.get(lv.group, ()) + (lv.level,)
        return groups

    @property
    def level_scheme(self) -> LevelScheme:
        return LevelScheme(self.scheme_id, self.scheme_name, self.levels)

    def scheme(self, scheme_id: str) -> LevelScheme:
        for s in (self.level_scheme, *self.schemes):
            if s.id == scheme_id:
                return s
        raise UnknownIdError("level-scheme", scheme_id, f"unknown level scheme {scheme_id!r} in {self.id}")

    def mapping(self, source: str, target: str) -> LevelMapping | None:
        """The mapping between two of its schemes, stated either way round (None if there is none)."""
        for m in self.mappings:
            if (m.source, m.target) == (source, target):
                return m
        for m in self.mappings:
            if (m.source, m.target) == (target, source):
                return m.inverse()
        return None

    def text(self, obj: Any, name: str, language: str | None) -> tuple[str, str]:
        """``obj.<name>`` in ``language`` if translated, else in the framework's language: (text, lang)."""
        if language and language != self.language:
            got = (getattr(obj, "translations", None) or {}).get(language, {}).get(name)
            if got:
                return got, language
        return getattr(obj, name), self.language

    @property
    def languages(self) -> tuple[str, ...]:
        langs = {self.language}
        for group in (self.areas, self.competences, self.levels, self.statements, self.outcomes):
            for obj in group:
                langs.update(obj.translations)
        return tuple(sorted(langs))

    # -- (de)serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The framework in the digipath framework JSON format (``from_dict`` reads it back equal)."""
        return {
            "format": FORMAT,
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "language": self.language,
            "source": self.source,
            "provenance": self.provenance.to_dict(),
            "areas": [_entity(a, ("id", "name", "description")) for a in self.areas],
            "competences": [_entity(c, ("id", "area_id", "name", "description")) for c in self.competences],
            "level_scheme": _scheme_dict(self.level_scheme),
            "schemes": [_scheme_dict(s) for s in self.schemes],
            "mappings": [
                {
                    "source": m.source,
                    "target": m.target,
                    **({"note": m.note} if m.note else {}),
                    "levels": {str(k): list(v) for k, v in sorted(m.pairs.items())},
                }
                for m in self.mappings
            ],
            "statements": [
                _entity(s, ("id", "competence_id", "level", "ai_label", "description"))
                for s in self.statements
            ],
            "outcomes": [
                _entity(s, ("id", "competence_id", "level", "type", "ai_label", "description"))
                for s in self.outcomes
            ],
            "glossary": [_entity(g, ("term", "explanation")) for g in self.glossary],
        }

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "language": self.language,
            "languages": list(self.languages),
            "provenance": self.provenance.to_dict(),
            "level_scheme": {
                "id": self.scheme_id,
                "name": self.scheme_name,
                "levels": list(self.level_scheme.codes),
            },
            "counts": {
                "areas": len(self.areas),
                "competences": len(self.competences),
                "levels": len(self.levels),
                "statements": len(self.statements),
                "outcomes": len(self.outcomes),
                "glossary": len(self.glossary),
            },
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Framework:
        """Build and validate a framework; errors are DataFileError naming ``source`` and the entry."""
        return _FrameworkReader(data, source).read()


def framework_id(name: str, version: str) -> str:
    """ "DigComp", "2.2" -> "digcomp-2.2" (lower case, runs of other characters become "-", at most 64)."""
    slug = re.sub(r"[^a-z0-9.]+", "-", f"{name}-{version}".lower()).strip("-.")
    return (slug[:64].rstrip("-.") or "framework") if slug[:1].isalnum() else f"f-{slug}"[:64]


def _entity(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    out = {n: getattr(obj, n) for n in names if getattr(obj, n) not in ("", None) or n in ("id", "name")}
    if obj.translations:
        out["translations"] = {lang: dict(t) for lang, t in sorted(obj.translations.items())}
    return out


def _level_dict(lv: ProficiencyLevel) -> dict[str, Any]:
    return _entity(
        lv, ("level", "code", "name", "group", "description", "complexity", "autonomy", "cognitive_domain")
    )


def _scheme_dict(s: LevelScheme) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "levels": [_level_dict(lv) for lv in s.levels]}


class _FrameworkReader:
    """Reads one framework record, failing with the file and the entry at the first problem."""

    def __init__(self, data: Any, source: str):
        self.data = data
        self.source = source

    def fail(self, reason: str, column: str, line: int | None = None) -> DataFileError:
        return DataFileError(reason, file=self.source, line=line, column=column)

    # -- small readers ---------------------------------------------------------------------------
    def text(self, rec: dict, key: str, where: str, required: bool = True) -> str:
        value = rec.get(key)
        if value is None and not required:
            return ""
        if key not in rec:
            raise self.fail(f"{where} is missing {key!r}", f"{where}.{key}")
        if (
            not isinstance(value, str | int | float)
            or isinstance(value, bool)
            or (required and not str(value).strip())
        ):
            raise self.fail(f"{where} needs a non-empty text {key!r}", f"{where}.{key}")
        return str(value)

    def translations(self, rec: dict, where: str) -> Translations:
        tr = rec.get("translations", {})
        ok = isinstance(tr, dict) and all(
            isinstance(lang, str)
            and isinstance(t, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in t.items())
            for lang, t in tr.items()
        )
        if not ok:
            raise self.fail("translations must map language -> {field: text}", f"{where}.translations")
        return {lang: dict(t) for lang, t in tr.items()}

    def records(self, key: str, required: bool = True) -> list[dict]:
        if key not in self.data and required:
            raise self.fail(f"missing required field {key!r}", key)
        recs = self.data.get(key, [])
        if not isinstance(recs, list) or (required and not recs):
            raise self.fail(f"{key} must be a {'non-empty ' if required else ''}list", key)
        for i, rec in enumerate(recs):
            if not isinstance(rec, dict):
                raise self.fail(f"{key}[{i}] must be an object", f"{key}[{i}]")
        return recs

    def unique(self, ids: list[str], kind: str, column: str) -> None:
        seen: set[str] = set()
        for i, id_ in enumerate(ids):
            if id_ in seen:
                raise self.fail(f"duplicate {kind} id {id_!r}", f"{column}[{i}].id")
            seen.add(id_)

    def scheme(self, rec: Any, where: str, levels_where: str | None = None) -> LevelScheme:
        if not isinstance(rec, dict):
            raise self.fail("a level scheme must be an object with id and levels", where)
        sid = self.text(rec, "id", where)
        levels = []
        lw = levels_where or f"{where}.levels"
        raw = rec.get("levels")
        if not isinstance(raw, list) or not raw:
            raise self.fail(f"level scheme {sid!r} needs a non-empty list of levels", lw)
        for i, lv in enumerate(raw):
            levels.append(self.level(lv, f"{lw}[{i}]"))
        found = [lv.level for lv in levels]
        if sorted(found) != list(range(1, len(levels) + 1)):
            raise self.fail(
                f"levels of scheme {sid!r} must be numbered 1..{len(levels)}, found {sorted(found)}", lw
            )
        levels.sort(key=lambda lv: lv.level)
        self.unique([lv.label for lv in levels], "level code", lw)
        return LevelScheme(sid, str(rec.get("name", "")), tuple(levels))

    def level(self, rec: Any, where: str) -> ProficiencyLevel:
        if not isinstance(rec, dict):
            raise self.fail(f"{where} must be an object", where)
        n = rec.get("level")
        if isinstance(n, bool) or not isinstance(n, int):
            raise self.fail(f"{where}.level must be an integer, got {n!r}", f"{where}.level")
        opt = {
            k: self.text(rec, k, where, required=False)
            for k in ("group", "complexity", "autonomy", "cognitive_domain", "code", "name", "description")
        }
        return ProficiencyLevel(level=n, translations=self.translations(rec, where), **opt)

    # -- the whole record ------------------------------------------------------------------------
    def read(self) -> Framework:
        data = self.data
        if not isinstance(data, dict):
            raise self.fail("framework must be a JSON object", "<root>")
        if data.get("format", FORMAT) != FORMAT:
            raise self.fail(
                f"unknown framework format {data.get('format')!r} (expected {FORMAT!r})", "format"
            )
        for key in ("name", "version", "areas", "competences"):
            if key not in data:
                raise self.fail(f"missing required field {key!r}", key)
        version = data["version"]
        if (
            isinstance(version, bool)
            or not isinstance(version, str | int | float)
            or not str(version).strip()
        ):
            raise self.fail("version must be a non-empty string such as '2.2'", "version")
        name = self.text(data, "name", "framework")
        language = self.text(data, "language", "framework", required=False) or "en"

        areas = []
        for i, rec in enumerate(self.records("areas")):
            w = f"areas[{i}]"
            areas.append(
                Area(
                    self.text(rec, "id", w),
                    self.text(rec, "name", w),
                    self.text(rec, "description", w, required=False),
                    self.translations(rec, w),
                )
            )
        self.unique([a.id for a in areas], "area", "areas")
        area_ids = {a.id for a in areas}

        competences = []
        for i, rec in enumerate(self.records("competences")):
            w = f"competences[{i}]"
            comp = Competence(
                self.text(rec, "id", w),
                self.text(rec, "area_id", w),
                self.text(rec, "name", w),
                self.text(rec, "description", w, required=False),
                self.translations(rec, w),
            )
            if comp.area_id not in area_ids:
                raise self.fail(
                    f"competence {comp.id!r} is in no area: unknown area {comp.area_id!r} "
                    f"(areas: {', '.join(sorted(area_ids))})",
                    f"{w}.area_id",
                )
            competences.append(comp)
        self.unique([c.id for c in competences], "competence", "competences")
        empty = [a.id for a in areas if not any(c.area_id == a.id for c in competences)]
        if empty:
            raise self.fail(f"area(s) {', '.join(empty)} have no competence", "competences")

        if "level_scheme" in data:
            own = self.scheme(data["level_scheme"], "level_scheme")
        elif "levels" in data:  # the DigComp 2.2 shape: one list of levels with their groups
            own = self.scheme(
                {
                    "id": "eight-level" if len(data["levels"] or []) == 8 else "levels",
                    "levels": data["levels"],
                },
                "levels",
                levels_where="levels",
            )
        else:
            raise self.fail("missing required field 'level_scheme'", "level_scheme")
        for lv in own.levels:
            if lv.group == "" and any(x.group for x in own.levels):
                raise self.fail(f"level {lv.level} has an empty group", f"levels[{lv.level - 1}].group")
        self.contiguous_groups(own)

        schemes = [self.scheme(rec, f"schemes[{i}]") for i, rec in enumerate(self.records("schemes", False))]
        self.unique([own.id] + [s.id for s in schemes], "level scheme", "schemes")
        by_id = {s.id: s for s in (own, *schemes)}
        mappings = [
            self.mapping(rec, f"mappings[{i}]", by_id)
            for i, rec in enumerate(self.records("mappings", False))
        ]

        comp_ids = {c.id for c in competences}
        statements = self.statements("statements", comp_ids, own, typed=False)
        outcomes = self.statements("outcomes", comp_ids, own, typed=True)
        glossary = []
        for i, rec in enumerate(self.records("glossary", False)):
            w = f"glossary[{i}]"
            glossary.append(
                GlossaryTerm(
                    self.text(rec, "term", w), self.text(rec, "explanation", w), self.translations(rec, w)
                )
            )
        self.unique([g.term for g in glossary], "glossary term", "glossary")
        prov = data.get("provenance", {})
        if not isinstance(prov, dict) or not all(k in Provenance.__dataclass_fields__ for k in prov):
            raise self.fail(
                f"provenance must be an object with fields {', '.join(Provenance.__dataclass_fields__)}",
                "provenance",
            )
        fid = self.text(data, "id", "framework", required=False)
        if fid and not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", fid):
            raise self.fail(f"id {fid!r} must be lower-case letters, digits, '.', '_' or '-'", "id")
        return Framework(
            name=name,
            version=str(version),
            areas=tuple(areas),
            competences=tuple(competences),
            levels=own.levels,
            source=str(data.get("source", "")),
            id=fid,
            language=language,
            scheme_id=own.id,
            scheme_name=own.name,
            schemes=tuple(schemes),
            mappings=tuple(mappings),
            statements=statements,
            outcomes=outcomes,
            glossary=tuple(glossary),
            provenance=Provenance(**{k: str(v) for k, v in prov.items()}),
        )

    def contiguous_groups(self, scheme: LevelScheme) -> None:
        # each group is a contiguous run of levels (foundation 1-2, intermediate 3-4, ...)
        seen: list[str] = []
        for lv in scheme.levels:
            if seen and lv.group != seen[-1] and lv.group in seen:
                raise self.fail(f"level group {lv.group!r} is not a contiguous run of levels", "levels")
            if not seen or lv.group != seen[-1]:
                seen.append(lv.group)

    def mapping(self, rec: dict, where: str, schemes: dict[str, LevelScheme]) -> LevelMapping:
        src, tgt = self.text(rec, "source", where), self.text(rec, "target", where)
        for key, sid in (("source", src), ("target", tgt)):
            if sid not in schemes:
                raise self.fail(
                    f"mapping {key} {sid!r} is not a level scheme of this framework ({', '.join(schemes)})",
                    f"{where}.{key}",
                )
        s, t = schemes[src], schemes[tgt]
        raw = rec.get("levels")
        if not isinstance(raw, dict):
            raise self.fail("levels must map each source level to a list of target levels", f"{where}.levels")
        pairs: dict[int, tuple[int, ...]] = {}
        written: dict[int, str] = {}  # the level as the file writes it, to name the entry
        for key, targets in raw.items():
            try:
                n = s.number(int(key) if str(key).isdigit() else key)
            except UnknownIdError:
                raise self.fail(
                    f"level {key!r} is out of the scheme {src!r} (1..{s.n_levels})", f"{where}.levels.{key}"
                ) from None
            targets = targets if isinstance(targets, list) else [targets]
            try:
                nums = tuple(sorted(t.number(x if isinstance(x, int) else str(x)) for x in targets))
            except UnknownIdError as exc:
                raise self.fail(
                    f"level {exc.id!r} is out of the scheme {tgt!r} ({', '.join(t.codes)})",
                    f"{where}.levels.{key}",
                ) from None
            if not nums:
                raise self.fail(f"level {key!r} maps to no level", f"{where}.levels.{key}")
            pairs[n] = nums
            written[n] = str(key)
        missing = [lv for lv in range(1, s.n_levels + 1) if lv not in pairs]
        if missing:
            raise self.fail(f"source level(s) {missing} of {src!r} are not mapped", f"{where}.levels")
        for lv in range(1, s.n_levels):
            if max(pairs[lv]) > min(pairs[lv + 1]):
                raise self.fail(
                    f"mapping {src!r} -> {tgt!r} is not monotone: level {lv} -> {list(pairs[lv])} "
                    f"but level {lv + 1} -> {list(pairs[lv + 1])}",
                    f"{where}.levels.{written[lv + 1]}",
                )
        return LevelMapping(src, tgt, dict(sorted(pairs.items())), note=str(rec.get("note", "")))

    def statements(
        self, key: str, comp_ids: set[str], own: LevelScheme, typed: bool
    ) -> tuple[Statement, ...]:
        out = []
        for i, rec in enumerate(self.records(key, False)):
            w = f"{key}[{i}]"
            sid = self.text(rec, "id", w)
            comp = self.text(rec, "competence_id", w)
            if comp not in comp_ids:
                raise self.fail(f"{sid!r} names unknown competence {comp!r}", f"{w}.competence_id")
            raw = rec.get("level")
            try:
                level = own.number(raw if isinstance(raw, int) and not isinstance(raw, bool) else str(raw))
            except UnknownIdError:
                raise self.fail(
                    f"{sid!r} has level {raw!r}, out of the scheme {own.id!r} "
                    f"(1..{own.n_levels}: {', '.join(own.codes)})",
                    f"{w}.level",
                ) from None
            kind = self.text(rec, "type", w, required=typed).lower()
            if typed and kind not in STATEMENT_TYPES:
                raise self.fail(
                    f"{sid!r} has type {kind!r}; expected one of {', '.join(STATEMENT_TYPES)}", f"{w}.type"
                )
            out.append(
                Statement(
                    sid,
                    comp,
                    level,
                    self.text(rec, "description", w),
                    self.text(rec, "ai_label", w, required=False),
                    kind,
                    self.translations(rec, w),
                )
            )
        self.unique([s.id for s in out], key.rstrip("s"), key)
        return tuple(out)


# -- DigComp 3.0 Data Supplement (JSON-LD) -------------------------------------------------------------
_JSONLD_TYPES = (
    "CompetenceArea",
    "Competence",
    "ProficiencyLevel",
    "CompetenceStatement",
    "LearningOutcome",
    "Glossary",
)


def from_jsonld(
    data: Any,
    source: str = "<json-ld>",
    *,
    provenance: dict | None = None,
    name: str = "DigComp",
    version: str = "3.0",
    framework_id: str = "digcomp-3.0",
) -> Framework:
    """The framework of the JRC's DigComp 3.0 Data Supplement (``@graph`` of typed nodes), as is.

    The own scheme is the four named levels; ``eight-level`` (1..8, each named level split in two, with
    its descriptors) and ``six-level`` (A1..C2) are the mapped schemes, as the ProficiencyLevel nodes
    state them. Node ids lose their type prefix (``Competence/1.1`` -> ``1.1``)."""

    def fail(reason: str, column: str) -> DataFileError:
        return DataFileError(reason, file=source, column=column)

    if not isinstance(data, dict) or not isinstance(data.get("@graph"), list):
        raise fail("not a JSON-LD document with an @graph list", "@graph")
    nodes: dict[str, list[tuple[int, dict]]] = {t: [] for t in _JSONLD_TYPES}
    for i, node in enumerate(data["@graph"]):
        if (
            not isinstance(node, dict)
            or node.get("@type") not in nodes
            or not isinstance(node.get("@id"), str)
        ):
            raise fail(f"node {i} is not one of {', '.join(_JSONLD_TYPES)} with an @id", f"@graph[{i}]")
        nodes[node["@type"]].append((i, node))

    def local(ref: Any) -> str:
        return str(ref).split("/", 1)[-1]

    def req(i: int, node: dict, key: str) -> Any:
        if key not in node:
            raise fail(f"{node['@id']} has no {key!r}", f"@graph[{i}].{key}")
        return node[key]

    # levels: eight nodes, each (four-level name, eight-level number, six-level code)
    four: list[str] = []
    four_desc: dict[str, str] = {}
    eight: list[ProficiencyLevel] = []
    six: list[str] = []
    rows = []
    for i, node in sorted(nodes["ProficiencyLevel"], key=lambda x: x[1].get("eight_levels_mapping", 0)):
        name4, n8, code6 = (
            req(i, node, k) for k in ("four_levels_name", "eight_levels_mapping", "six_levels_mapping")
        )
        if name4 not in four:
            four.append(name4)
            four_desc[name4] = str(node.get("four_levels_description", ""))
        if code6 not in six:
            six.append(code6)
        eight.append(
            ProficiencyLevel(
                level=int(n8),
                code=str(n8),
                name=f"{name4} {n8}",
                description=str(node.get("eight_levels_description", "")),
            )
        )
        rows.append((four.index(name4) + 1, int(n8), six.index(code6) + 1))
    scheme = {
        "level_scheme": {
            "id": "four-level",
            "name": "DigComp 3.0 proficiency levels",
            "levels": [
                {"level": k + 1, "code": n, "name": n, "description": four_desc[n]}
                for k, n in enumerate(four)
            ],
        },
        "schemes": [
            {
                "id": "eight-level",
                "name": "eight-level mapping (to DigComp 2.x)",
                "levels": [_level_dict(lv) for lv in eight],
            },
            {
                "id": "six-level",
                "name": "six-level mapping (A1-C2)",
                "levels": [{"level": k + 1, "code": c} for k, c in enumerate(six)],
            },
        ],
    }
    maps: dict[tuple[str, str], dict[int, set[int]]] = {}
    for n4, n8, n6 in rows:
        for key, s, t in (
            ((("four-level", "eight-level")), n4, n8),
            ((("four-level", "six-level")), n4, n6),
            ((("eight-level", "six-level")), n8, n6),
        ):
            maps.setdefault(key, {}).setdefault(s, set()).add(t)
    scheme["mappings"] = [
        {"source": s, "target": t, "levels": {str(k): sorted(v) for k, v in sorted(m.items())}}
        for (s, t), m in maps.items()
    ]

    def statements(kind: str) -> list[dict]:
        out = []
        for i, node in nodes[kind]:
            rec = {
                "id": local(node["@id"]),
                "competence_id": local(req(i, node, "competence_id")),
                "level": local(req(i, node, "four_levels_proficiency_name")),
                "ai_label": str(node.get("ai_label", "")),
                "description": req(i, node, "description"),
            }
            if kind == "LearningOutcome":
                rec["type"] = str(req(i, node, "type")).lower()
            out.append(rec)
        return out

    record = {
        "format": FORMAT,
        "id": framework_id,
        "name": name,
        "version": version,
        "language": "en",
        "source": (provenance or {}).get("citation", ""),
        "provenance": provenance or {},
        "areas": [
            {"id": local(n["@id"]), "name": req(i, n, "name"), "description": n.get("description", "")}
            for i, n in nodes["CompetenceArea"]
        ],
        "competences": [
            {
                "id": local(n["@id"]),
                "area_id": local(req(i, n, "competence_area_id")),
                "name": req(i, n, "name"),
                "description": n.get("description", ""),
            }
            for i, n in nodes["Competence"]
        ],
        **scheme,
        "statements": statements("CompetenceStatement"),
        "outcomes": statements("LearningOutcome"),
        "glossary": [
            {"term": local(n["@id"]), "explanation": req(i, n, "explanation")} for i, n in nodes["Glossary"]
        ],
    }
    return Framework.from_dict(record, source=source)


# -- loading ---------------------------------------------------------------------------------------
def read_framework_file(path: str | Path, *, provenance: dict | None = None) -> Framework:
    """A framework from a file: digipath framework JSON (or the 2.2 shape), or DigComp JSON-LD."""
    path = Path(path)
    data = read_json_file(path, "framework file")
    if isinstance(data, dict) and "@graph" in data:
        return from_jsonld(data, str(path), provenance=provenance)
    return Framework.from_dict(data, source=str(path))


def _load(path: Path) -> Framework:
    return read_framework_file(path)


@lru_cache(maxsize=1)
def packaged_frameworks() -> dict[str, Framework]:
    """The frameworks shipped with digipath, by id (``adaptive/data/frameworks.json``), cached."""
    manifest = read_json_file(PACKAGED_MANIFEST, "framework manifest")
    out = {}
    for entry in manifest["frameworks"]:
        path = DATA_DIR / entry["file"]
        if entry.get("format") == "digcomp-jsonld":
            fw = from_jsonld(
                read_json_file(path, "framework file"),
                str(path),
                provenance=entry.get("provenance"),
                name=entry["name"],
                version=entry["version"],
                framework_id=entry["id"],
            )
        else:
            fw = Framework.from_dict(
                {
                    **read_json_file(path, "framework file"),
                    "id": entry["id"],
                    "provenance": entry.get("provenance", {}),
                },
                source=str(path),
            )
        out[fw.id] = fw
    return out


_REGISTERED: dict[str, Framework] = {}


def register_framework(framework: Framework) -> Framework:
    """Make an own framework known in this process (``get_framework``, ``framework_for_bank``)."""
    _REGISTERED[framework.id] = framework
    return framework


def known_frameworks() -> dict[str, Framework]:
    return {**packaged_frameworks(), **_REGISTERED}


def get_framework(framework_id: str) -> Framework:
    try:
        return known_frameworks()[framework_id]
    except KeyError:
        raise UnknownIdError(
            "framework",
            str(framework_id),
            f"unknown framework {framework_id!r}; known: {', '.join(known_frameworks())}",
        ) from None


def framework_for_bank(bank: Any) -> Framework | None:
    """The framework a bank's results are reported in: its ``framework_id`` if known, else the known
    framework of its version whose level count fits the bank's cut scores (None if none does)."""
    fid = getattr(bank, "framework_id", None)
    known = known_frameworks()
    if fid in known and known[fid].version == str(bank.framework_version):
        return known[fid]
    return None


def load_framework(path: str | Path | None = None) -> Framework:
    """Load a framework file; ``None`` gives the packaged DigComp 2.2 (cached, shared instance)."""
    if path is None:
        return packaged_frameworks()[DEFAULT_FRAMEWORK_ID]
    return _load(Path(path))


def load_directory(directory: str | Path) -> tuple[dict[str, Framework], list[DataFileError]]:
    """Own frameworks from ``directory/*.json``, registered in this process (``register_framework``).

    A bad file is skipped and reported (its ``DataFileError`` names file and entry); one whose id clashes
    with a packaged framework or an earlier file is an error too. Returns (loaded by id, errors)."""
    loaded: dict[str, Framework] = {}
    errors: list[DataFileError] = []
    directory = Path(directory)
    if not directory.is_dir():
        return loaded, errors
    for path in sorted(directory.glob("*.json")):
        try:
            fw = read_framework_file(path)
            if fw.id in packaged_frameworks() or fw.id in loaded:
                raise DataFileError(f"framework id {fw.id!r} is already loaded", file=str(path), column="id")
        except DataFileError as exc:
            errors.append(exc)
            continue
        loaded[fw.id] = register_framework(fw)
    return loaded, errors
