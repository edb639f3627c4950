"""Exposure control: turn a selection criterion (R, n) into one item per examinee.

The caller passes uniform draws ``u`` (R, >= N_UNIFORMS) so a session (draws derived from its seed and
position) and the batched simulator (one generator for all simulees) share the same code.
"""

from __future__ import annotations

import numpy as np

N_UNIFORMS = 64        # uniforms per selection step; Sympson-Hetter looks at most this far down the list
# conditional Sympson-Hetter: edges of the theta bands (of the current estimate, per area) that have their
# own K; five bands, each holding enough simulees in a calibration for its rates to be measured
DEFAULT_BANDS = (-1.5, -0.5, 0.5, 1.5)


def _top_sorted(crit: np.ndarray, k: int, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Item ids (R, k) of each row's k best columns, best first (ties: lower item id first), and their
    values. ``ids`` (R, m) maps columns to item ids (default: column j is item j)."""
    k = min(k, crit.shape[1])
    if k == crit.shape[1]:
        part = np.broadcast_to(np.arange(k), crit.shape)
    else:
        part = np.argpartition(-crit, k - 1, axis=1)[:, :k]
    r = np.arange(len(crit))[:, None]
    vals = crit[r, part]
    items = part if ids is None else ids[r, part]
    order = np.lexsort((items, -vals), axis=1)
    return items[r, order], vals[r, order]


class MaxCriterion:
    """No exposure control: the best item."""

    need = 1

    def choose(self, crit: np.ndarray, u: np.ndarray, ids: np.ndarray | None = None,
               theta: np.ndarray | None = None) -> np.ndarray:
        items, vals = _top_sorted(crit, 1, ids)
        return np.where(np.isfinite(vals[:, 0]), items[:, 0], -1)


class Randomesque:
    """Kingsbury-Zara randomesque: one of the k best items, uniformly."""

    def __init__(self, k: int = 5):
        self.k = k
        self.need = k

    def choose(self, crit: np.ndarray, u: np.ndarray, ids: np.ndarray | None = None,
               theta: np.ndarray | None = None) -> np.ndarray:
        items, vals = _top_sorted(crit, self.k, ids)
        k_eff = np.isfinite(vals).sum(axis=1)
        pick = np.minimum((u[:, 0] * k_eff).astype(np.intp), np.maximum(k_eff - 1, 0))
        return np.where(k_eff > 0, items[np.arange(len(items)), pick], -1)


class SympsonHetter:
    """Sympson-Hetter: go down the ranked list, giving item i with probability K_i.

    Conditional Sympson-Hetter (Stocking & Lewis 1998) when ``band_edges`` are given: K_{i,g} holds
    per theta band g and the band is that of the examinee's current estimate in item i's area, so an
    item popular among able learners is restrained there without being taken from everyone else.
    ``k_values`` is (n,) or (n, n_bands); without edges there is one band.

    A rejected item is out of this examinee's test (``rejected`` lists them so the engine can mark them
    used), as in the original procedure; when every ranked item is rejected, none is put out of the test
    and the one with the largest K is given.
    ``band_lotteries`` counts how often each item reached the lottery per band (``lotteries``: in all).
    ``K`` comes from :func:`adaptive.cat.simulation.calibrate_sympson_hetter`.
    """

    need = N_UNIFORMS

    def __init__(self, k_values: np.ndarray, band_edges=None, item_dim: np.ndarray | None = None):
        k = np.asarray(k_values, dtype=float)
        self.k_values = k.reshape(len(k), -1)                     # (n, G)
        self.band_edges = np.asarray(band_edges if band_edges is not None else [], dtype=float)
        if self.k_values.shape[1] != len(self.band_edges) + 1:
            raise ValueError(f"{self.k_values.shape[1]} K per item for {len(self.band_edges) + 1} bands")
        self.item_dim = None if item_dim is None else np.maximum(np.asarray(item_dim, dtype=np.intp), 0)
        self.band_lotteries = np.zeros(self.k_values.shape, dtype=np.int64)
        self.rejected: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.intp), np.zeros(0, np.intp))

    @property
    def lotteries(self) -> np.ndarray:
        return self.band_lotteries.sum(axis=1)

    @property
    def conditional(self) -> bool:
        return self.k_values.shape[1] > 1

    def bands(self, theta: np.ndarray) -> np.ndarray:
        """(R, D) band of each examinee's estimate in each area."""
        return np.digitize(theta, self.band_edges)

    def choose(self, crit: np.ndarray, u: np.ndarray, ids: np.ndarray | None = None,
               theta: np.ndarray | None = None) -> np.ndarray:
        items, vals = _top_sorted(crit, N_UNIFORMS, ids)
        finite = np.isfinite(vals)
        if self.conditional:
            if theta is None or self.item_dim is None:
                raise ValueError("conditional Sympson-Hetter needs the examinees' theta and the item areas")
            band = self.bands(theta)[np.arange(len(items))[:, None], self.item_dim[items]]   # (R, m)
        else:
            band = np.zeros(items.shape, dtype=np.intp)
        k_ranked = self.k_values[items, band]
        accept = finite & (u[:, : items.shape[1]] < k_ranked)
        some = accept.any(axis=1)
        # every candidate rejected: give the one with the largest K (the least exposure-prone; ties go
        # to the better rank), not the best one, whose forced administrations would push its exposure
        # over the target whatever K it gets
        fallback = np.argmax(np.where(finite, k_ranked, -1.0), axis=1)
        first = np.where(some, np.argmax(accept, axis=1), fallback)
        col = np.arange(items.shape[1])[None, :]
        reached = finite & ((col <= first[:, None]) | ~some[:, None])
        np.add.at(self.band_lotteries, (items[reached], band[reached]), 1)
        rejected = reached & (col < first[:, None]) & some[:, None]
        self.rejected = (np.nonzero(rejected)[0], items[rejected])
        return np.where(finite[:, 0], items[np.arange(len(items)), first], -1)


def make_exposure(config, tables, bank=None, item_dim: np.ndarray | None = None
                  ) -> MaxCriterion | Randomesque | SympsonHetter:
    """The exposure control ``config`` asks for. ``"conditional-sympson-hetter"`` without
    ``config.exposure_parameters`` takes the parameters stored with the bank (``bank.exposure_control``);
    a bank without them gets randomesque (``config.randomesque_k``), the control that needs no
    calibration, so a new bank is never served without exposure control."""
    method = exposure_method(config, bank)
    if method is None:
        return MaxCriterion()
    if method == "randomesque":
        return Randomesque(config.randomesque_k)
    if method == "sympson-hetter":
        k_values = np.ones(tables.n_items)
        for item_id, k in (config.exposure_parameters or {}).items():
            i = tables.index.get(item_id)
            if i is not None:
                k_values[i] = float(k)
        return SympsonHetter(k_values)
    edges, params = conditional_parameters(config, bank)
    key = ("conditional-sympson-hetter", id(params), tuple(edges))
    if key not in tables.derived or tables.derived[key][0] is not params:   # a live session: built once
        k_values = np.ones((tables.n_items, len(edges) + 1))
        for item_id, k in params.items():
            i = tables.index.get(item_id)
            if i is not None:
                k_values[i] = k
        tables.derived[key] = (params, k_values)
    return SympsonHetter(tables.derived[key][1], edges, item_dim)


def exposure_method(config, bank) -> str | None:
    """The exposure control a test under ``config`` on ``bank`` gets (what :func:`make_exposure` builds):
    ``config.exposure``, except that conditional Sympson-Hetter without parameters (the config's or the
    bank's) falls back to ``"randomesque"``."""
    if config.exposure == "conditional-sympson-hetter" and conditional_parameters(config, bank) is None:
        return "randomesque"
    return config.exposure


def conditional_parameters(config, bank) -> tuple[list[float], dict[str, list[float]]] | None:
    """(band edges, K per band by item id) of conditional Sympson-Hetter: the config's own, else the
    bank's stored ones (None when neither has any)."""
    if config.exposure_parameters is not None:
        return list(config.exposure_bands or DEFAULT_BANDS), config.exposure_parameters
    stored = getattr(bank, "exposure_control", None)
    if not stored or stored.get("method") != "conditional-sympson-hetter":
        return None
    return list(stored["theta_bands"]), stored["parameters"]
