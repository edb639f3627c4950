"""Item banks: items with IRT parameters, multilingual content and server-side keys, plus bank metadata.

JSON is the canonical form (``save_json``/``load_json`` round-trip exactly); item parameters can be
exported to and re-imported from CSV (floats written with ``repr`` precision, so also exact).
Validation raises :class:`ItemBankValidationError` naming the item and the field; CSV problems raise
:class:`DataFileError` naming the file, line and column. The scoring key never leaves this module
through :meth:`ItemBank.public_item`.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from adaptive.errors import (
    DataFileError,
    InvalidAnswerError,
    ItemBankValidationError,
    UnknownIdError,
)
from adaptive.irt import MODELS, ItemParameters
from adaptive.jsonio import read_json_file

STATUSES = ("active", "pilot", "retired")
N_LEVELS = 8
N_CUTS = N_LEVELS - 1
DEFAULT_CUT_SCORES = (-2.0, -1.3, -0.6, 0.0, 0.6, 1.2, 1.8)
FORMAT = "digipath-item-bank"
FORMAT_VERSION = 1
PARAMETERIZATION = "slope-difficulty, logistic metric (no D=1.7)"
CSV_FIXED_COLUMNS = ("item_id", "model", "a", "c", "d")


@dataclass
class ItemContent:
    stem: str
    options: list[str]
    media: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"stem": self.stem, "options": list(self.options), "media": list(self.media)}


@dataclass
class Item:
    id: str
    area: str
    competence: str
    level: int
    model: str
    a: float
    b: list[float]
    c: float = 0.0
    d: float = 1.0
    status: str = "active"
    content: dict[str, ItemContent] = field(default_factory=dict)
    key: int | list[int] | None = None
    enemies: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # numpy scalars/arrays (e.g. from a calibration DataFrame) become plain Python values so the
        # item serialises to JSON; anything else is left for validation to report by field
        if isinstance(self.level, np.integer):
            self.level = int(self.level)
        for name in ("a", "c", "d"):
            if isinstance(getattr(self, name), np.number):
                setattr(self, name, float(getattr(self, name)))
        if isinstance(self.b, np.ndarray | tuple) or _is_number(self.b):
            self.b = [float(x) for x in np.atleast_1d(self.b)]
        elif isinstance(self.b, list):
            self.b = [float(x) if isinstance(x, np.number) else x for x in self.b]
        if isinstance(self.key, np.integer):
            self.key = int(self.key)
        elif isinstance(self.key, np.ndarray | tuple):
            self.key = [int(k) for k in self.key]

    @property
    def is_polytomous(self) -> bool:
        return self.model == "GRM"

    @property
    def n_categories(self) -> int:
        return len(self.b) + 1 if self.is_polytomous else 2

    @property
    def n_options(self) -> int:
        """Number of answer options shown (the same in every language, checked by validation)."""
        if self.content:
            return len(next(iter(self.content.values())).options)
        return len(self.key) if isinstance(self.key, list) else 0

    @property
    def max_score(self) -> int:
        return self.n_categories - 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "area": self.area,
            "competence": self.competence,
            "level": self.level,
            "model": self.model,
            "a": self.a,
            "b": list(self.b),
            "c": self.c,
            "d": self.d,
            "status": self.status,
            "content": {lang: c.to_dict() for lang, c in self.content.items()},
            "key": list(self.key) if isinstance(self.key, list) else self.key,
            "enemies": list(self.enemies),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Item:
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
            raise err("level", f"level must be an integer 1..{N_LEVELS}, got {level!r}")
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
        return cls(
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
        )


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool | np.bool_)


def _json_default(x: Any) -> Any:
    # provenance written by other tools may hold numpy values
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


def check_item_parameters(item: Item) -> None:
    """Model and parameter checks for one item (also used by the CSV import)."""

    def err(fld: str, reason: str) -> ItemBankValidationError:
        return ItemBankValidationError(reason, item_id=item.id, field=fld)

    if item.model not in MODELS:
        raise err("model", f"unknown IRT model {item.model!r} (expected one of {', '.join(MODELS)})")
    if not math.isfinite(item.a) or item.a <= 0:
        raise err("a", f"discrimination a must be finite and > 0, got {item.a!r}")
    if not all(math.isfinite(x) for x in item.b):
        raise err("b", f"difficulties/thresholds must be finite, got {item.b!r}")
    if item.model == "GRM":
        if len(item.b) < 1:
            raise err("b", "a GRM item needs at least one threshold")
        if any(b1 >= b2 for b1, b2 in zip(item.b, item.b[1:], strict=False)):
            raise err("b", f"GRM thresholds must be strictly increasing, got {item.b!r}")
    elif len(item.b) != 1:
        raise err("b", f"a {item.model} item has exactly one difficulty, got {len(item.b)} values")
    if item.model in ("3PL", "4PL"):
        if not (math.isfinite(item.c) and 0.0 <= item.c < 1.0):
            raise err("c", f"guessing c must be in [0, 1), got {item.c!r}")
    elif item.c != 0.0:
        raise err("c", f"a {item.model} item has no guessing parameter: c must be 0, got {item.c!r}")
    if item.model == "4PL":
        if not (math.isfinite(item.d) and item.c < item.d <= 1.0):
            raise err("d", f"upper asymptote d must be in (c, 1] = ({item.c!r}, 1], got {item.d!r}")
    elif item.d != 1.0:
        raise err("d", f"a {item.model} item has no upper asymptote: d must be 1, got {item.d!r}")


def check_item(item: Item, languages: Sequence[str]) -> None:
    """Everything about one item that does not need the framework or the rest of the bank."""

    def err(fld: str, reason: str) -> ItemBankValidationError:
        return ItemBankValidationError(reason, item_id=item.id, field=fld)

    if isinstance(item.level, bool) or not isinstance(item.level, int) or not 1 <= item.level <= N_LEVELS:
        raise err("level", f"intended level must be an integer 1..{N_LEVELS}, got {item.level!r}")
    if item.status not in STATUSES:
        raise err("status", f"status must be one of {', '.join(STATUSES)}, got {item.status!r}")
    check_item_parameters(item)
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


class ItemBank:
    """A calibrated item bank. Treated as immutable once built: the IRT parameter arrays are cached."""

    def __init__(
        self,
        items: Iterable[Item],
        framework_version: str = "2.2",
        languages: Sequence[str] = ("en",),
        cut_scores: dict[str, Sequence[float]] | None = None,
        area_ids: Sequence[str] | None = None,
        area_correlation: np.ndarray | Sequence[Sequence[float]] | None = None,
        provenance: dict[str, Any] | None = None,
        name: str = "",
    ):
        self.items: list[Item] = list(items)
        self.framework_version = str(framework_version)
        self.languages = list(languages)
        if area_ids is None:
            area_ids = list(cut_scores) if cut_scores else sorted({it.area for it in self.items}, key=_id_key)
        self.area_ids = [str(a) for a in area_ids]
        if cut_scores is None:
            cut_scores = {a: DEFAULT_CUT_SCORES for a in self.area_ids}
        self.cut_scores = {str(k): [float(x) for x in v] for k, v in cut_scores.items()}
        if area_correlation is None:
            area_correlation = np.eye(len(self.area_ids))
        self.area_correlation = np.array(area_correlation, dtype=float)
        self.provenance = dict(provenance or {})
        self.name = name
        self._index: dict[str, int] | None = None
        self._params = None
        self._areas: np.ndarray | None = None

    # -- container protocol and lookups ------------------------------------------------------
    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __repr__(self) -> str:
        return (
            f"ItemBank(name={self.name!r}, items={len(self.items)}, framework_version="
            f"{self.framework_version!r}, languages={self.languages!r})"
        )

    def _id_index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {it.id: i for i, it in enumerate(self.items)}
        return self._index

    def index_of(self, item_id: str) -> int:
        try:
            return self._id_index()[item_id]
        except KeyError:
            raise UnknownIdError(
                "item", str(item_id), f"unknown item id {item_id!r} in bank {self.name!r}"
            ) from None

    def item(self, item_id: str) -> Item:
        return self.items[self.index_of(item_id)]

    def cut_scores_array(self) -> np.ndarray:
        """(D, 7) cut scores in ``area_ids`` order."""
        return np.array([self.cut_scores[a] for a in self.area_ids], dtype=float)

    # -- IRT views -----------------------------------------------------------------------------
    def parameters(self, ids: Sequence[str] | None = None):
        """ItemParameters for all items (bank order) or for ``ids`` in the given order."""
        if self._params is None:
            self._params = _build_parameters(self.items)
        if ids is None:
            return self._params
        index = self._id_index()
        try:
            rows = np.fromiter((index[i] for i in ids), dtype=np.intp)
        except KeyError as exc:
            raise UnknownIdError(
                "item", str(exc.args[0]), f"unknown item id {exc.args[0]!r} in bank {self.name!r}"
            ) from None
        return self._params.subset(rows)

    def item_areas(self) -> np.ndarray:
        """Area index (into ``area_ids``) of each item, in bank order."""
        if self._areas is None:
            pos = {a: k for k, a in enumerate(self.area_ids)}
            try:
                self._areas = np.array([pos[it.area] for it in self.items], dtype=np.intp)
            except KeyError as exc:
                raise UnknownIdError(
                    "area",
                    str(exc.args[0]),
                    f"item area {exc.args[0]!r} not in bank area_ids {self.area_ids}",
                ) from None
        return self._areas

    def select(self, status: str | Sequence[str] = ("active",)) -> list[int]:
        wanted = {status} if isinstance(status, str) else set(status)
        return [i for i, it in enumerate(self.items) if it.status in wanted]

    # -- server-side scoring and what a test taker may see ------------------------------------
    def score(self, item_id: str, answer: int) -> int:
        it = self.item(item_id)
        n = it.n_options
        if isinstance(answer, bool) or not isinstance(answer, int | np.integer) or not 0 <= answer < n:
            raise InvalidAnswerError(
                f"item {item_id!r}: answer must be an option index 0..{n - 1}, got {answer!r}"
            )
        if it.is_polytomous:
            return int(it.key[answer])
        return int(answer == it.key)

    def public_item(self, item_id: str, language: str) -> dict[str, Any]:
        it = self.item(item_id)
        if language not in it.content:
            raise UnknownIdError(
                "language",
                language,
                f"item {item_id!r} has no content in language {language!r} "
                f"(available: {', '.join(it.content)})",
            )
        content = it.content[language]
        # built field by field (never from to_dict) so the key cannot slip in
        return {
            "id": it.id,
            "area": it.area,
            "competence": it.competence,
            "language": language,
            "response_type": "rating-scale" if it.is_polytomous else "single-choice",
            "stem": content.stem,
            "options": list(content.options),
            "media": list(content.media),
        }

    # -- validation ---------------------------------------------------------------------------
    def validate(self, framework=None) -> None:
        """Check the whole bank; with a framework (default: packaged one if versions match) also areas
        and competences. Raises ItemBankValidationError naming the item (or bank field) and field."""
        if framework is None:
            from adaptive.framework import load_framework

            packaged = load_framework()
            framework = packaged if packaged.version == self.framework_version else None
        self._validate_metadata(framework)
        ids = self._validate_items(framework)
        for it in self.items:
            for e in it.enemies:
                if e == it.id:
                    raise ItemBankValidationError(
                        "an item cannot be its own enemy", item_id=it.id, field="enemies"
                    )
                if e not in ids:
                    raise ItemBankValidationError(
                        f"enemy {e!r} is not in the bank", item_id=it.id, field="enemies"
                    )

    def _validate_metadata(self, framework) -> None:
        def err(fld: str, reason: str) -> ItemBankValidationError:
            return ItemBankValidationError(f"bank {self.name!r}: {reason}", field=fld)

        if framework is not None and framework.version != self.framework_version:
            raise err(
                "framework_version",
                f"bank is for framework version {self.framework_version!r}, "
                f"validated against {framework.version!r}",
            )
        if not self.languages or len(set(self.languages)) != len(self.languages):
            raise err(
                "languages", f"languages must be a non-empty list without repeats, got {self.languages}"
            )
        if not self.area_ids or len(set(self.area_ids)) != len(self.area_ids):
            raise err("area_ids", f"area_ids must be non-empty and unique, got {self.area_ids}")
        if framework is not None:
            for a in self.area_ids:
                if a not in framework.area_ids:
                    raise err("area_ids", f"area {a!r} is not in {framework.name} {framework.version}")
        if set(self.cut_scores) != set(self.area_ids):
            raise err(
                "cut_scores",
                f"cut scores given for areas {sorted(self.cut_scores)}, bank areas are {self.area_ids}",
            )
        for a in self.area_ids:
            cuts = self.cut_scores[a]
            if len(cuts) != N_CUTS:
                raise err(
                    f"cut_scores.{a}", f"need {N_CUTS} cut scores for {N_LEVELS} levels, got {len(cuts)}"
                )
            if not all(math.isfinite(x) for x in cuts) or any(
                x >= y for x, y in zip(cuts, cuts[1:], strict=False)
            ):
                raise err(f"cut_scores.{a}", f"cut scores must be finite and strictly increasing, got {cuts}")
        r = self.area_correlation
        d = len(self.area_ids)
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

    def _validate_items(self, framework) -> set[str]:
        ids: set[str] = set()
        areas = set(self.area_ids)
        for it in self.items:
            if it.id in ids:
                raise ItemBankValidationError("duplicate item id", item_id=it.id, field="id")
            ids.add(it.id)
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
                    f"area {it.area!r} is not one of the bank's areas {self.area_ids}",
                    item_id=it.id,
                    field="area",
                )
            check_item(it, self.languages)
        return ids

    # -- canonical JSON --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "framework_version": self.framework_version,
            "parameterization": PARAMETERIZATION,
            "languages": list(self.languages),
            "area_ids": list(self.area_ids),
            "cut_scores": {a: list(v) for a, v in self.cut_scores.items()},
            "area_correlation": self.area_correlation.tolist(),
            "provenance": self.provenance,
            "items": [it.to_dict() for it in self.items],
        }

    @classmethod
    def from_dict(cls, data: Any, framework=None, validate: bool = True) -> ItemBank:
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
        bank = cls(
            items=[Item.from_dict(rec) for rec in data["items"]],
            framework_version=str(data["framework_version"]),
            languages=list(data["languages"]),
            cut_scores=cut_scores,
            area_ids=data.get("area_ids"),
            area_correlation=corr,
            provenance=data.get("provenance") or {},
            name=str(data.get("name", "")),
        )
        if validate:
            bank.validate(framework)
        return bank

    def save_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1, default=_json_default)
        path.write_text(text + "\n", encoding="utf-8")
        return path

    @classmethod
    def load_json(cls, path: str | Path, framework=None, validate: bool = True) -> ItemBank:
        data = read_json_file(path, "item bank")
        return cls.from_dict(data, framework=framework, validate=validate)

    def replace(self, **changes: Any) -> ItemBank:
        """A new bank with some constructor arguments changed (items are copied shallowly)."""
        args = dict(
            items=list(self.items),
            framework_version=self.framework_version,
            languages=self.languages,
            cut_scores=self.cut_scores,
            area_ids=self.area_ids,
            area_correlation=self.area_correlation,
            provenance=self.provenance,
            name=self.name,
        )
        args.update(changes)
        return ItemBank(**args)

    # -- CSV item parameters ---------------------------------------------------------------------
    def export_parameters_csv(self, path: str | Path) -> Path:
        """One row per item: item_id, model, a, b1..bK, c, d (+ area, competence, level, status to read)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        k_max = max((len(it.b) for it in self.items), default=1)
        b_cols = [f"b{k}" for k in range(1, k_max + 1)]
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["item_id", "area", "competence", "level", "status", "model", "a", *b_cols, "c", "d"])
            for it in self.items:
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

    def with_parameters_from_csv(self, path: str | Path) -> ItemBank:
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
            index = self._id_index()
            updated: dict[int, Item] = {}
            for line, row in enumerate(reader, start=2):
                if None in row:
                    raise DataFileError("more fields than header columns", file=fname, line=line)
                item_id = row["item_id"]
                if item_id not in index:
                    raise DataFileError(
                        f"unknown item id {item_id!r} (not in bank {self.name!r})",
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
                old = self.items[pos]
                new = Item(
                    id=old.id,
                    area=old.area,
                    competence=old.competence,
                    level=old.level,
                    model=row["model"].strip(),
                    a=nums["a"],
                    b=bs,
                    c=nums["c"],
                    d=nums["d"],
                    status=old.status,
                    content=old.content,
                    key=old.key,
                    enemies=old.enemies,
                )
                try:
                    check_item(new, self.languages)
                except ItemBankValidationError as exc:
                    column = exc.field if exc.field in header else ("b1" if exc.field == "b" else exc.field)
                    raise DataFileError(exc.reason, file=fname, line=line, column=column) from exc
                updated[pos] = new
        items = [updated.get(i, it) for i, it in enumerate(self.items)]
        return self.replace(items=items)


def _id_key(s: str) -> tuple:
    # "10" sorts after "9"
    return tuple(int(p) if p.isdigit() else p for p in s.split("."))


def _build_parameters(items: Sequence[Item]):
    """Full-bank ItemParameters (b NaN-padded to the widest item)."""
    n = len(items)
    k_max = max((len(it.b) for it in items), default=1)
    b = np.full((n, k_max), np.nan)
    for i, it in enumerate(items):
        b[i, : len(it.b)] = it.b
    return ItemParameters(
        model=np.array([it.model for it in items], dtype=str),
        a=np.array([it.a for it in items], dtype=float),
        b=b,
        c=np.array([it.c for it in items], dtype=float),
        d=np.array([it.d for it in items], dtype=float),
        n_categories=np.array([it.n_categories for it in items], dtype=int),
        ids=np.array([it.id for it in items], dtype=object),
    )
