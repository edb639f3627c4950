"""Shared fixtures: one small synthetic world (seeded) and models fitted on its training split."""

from __future__ import annotations

import pytest

from recommender.interactions import Interactions
from recommender.rankers import ALSRanker
from recommender.splits import temporal_last_n_split
from recommender.synthetic import generate_world


@pytest.fixture(scope="session")
def world():
    return generate_world(n_learners=1500, n_content=500, mean_items=20, seed=7)


@pytest.fixture(scope="session")
def split(world):
    return temporal_last_n_split(world.events, n=2)


@pytest.fixture(scope="session")
def train(world, split):
    return Interactions.from_events(split.train, world.catalogue, world.roles, world.learners)


@pytest.fixture(scope="session")
def full(world):
    return Interactions.from_events(world.events, world.catalogue, world.roles, world.learners)


@pytest.fixture(scope="session")
def als_full(full):
    return ALSRanker(factors=32, regularization=0.05, alpha=2.0, iterations=15, seed=0).fit(full)
