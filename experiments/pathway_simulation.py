"""Pathway simulation study: do a ranker's pathways bring learners to their role's level, against popularity?

Run: ``python -m experiments.pathway_simulation`` (defaults below; ``--help``). For each ranker a bundle
is trained on a synthetic world (``train_bundle``, tuned on validation unless ``--no-tune``); simulated
learners (:mod:`recommender.simulation`, an IRT-style learner model with noisy learning gains, drop-out,
engagement and repeated noisy diagnostics) then follow that bundle, through its own serving code, in two
ways: its ``pathway`` (re-planned after a new diagnostic when it runs out) and its ``ranking`` (the best
item not tried yet). Learners are the world's learners at the end of their logged history, with between
1 and ``--max-gap`` levels to climb in total to meet their role's profile.

Prints per ranker and mode: the share at the role's required level after each checkpoint of items with
a bootstrap 95% CI, its paired difference from popularity (same learners, same luck) with CI, the mean
number of items to get there; writes ``summary.csv``, ``learners.csv`` and ``pathway_simulation.png``
under ``--out`` and logs one MLflow run per ranker and mode (experiment ``pathway-simulation``) unless
``--no-mlflow``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

RANKERS = "popularity,role-popularity,gap,item-knn,ease,als,hybrid,blend"


def run(args) -> dict:
    import pandas as pd
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from recommender.simulation import LearnerModel, SimulatedLearners, plot_curves, simulate, summarise
    from recommender.synthetic import generate_world
    from recommender.training import train_bundle

    console = Console(width=max(Console().width, 190))  # the table is wide; a log file keeps it whole
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = LearnerModel(gain=args.gain, gain_sd=args.gain_sd, dropout=args.dropout)
    checkpoints = tuple(int(c) for c in args.checkpoints.split(","))
    budget = max(checkpoints)
    rankers = [r.strip() for r in args.rankers.split(",") if r.strip()]
    if "popularity" not in rankers:
        rankers.insert(0, "popularity")
    modes = [m.strip() for m in args.modes.split(",")]
    with console.status("generating the world"):
        world = generate_world(args.learners, args.items, seed=args.seed)
    learners = SimulatedLearners.from_world(world, model, n=args.simulated, seed=args.seed,
                                            max_gap=args.max_gap)
    results = {}
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("training and simulating", total=len(rankers) * (1 + len(modes) * len(learners)))
        for name in rankers:
            bar.update(task, description=f"training {name}")
            bundle, _ = train_bundle(world.catalogue, world.roles, world.events, world.learners, ranker=name,
                                     seed=args.seed, progress=False, tune=args.tune, baselines=False)
            bar.advance(task)
            for mode in modes:
                bar.update(task, description=f"{name}: learners following its {mode}")
                results[(name, mode)] = simulate(bundle, learners, model, budget, mode, seed=args.seed,
                                                 name=name, progress=lambda: bar.advance(task))
    tables = []
    for mode in modes:
        tables.append(summarise({n: r for (n, m), r in results.items() if m == mode}, checkpoints,
                                n_boot=args.n_boot, seed=args.seed))
    summary = pd.concat(tables, ignore_index=True)
    summary.to_csv(out / "summary.csv", index=False)
    pd.concat([r.learners.assign(ranker=n, mode=m) for (n, m), r in results.items()]).to_csv(
        out / "learners.csv", index=False)
    plot = plot_curves({f"{n}:{m}": r for (n, m), r in results.items()}, out / "pathway_simulation.png",
                       seed=args.seed, title=f"{len(learners)} simulated learners")
    for mode in modes:
        table = Table(title=f"following the {mode}: {len(learners)} learners, {budget} items at most")
        table.add_column("ranker")
        for n in checkpoints:
            table.add_column(f"reached@{n} [95% CI]", justify="right")
            table.add_column(f"vs popularity @{n} [95% CI]", justify="right")
        table.add_column("mean items to goal [95% CI]", justify="right")
        table.add_column("dropped", justify="right")
        table.add_column("gap closed", justify="right")
        for _, row in summary[summary["mode"] == mode].iterrows():
            cells = []
            for n in checkpoints:
                cells.append(f"{row[f'reached@{n}']:.3f} [{row[f'reached@{n}_ci_low']:.3f}, "
                             f"{row[f'reached@{n}_ci_high']:.3f}]")
                cells.append(f"{row[f'diff@{n}']:+.3f} [{row[f'diff@{n}_ci_low']:+.3f}, "
                             f"{row[f'diff@{n}_ci_high']:+.3f}]")
            cells.append(f"{row['mean_items_to_goal']:.1f} [{row['mean_items_to_goal_ci_low']:.1f}, "
                         f"{row['mean_items_to_goal_ci_high']:.1f}]")
            table.add_row(row["ranker"], *cells, f"{row['share_dropped']:.3f}", f"{row['gap_closed']:.3f}")
        console.print(table)
    console.print(f"wrote {out / 'summary.csv'}, {plot}", highlight=False)
    if args.mlflow:
        from models import runs, tracking

        config = tracking.configure(args.home)
        params = {**model.to_dict(), "learners": args.learners, "items": args.items, "seed": args.seed,
                  "simulated": len(learners), "max_gap": args.max_gap, "tuned": args.tune}
        for _, row in summary.iterrows():
            metrics = {k: v for k, v in row.items() if k not in ("ranker", "mode")}
            runs.log_evaluation(f"{row['ranker']}:{row['mode']}", metrics=metrics,
                                params={**params, "ranker": row["ranker"], "mode": row["mode"]},
                                artifacts=[out / "summary.csv", plot], experiment="pathway-simulation",
                                tags={"mode": row["mode"]})
        console.print(f"one MLflow run per ranker and mode logged to {config.tracking_uri} "
                      "(experiment pathway-simulation)", highlight=False)
    return {"summary": summary, "results": results, "plot": plot}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=3000, help="learners in the world the bundles learn from")
    ap.add_argument("--items", type=int, default=1200)
    ap.add_argument("--simulated", type=int, default=400, help="learners simulated (a seeded sample)")
    ap.add_argument("--max-gap", type=float, default=12.0,
                    help="simulate learners at most this many levels (summed) below their role's profile")
    ap.add_argument("--rankers", default=RANKERS)
    ap.add_argument("--modes", default="pathway,ranking")
    ap.add_argument("--checkpoints", default="10,20,40", help="items after which the share is reported")
    ap.add_argument("--gain", type=float, default=0.8)
    ap.add_argument("--gain-sd", type=float, default=0.3)
    ap.add_argument("--dropout", type=float, default=0.02)
    ap.add_argument("--no-tune", dest="tune", action="store_false")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("experiments/out/pathway_simulation"))
    ap.add_argument("--no-mlflow", dest="mlflow", action="store_false")
    ap.add_argument("--home", default=None, help="digipath home of the MLflow store (default DIGIPATH_HOME)")
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    main()
