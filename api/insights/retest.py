"""A retest avoids the items the learner saw last time, where the bank allows.

``CatConfig.exclude_items`` keeps the items of the learner's latest finished diagnostic out of the new
test as an eligibility mask under whatever selection and exposure control the service is configured with
(randomesque, Sympson-Hetter or none); when excluding would leave an area unable to meet its minimum,
that area's seen items come back (see ``CatConfig``). The configuration is stored with the session, so
replay (``CatSession.from_json``) gives the same test.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy.orm import Session

from api.persistence.learners import latest_finished_session
from api.persistence.tables import Learner


def items_seen_last_time(db: Session, learner: Learner) -> list[str]:
    """Item ids of the learner's latest finished diagnostic (pilot items included), in test order."""
    row = latest_finished_session(db, learner)
    if row is None:
        return []
    try:
        log = json.loads(row.state).get("log") or []
    except (ValueError, AttributeError):
        return []
    return [str(e["item_id"]) for e in log if isinstance(e, dict) and "item_id" in e]


def exclude_items(overrides: dict, item_ids: Iterable[str]) -> dict:
    """CAT config overrides that keep ``item_ids`` out of the test (``CatConfig.exclude_items``; any
    exclusion already in ``overrides`` is kept); the exposure settings are left as they are."""
    item_ids = list(dict.fromkeys(item_ids))
    if not item_ids:
        return dict(overrides)
    out = dict(overrides)
    out["exclude_items"] = list(dict.fromkeys([*(out.get("exclude_items") or []), *map(str, item_ids)]))
    return out
