"""The DigComp framework: areas, competences and proficiency levels, loaded from a versioned data file.

The packaged file is DigComp 2.2 (5 areas, 21 competences, 8 levels in 4 groups). Another version
(DigComp 3.0) or a national variant is a JSON file of the same shape passed to ``load_framework``;
loading validates it so a malformed framework fails at load time, naming the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from adaptive.errors import DataFileError, UnknownIdError
from adaptive.jsonio import read_json_file

PACKAGED_FRAMEWORK = Path(__file__).parent / "data" / "digcomp-2.2.json"
N_LEVELS = 8
LEVEL_GROUPS = ("foundation", "intermediate", "advanced", "highly specialised")


@dataclass(frozen=True)
class Area:
    id: str
    name: str


@dataclass(frozen=True)
class Competence:
    id: str
    area_id: str
    name: str


@dataclass(frozen=True)
class ProficiencyLevel:
    level: int
    group: str
    # DigComp describes each level by task complexity, autonomy and cognitive domain
    complexity: str = ""
    autonomy: str = ""
    cognitive_domain: str = ""


@dataclass(frozen=True)
class Framework:
    name: str
    version: str
    areas: tuple[Area, ...]
    competences: tuple[Competence, ...]
    levels: tuple[ProficiencyLevel, ...]
    source: str = ""
    _area_index: dict[str, Area] = field(default=None, init=False, repr=False, compare=False, hash=False)
    _competence_index: dict[str, Competence] = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        # frozen: indexes are built once through object.__setattr__
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
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= len(self.levels):
            raise UnknownIdError(
                "level", str(level), f"unknown proficiency level {level!r} (1..{len(self.levels)})"
            )
        return self.levels[level - 1]

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
    def level_groups(self) -> dict[str, tuple[int, ...]]:
        groups: dict[str, tuple[int, ...]] = {}
        for lv in self.levels:
            groups[lv.group] = groups.get(lv.group, ()) + (lv.level,)
        return groups

    # -- (de)serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "areas": [{"id": a.id, "name": a.name} for a in self.areas],
            "competences": [{"id": c.id, "area_id": c.area_id, "name": c.name} for c in self.competences],
            "levels": [
                {
                    "level": lv.level,
                    "group": lv.group,
                    "complexity": lv.complexity,
                    "autonomy": lv.autonomy,
                    "cognitive_domain": lv.cognitive_domain,
                }
                for lv in self.levels
            ],
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Framework:
        """Build and validate a framework; errors are DataFileError naming ``source`` and the field."""

        def fail(reason: str, column: str, line: int | None = None) -> DataFileError:
            return DataFileError(reason, file=source, line=line, column=column)

        if not isinstance(data, dict):
            raise fail("framework must be a JSON object", "<root>")
        for key in ("name", "version", "areas", "competences", "levels"):
            if key not in data:
                raise fail(f"missing required field {key!r}", key)
        version = data["version"]
        bad_type = isinstance(version, bool) or not isinstance(version, str | int | float)
        if bad_type or not str(version).strip():
            raise fail("version must be a non-empty string such as '2.2'", "version")
        if not isinstance(data["name"], str) or not data["name"].strip():
            raise fail("name must be a non-empty string", "name")

        def records(key: str, fields: tuple[str, ...]) -> list[dict]:
            recs = data[key]
            if not isinstance(recs, list) or not recs:
                raise fail(f"{key} must be a non-empty list", key)
            for i, rec in enumerate(recs):
                if not isinstance(rec, dict):
                    raise fail(f"{key}[{i}] must be an object", key)
                for f in fields:
                    if f not in rec:
                        raise fail(f"{key}[{i}] is missing {f!r}", f"{key}[{i}].{f}")
            return recs

        areas = []
        for i, rec in enumerate(records("areas", ("id", "name"))):
            areas.append(Area(id=str(rec["id"]), name=str(rec["name"])))
            if not areas[-1].id:
                raise fail(f"areas[{i}] has an empty id", f"areas[{i}].id")
        _check_unique([a.id for a in areas], "area", fail, "areas")
        area_ids = {a.id for a in areas}

        competences = []
        for i, rec in enumerate(records("competences", ("id", "area_id", "name"))):
            comp = Competence(id=str(rec["id"]), area_id=str(rec["area_id"]), name=str(rec["name"]))
            if not comp.id:
                raise fail(f"competences[{i}] has an empty id", f"competences[{i}].id")
            if comp.area_id not in area_ids:
                raise fail(
                    f"competence {comp.id!r} belongs to unknown area {comp.area_id!r} "
                    f"(areas: {', '.join(sorted(area_ids))})",
                    f"competences[{i}].area_id",
                )
            competences.append(comp)
        _check_unique([c.id for c in competences], "competence", fail, "competences")
        empty = [a.id for a in areas if not any(c.area_id == a.id for c in competences)]
        if empty:
            raise fail(f"area(s) {', '.join(empty)} have no competence", "competences")

        levels = []
        for i, rec in enumerate(records("levels", ("level", "group"))):
            lv = rec["level"]
            if isinstance(lv, bool) or not isinstance(lv, int):
                raise fail(f"levels[{i}].level must be an integer, got {lv!r}", f"levels[{i}].level")
            if not isinstance(rec["group"], str) or not rec["group"].strip():
                raise fail(f"level {lv} has an empty group", f"levels[{i}].group")
            levels.append(
                ProficiencyLevel(
                    level=lv,
                    group=rec["group"],
                    complexity=str(rec.get("complexity", "")),
                    autonomy=str(rec.get("autonomy", "")),
                    cognitive_domain=str(rec.get("cognitive_domain", "")),
                )
            )
        found = sorted(lv.level for lv in levels)
        if found != list(range(1, N_LEVELS + 1)):
            raise fail(f"levels must be exactly 1..{N_LEVELS}, found {found}", "levels")
        levels.sort(key=lambda lv: lv.level)
        # each group is a contiguous run of levels (foundation 1-2, intermediate 3-4, ...)
        seen: list[str] = []
        for lv in levels:
            if seen and lv.group != seen[-1] and lv.group in seen:
                raise fail(f"level group {lv.group!r} is not a contiguous run of levels", "levels")
            if not seen or lv.group != seen[-1]:
                seen.append(lv.group)

        return cls(
            name=data["name"],
            version=str(version),
            areas=tuple(areas),
            competences=tuple(competences),
            levels=tuple(levels),
            source=str(data.get("source", "")),
        )


def _check_unique(ids: list[str], kind: str, fail, column: str) -> None:
    seen: set[str] = set()
    for i, id_ in enumerate(ids):
        if id_ in seen:
            raise fail(f"duplicate {kind} id {id_!r}", f"{column}[{i}].id")
        seen.add(id_)


@lru_cache(maxsize=1)
def _packaged() -> Framework:
    return _load(PACKAGED_FRAMEWORK)


def _load(path: Path) -> Framework:
    return Framework.from_dict(read_json_file(path, "framework file"), source=str(path))


def load_framework(path: str | Path | None = None) -> Framework:
    """Load a framework file; ``None`` gives the packaged DigComp 2.2 (cached, shared instance)."""
    if path is None:
        return _packaged()
    return _load(Path(path))
