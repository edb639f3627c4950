"""Item bank validation: every error is an ``ItemBankValidationError`` naming the item (or bank field)
and the field.

The IRT parameter rules are not written here: :func:`adaptive.irt.parameter_problem` is their one
definition; this module turns its findings into item-bank errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from adaptive.errors import ItemBankValidationError, UnknownIdError
from adaptive.irt import parameter_problem
from adaptive.itembank.model import N_LEVELS, STATUSES, _is_number, parameter_arrays

if TYPE_CHECKING:
    from adaptive.itembank.model import Item, ItemBank


def check_item_parameters(items: Item | Sequence[Item]) -> None:
    """Model and parameter checks for one item or many at once (vectorised; the CSV import uses it)."""
    items = [items] if not isinstance(items, Sequence) else items
    if not items:
        return
    try:
        arrays = parameter_arrays(items)
    except (TypeError, ValueError):
        arrays = None      # a value that is not a number: find the item (only on this slow path)
    for it in items if arrays is None else ():
        for fld in ("a", "c", "d"):
            if not _is_number(getattr(it, fld)):
                raise ItemBankValidationError(f"{fld} must be a number, got {getattr(it, fld)!r}",
                                              item_id=it.id, field=fld)
        if not isinstance(it.b, list) or not all(_is_number(x) for x in it.b):
            raise ItemBankValidationError(f"b must be a list of numbers, got {it.b!r}",
                                          item_id=it.id, field="b")
    problem = parameter_problem(**arrays)
    if problem is not None:
        i, fld, reason = problem
        # the bank stores thresholds as b, so a missing category is a missing threshold
        raise ItemBankValidationError(reason, item_id=items[i].id,
                                      field="b" if fld == "n_categories" else fld)


def check_item(item: Item, languages: Sequence[str], n_levels: int = N_LEVELS) -> None:
    """Everything about one item that does not need the framework or the rest of the bank."""
    check_item_parameters(item)
    _check_item_fields(item, languages, n_levels)


def _check_item_fields(item: Item, languages: Sequence[str], n_levels: int) -> None:
    """Level, status, content and key (the parameters are checked for all items at once)."""

    def err(fld: str, reason: str) -> ItemBankValidationError:
        return ItemBankValidationError(reason, item_id=item.id, field=fld)

    if isinstance(item.level, bool) or not isinstance(item.level, int) or not 1 <= item.level <= n_levels:
        raise err("level", f"intended level must be an integer 1..{n_levels}, got {item.level!r}")
    if item.status not in STATUSES:
        raise err("status", f"status must be one of {', '.join(STATUSES)}, got {item.status!r}")
    for lang in languages:
        if lang not in item.content:
            raise err(f"content.{lang}", f"missing content for declared language {lang!r}")
        if not item.content[lang].stem.strip():
            raise err(f"content.{lang}.stem", f"empty stem in language {lang!r}")
    counts = {lang: len(c.options) for lang, c in item.content.items()}
    if len(set(counts.values())) > 1:
        raise err("content", f"options count differs between languages: {counts}")
    n_options = item.n_options
    if item.key is None:
        raise err("key", "missing scoring key")
    if item.model == "GRM":
        n_cat = item.n_categories
        if n_options != n_cat:
            raise err(
                "content.options",
                f"a GRM item with {len(item.b)} thresholds needs {n_cat} options "
                f"(one per category), got {n_options}",
            )
        if not isinstance(item.key, list):
            raise err("key", "a GRM item's key is the list of scores of its options")
        if len(item.key) != n_options:
            raise err("key", f"key has {len(item.key)} scores for {n_options} options")
        if any(not 0 <= k < n_cat for k in item.key):
            raise err("key", f"option scores must be in 0..{n_cat - 1}, got {item.key!r}")
        if set(item.key) != set(range(n_cat)):
            raise err("key", f"option scores must cover every category 0..{n_cat - 1}, got {item.key!r}")
    else:
        if n_options < 2:
            raise err("content.options", f"a {item.model} item needs at least 2 options, got {n_options}")
        if isinstance(item.key, list) or isinstance(item.key, bool):
            raise err(
                "key", f"a {item.model} item's key is the index of the correct option, got {item.key!r}"
            )
        if not 0 <= item.key < n_options:
            raise err("key", f"key {item.key} out of range for {n_options} options (0..{n_options - 1})")


def validate_bank(bank: ItemBank, framework=None) -> None:
    """Check the whole bank; with a framework (default: the known framework of its ``framework_id`` and
    version, see ``adaptive.framework.framework_for_bank``) also areas, competences and levels."""
    if framework is None:
        from adaptive.framework import framework_for_bank

        framework = framework_for_bank(bank)
    n_levels = _check_metadata(bank, framework)
    # parameters first: the content checks rely on the number of categories they imply
    check_item_parameters(bank.items)
    ids = _check_items(bank, framework, n_levels)
    for it in bank.items:
        for e in it.enemies:
            if e == it.id:
                raise ItemBankValidationError(
                    "an item cannot be its own enemy", item_id=it.id, field="enemies"
                )
            if e not in ids:
                raise ItemBankValidationError(
                    f"enemy {e!r} is not in the bank", item_id=it.id, field="enemies"
                )


def _check_metadata(bank: ItemBank, framework) -> int:
    def err(fld: str, reason: str) -> ItemBankValidationError:
        return ItemBankValidationError(f"bank {bank.name!r}: {reason}", field=fld)

    if framework is not None and framework.version != bank.framework_version:
        raise err(
            "framework_version",
            f"bank is for framework version {bank.framework_version!r}, "
            f"validated against {framework.version!r}",
        )
    if not bank.languages or len(set(bank.languages)) != len(bank.languages):
        raise err(
            "languages", f"languages must be a non-empty list without repeats, got {bank.languages}"
        )
    if not bank.area_ids or len(set(bank.area_ids)) != len(bank.area_ids):
        raise err("area_ids", f"area_ids must be non-empty and unique, got {bank.area_ids}")
    if framework is not None:
        for a in bank.area_ids:
            if a not in framework.area_ids:
                raise err("area_ids", f"area {a!r} is not in {framework.name} {framework.version}")
    if set(bank.cut_scores) != set(bank.area_ids):
        raise err(
            "cut_scores",
            f"cut scores given for areas {sorted(bank.cut_scores)}, bank areas are {bank.area_ids}",
        )
    # the number of levels: the framework's, else the first area's (every area has the same levels)
    n_levels = len(framework.levels) if framework is not None else len(bank.cut_scores[bank.area_ids[0]]) + 1
    for a in bank.area_ids:
        cuts = bank.cut_scores[a]
        if len(cuts) != n_levels - 1 or not cuts:
            raise err(
                f"cut_scores.{a}", f"need {n_levels - 1} cut scores for {n_levels} levels, got {len(cuts)}"
            )
        if not all(math.isfinite(x) for x in cuts) or any(
            x >= y for x, y in zip(cuts, cuts[1:], strict=False)
        ):
            raise err(f"cut_scores.{a}", f"cut scores must be finite and strictly increasing, got {cuts}")
    r = bank.area_correlation
    d = len(bank.area_ids)
    if r.shape != (d, d):
        raise err("area_correlation", f"must be {d}x{d} for {d} areas, got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise err("area_correlation", "contains non-finite values")
    if not np.allclose(np.diag(r), 1.0, rtol=0, atol=1e-12):
        raise err("area_correlation", f"diagonal must be 1, got {np.diag(r).tolist()}")
    if not np.allclose(r, r.T, rtol=0, atol=1e-12):
        raise err("area_correlation", "must be symmetric")
    try:
        np.linalg.cholesky(r)
    except np.linalg.LinAlgError:
        raise err("area_correlation", "must be positive definite") from None
    return n_levels


def _check_items(bank: ItemBank, framework, n_levels: int) -> set[str]:
    ids: set[str] = set()
    areas = set(bank.area_ids)
    texts = {} if framework is None else {
        s.id: s.competence_id
        for s in (*getattr(framework, "statements", ()), *getattr(framework, "outcomes", ()))
    }
    for it in bank.items:
        if it.id in ids:
            raise ItemBankValidationError("duplicate item id", item_id=it.id, field="id")
        ids.add(it.id)
        for m in it.measures if framework is not None else ():
            if texts.get(m) != it.competence:
                raise ItemBankValidationError(
                    f"{m!r} is not a statement or learning outcome of competence {it.competence!r} in "
                    f"{framework.id}", item_id=it.id, field="measures")
        if framework is not None:
            try:
                comp = framework.competence(it.competence)
            except UnknownIdError:
                raise ItemBankValidationError(
                    f"unknown competence {it.competence!r} in {framework.name} {framework.version}",
                    item_id=it.id,
                    field="competence",
                ) from None
            if comp.area_id != it.area:
                raise ItemBankValidationError(
                    f"competence {it.competence!r} belongs to area {comp.area_id!r}, not {it.area!r}",
                    item_id=it.id,
                    field="competence",
                )
        if it.area not in areas:
            raise ItemBankValidationError(
                f"area {it.area!r} is not one of the bank's areas {bank.area_ids}",
                item_id=it.id,
                field="area",
            )
        _check_item_fields(it, bank.languages, n_levels)
    return ids
