"""Competence frameworks loaded by the service: what is there, each framework's areas, competences and level
schemes with their mappings, and its statements, learning outcomes and glossary (filtered, paginated).

``?language=`` picks the texts' language; a text without a translation falls back to the framework's own
language (English for DigComp) and the reply says which texts fell back. ``GET /v1/framework`` (reference
router) stays as it was for existing clients: the packaged DigComp 2.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from adaptive.errors import UnknownIdError
from api.auth import Principal, require
from api.deps import Frameworks
from api.problems import ProblemError
from api.schemas import Language, Page

router = APIRouter(prefix="/v1/frameworks", tags=["frameworks"])

FrameworkId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
Filter = Annotated[str | None, Query(min_length=1, max_length=64)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=200)]


class LevelSchemeOut(BaseModel):
    id: str
    name: str = ""
    levels: list[dict[str, Any]]


class LanguageInfo(BaseModel):
    requested: str
    default: str = Field(description="the framework's own language, used where a text is not translated")
    fell_back: int = Field(
        description="how many texts are in the default language instead (entries "
        "carrying them list the fields in `fell_back`)"
    )


class FrameworkSummary(BaseModel):
    id: str
    name: str
    version: str
    language: str
    languages: list[str]
    provenance: dict[str, str]
    level_scheme: dict[str, Any]
    counts: dict[str, int]


class FrameworkList(BaseModel):
    total: int
    items: list[FrameworkSummary]


class FrameworkDetail(BaseModel):
    id: str
    name: str
    version: str
    provenance: dict[str, str]
    language: LanguageInfo
    areas: list[dict[str, Any]]
    competences: list[dict[str, Any]]
    level_scheme: LevelSchemeOut
    schemes: list[LevelSchemeOut]
    mappings: list[dict[str, Any]]
    counts: dict[str, int]


class TextPage(Page):
    language: LanguageInfo


class _Localizer:
    """Texts in the requested language with fallback, counting the texts that fell back."""

    def __init__(self, fw, language: str | None):
        self.fw = fw
        self.requested = language or fw.language
        self.fell_back = 0

    def entity(self, obj, ids: tuple[str, ...], texts: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(obj, k) for k in ids}
        missed = []
        for name in texts:
            value, used = self.fw.text(obj, name, self.requested)
            if value == "":
                continue
            out[name] = value
            if used != self.requested:
                missed.append(name)
        if missed:
            out["fell_back"] = missed
            self.fell_back += len(missed)
        return out

    def info(self) -> LanguageInfo:
        return LanguageInfo(requested=self.requested, default=self.fw.language, fell_back=self.fell_back)

    def scheme(self, scheme) -> dict[str, Any]:
        levels = []
        for lv in scheme.levels:
            row = self.entity(lv, ("level",), ("name", "description"))
            row["code"] = lv.label
            for extra in ("group", "complexity", "autonomy", "cognitive_domain"):
                if getattr(lv, extra):
                    row[extra] = getattr(lv, extra)
            levels.append(row)
        return {"id": scheme.id, "name": scheme.name, "levels": levels}


def _framework(frameworks: dict, framework_id: str):
    try:
        return frameworks[framework_id]
    except KeyError:
        raise ProblemError(
            404, "unknown-id", f"unknown framework {framework_id!r}; loaded: {', '.join(sorted(frameworks))}"
        ) from None


@router.get("", response_model=FrameworkList, summary="The competence frameworks loaded")
def list_frameworks(frameworks: Frameworks, principal: Principal = Depends(require(None))) -> dict:
    items = [fw.summary() for _, fw in sorted(frameworks.items())]
    return {"total": len(items), "items": items}


@router.get(
    "/{framework_id}",
    response_model=FrameworkDetail,
    summary="Areas, competences and the level scheme with its mappings",
)
def get_framework(
    framework_id: FrameworkId,
    frameworks: Frameworks,
    language: Annotated[Language | None, Query()] = None,
    principal: Principal = Depends(require(None)),
) -> dict:
    fw = _framework(frameworks, framework_id)
    loc = _Localizer(fw, language)
    summary = fw.summary()
    body = {
        "id": fw.id,
        "name": fw.name,
        "version": fw.version,
        "provenance": summary["provenance"],
        "areas": [loc.entity(a, ("id",), ("name", "description")) for a in fw.areas],
        "competences": [loc.entity(c, ("id", "area_id"), ("name", "description")) for c in fw.competences],
        "level_scheme": loc.scheme(fw.level_scheme),
        "schemes": [loc.scheme(s) for s in fw.schemes],
        "mappings": [
            {
                "source": m.source,
                "target": m.target,
                "levels": {
                    fw.scheme(m.source).level(k).label: [fw.scheme(m.target).level(t).label for t in v]
                    for k, v in m.pairs.items()
                },
            }
            for m in fw.mappings
        ],
        "counts": summary["counts"],
    }
    body["language"] = loc.info()
    return body


def _texts(fw, rows, query: TextFilters, *, kind, typed) -> dict:  # noqa: ANN001
    competence, area, level, ai_label = query.competence, query.area, query.level, query.ai_label
    language, offset, limit = query.language, query.offset, query.limit
    if competence is not None and competence not in fw.competence_ids:
        raise ProblemError(422, "validation", f"competence {competence!r} is not in {fw.id}")
    if area is not None and area not in fw.area_ids:
        raise ProblemError(422, "validation", f"area {area!r} is not in {fw.id}")
    number = None
    if level is not None:
        try:
            number = fw.level_scheme.number(int(level) if level.isdigit() else level)
        except UnknownIdError:
            raise ProblemError(
                422,
                "validation",
                f"level {level!r} is not in the {fw.scheme_id} scheme of "
                f"{fw.id} ({', '.join(fw.level_scheme.codes)})",
            ) from None
    area_of = {c.id: c.area_id for c in fw.competences}
    picked = [
        s
        for s in rows
        if (competence is None or s.competence_id == competence)
        and (area is None or area_of[s.competence_id] == area)
        and (number is None or s.level == number)
        and (ai_label is None or s.ai_label == ai_label)
        and (kind is None or s.type == kind.lower())
    ]
    loc = _Localizer(fw, language)
    items = []
    for s in picked[offset : offset + limit]:
        row = loc.entity(s, ("id", "competence_id", "level"), ("description",))
        row["level_code"] = fw.level(s.level).label
        row["ai_label"] = s.ai_label
        if typed:
            row["type"] = s.type
        items.append(row)
    return {"total": len(picked), "offset": offset, "limit": limit, "items": items, "language": loc.info()}


@dataclass
class TextFilters:
    """The query of a statements or outcomes listing (one definition for both routes)."""

    competence: Filter = None
    area: Filter = None
    level: Filter = None
    ai_label: Filter = None
    language: Annotated[Language | None, Query()] = None
    offset: Offset = 0
    limit: Limit = 50


@router.get(
    "/{framework_id}/statements",
    response_model=TextPage,
    summary="Competence statements, filtered by competence, area, level and AI label",
)
def statements(
    framework_id: FrameworkId,
    frameworks: Frameworks,
    query: Annotated[TextFilters, Depends()],
    principal: Principal = Depends(require(None)),
) -> dict:
    fw = _framework(frameworks, framework_id)
    return _texts(fw, fw.statements, query, kind=None, typed=False)


@router.get(
    "/{framework_id}/outcomes",
    response_model=TextPage,
    summary="Learning outcomes, filtered by competence, area, level, type and AI label",
)
def outcomes(
    framework_id: FrameworkId,
    frameworks: Frameworks,
    query: Annotated[TextFilters, Depends()],
    type: Annotated[str | None, Query(pattern=r"^(?i:knowledge|skill|attitude)$")] = None,
    principal: Principal = Depends(require(None)),
) -> dict:
    fw = _framework(frameworks, framework_id)
    return _texts(fw, fw.outcomes, query, kind=type, typed=True)


@router.get("/{framework_id}/glossary", response_model=TextPage, summary="The framework's glossary")
def glossary(
    framework_id: FrameworkId,
    frameworks: Frameworks,
    language: Annotated[Language | None, Query()] = None,
    offset: Offset = 0,
    limit: Limit = 50,
    principal: Principal = Depends(require(None)),
) -> dict:
    fw = _framework(frameworks, framework_id)
    loc = _Localizer(fw, language)
    items = [loc.entity(g, ("term",), ("explanation",)) for g in fw.glossary[offset : offset + limit]]
    return {
        "total": len(fw.glossary),
        "offset": offset,
        "limit": limit,
        "items": items,
        "language": loc.info(),
    }
