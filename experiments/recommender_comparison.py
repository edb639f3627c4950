"""Offline comparison of the rankers (tuned on validation carved from training, tested once).

Run: ``python -m experiments.recommender_comparison`` (synthetic world, 5,000 learners x 2,000 items);
``python -m experiments.recommender_comparison --movielens-like`` (a generated rating log shaped like
MovieLens 100K, written as a header-less TSV and read back through the same loader a data scientist
uses); or any event log of your own, e.g. MovieLens 100K's own split::

    python -m experiments.recommender_comparison --events ml-100k/u1.base --test-events ml-100k/u1.test \\
        --names learner_id,content_id,value,timestamp

or one file with a random 75/25 split: ``--events ml-100k/u.data --names ... --splits random
--test-share 0.25`` (``--sep`` names the delimiter when detection is not wanted; no catalogue: rankers
that need roles or competences are skipped with a warning). Prints a table per split (NDCG@10 with its
bootstrap 95% CI, both MAP@10 normalisations, MRR@10) and writes ``summary.csv``, ``per_role.csv``,
``metrics.json`` and ``comparison.png`` under ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

RANKERS = "popularity,role-popularity,gap,item-knn,rp3beta,ease,bpr,als,hybrid,blend"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=5000)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--events", type=Path, help="an event log instead of the synthetic world")
    ap.add_argument("--test-events", type=Path, help="your own test events (--events are then training)")
    ap.add_argument("--movielens-like", action="store_true",
                    help="a generated MovieLens-100K-shaped rating TSV instead of the synthetic world")
    ap.add_argument("--column", action="append", default=[], help="FILE_COL=our_col renames for --events")
    ap.add_argument("--sep", default=None, help="delimiter of the event files (default: detected)")
    ap.add_argument("--names", default=None, help="column names of header-less event files")
    ap.add_argument("--rankers", default=RANKERS)
    ap.add_argument("--splits", default="last-n,temporal")
    ap.add_argument("--test-share", type=float, default=None, help="test share of random/temporal splits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("experiments/out/recommender_comparison"))
    args = ap.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from recommender.data import read_events
    from recommender.experiment import describe_paired, run_comparison
    from recommender.synthetic import generate_world, movielens_like_ratings

    console = Console()
    names = [n.strip() for n in args.names.split(",")] if args.names else None
    rename = dict(c.split("=", 1) for c in args.column)
    test_events = None
    if args.movielens_like:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / "movielens_like.tsv"
        movielens_like_ratings(seed=args.seed).to_csv(path, sep="\t", header=False, index=False)
        names = ["learner_id", "content_id", "value", "timestamp"]
        args.events = path
    if args.events is not None:
        events = read_events(args.events, rename=rename, sep=args.sep, names=names)
        if args.test_events is not None:
            test_events = read_events(args.test_events, rename=rename, sep=args.sep, names=names)
        catalogue, roles, learners = None, None, None
    else:
        with console.status("generating the synthetic world"):
            w = generate_world(args.learners, args.items, seed=args.seed)
        events, catalogue, roles, learners = w.events, w.catalogue, w.roles, w.learners
    rankers = [r.strip() for r in args.rankers.split(",") if r.strip()]
    splits = ["external"] if test_events is not None else args.splits.split(",")
    results = {}
    for split in splits:
        res = run_comparison(
            events,
            catalogue,
            roles,
            learners,
            rankers,
            split=None if split == "external" else split,  # external: validation mirrors its test
            tune=True,
            ks=(5, 10, 20),
            seed=args.seed,
            out_dir=args.out / split,
            progress=True,
            test_events=test_events,
            test_share=args.test_share if split in ("random", "temporal") else None,
        )
        results[split] = res
        for text in res["warnings"]:
            console.print(f"warning: {text}", highlight=False)
        table = Table(title=f"split {res['split']}: {int(res['n_learners'])} test learners")
        cols = ("precision@10", "recall@10", "ndcg@10", "map_min@10", "map_r@10", "mrr@10")
        table.add_column("ranker")
        for c in (*cols, "coverage@10", "novelty@10"):
            table.add_column(c + (" [95% CI]" if c == "ndcg@10" else ""), justify="right")
        for name, s in res["summary"].items():
            cells = [f"{s[c]:.4f}" for c in cols]
            cells[2] = f"{s['ndcg@10']:.4f} [{s['ndcg@10_ci_low']:.4f}, {s['ndcg@10_ci_high']:.4f}]"
            table.add_row(name, *cells, f"{s['coverage@10']:.3f}", f"{s['novelty@10']:.2f}")
        console.print(table)
        for line in describe_paired(res["paired"]):
            console.print(line, highlight=False, soft_wrap=True)
        tuned = {n: p for n, p in res["params"].items() if p and n not in ("popularity", "role-popularity")}
        console.print(f"tuned on {res['validation']}: {tuned}; plot {res['paths']['plot']}", highlight=False)
    return results


if __name__ == "__main__":
    main()
