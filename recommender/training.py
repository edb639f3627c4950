"""Training entry points: tuning on validation carved from training, test evaluation, refit, bundle.

``train_bundle`` is what the bootstrap and ``digipath recommender train`` call:

1. split all events into train/test (default: each learner's last 2 items test);
2. split train again the same way into fit/validation; tune ALS hyper-parameters and the hybrid weights
   there (the test split is never looked at while tuning);
3. fit the baselines and the tuned rankers on train, evaluate them on test (these are the metrics);
4. refit the chosen ranker on all events and wrap it in a :class:`RecommenderBundle`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import pandas as pd

from recommender.data import Catalogue, Learners, RoleProfiles
from recommender.evaluation import evaluate, per_learner_metrics, relevant_sets
from recommender.interactions import CONFIDENCE_SCALES, EventWeights, Interactions, weighting_report
from recommender.profiles import LearnerBatch
from recommender.rankers import (
    RANKERS,
    ALSRanker,
    BlendRanker,
    BPRRanker,
    CompetenceGapRanker,
    EASERanker,
    HybridRanker,
    PopularityRanker,
    RolePopularityRanker,
    RP3betaRanker,
    make_ranker,
)
from recommender.rankers.blend import DEFAULT_COMPONENTS, NORMALISATIONS, normalise_rows
from recommender.splits import external_split, make_split, split_options, validation_split

log = logging.getLogger(__name__)

ALS_GRID = {
    "confidence": CONFIDENCE_SCALES,
    "regularization": (0.1, 1.0, 10.0, 100.0, 1000.0),
    "alpha": (0.1, 0.5, 1.0, 2.0, 5.0),
    "factors": (8, 16, 32, 64, 128),
}
ALS_START = {"factors": 32, "regularization": 1.0, "alpha": 1.0, "confidence": "linear"}
HYBRID_GRID = {"w_gap": (0.0, 0.25, 0.5, 1.0, 2.0), "w_role": (0.0, 0.1, 0.3, 1.0)}


def metric_key(name: str) -> str:
    """MLflow-safe metric name (``ndcg@10`` -> ``ndcg_at_10``)."""
    return name.replace("@", "_at_")


VALIDATION_LEARNERS = 5000  # tuning scores a seeded sample of validation learners at most (big logs)


def _validation_score(
    ranker, inter: Interactions, val_events: pd.DataFrame, metric: str, k: int, fitted: bool = False
) -> float:
    res = evaluate(
        ranker, inter, val_events, ks=(k,), n_boot=1, max_learners=VALIDATION_LEARNERS, fitted=fitted
    )
    return res.summary[metric]


# how far a search may walk past the edge of its grid: (multiplicative step, lowest, highest)
EDGE_STEPS = {
    "regularization": (10.0, 1e-6, 1e6),
    "alpha": (2.0, 0.01, 200.0),
    "factors": (2.0, 2, 1024),
    "l2": (4.0, 1e-2, 1e8),
    "learning_rate": (2.0, 1e-4, 1.0),
    "beta": (None, 0.0, 1.5),  # additive parameter: no extension (its grid covers the useful range)
}
MAX_EDGE_STEPS = 4
SEARCH_PASSES = 2  # sweeps of the coordinate search at most


def coordinate_search(
    score: Callable[[dict], tuple[float, dict]],
    grid: dict,
    start: dict,
    edge_steps: dict | None = None,
    metric: str = "ndcg@10",
    passes: int = SEARCH_PASSES,
) -> tuple[dict, pd.DataFrame]:
    """Coordinate search with edge extension; returns (best parameters, table of every trial, best first).

    One parameter at a time in ``grid`` order, keeping the best value. When the best value lies on the
    edge of its grid, the search keeps stepping past that edge (``edge_steps``: multiplicative step and
    bounds) while the validation score improves, at most ``MAX_EDGE_STEPS`` times, so a grid that was too
    narrow for a data set does not decide the answer. Up to ``passes`` sweeps: parameters interact (the
    right regularisation depends on the confidence scale and the factors), so when a sweep moved anything
    the next one revisits every parameter from there (trials already scored are not refitted).
    ``score(params)`` returns (validation score, parameters it settled itself, e.g. the epochs chosen by
    early stopping). Categorical values (no edge step) are tried as listed.
    """
    edge_steps = EDGE_STEPS if edge_steps is None else edge_steps
    params = dict(start)
    trials: dict[tuple, tuple[float, dict]] = {}

    def trial(p: dict) -> float:
        sig = tuple(sorted(p.items()))
        if sig not in trials:
            trials[sig] = score(dict(p))
        return trials[sig][0]

    def cast(old, value):
        return int(round(value)) if isinstance(old, int) and not isinstance(old, bool) else float(value)

    for _ in range(max(1, passes)):
        before = dict(params)
        for key, values in grid.items():
            step, lo, hi = edge_steps.get(key, (None, None, None))
            values = list(values)
            if key in params and params[key] not in values:
                values.append(params[key])  # a value found past the edge in an earlier sweep
            if all(isinstance(v, (int, float)) for v in values):
                values = sorted(values)
            best = max(values, key=lambda v, vs=values: (trial({**params, key: v}), -vs.index(v)))
            for _ in range(MAX_EDGE_STEPS if step else 0):
                if best == values[-1] and best * step <= hi:
                    cand = cast(best, best * step)
                    values.append(cand)
                elif best == values[0] and best / step >= lo:
                    cand = cast(best, best / step)
                    values.insert(0, cand)
                else:
                    break
                if trial({**params, key: cand}) > trial({**params, key: best}):
                    best = cand
                else:
                    break
            params[key] = best
        if params == before:
            break
    rows = [{**dict(sig), **extra, metric: value} for sig, (value, extra) in trials.items()]
    table = pd.DataFrame(rows).sort_values(metric, ascending=False, kind="stable").reset_index(drop=True)
    best_extra = trials[tuple(sorted(params.items()))][1]
    return {**params, **best_extra}, table


def _scorer(make: Callable[[dict], object], fit: Interactions, val_events: pd.DataFrame, metric: str):
    k = int(metric.split("@")[1])
    return lambda p: (_validation_score(make(p), fit, val_events, metric, k), {})


def tune_als(
    fit: Interactions,
    val_events: pd.DataFrame,
    grid: dict | None = None,
    start: dict | None = None,
    metric: str = "ndcg@10",
    seed=0,
    iterations: int = 15,
) -> tuple[dict, pd.DataFrame]:
    """Coordinate search of ALS hyper-parameters on a validation split; returns (best params, table).

    Regularization, then alpha, then factors (~11 fits instead of the 100 of a full grid), each extended
    past the edge of its grid while validation improves. Regularization comes first because implicit's is
    not scaled by the number of interactions, so the right value moves by orders of magnitude with the
    confidence scale of the log (counts vs. weighted events).
    """
    k = int(metric.split("@")[1])

    def score(p):
        ranker = ALSRanker(**p, iterations=iterations, seed=seed).fit(fit)
        # a regularisation so strong that every learner factor is ~0 leaves only the popularity fallback:
        # that is popularity, not ALS, so such a setting is never chosen
        if float(np.abs(ranker.user_factors_).max(initial=0.0)) < 1e-6:
            return -np.inf, {"collapsed": True}
        return _validation_score(ranker, fit, val_events, metric, k, fitted=True), {"collapsed": False}

    params, table = coordinate_search(score, grid or ALS_GRID, start or ALS_START, metric=metric)
    params.pop("collapsed", None)
    return params, table


# item-item models read binary histories in their papers; log counts are the other scale worth trying
# (linear raw counts would move lambda by the counts' unit: plays in the thousands)
ITEM_ITEM_SCALES = ("binary", "log")
EASE_GRID = {"confidence": ITEM_ITEM_SCALES, "l2": (10.0, 50.0, 200.0, 500.0, 2000.0, 8000.0)}
EASE_START = {"l2": 500.0, "confidence": "binary"}
RP3_GRID = {"confidence": ITEM_ITEM_SCALES, "beta": (0.0, 0.2, 0.4, 0.6, 0.8), "alpha": (0.5, 0.75, 1.0, 1.5),
            "K": (50, 200, 800)}
RP3_START = {"alpha": 1.0, "beta": 0.4, "K": 200, "confidence": "binary"}
BPR_GRID = {
    "learning_rate": (0.01, 0.02, 0.05, 0.1),
    "regularization": (0.01, 0.03, 0.1, 0.3),
    "factors": (16, 32, 64),
    "negatives": ("uniform", "popularity"),
}
BPR_START = {"learning_rate": 0.05, "regularization": 0.03, "factors": 32, "negatives": "uniform"}
BPR_EPOCHS = {"step": 10, "max": 300, "patience": 3}


def tune_ease(fit, val_events, grid=None, metric="ndcg@10", seed=0) -> tuple[dict, pd.DataFrame]:
    """EASE's lambda on validation (log grid, extended past its edges while validation improves)."""
    return coordinate_search(_scorer(lambda p: EASERanker(**p), fit, val_events, metric), grid or EASE_GRID,
                             EASE_START, metric=metric)


def tune_rp3beta(fit, val_events, grid=None, metric="ndcg@10", seed=0) -> tuple[dict, pd.DataFrame]:
    """RP3beta's popularity exponent beta, then alpha, then the neighbourhood size K, on validation."""
    return coordinate_search(_scorer(lambda p: RP3betaRanker(**p), fit, val_events, metric),
                             grid or RP3_GRID, RP3_START, metric=metric)


def tune_bpr(
    fit: Interactions,
    val_events: pd.DataFrame,
    grid: dict | None = None,
    metric: str = "ndcg@10",
    seed=0,
    epochs: dict | None = None,
) -> tuple[dict, pd.DataFrame]:
    """BPR: learning rate, regularisation, factors, then the negative sampler by coordinate search
    (see :class:`~recommender.rankers.cf.BPRRanker`: implicit's popularity-weighted sampler kept BPR at
    the popularity ranking on our data); for every setting the
    number of epochs by early stopping on validation (train ``step`` epochs at a time, stop after
    ``patience`` steps without improvement or at ``max``, keep the best epoch count)."""
    ep = {**BPR_EPOCHS, **(epochs or {})}
    k = int(metric.split("@")[1])

    def score(p):
        ranker = BPRRanker(**p, iterations=ep["step"], seed=seed).fit(fit)
        # fitted=True: score the model as trained so far (evaluate would otherwise refit it from scratch)
        best = _validation_score(ranker, fit, val_events, metric, k, fitted=True)
        best_epochs, waited = ep["step"], 0
        while ranker.iterations + ep["step"] <= ep["max"] and waited < ep["patience"]:
            value = _validation_score(ranker.train_more(ep["step"]), fit, val_events, metric, k, fitted=True)
            if value > best:
                best, best_epochs, waited = value, ranker.iterations, 0
            else:
                waited += 1
        return best, {"iterations": best_epochs}

    return coordinate_search(score, grid or BPR_GRID, BPR_START, metric=metric)


TUNERS = {"als": tune_als, "bpr": tune_bpr, "ease": tune_ease, "rp3beta": tune_rp3beta}
BLEND_WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
BLEND_LEARNERS = 2000  # validation learners whose component scores are held in memory while blending


def usable_components(names, fit: Interactions) -> tuple[list[str], list[str]]:
    """(components that can use these data, one warning per component left out)."""
    keep, notes = [], []
    for name in names:
        if name == "blend":
            raise ValueError("a blend cannot contain a blend")
        why = make_ranker(name).missing_inputs(fit)
        if why:
            notes.append(f"blend: component {name} left out, it could only return popularity: {why}")
        else:
            keep.append(name)
    return keep, notes


def tune_rankers(names, fit: Interactions, val_events: pd.DataFrame, metric="ndcg@10", seed=0,
                 als_grid: dict | None = None, blend_components=None,
                 blend_folds: list[tuple[Interactions, pd.DataFrame]] = ()) -> tuple[dict, dict]:
    """Tune every named ranker that has hyper-parameters (``TUNERS``; the hybrid needs ALS; a blend needs
    its components, then its weights) on a validation split; returns ({name: params}, {name: table}).
    ``blend_folds``: further (fit, validation) splits on which the blend weights are learned too."""
    wanted = set(names) | ({"als"} if "hybrid" in names else set())
    components: list[str] = []
    if "blend" in names:
        components, _ = usable_components(blend_components or DEFAULT_COMPONENTS, fit)
        wanted |= set(components)
    params, tables = {}, {}
    for name in [n for n in TUNERS if n in wanted]:
        kw = {"grid": als_grid} if name == "als" and als_grid else {}
        params[name], tables[name] = TUNERS[name](fit, val_events, metric=metric, seed=seed, **kw)
    if "blend" in names:
        params["blend"], tables["blend"] = learn_blend_weights(
            [(fit, val_events), *blend_folds], components, params, metric=metric, seed=seed
        )
    return params, tables


BLEND_FOLDS = 2  # validation splits the blend weights are judged on, when the split is random


def blend_folds(outer, split, options, seed, train: Interactions, learners=None, weights=None,
                n: int = BLEND_FOLDS) -> list[tuple[Interactions, pd.DataFrame]]:
    """The (fit, validation) splits beyond the first that blend weights are also judged on: other random
    validation splits of ``outer``'s training data (other seeds). None for a split that gives the same
    validation every time (last-n, temporal)."""
    out = []
    for j in range(1, n):
        other = {**options, "seed": seed + j} if "seed" in options else options
        inner = validation_split(outer, split, other, seed + j)
        if "random(" not in inner.name:
            break
        fit = Interactions.from_events(inner.train, train.catalogue, train.roles, learners, weights)
        out.append((fit, inner.test))
    return out


def learn_blend_weights(
    folds: list[tuple[Interactions, pd.DataFrame]],
    components: list[str],
    tuned: dict | None = None,
    metric: str = "ndcg@10",
    seed=0,
    grid=BLEND_WEIGHTS,
    rounds: int = 3,
    normalisations=NORMALISATIONS,
) -> tuple[dict, pd.DataFrame]:
    """Blend weights and score normalisation by coordinate ascent on validation. For each normalisation
    (see :mod:`recommender.rankers.blend`): start from the best single component (weight 1, others 0),
    then ``rounds`` passes trying every weight in ``grid`` for each component in turn; the best
    (normalisation, weights) on validation wins. Component scores are computed once per normalisation
    (a seeded sample of ``BLEND_LEARNERS`` validation learners in all).

    ``folds``: one or more (fit, validation) splits of the training data; the components are fitted on
    each fit part and the weights judged on the learners of all validation parts together. More than one
    (e.g. two random validation splits) halves the noise the weights could be fitted to: a blend has many
    more degrees of freedom than one model's hyper-parameters, and a gain it finds on one validation set
    of a few hundred learners need not carry over to the test."""
    if not components:
        raise ValueError("a blend needs at least one component that can use these data")
    tuned = tuned or {}
    name, k = metric.split("@")[0], int(metric.split("@")[1])
    per_fold = max(1, BLEND_LEARNERS // len(folds))
    scored = []  # per fold: (blend, batch, relevant sets, raw component scores)
    for f, (fit, val_events) in enumerate(folds):
        blend = BlendRanker([build_ranker(n, tuned.get(n), seed) for n in components]).fit(fit)
        rows, rel, _ = relevant_sets(fit, val_events)
        if len(rows) > per_fold:
            pick = np.sort(np.random.default_rng([seed, f]).choice(len(rows), per_fold, replace=False))
            rows, rel = rows[pick], [rel[i] for i in pick]
        batch = LearnerBatch.from_rows(fit, rows)
        scored.append((blend, batch, rel, [c.score(batch) for c in blend.components]))
    trials: dict[tuple, float] = {}
    n = len(components)
    best_norm, best_weights = None, None
    for how in normalisations:
        parts = [[normalise_rows(p, how).astype(np.float32) for p in raw] for _, _, _, raw in scored]

        def value(weights, how=how, parts=parts) -> float:
            key = (how, *(float(w) for w in weights))
            if key not in trials:
                per_learner = []
                for (blend, batch, rel, _), fold_parts in zip(scored, parts, strict=True):
                    scores = blend.combine(fold_parts, key[1:])
                    ids, _ = blend.top_k(batch, k, exclude=batch.history, scores=scores)
                    per_learner.append(per_learner_metrics(ids, rel, ks=(k,))[f"{name}@{k}"].to_numpy())
                trials[key] = float(np.concatenate(per_learner).mean())
            return trials[key]

        singles = [value([1.0 if j == i else 0.0 for j in range(n)]) for i in range(n)]
        weights = [1.0 if j == int(np.argmax(singles)) else 0.0 for j in range(n)]
        for _ in range(rounds):
            before = list(weights)
            for i in range(n):
                options = [weights[:i] + [w] + weights[i + 1 :] for w in grid]
                options = [o for o in options if any(o)]
                weights = max(options, key=lambda o: (value(o), -sum(o)))
            if weights == before:
                break
        if best_weights is None or value(weights) > trials[(best_norm, *best_weights)]:
            best_norm, best_weights = how, [float(w) for w in weights]
    table = pd.DataFrame(
        [{"normalise": key[0], **dict(zip(components, key[1:], strict=True)), metric: v}
         for key, v in trials.items()]
    )
    table = table.sort_values(metric, ascending=False, kind="stable").reset_index(drop=True)
    return {"components": list(components), "weights": best_weights, "normalise": best_norm}, table


def build_ranker(name: str, params: dict | None = None, seed=0, hybrid_params: dict | None = None,
                 tuned: dict | None = None):
    """A ranker by name with tuned parameters (seeded where the model is stochastic); a blend builds its
    components from ``tuned`` ({name: params})."""
    params = dict(params or {})
    if name == "blend":
        parts = params.get("components") or list(DEFAULT_COMPONENTS)
        members = [build_ranker(n, (tuned or {}).get(n), seed) for n in parts]
        return BlendRanker(members, params.get("weights"), params.get("normalise", "z"))
    if name in ("als", "bpr"):
        params.setdefault("seed", seed)
    if name == "hybrid":
        return HybridRanker(cf=build_ranker("als", params, seed), **(hybrid_params or {}))
    return make_ranker(name, **params)


def tune_hybrid(
    fit: Interactions,
    val_events: pd.DataFrame,
    als_params: dict | None = None,
    grid: dict | None = None,
    metric: str = "ndcg@10",
    seed=0,
) -> tuple[dict, pd.DataFrame]:
    """Tune the hybrid weights (w_cf = 1) on validation; components scored once per block of learners."""
    grid = grid or HYBRID_GRID
    k = int(metric.split("@")[1])
    name = metric.split("@")[0]
    hybrid = HybridRanker(cf=ALSRanker(**(als_params or {}), seed=seed)).fit(fit)
    rows_idx, rel, _ = relevant_sets(fit, val_events)
    if len(rows_idx) > VALIDATION_LEARNERS:
        pick = np.sort(np.random.default_rng(seed).choice(len(rows_idx), VALIDATION_LEARNERS, replace=False))
        rows_idx, rel = rows_idx[pick], [rel[i] for i in pick]
    cells = list(itertools.product(grid["w_gap"], grid["w_role"]))
    ranked: dict[tuple, list[np.ndarray]] = {cell: [] for cell in cells}
    step = int(np.clip(4_000_000 // max(fit.n_items, 1), 16, 2048))  # one block of components in memory
    for s in range(0, len(rows_idx), step):
        batch = LearnerBatch.from_rows(fit, rows_idx[s : s + step])
        comps = hybrid.components(batch)
        for w_gap, w_role in cells:
            scores = hybrid.combine(comps, 1.0, w_gap, w_role)
            ids, _ = hybrid.top_k(batch, k, exclude=batch.history, scores=scores)
            ranked[(w_gap, w_role)].append(ids)
    results = []
    for (w_gap, w_role), parts in ranked.items():
        ids = np.concatenate(parts) if parts else np.zeros((0, k), dtype=int)
        table = per_learner_metrics(ids, rel, ks=(k,))
        value = float(table[f"{name}@{k}"].mean())
        results.append({"w_gap": w_gap, "w_role": w_role, metric: value})
    table = pd.DataFrame(results).sort_values(metric, ascending=False, kind="stable").reset_index(drop=True)
    return {
        "w_cf": 1.0,
        "w_gap": float(table.iloc[0]["w_gap"]),
        "w_role": float(table.iloc[0]["w_role"]),
    }, table


def tuned_from_bundle(bundle, ranker: str = "hybrid") -> dict:
    """The ``tuned_params`` of :func:`train_bundle` read back from the bundle it returned (hybrid or ALS
    rankers: the ALS parameters tuning sets, and the hybrid weights)."""
    if ranker not in ("hybrid", "als") or bundle.ranker.name != ranker:
        raise ValueError(f"tuned parameters of {ranker!r} are not read from a {bundle.ranker.name} bundle")
    model = bundle.ranker.cf if ranker == "hybrid" else bundle.ranker
    als = {k: getattr(model, k) for k in ALS_START}
    if ranker == "als":
        return {"als": als}
    return {"als": als, "hybrid": {k: float(getattr(bundle.ranker, k)) for k in ("w_cf", "w_gap", "w_role")}}


def _progress(enabled: bool):
    if not enabled:
        return nullcontext(None)
    from rich.progress import Progress

    return Progress(transient=True)


def train_bundle(
    catalogue: Catalogue | None,
    roles: RoleProfiles | None,
    events: pd.DataFrame,
    learners: Learners | None = None,
    ranker: str = "hybrid",
    seed=0,
    progress: bool = True,
    split: str | None = None,
    weights: EventWeights | None = None,
    tune: bool = True,
    ks=(5, 10, 20),
    metric: str = "ndcg@10",
    baselines: bool = True,
    als_grid: dict | None = None,
    test_events: pd.DataFrame | None = None,
    test_share: float | None = None,
    tuned_params: dict | None = None,
):
    """Split (or take the external ``test_events``), tune on validation carved from training, evaluate on
    test, refit on all data (training and external test events).

    ``tuned_params``: what an earlier tuning of the same ranker on exactly these data found
    (``{"als": {...}, "hybrid": {...}}``, read back by :func:`tuned_from_bundle`); the search is then
    skipped and the bundle is the one tuning would give (the demo bootstrap ships its world's).

    Returns ``(RecommenderBundle, metrics)``; ``metrics`` is a flat dict of MLflow-safe names:
    ``test_<metric>`` for the chosen ranker, ``<ranker>.<metric>`` for every ranker evaluated, the chosen
    hyper-parameters as ``param.<name>`` and the split sizes.
    """
    from recommender.bundle import RecommenderBundle

    weights = weights or EventWeights()
    if split is None and test_events is None:
        split = "last-n"
    split_kwargs = split_options(split, test_share, seed) if split else {}
    metrics: dict[str, float] = {}
    with _progress(progress) as bar:
        task = bar.add_task("training recommender", total=5) if bar else None

        def step(text):
            if bar:
                bar.update(task, advance=1, description=text)
            log.info(text)

        if catalogue is None:  # a bare event log: every content id seen anywhere is catalogue
            seen = events["content_id"] if test_events is None else pd.concat(
                [events["content_id"], test_events["content_id"]])
            catalogue = Catalogue.from_ids(
                np.sort(seen.astype(str).unique()),
                roles.competence_ids if roles is not None else (),
            )
        if test_events is None:
            outer = make_split(events, split, **split_kwargs)
        else:
            outer = external_split(events, test_events)
            events = pd.concat([events, test_events], ignore_index=True)  # the served model sees both
        inner = validation_split(outer, split, split_kwargs, seed)
        log.info("tuning on %s", inner.name)
        fit_inter = Interactions.from_events(inner.train, catalogue, roles, learners, weights)
        catalogue = fit_inter.catalogue
        roles = fit_inter.roles
        why = make_ranker(ranker).missing_inputs(fit_inter) if ranker in RANKERS else None
        if why:
            raise ValueError(f"ranker {ranker!r} could only return the popularity ranking: {why}")
        for key, value in weighting_report(events, weights).items():
            if key != "by_event":
                metrics[f"weighting.{key}"] = float(value)
        step("split done; tuning on validation")
        tuned = {"als": {"factors": 32, "regularization": 0.05, "alpha": 2.0}}
        if tuned_params is not None:
            tuned.update({k: dict(v) for k, v in tuned_params.items() if k != "hybrid"})
        elif tune:
            folds = []
            if ranker == "blend":
                folds = blend_folds(outer, split, split_kwargs, seed, fit_inter, learners, weights)
            found, _ = tune_rankers(
                [ranker], fit_inter, inner.test, metric=metric, seed=seed, als_grid=als_grid,
                blend_folds=folds,
            )
            tuned.update(found)
        als_params = tuned["als"]
        step("tuning hybrid weights on validation")
        hybrid_params = {"w_cf": 1.0, "w_gap": 0.5, "w_role": 0.2}
        if tuned_params is not None and "hybrid" in tuned_params:
            hybrid_params = dict(tuned_params["hybrid"])
        elif tune and ranker == "hybrid":
            hybrid_params, _ = tune_hybrid(fit_inter, inner.test, als_params, metric=metric, seed=seed)
        step("evaluating on the test split")
        train_inter = Interactions.from_events(outer.train, catalogue, roles, learners, weights)

        def build(name):
            return build_ranker(
                name, tuned.get("als" if name == "hybrid" else name), seed, hybrid_params, tuned
            )

        candidates = {ranker: build(ranker)}
        if baselines:
            for name, r in (
                ("popularity", PopularityRanker()),
                ("role-popularity", RolePopularityRanker()),
                ("gap", CompetenceGapRanker()),
            ):
                candidates.setdefault(name, r)
            if ranker == "hybrid":
                candidates.setdefault("als", build("als"))
        for name, r in candidates.items():
            res = evaluate(r, train_inter, outer.test, ks=ks, seed=seed, n_boot=200)
            for key, value in res.summary.items():
                metrics[f"{name}.{metric_key(key)}"] = float(value)
                if name == ranker:
                    metrics[f"test_{metric_key(key)}"] = float(value)
        step("refitting on all events")
        all_inter = Interactions.from_events(events, catalogue, roles, learners, weights)
        final = build(ranker).fit(all_inter)
        chosen = tuned.get("als" if ranker == "hybrid" else ranker, {})
        if ranker == "blend" and chosen:  # weights per component, then each component's own parameters
            parts = chosen["components"]
            chosen = {**{f"weight.{c}": w for c, w in zip(parts, chosen["weights"], strict=True)},
                      **{f"{c}.{k}": v for c in parts for k, v in tuned.get(c, {}).items()}}
        for key, value in {
            **{k: v for k, v in chosen.items() if isinstance(v, (int, float))},
            **(hybrid_params if ranker == "hybrid" else {}),
        }.items():
            metrics[f"param.{key}"] = float(value)
        metrics.update(
            {
                "n_events": float(len(events)),
                "n_train_events": float(len(outer.train)),
                "n_test_events": float(len(outer.test)),
                "n_learners": float(all_inter.n_learners),
                "n_items": float(all_inter.n_items),
                "n_unknown_content_events": float(sum(all_inter.unknown_content.values())),
            }
        )
        step("done")
    bundle = RecommenderBundle(final, metrics=metrics, split=outer.name, weights=weights)
    return bundle, metrics
