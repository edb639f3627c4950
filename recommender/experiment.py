"""Compare several rankers on one split: tune on validation carved from training, test, table + plot.

Used by ``digipath recommender evaluate`` and ``python -m experiments.recommender_comparison``. Returns
plain dicts (and writes ``metrics.json``, ``summary.csv``, ``per_role.csv``, ``comparison.png``) so that
models/ can log each ranker as an MLflow run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from recommender.data import Catalogue
from recommender.evaluation import evaluate, paired_difference
from recommender.interactions import EventWeights, Interactions, describe_weighting, weighting_report
from recommender.rankers import RANKERS, make_ranker
from recommender.rankers.blend import DEFAULT_COMPONENTS
from recommender.splits import external_split, make_split, split_options, validation_split
from recommender.training import blend_folds, build_ranker, tune_hybrid, tune_rankers, usable_components


def build_rankers(names, tuned: dict | None = None, hybrid_params: dict | None = None, seed=0) -> dict:
    """Rankers by name with their tuned parameters (``tuned``: {name: params}, the hybrid uses ALS's, a
    blend its components')."""
    tuned = tuned or {}
    return {
        name: build_ranker(name, tuned.get("als" if name == "hybrid" else name), seed, hybrid_params, tuned)
        for name in names
    }


def run_comparison(
    events: pd.DataFrame,
    catalogue=None,
    roles=None,
    learners=None,
    rankers=("popularity", "als"),
    split: str | None = None,
    tune: bool = True,
    ks=(5, 10, 20),
    seed=0,
    out_dir=None,
    progress: bool = False,
    weights: EventWeights | None = None,
    n_boot: int = 500,
    split_kwargs: dict | None = None,
    als_grid: dict | None = None,
    test_events: pd.DataFrame | None = None,
    test_share: float | None = None,
    blend_components=None,
    references=("ease", "als"),
) -> dict:
    """Tune on validation carved from training, evaluate on test. ``test_events`` is an external test
    log (``events`` then train; validation is carved from them held out the way that test was, see
    :func:`recommender.splits.mirror_options`, unless ``split`` names a kind); ``test_share`` is
    the test fraction of the random/temporal split. The result holds ``warnings`` (rankers skipped
    because they could only return popularity) and ``weighting`` (what the event weighting kept,
    re-weighted and dropped, see :func:`recommender.interactions.weighting_report`) and ``paired``: each
    ranker's NDCG at every k minus that of each evaluated ranker in ``references`` (popularity when none
    is), paired by learner with a bootstrap 95% interval."""
    weights = weights or EventWeights()
    if split is None and test_events is None:
        split = "last-n"
    kw = {**split_options(split, test_share, seed), **(split_kwargs or {})} if split else {}
    if catalogue is None:  # a bare event log: every content id seen anywhere is catalogue
        seen = events["content_id"] if test_events is None else pd.concat(
            [events["content_id"], test_events["content_id"]])
        catalogue = Catalogue.from_ids(
            np.sort(seen.astype(str).unique()),
            roles.competence_ids if roles is not None else (),
        )
    outer = make_split(events, split, **kw) if test_events is None else external_split(events, test_events)
    train = Interactions.from_events(outer.train, catalogue, roles, learners, weights)
    weighting = {side: weighting_report(getattr(outer, side), weights) for side in ("train", "test")}
    warnings = []
    for side, rep in weighting.items():
        if rep["dropped"]:
            warnings.append(f"{side}: {describe_weighting(rep)}")
    usable = []
    for name in rankers:
        why = make_ranker(name).missing_inputs(train) if name in RANKERS else None
        if why:
            warnings.append(f"{name} skipped: it could only return the popularity ranking: {why}")
        else:
            usable.append(name)
    if not usable:
        raise ValueError("no ranker can use these data: " + "; ".join(warnings))
    if "blend" in usable:
        warnings += usable_components(blend_components or DEFAULT_COMPONENTS, train)[1]
    rankers = usable
    tuned, hybrid_params, tuning, validation = {}, {}, {}, None
    if tune:
        inner = validation_split(outer, split, kw, seed)
        validation = inner.name
        fit = Interactions.from_events(inner.train, train.catalogue, train.roles, learners, weights)
        folds = blend_folds(outer, split, kw, seed, train, learners, weights) if "blend" in rankers else []
        tuned, tables = tune_rankers(
            rankers, fit, inner.test, seed=seed, als_grid=als_grid, blend_components=blend_components,
            blend_folds=folds,
        )
        tuning = {name: table.head(25).to_dict(orient="records") for name, table in tables.items()}
        if "hybrid" in rankers:
            hybrid_params, hyb_table = tune_hybrid(fit, inner.test, tuned["als"], seed=seed)
            tuning["hybrid"] = hyb_table.head(10).to_dict(orient="records")
    results = {}
    for name, ranker in build_rankers(rankers, tuned, hybrid_params, seed).items():
        results[name] = evaluate(
            ranker, train, outer.test, ks=ks, seed=seed, n_boot=n_boot, progress=progress
        )
    summary = {name: r.summary for name, r in results.items()}
    refs = [r for r in references if r in results] or [r for r in ("popularity",) if r in results]
    paired = {
        ref: {name: {f"ndcg@{k}": paired_difference(r, results[ref], f"ndcg@{k}", n_boot, seed) for k in ks}
              for name, r in results.items() if name != ref}
        for ref in refs
    }
    per_role = pd.concat([r.per_role.assign(ranker=name) for name, r in results.items()], ignore_index=True)
    result = {
        "split": outer.name,
        "validation": validation,
        "n_learners": next(iter(summary.values()))["n_learners"] if summary else 0,
        "summary": summary,
        "paired": paired,
        "per_role": per_role,
        "params": {n: r.params for n, r in results.items()},
        "tuning": tuning,
        "warnings": warnings,
        "weighting": weighting,
        "results": results,
        "paths": {},
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(
            json.dumps(
                {"split": outer.name, "validation": validation, "summary": summary, "paired": paired,
                 "params": result["params"], "tuning": tuning, "warnings": warnings, "weighting": weighting},
                indent=2,
                default=float,
            )
        )
        pd.DataFrame(summary).T.to_csv(out / "summary.csv")
        per_role.to_csv(out / "per_role.csv", index=False)
        result["paths"] = {
            "metrics": out / "metrics.json",
            "plot": plot_comparison(summary, ks, out / "comparison.png"),
        }
    return result


def describe_paired(paired: dict, k: int = 10) -> list[str]:
    """One line per reference ranker: every other ranker's NDCG@k minus the reference's, paired by learner."""
    lines = []
    for ref, others in paired.items():
        parts = [
            f"{name} {d['difference']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"
            for name, diffs in others.items() if (d := diffs.get(f"ndcg@{k}"))
        ]
        lines.append(f"NDCG@{k} minus {ref}'s, paired by learner (95% CI): " + "; ".join(parts))
    return lines


def plot_comparison(summary: dict, ks, path: Path) -> Path:
    """Bar chart of NDCG@k and recall@k per ranker with bootstrap 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / max(len(ks), 1)
    for ax, metric in zip(axes, ("ndcg", "recall"), strict=True):
        for i, k in enumerate(ks):
            key = f"{metric}@{k}"
            vals = np.array([summary[n][key] for n in names])
            lo = vals - np.array([summary[n][key + "_ci_low"] for n in names])
            hi = np.array([summary[n][key + "_ci_high"] for n in names]) - vals
            ax.bar(np.arange(len(names)) + i * width, vals, width, yerr=[lo, hi], capsize=2, label=f"@{k}")
        ax.set_xticks(np.arange(len(names)) + width * (len(ks) - 1) / 2, names, rotation=30, ha="right")
        ax.set_title(f"{metric.upper()} (95% bootstrap CI)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
