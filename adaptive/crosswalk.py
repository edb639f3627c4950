"""Crosswalks between frameworks, and a result's level reported in other level schemes.

A :class:`Crosswalk` maps areas and competences of one framework to another one to one (ids may be the
same, titles differ) and the source's level scheme to one of the target's schemes through a
:class:`~adaptive.framework.LevelMapping`. The packaged DigComp 2.2 <-> 3.0 crosswalk
(``adaptive/data/crosswalk-digcomp-2.2-digcomp-3.0.json``) states 2.2 level k = 3.0 eight-level k; the
target's own mappings then take it on to the four named levels and A1-C2.

:class:`LevelReporter` is what a competence profile uses: given a level and its probabilities in the
framework's own scheme it lists the mapped levels in every scheme reachable by one stated mapping (inside
the framework, or through a crosswalk and then inside the target), with probabilities where the mapping
is many-to-one (exact sums) and the range of levels where it is one-to-many.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from adaptive.errors import DataFileError, UnknownIdError
from adaptive.framework import DATA_DIR, Framework, LevelMapping, get_framework, known_frameworks
from adaptive.jsonio import read_json_file

PACKAGED_CROSSWALKS = (DATA_DIR / "crosswalk-digcomp-2.2-digcomp-3.0.json",)


@dataclass(frozen=True)
class Crosswalk:
    source: str  # framework ids
    target: str
    areas: dict[str, str] = field(default_factory=dict, hash=False)
    competences: dict[str, str] = field(default_factory=dict, hash=False)
    levels: LevelMapping | None = None  # source own scheme -> a target scheme
    note: str = ""

    def inverse(self) -> Crosswalk:
        return Crosswalk(
            self.target,
            self.source,
            {v: k for k, v in self.areas.items()},
            {v: k for k, v in self.competences.items()},
            None if self.levels is None else self.levels.inverse(),
            self.note,
        )

    def competence(self, competence_id: str) -> str:
        try:
            return self.competences[competence_id]
        except KeyError:
            raise UnknownIdError(
                "competence",
                competence_id,
                f"competence {competence_id!r} has no counterpart in {self.target}",
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "note": self.note,
            "areas": dict(self.areas),
            "competences": dict(self.competences),
            "levels": None
            if self.levels is None
            else {
                "source_scheme": self.levels.source,
                "target_scheme": self.levels.target,
                "levels": {str(k): list(v) for k, v in self.levels.pairs.items()},
            },
        }


def read_crosswalk(path: str | Path, frameworks: dict[str, Framework] | None = None) -> Crosswalk:
    """A crosswalk file, checked against both frameworks (errors name the file and the entry)."""
    path = Path(path)
    data = read_json_file(path, "crosswalk file")
    frameworks = frameworks if frameworks is not None else known_frameworks()

    def fail(reason: str, column: str) -> DataFileError:
        return DataFileError(reason, file=str(path), column=column)

    if not isinstance(data, dict):
        raise fail("a crosswalk must be a JSON object", "<root>")
    fws = {}
    for key in ("source", "target"):
        if data.get(key) not in frameworks:
            raise fail(f"{key} framework {data.get(key)!r} is not loaded ({', '.join(frameworks)})", key)
        fws[key] = frameworks[data[key]]
    src, tgt = fws["source"], fws["target"]
    maps = {}
    for key, lookup in (("areas", "area_ids"), ("competences", "competence_ids")):
        raw = data.get(key, {})
        if not isinstance(raw, dict):
            raise fail(f"{key} must map source id -> target id", key)
        for s, t in raw.items():
            if s not in getattr(src, lookup):
                raise fail(f"{s!r} is not in {src.id}", f"{key}.{s}")
            if t not in getattr(tgt, lookup):
                raise fail(f"{s!r} maps to {t!r}, which is not in {tgt.id}", f"{key}.{s}")
        if len(set(raw.values())) != len(raw):
            raise fail(f"{key} must map one to one", key)
        maps[key] = dict(raw)
    levels = None
    if data.get("levels") is not None:
        lv = data["levels"]
        if not isinstance(lv, dict):
            raise fail("levels must name source_scheme, target_scheme and the level pairs", "levels")
        s_scheme, t_scheme = lv.get("source_scheme"), lv.get("target_scheme")
        try:
            s, t = src.scheme(str(s_scheme)), tgt.scheme(str(t_scheme))
        except UnknownIdError as exc:
            raise fail(str(exc.detail), "levels") from None
        # the framework reader checks the pairs (total, in range, monotone) with this file's name
        try:
            probe = _probe(s, t, lv.get("levels"), str(path))
        except DataFileError as exc:  # name the entry as this file writes it
            raise fail(exc.reason, str(exc.column).replace("mappings[0]", "levels", 1)) from None
        levels = LevelMapping(s.id, t.id, probe.mappings[0].pairs, note=str(data.get("note", "")))
    return Crosswalk(src.id, tgt.id, maps["areas"], maps["competences"], levels, str(data.get("note", "")))


def _probe(s, t, pairs, source: str) -> Framework:
    return Framework.from_dict(
        {
            "name": "crosswalk",
            "version": "0",
            "areas": [{"id": "a", "name": "a"}],
            "competences": [{"id": "c", "area_id": "a", "name": "c"}],
            "level_scheme": {
                "id": "source",
                "levels": [{"level": x.level, "code": x.label} for x in s.levels],
            },
            "schemes": [{"id": "target", "levels": [{"level": x.level, "code": x.label} for x in t.levels]}],
            "mappings": [{"source": "source", "target": "target", "levels": pairs}],
        },
        source=source,
    )


@lru_cache(maxsize=1)
def packaged_crosswalks() -> tuple[Crosswalk, ...]:
    return tuple(read_crosswalk(p) for p in PACKAGED_CROSSWALKS)


def crosswalks_from(framework_id: str) -> list[Crosswalk]:
    """Every crosswalk leading out of ``framework_id`` (stored ones, and stored ones read backwards)."""
    out = []
    for cw in packaged_crosswalks():
        if cw.source == framework_id:
            out.append(cw)
        elif cw.target == framework_id:
            out.append(cw.inverse())
    return out


def crosswalk(source: str, target: str) -> Crosswalk:
    for cw in crosswalks_from(source):
        if cw.target == target:
            return cw
    raise UnknownIdError("crosswalk", f"{source}->{target}", f"no crosswalk from {source!r} to {target!r}")


def _mapping_kind(m: LevelMapping) -> str:
    if all(len(v) == 1 for v in m.pairs.values()):
        return "one-to-one" if len({v[0] for v in m.pairs.values()}) == len(m.pairs) else "many-to-one"
    return "one-to-many"


class LevelReporter:
    """Mapped levels of a result in ``framework``'s own scheme (see the module docstring)."""

    def __init__(self, framework: Framework, crosswalks: Sequence[Crosswalk] | None = None):
        self.framework = framework
        routes: list[tuple[Framework, str, LevelMapping, str]] = []  # (framework, scheme, mapping, via)
        own = framework.scheme_id
        for s in framework.schemes:
            m = framework.mapping(own, s.id)
            if m is not None:
                routes.append((framework, s.id, m, f"{framework.id} {own} -> {s.id}"))
        for cw in crosswalks if crosswalks is not None else crosswalks_from(framework.id):
            if cw.levels is None or cw.target not in known_frameworks():
                continue
            target = get_framework(cw.target)
            via = f"crosswalk {cw.source} {cw.levels.source} -> {cw.target} {cw.levels.target}"
            lead = cw.levels
            if lead.source != own:  # the crosswalk starts in another scheme of this framework
                first = framework.mapping(own, lead.source)
                if first is None:
                    continue
                lead = first.compose(lead)
                via = f"{framework.id} {own} -> {cw.levels.source}, then {via}"
            routes.append((target, cw.levels.target, lead, via))
            for s in (target.level_scheme, *target.schemes):
                if s.id == cw.levels.target:
                    continue
                m = target.mapping(cw.levels.target, s.id)
                if m is not None:
                    routes.append(
                        (target, s.id, lead.compose(m), f"{via}, then {cw.levels.target} -> {s.id}")
                    )
        self.routes = [(fw, fw.scheme(sid), m, _mapping_kind(m), via) for fw, sid, m, via in routes]

    def framework_info(self) -> dict[str, Any]:
        fw = self.framework
        return {
            "id": fw.id,
            "name": fw.name,
            "version": fw.version,
            "level_scheme": {"id": fw.scheme_id, "levels": list(fw.level_scheme.codes)},
        }

    def mapped_levels(self, level: int, probabilities: Sequence[float]) -> list[dict[str, Any]]:
        out = []
        for fw, scheme, m, kind, via in self.routes:
            targets = m.targets(level)
            probs = m.map_probabilities(probabilities, scheme.n_levels)
            out.append(
                {
                    "framework": fw.id,
                    "scheme": scheme.id,
                    "levels": [scheme.level(t).label for t in targets],
                    "probabilities": None if probs is None else dict(zip(scheme.codes, probs, strict=True)),
                    "mapping": kind,
                    "via": via,
                }
            )
        return out


def level_in(profile: Any, area_result: Any, framework: Framework) -> tuple[int | None, list[float] | None]:
    """An area's level (and level probabilities where they carry over) in ``framework``'s own scheme.

    A profile reported in that framework (or stored before profiles named theirs, with as many
    probabilities as its scheme has levels) is read as is; otherwise its ``mapped_levels`` entry for that
    framework's scheme is used. A level mapped to a range (DigComp 3.0 Intermediate -> eight-level 3-4)
    counts as the lowest level of the range, the one it certainly reaches, without probabilities.
    Returns (None, None) when the profile says nothing in that scheme."""
    if not isinstance(area_result, dict):
        return None, None
    stated = (profile.get("framework") or {}) if isinstance(profile, dict) else {}
    probs = area_result.get("level_probabilities")
    own = stated.get("id") == framework.id if stated else (probs is None or len(probs) == framework.n_levels)
    if own:
        return area_result.get("level"), probs
    for entry in area_result.get("mapped_levels") or ():
        if entry.get("framework") == framework.id and entry.get("scheme") == framework.scheme_id:
            scheme = framework.level_scheme
            try:
                numbers = [scheme.number(code) for code in entry.get("levels") or ()]
            except UnknownIdError:
                return None, None
            p = entry.get("probabilities")
            return (min(numbers) if numbers else None), (None if p is None else [p[c] for c in scheme.codes])
    return None, None


def profile_on(profile: dict, target: Framework) -> dict[str, Any]:
    """A result (``CompetenceProfile.to_dict()``) re-expressed in ``target``'s own level scheme through the
    stored crosswalk: area and competence ids mapped, each area's level (and probabilities where they carry
    over) read from its ``mapped_levels``, and the mapping used stated per area (``via``).

    ``UnknownIdError`` when there is no crosswalk from the profile's framework to ``target``."""
    source = (profile.get("framework") or {}).get("id")
    if source == target.id:
        return profile
    cw = crosswalk(str(source), target.id)
    areas = {}
    for area_id, res in profile.get("areas", {}).items():
        level, probs = level_in(profile, res, target)
        entry = next(
            (
                m
                for m in res.get("mapped_levels") or ()
                if m["framework"] == target.id and m["scheme"] == target.scheme_id
            ),
            None,
        )
        areas[cw.areas.get(area_id, area_id)] = {
            "theta": res.get("theta"),
            "se": res.get("se"),
            "level": level,
            "level_code": None if level is None else target.level(level).label,
            "levels": None if entry is None else entry["levels"],
            "level_probabilities": probs,
            "n_items": res.get("n_items"),
            "via": None if entry is None else entry["via"],
        }
    return {
        "framework": {
            "id": target.id,
            "name": target.name,
            "version": target.version,
            "level_scheme": {"id": target.scheme_id, "levels": list(target.level_scheme.codes)},
        },
        "reported_from": profile.get("framework"),
        "areas": areas,
        "competences": {cw.competences.get(c, c): e for c, e in profile.get("competences", {}).items()},
    }
