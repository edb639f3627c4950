"""Reference data: the DigComp framework, the learning catalogue (paginated). Role profiles: ``roles.py``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.auth import Principal, require
from api.deps import Recommender
from api.jsonable import jsonable
from api.schemas import Language, Page

router = APIRouter(prefix="/v1", tags=["reference"])


@router.get("/framework", summary="DigComp 2.2 as before (every framework loaded: /v1/frameworks)")
def framework(principal: Principal = Depends(require(None))) -> dict:
    from adaptive.framework import load_framework

    body = load_framework().to_dict()
    # the 2.2 shape existing clients read: ``levels`` beside the new ``level_scheme``
    body["levels"] = body["level_scheme"]["levels"]
    return jsonable(body)


@router.get("/catalog", response_model=Page, summary="The learning catalogue the recommender ranks")
def catalog(
    recommender: Recommender,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    language: Annotated[Language | None, Query()] = None,
    format: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z-]+$")] = None,
    principal: Principal = Depends(require(None)),
) -> dict:
    bundle, _ = recommender
    catalogue = bundle.catalogue
    frame = catalogue.items[catalogue.mask(language=language, format=format)]
    page = frame.iloc[offset : offset + limit]
    rows = []
    for rec in page.to_dict(orient="records"):
        rec["competences"] = [c for c in str(rec.get("competences", "")).split(";") if c]
        rows.append(jsonable(rec))
    return {"total": int(len(frame)), "offset": offset, "limit": limit, "items": rows}
