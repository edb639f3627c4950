"""Registers the small model set for the end-to-end tests in a separate process (keeps mlflow's global
tracking state out of the pytest process).

    python -m tests.api.e2e_models HOME bank SEED      # log + promote a synthetic item bank
    python -m tests.api.e2e_models HOME recommender    # log + promote a small recommender bundle
    python -m tests.api.e2e_models HOME all SEED       # both (one process start)
"""

from __future__ import annotations

import sys


def small_bank(seed: int):
    from adaptive.synthetic import generate_synthetic_bank

    return generate_synthetic_bank(
        items_per_competence=6,
        languages=("en", "lt"),
        n_pilot_per_competence=1,
        seed=seed,
        name=f"e2e bank {seed}",
    )


def small_world():
    from recommender.synthetic import generate_world

    return generate_world(n_learners=150, n_content=120, mean_items=8, seed=3)


def small_bundle(world=None):
    """An untuned hybrid bundle on a tiny synthetic world (seconds, not minutes)."""
    from recommender.training import train_bundle

    world = small_world() if world is None else world
    bundle, _ = train_bundle(
        world.catalogue,
        world.roles,
        world.events,
        learners=world.learners,
        ranker="hybrid",
        tune=False,
        baselines=False,
        progress=False,
    )
    return bundle


def main(argv: list[str]) -> None:
    from models import registry, runs, tracking

    home, what = argv[0], argv[1]
    tracking.configure(home)
    if what in ("bank", "all"):
        version = runs.log_item_bank(small_bank(int(argv[2])))
        registry.promote(registry.ITEM_BANK_MODEL, version, validate=False)  # synthetic: not calibrated
    if what in ("recommender", "all"):
        version = runs.log_recommender(small_bundle())
        registry.promote(registry.RECOMMENDER_MODEL, version, validate=False)
    print(version)


if __name__ == "__main__":
    main(sys.argv[1:])
