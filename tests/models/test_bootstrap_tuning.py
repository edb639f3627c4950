"""The recommender tuning recorded for the default demo world (models/data/demo_tuning.json) is what
tuning finds on that world, and training with it gives the model tuning gives: the bootstrap skips the
search (a third of its time) without serving anything different (issue 16).

When the world generator, the search grids or the rankers change, these tests fail until the record
is refreshed with ``python -m models.bootstrap --retune``.
"""

from __future__ import annotations

import json

import pytest

from models.bootstrap import DEMO_TUNING, known_tuning, tuning_fingerprint


@pytest.fixture(scope="module")
def demo_world(tmp_path_factory):
    from recommender.synthetic import generate_world

    recorded = json.loads(DEMO_TUNING.read_text())["world"]
    world = generate_world(n_learners=recorded["n_learners"], n_content=recorded["n_content"],
                           seed=recorded["seed"])
    files = world.write(tmp_path_factory.mktemp("demo-world"))
    return world, files, recorded["seed"]


def test_the_default_demo_world_has_the_recorded_fingerprint(demo_world):
    world, files, seed = demo_world
    assert known_tuning(tuning_fingerprint(files, seed)) is not None
    # anything else tunes: another seed, or one event more
    assert known_tuning(tuning_fingerprint(files, seed + 1)) is None
    with open(files["events"], "a") as f:
        f.write(f"{world.learners.ids[0]},{world.catalogue.ids[0]},viewed,1.0,2025-01-01T00:00:00Z,E-extra\n")
    assert known_tuning(tuning_fingerprint(files, seed)) is None


@pytest.mark.slow
def test_recorded_tuning_is_what_tuning_finds_and_gives_the_same_model(tmp_path):
    from recommender.synthetic import generate_world
    from recommender.training import train_bundle, tuned_from_bundle

    recorded = json.loads(DEMO_TUNING.read_text())
    seed = recorded["world"]["seed"]
    world = generate_world(n_learners=recorded["world"]["n_learners"],
                           n_content=recorded["world"]["n_content"], seed=seed)
    args = (world.catalogue, world.roles, world.events, world.learners)
    bundle, searched = train_bundle(*args, seed=seed, progress=False, tune=True)
    assert tuned_from_bundle(bundle) == recorded["tuned_params"]
    _, reused = train_bundle(*args, seed=seed, progress=False, tune=True,
                             tuned_params=recorded["tuned_params"])
    assert reused == searched  # every test metric and parameter, exactly
