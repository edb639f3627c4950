"""Offline comparison of the rankers (tuned on validation carved from training, tested once).

Run: ``python -m experiments.recommender_comparison`` (synthetic world, 5,000 learners x 2,000 items), or on
any event log: ``python -m experiments.recommender_comparison --events plays.csv --column user=learner_id
--column item=content_id --column plays=value`` (no catalogue: the gap ranker then has nothing to use).
Prints a table per split and writes ``summary.csv``, ``per_role.csv``, ``metrics.json`` and
``comparison.png`` under ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

RANKERS = "popularity,role-popularity,gap,item-knn,bpr,als,hybrid"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=5000)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--events", type=Path, help="an event log instead of the synthetic world")
    ap.add_argument("--column", action="append", default=[], help="FILE_COL=our_col renames for --events")
    ap.add_argument("--rankers", default=RANKERS)
    ap.add_argument("--splits", default="last-n,temporal")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("experiments/out/recommender_comparison"))
    args = ap.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from recommender.data import read_events
    from recommender.experiment import run_comparison
    from recommender.synthetic import generate_world

    console = Console()
    if args.events is not None:
        rename = dict(c.split("=", 1) for c in args.column)
        events, catalogue, roles, learners = read_events(args.events, rename=rename), None, None, None
    else:
        with console.status("generating the synthetic world"):
            w = generate_world(args.learners, args.items, seed=args.seed)
        events, catalogue, roles, learners = w.events, w.catalogue, w.roles, w.learners
    rankers = [r.strip() for r in args.rankers.split(",") if r.strip()]
    results = {}
    for split in args.splits.split(","):
        res = run_comparison(
            events,
            catalogue,
            roles,
            learners,
            rankers,
            split=split,
            tune=True,
            ks=(5, 10, 20),
            seed=args.seed,
            out_dir=args.out / split,
            progress=True,
        )
        results[split] = res
        table = Table(title=f"split {res['split']}: {int(res['n_learners'])} test learners")
        cols = ("precision@10", "recall@10", "ndcg@10", "map@10", "mrr", "coverage@10", "novelty@10")
        table.add_column("ranker")
        for c in cols:
            table.add_column(c, justify="right")
        for name, s in res["summary"].items():
            cells = [f"{s[c]:.4f}" for c in cols[:5]]
            cells[2] = f"{s['ndcg@10']:.4f} [{s['ndcg@10_ci_low']:.4f}, {s['ndcg@10_ci_high']:.4f}]"
            table.add_row(name, *cells, f"{s['coverage@10']:.3f}", f"{s['novelty@10']:.2f}")
        console.print(table)
        console.print(
            f"tuned: {res['params'].get('als', {})} {res['params'].get('hybrid', {})}; "
            f"plot {res['paths']['plot']}"
        )
    return results


if __name__ == "__main__":
    main()
