"""Bootstrap benchmark: wall time of a fresh ``digipath bootstrap`` and what it recovers.

    python -m experiments.models_bootstrap [--learners 2000] [--seed 0] [--keep DIR]

Prints the time of the whole bootstrap, the calibration's recovery of the generating difficulties
(RMSE and median |error|), the recommender's test NDCG@10 against the popularity baseline, and the
cost of loading the champions from the registry cold (download) and warm (cache).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="bootstrap into this directory and keep it")
    args = parser.parse_args(argv)

    from models import registry
    from models.bootstrap import bootstrap

    with tempfile.TemporaryDirectory() as tmp:
        home = args.keep or Path(tmp) / "home"
        t0 = time.perf_counter()
        result = bootstrap(home, seed=args.seed, n_learners=args.learners, force=True, progress=True)
        total = time.perf_counter() - t0
        registry.clear_cache()
        t1 = time.perf_counter()
        registry.load_item_bank()
        registry.load_recommender()
        cold = time.perf_counter() - t1
        t2 = time.perf_counter()
        for _ in range(100):
            registry.load_item_bank()
            registry.load_recommender()
        warm = (time.perf_counter() - t2) / 100
        m = result.metrics
        print(f"\nbootstrap (learners={args.learners}, seed={args.seed}): {total:.1f} s wall")
        print(f"  calibration: {m['calibration.n_persons']:.0f} persons, {m['calibration.n_responses']:.0f} "
              f"responses, {m['calibration.n_items_calibrated']:.0f} items calibrated, "
              f"{m['calibration.n_items_excluded']:.0f} excluded")
        print(f"  difficulty recovery: RMSE {m['calibration.b_rmse']:.3f}, "
              f"median |error| {m['calibration.b_median_abs_error']:.3f}")
        print(f"  recommender test NDCG@10 {m['recommender.test_ndcg_at_10']:.4f} "
              f"(popularity {m['recommender.popularity.ndcg_at_10']:.4f})")
        print(f"  load champions: cold {cold * 1000:.0f} ms (download + build), "
              f"warm {warm * 1000:.2f} ms (alias lookup + cache hit)")


if __name__ == "__main__":
    main()
