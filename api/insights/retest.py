"""A retest avoids the items the learner saw last time, where the bank allows.

``CatSession`` has no "exclude these items" argument, but its configuration does carry per-item
Sympson-Hetter exposure parameters (``CatConfig.exposure_parameters``, K_i by item id): with K = 0 an item
never passes the lottery, so it is rejected and marked used for this test, and the next-ranked item is
given instead. A retest therefore runs with ``exposure="sympson-hetter"``, K = 0 for the items of the
learner's latest finished diagnostic and the configured K (1 by default) for every other item. The
configuration is stored with the session, so replay (``CatSession.from_json``) gives the same test.

Trade-off: a service configured with randomesque exposure control gives retests the best unseen item
instead of one of the k best (Sympson-Hetter with K = 1 for unseen items); when every one of the top-ranked
candidates was seen, the engine gives the best anyway ("where the bank allows").
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
    """CAT config overrides that keep ``item_ids`` out of the test (K_i = 0)."""
    item_ids = list(dict.fromkeys(item_ids))
    if not item_ids:
        return dict(overrides)
    out = dict(overrides)
    # keep calibrated Sympson-Hetter parameters if the service uses them; otherwise every other item K = 1
    k = dict(out.get("exposure_parameters") or {}) if out.get("exposure") == "sympson-hetter" else {}
    k.update({i: 0.0 for i in item_ids})
    out["exposure"] = "sympson-hetter"
    out["exposure_parameters"] = k
    return out
