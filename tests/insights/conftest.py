"""A generated organisation of ~400 learners with known true gaps and training effects (built once)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptive.cat import CatConfig
from adaptive.insights import gap_overview, training_impact
from adaptive.synthetic import generate_synthetic_bank
from adaptive.synthetic_organisation import AREAS, generate_organisation
from recommender.progress import pathway_progress
from tests.api.conftest import (  # noqa: F401 - the API tests' fixtures, reused by test_api.py
    api,
    bank_v1,
    bank_v2,
    bundle,
    database_url,
    settings,
    sqlite_template,
    world,
)


@pytest.fixture(scope="session")
def org():
    bank = generate_synthetic_bank(items_per_competence=24, languages=("en",), seed=0)
    # the CAT settings these tests' tolerances were set for (before issue 14 changed the defaults)
    config = CatConfig(se_target=0.35, prior_correlation_shrinkage=0.0, exposure="randomesque")
    return generate_organisation(400, seed=0, bank=bank, config=config)


@pytest.fixture(scope="session")
def overview(org):
    return gap_overview(org.learners, org.diagnostics, org.roles)


@pytest.fixture(scope="session")
def progress(org):
    return pathway_progress(org.learners, org.pathways, org.events)


@pytest.fixture(scope="session")
def impact(org):
    return training_impact(org.learners, org.diagnostics, org.events, catalogue=org.catalogue,
                           prior=org.prior)


@pytest.fixture(scope="session")
def truth(org):
    """Diagnosed learners with their true level per area at their latest diagnostic."""
    levels = org.true_levels(org.true_latest())
    frame = org.learners.assign(**{f"level_{a}": levels[:, k] for k, a in enumerate(AREAS)})
    return frame[org.diagnosed].reset_index(drop=True)


def profile(levels: dict[str, int], theta: float = 0.0, se: float = 0.3, **extra) -> dict:
    """A hand-made competence profile: the given level per area, all probability on it."""
    areas = {}
    for a, lv in levels.items():
        p = np.zeros(8)
        p[lv - 1] = 1.0
        areas[a] = {"theta": theta, "se": se, "level": lv, "level_probabilities": p.tolist()}
    return {"areas": areas, **extra}


def frame(rows, columns) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)
