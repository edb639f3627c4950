"""Item bank I/O: the canonical JSON form (exact round trip) and item parameters as CSV (floats written
with ``repr`` precision, so also exact). JSON type errors raise ``ItemBankValidationError``; CSV problems
raise ``DataFileError`` naming the file, line and column.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from adaptive.errors import DataFileError, ItemBankValidationError
from adaptive.itembank.model import Item, ItemBank, ItemContent, _is_number
from adaptive.itembank.validation import check_item
from adaptive.jsonio import read_json_file

FORMAT = "digipath-item-bank"
FORMAT_VERSION = 1
PARAMETERIZATION = "slope-difficulty, logistic metric (no D=1.7)"
CSV_FIXED_COLUMNS = ("item_id", "model", "a", "c", "d")


def item_from_dict(data: Any) -> Item:
    """Parse one item record, raising ItemBankValidationError on a wrong type (not on values)."""
    if not isinstance(data, dict):
        raise ItemBankValidationError("item record must be an object", field="items")
    item_id = data.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise ItemBankValidationError(
            "item id must be a non-empty string", item_id=str(item_id), field="id"
        )

    def err(fld: str, reason: str) -> ItemBankValidationError:
        return ItemBankValidationError(reason, item_id=item_id, field=fld)

    for fld in ("area", "competence", "level", "model", "a", "b"):
        if fld not in data:
            raise err(fld, f"missing required field {fld!r}")
    b = data["b"]
    if _is_number(b):
        b = [b]
    if not isinstance(b, list) or not all(_is_number(x) for x in b):
        raise err("b", f"b must be a list of numbers, got {data['b']!r}")
    for fld in ("a", "c", "d"):
        if fld in data and not _is_number(data[fld]):
            raise err(fld, f"{fld} must be a number, got {data[fld]!r}")
    level = data["level"]
    if isinstance(level, bool) or not isinstance(level, int):
        raise err("level", f"level must be an integer, got {level!r}")
    content_raw = data.get("content", {})
    if not isinstance(content_raw, dict):
        raise err("content", "content must be an object keyed by language")
    content = {}
    for lang, rec in content_raw.items():
        fld = f"content.{lang}"
        if not isinstance(rec, dict):
            raise err(fld, "content must be an object with stem, options, media")
        stem, options, media = rec.get("stem"), rec.get("options"), rec.get("media", [])
        if not isinstance(stem, str):
            raise err(f"{fld}.stem", f"stem must be a string, got {stem!r}")
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise err(f"{fld}.options", "options must be a list of strings")
        if not isinstance(media, list) or not all(isinstance(m, str) for m in media):
            raise err(f"{fld}.media", "media must be a list of strings")
        content[lang] = ItemContent(stem=stem, options=list(options), media=list(media))
    key = data.get("key")
    if isinstance(key, list):
        if not all(isinstance(k, int) and not isinstance(k, bool) for k in key):
            raise err("key", f"key must be an integer or a list of integers, got {key!r}")
        key = list(key)
    elif key is not None and (isinstance(key, bool) or not isinstance(key, int)):
        raise err("key", f"key must be an integer or a list of integers, got {key!r}")
    enemies = data.get("enemies", [])
    if not isinstance(enemies, list) or not all(isinstance(e, str) for e in enemies):
        raise err("enemies", "enemies must be a list of item ids")
    measures = data.get("measures", [])
    if not isinstance(measures, list) or not all(isinstance(m, str) for m in measures):
        raise err("measures", "measures must be a list of statement or learning outcome ids")
    return Item(
        id=item_id,
        area=str(data["area"]),
        competence=str(data["competence"]),
        level=level,
        model=str(data["model"]),
        a=float(data["a"]),
        b=[float(x) for x in b],
        c=float(data.get("c", 0.0)),
        d=float(data.get("d", 1.0)),
        status=str(data.get("status", "active")),
        content=content,
        key=key,
        enemies=list(enemies),
        measures=list(measures),
    )


def _json_default(x: Any) -> Any:
    # provenance written by other tools may hold numpy values
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


def bank_to_dict(bank: ItemBank) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": bank.name,
        "framework_version": bank.framework_version,
        "framework_id": bank.framework_id,
        "parameterization": PARAMETERIZATION,
        "languages": list(bank.languages),
        "area_ids": list(bank.area_ids),
        "cut_scores": {a: list(v) for a, v in bank.cut_scores.items()},
        "area_correlation": bank.area_correlation.tolist(),
        "provenance": bank.provenance,
        **({"exposure_control": bank.exposure_control} if bank.exposure_control else {}),
        "items": [it.to_dict() for it in bank.items],
    }


def bank_from_dict(data: Any, framework=None, validate: bool = True, bank_class=None) -> ItemBank:
    """Parse (and by default validate) a bank record; ``bank_class`` builds it (ItemBank or a subclass)."""
    if not isinstance(data, dict):
        raise ItemBankValidationError("item bank must be a JSON object", field="<root>")
    if data.get("format", FORMAT) != FORMAT:
        raise ItemBankValidationError(
            f"not an item bank file (format {data.get('format')!r})", field="format"
        )
    for fld in ("framework_version", "languages", "items"):
        if fld not in data:
            raise ItemBankValidationError(f"missing required field {fld!r}", field=fld)
    if not isinstance(data["items"], list):
        raise ItemBankValidationError("items must be a list", field="items")
    cut_scores = data.get("cut_scores")
    if cut_scores is not None and (
        not isinstance(cut_scores, dict)
        or not all(isinstance(v, list) and all(_is_number(x) for x in v) for v in cut_scores.values())
    ):
        raise ItemBankValidationError(
            "cut_scores must map area id -> list of numbers", field="cut_scores"
        )
    corr = data.get("area_correlation")
    if corr is not None:
        try:
            corr = np.array(corr, dtype=float)
        except (TypeError, ValueError):
            raise ItemBankValidationError(
                "area_correlation must be a square matrix of numbers", field="area_correlation"
            ) from None
        if corr.ndim != 2:
            raise ItemBankValidationError(
                "area_correlation must be a square matrix", field="area_correlation"
            )
    exposure = data.get("exposure_control")
    if exposure is not None:
        _check_exposure_control(exposure)
    bank = (bank_class or ItemBank)(
        items=[item_from_dict(rec) for rec in data["items"]],
        framework_version=str(data["framework_version"]),
        languages=list(data["languages"]),
        cut_scores=cut_scores,
        area_ids=data.get("area_ids"),
        area_correlation=corr,
        provenance=data.get("provenance") or {},
        name=str(data.get("name", "")),
        framework_id=data.get("framework_id") or None,
        exposure_control=exposure,
    )
    if validate:
        bank.validate(framework)
    return bank


def _check_exposure_control(data: Any) -> None:
    """Stored conditional Sympson-Hetter parameters: increasing band edges, one K in [0, 1] per band."""
    def bad(reason: str) -> ItemBankValidationError:
        return ItemBankValidationError(reason, field="exposure_control")

    if not isinstance(data, dict) or data.get("method") != "conditional-sympson-hetter":
        raise bad("must be an object with method 'conditional-sympson-hetter'")
    edges = data.get("theta_bands")
    if (not isinstance(edges, list) or not edges or not all(_is_number(x) for x in edges)
            or any(b <= a for a, b in zip(edges, edges[1:], strict=False))):
        raise bad("theta_bands must be an increasing list of numbers")
    params = data.get("parameters")
    if not isinstance(params, dict):
        raise bad("parameters must map item id -> list of K (one per theta band)")
    for item_id, k in params.items():
        if (not isinstance(k, list) or len(k) != len(edges) + 1
                or not all(_is_number(x) and 0 <= x <= 1 for x in k)):
            raise bad(f"item {item_id!r}: need {len(edges) + 1} K values in [0, 1], got {k!r}")


def save_json(bank: ItemBank, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(bank_to_dict(bank), ensure_ascii=False, indent=1, default=_json_default)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def load_json(path: str | Path, framework=None, validate: bool = True, bank_class=None) -> ItemBank:
    data = read_json_file(path, "item bank")
    return bank_from_dict(data, framework=framework, validate=validate, bank_class=bank_class)


def export_parameters_csv(bank: ItemBank, path: str | Path) -> Path:
    """One row per item: item_id, model, a, b1..bK, c, d (+ area, competence, level, status to read)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    k_max = max((len(it.b) for it in bank.items), default=1)
    b_cols = [f"b{k}" for k in range(1, k_max + 1)]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "area", "competence", "level", "status", "model", "a", *b_cols, "c", "d"])
        for it in bank.items:
            bs = [repr(float(x)) for x in it.b] + [""] * (k_max - len(it.b))
            w.writerow(
                [
                    it.id,
                    it.area,
                    it.competence,
                    it.level,
                    it.status,
                    it.model,
                    repr(float(it.a)),
                    *bs,
                    repr(float(it.c)),
                    repr(float(it.d)),
                ]
            )
    return path


def with_parameters_from_csv(bank: ItemBank, path: str | Path) -> ItemBank:
    """A copy of this bank with model/a/b/c/d replaced for the items listed in the CSV file.

    Items absent from the file keep their parameters. Errors name the file, line and column."""
    path = Path(path)
    fname = str(path)
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"cannot read parameter file: {exc.strerror or exc}", file=fname) from exc
    with fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for col in CSV_FIXED_COLUMNS:
            if col not in header:
                raise DataFileError(
                    f"missing column {col!r} (header: {', '.join(header)})",
                    file=fname,
                    line=1,
                    column=col,
                )
        b_cols = sorted(
            (h for h in header if h.startswith("b") and h[1:].isdigit()), key=lambda h: int(h[1:])
        )
        if not b_cols or b_cols[0] != "b1":
            raise DataFileError("need difficulty columns b1, b2, ...", file=fname, line=1, column="b1")
        index = bank._id_index()
        updated: dict[int, Item] = {}
        for line, row in enumerate(reader, start=2):
            if None in row:
                raise DataFileError("more fields than header columns", file=fname, line=line)
            item_id = row["item_id"]
            if item_id not in index:
                raise DataFileError(
                    f"unknown item id {item_id!r} (not in bank {bank.name!r})",
                    file=fname,
                    line=line,
                    column="item_id",
                )
            pos = index[item_id]
            if pos in updated:
                raise DataFileError(
                    f"duplicate row for item {item_id!r}", file=fname, line=line, column="item_id"
                )
            nums = {}
            for col in ("a", "c", "d", *b_cols):
                raw = (row.get(col) or "").strip()
                if raw == "" and col.startswith("b"):
                    continue
                try:
                    nums[col] = float(raw)
                except ValueError:
                    raise DataFileError(
                        f"not a number: {raw!r}", file=fname, line=line, column=col
                    ) from None
            bs = []
            for col in b_cols:  # thresholds must be a gap-free prefix b1..bk
                if col in nums:
                    if len(bs) != int(col[1:]) - 1:
                        raise DataFileError(
                            "gap in the threshold columns", file=fname, line=line, column=col
                        )
                    bs.append(nums[col])
            new = dataclasses.replace(bank.items[pos], model=row["model"].strip(), a=nums["a"], b=bs,
                                      c=nums["c"], d=nums["d"])
            try:
                check_item(new, bank.languages, bank.n_levels)
            except ItemBankValidationError as exc:
                column = exc.field if exc.field in header else ("b1" if exc.field == "b" else exc.field)
                raise DataFileError(exc.reason, file=fname, line=line, column=column) from exc
            updated[pos] = new
    items = [updated.get(i, it) for i, it in enumerate(bank.items)]
    return bank.replace(items=items)
