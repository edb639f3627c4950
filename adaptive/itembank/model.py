"""The item bank model: items with IRT parameters, multilingual content and server-side keys, plus
bank metadata (cut scores, area correlation, provenance).

Validation (:mod:`.validation`), JSON/CSV I/O (:mod:`.io`) and what a test taker sees
(:mod:`.public`) live next door; the ``ItemBank`` methods of those names call them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from adaptive.errors import InvalidAnswerError, UnknownIdError
from adaptive.irt import ItemParameters

STATUSES = ("active", "pilot", "retired")
DEFAULT_CUT_SCORES = (-2.0, -1.3, -0.6, 0.0, 0.6, 1.2, 1.8)
# the default number of levels follows from the default cuts (DigComp 2.2: 8); a bank's own number of
# levels is len(its cut scores) + 1
N_CUTS = len(DEFAULT_CUT_SCORES)
N_LEVELS = N_CUTS + 1


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
    # ids of the framework's competence statements / learning outcomes the item measures
    measures: list[str] = field(default_factory=list)

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
            **({"measures": list(self.measures)} if self.measures else {}),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Item:
        """Parse one item record, raising ItemBankValidationError on a wrong type (not on values)."""
        from adaptive.itembank.io import item_from_dict

        return item_from_dict(data)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool | np.bool_)


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
        framework_id: str | None = None,
        exposure_control: dict[str, Any] | None = None,
    ):
        self.items: list[Item] = list(items)
        self.framework_version = str(framework_version)
        # which framework its areas, competences and cut scores belong to; banks stored before frameworks
        # had ids are DigComp banks ("2.2" -> "digcomp-2.2")
        self.framework_id = str(framework_id) if framework_id else f"digcomp-{self.framework_version}"
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
        # exposure parameters calibrated for this bank under a CAT configuration (conditional
        # Sympson-Hetter: method, target, theta_bands, parameters {item id: K per band}, config, checks);
        # see adaptive.cat.simulation.calibrate_exposure_control
        self.exposure_control = dict(exposure_control) if exposure_control else None
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

    @property
    def n_levels(self) -> int:
        """Number of proficiency levels: one more than the cut scores of an area."""
        return len(next(iter(self.cut_scores.values()), DEFAULT_CUT_SCORES)) + 1

    def cut_scores_array(self) -> np.ndarray:
        """(D, L-1) cut scores in ``area_ids`` order (L levels; every area has the same number here)."""
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
        """What a test taker sees of an item (never the key): :func:`adaptive.itembank.public.public_item`."""
        from adaptive.itembank.public import public_item

        return public_item(self.item(item_id), language)

    def validate(self, framework=None) -> None:
        """Check the whole bank; with a framework (default: packaged one if versions match) also areas
        and competences. Raises ItemBankValidationError naming the item (or bank field) and field."""
        from adaptive.itembank.validation import validate_bank

        validate_bank(self, framework)

    # -- canonical JSON and CSV parameters (adaptive.itembank.io) ---------------------------------
    def to_dict(self) -> dict[str, Any]:
        from adaptive.itembank.io import bank_to_dict

        return bank_to_dict(self)

    @classmethod
    def from_dict(cls, data: Any, framework=None, validate: bool = True) -> ItemBank:
        from adaptive.itembank.io import bank_from_dict

        return bank_from_dict(data, framework=framework, validate=validate, bank_class=cls)

    def save_json(self, path: str | Path) -> Path:
        from adaptive.itembank.io import save_json

        return save_json(self, path)

    @classmethod
    def load_json(cls, path: str | Path, framework=None, validate: bool = True) -> ItemBank:
        from adaptive.itembank.io import load_json

        return load_json(path, framework=framework, validate=validate, bank_class=cls)

    def export_parameters_csv(self, path: str | Path) -> Path:
        """One row per item: item_id, model, a, b1..bK, c, d (+ area, competence, level, status to read)."""
        from adaptive.itembank.io import export_parameters_csv

        return export_parameters_csv(self, path)

    def with_parameters_from_csv(self, path: str | Path) -> ItemBank:
        """A copy of this bank with model/a/b/c/d replaced for the items listed in the CSV file.

        Items absent from the file keep their parameters. Errors name the file, line and column."""
        from adaptive.itembank.io import with_parameters_from_csv

        return with_parameters_from_csv(self, path)

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
            framework_id=self.framework_id,
            exposure_control=self.exposure_control,
        )
        args.update(changes)
        return ItemBank(**args)


def _id_key(s: str) -> tuple:
    # "10" sorts after "9"
    return tuple(int(p) if p.isdigit() else p for p in s.split("."))


def parameter_arrays(items: Sequence[Item]) -> dict[str, np.ndarray]:
    """The items' model, a, b (NaN-padded to the widest item), c, d, n_categories as arrays."""
    n = len(items)
    k_max = max(1, max((len(it.b) for it in items), default=1))
    b = np.full((n, k_max), np.nan)
    for i, it in enumerate(items):
        b[i, : len(it.b)] = it.b
    return {
        "model": np.array([it.model for it in items], dtype=str),
        "a": np.array([it.a for it in items], dtype=float),
        "b": b,
        "c": np.array([it.c for it in items], dtype=float),
        "d": np.array([it.d for it in items], dtype=float),
        "n_categories": np.array([it.n_categories for it in items], dtype=int),
    }


def _build_parameters(items: Sequence[Item]) -> ItemParameters:
    """Full-bank ItemParameters."""
    return ItemParameters(**parameter_arrays(items), ids=np.array([it.id for it in items], dtype=object))
