"""EASE speed (issue 15 targets on the shared 2-core machine): fit on a 5,000-item catalogue (< 10 s) and
one ranking for one learner from live events, i.e. without any fold-in solve (p99 < 5 ms).

Run: ``python -m experiments.ease_speed`` (``--learners 20000 --items 5000 --events-per-learner 20``).
The log is Zipf-popular random co-consumption in 50 clusters; the timing, not the quality, is measured.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=20_000)
    ap.add_argument("--items", type=int, default=5_000)
    ap.add_argument("--events-per-learner", type=int, default=20)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--l2", type=float, default=500.0)
    ap.add_argument("--confidence", default="binary", help="binary | log | linear (the scale EASE reads)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from recommender.data import Catalogue
    from recommender.interactions import Interactions
    from recommender.rankers import EASERanker

    rng = np.random.default_rng(args.seed)
    n, m, per = args.learners, args.items, args.events_per_learner
    cluster = rng.integers(0, 50, size=m)
    pop = 1.0 / np.arange(1, m + 1) ** 0.8
    users = np.repeat(np.arange(n), per)
    mine = rng.integers(0, 50, size=n)
    items = np.empty(n * per, dtype=np.int64)
    for c in range(50):  # one draw per cluster of learners: items of their cluster are 10x likelier
        w = pop * np.where(cluster == c, 10.0, 1.0)
        sel = np.repeat(mine == c, per)
        items[sel] = rng.choice(m, size=int(sel.sum()), p=w / w.sum())
    ids = np.array([f"c{j}" for j in range(m)])
    events = pd.DataFrame({"learner_id": users.astype(str), "content_id": ids[items], "event": "viewed",
                           "value": 1.0, "timestamp": np.arange(users.size, dtype=float),
                           "event_id": np.arange(users.size).astype(str)})
    inter = Interactions.from_events(events, Catalogue.from_ids(ids))
    t = time.perf_counter()
    ease = EASERanker(l2=args.l2, confidence=args.confidence).fit(inter)
    fit_s = time.perf_counter() - t
    lat = []
    for _ in range(args.queries):
        hist = ids[rng.choice(m, size=per, replace=False, p=pop / pop.sum())]
        live = [(c, "viewed", 1.0) for c in hist]
        t = time.perf_counter()
        recs = ease.recommend(None, 10, events=live)
        lat.append((time.perf_counter() - t) * 1000)
        assert len(recs) == 10
    lat = np.array(lat)
    out = {"items": m, "learners": n, "pairs": int(inter.matrix.nnz), "fit_seconds": fit_s,
           "rank_ms_p50": float(np.percentile(lat, 50)), "rank_ms_p99": float(np.percentile(lat, 99))}
    print(f"EASE on {m:,} items ({n:,} learners, {out['pairs']:,} pairs): fit {fit_s:.2f} s (target < 10 s); "
          f"one ranking from live events p50 {out['rank_ms_p50']:.2f} ms, p99 {out['rank_ms_p99']:.2f} ms "
          "(target < 5 ms)")
    return out


if __name__ == "__main__":
    main()
