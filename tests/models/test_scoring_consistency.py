"""One scoring: the live diagnostic's result, the MLflow model's ``predict`` and the library estimator agree.

Diagnostics run through the real API in-process (the ``tests/api`` fixtures); the service's response log
export (pilot items included) goes through the registered ``digcomp-item-bank`` pyfunc model, which must
give every diagnostic's reported theta (to 1e-3) and level in every area it tested.
"""

from __future__ import annotations

import io

import mlflow
import numpy as np
import pandas as pd
import pytest

from adaptive.cat import CatConfig, CatSession
from adaptive.cat.profile import ProfileEstimator, estimate_profile
from adaptive.estimation import MultidimensionalPosterior
from adaptive.synthetic import generate_synthetic_bank
from models import runs
from models.item_bank_model import estimate_abilities
from models.registry import ITEM_BANK_MODEL
from tests.api.conftest import (  # noqa: F401 - fixtures of the API tests, used as they are
    api,
    bank_v1,
    bank_v2,
    bundle,
    database_url,
    settings,
    sqlite_template,
    world,
)
from tests.api.helpers import run_diagnostic
from tests.cat.conftest import run_session

DIAGNOSTICS = [  # (learner, true theta, areas asked for)
    ("amy", -1.2, None), ("ben", 0.3, None), ("cai", 1.4, ["1", "3"]), ("dan", -0.4, ["2", "4", "5"]),
    ("amy", -0.8, ["1", "2"]), ("eve", 0.9, None),
]


def test_predict_on_the_exported_log_reproduces_every_diagnostic_result(api, bank_v1, home):  # noqa: F811
    results = {}
    for k, (learner, theta, areas) in enumerate(DIAGNOSTICS):
        sid, _, final = run_diagnostic(api.client, api.a, bank_v1, theta, seed=40 + k, learner=learner,
                                       areas=areas)
        results[sid] = (learner, final["result"])
    export = api.client.get("/v1/admin/responses/export", headers=api.a)
    assert export.status_code == 200
    log = pd.read_csv(io.StringIO(export.text), dtype={"person_id": str, "item_id": str, "session_id": str})
    assert set(log["session_id"]) == set(results)
    # the export includes pilot items; the fixture's CAT seeds none, so add pilot answers as the log of a
    # CAT with pilot slots would have them: they must not move any estimate
    pilots = [it.id for it in bank_v1.items if it.status == "pilot"]
    assert pilots
    extra = [(learner, item, k % 2, sid, None, None) for k, (sid, (learner, _)) in enumerate(results.items())
             for item in pilots[k : k + 2]]
    log = pd.concat([log, pd.DataFrame(extra, columns=log.columns)], ignore_index=True)

    version = runs.log_item_bank(bank_v1, metrics={"loglik_total": -1.0})
    model = mlflow.pyfunc.load_model(f"models:/{ITEM_BANK_MODEL}/{version}")
    out = model.predict(log)
    assert list(out.columns) == ["person_id", "session_id", "area", "theta", "se", "level", "n_items"]
    pd.testing.assert_frame_equal(out, estimate_abilities(bank_v1, log))   # the wrapper is the library
    got = out.set_index(["session_id", "area"])
    compared = 0
    for sid, (_, result) in results.items():
        tested = {a for a, r in result["areas"].items() if r["n_items"] > 0}
        assert set(got.loc[sid].index) == tested
        for area in tested:
            row, want = got.loc[(sid, area)], result["areas"][area]
            assert abs(row["theta"] - want["theta"]) < 1e-3
            assert abs(row["se"] - want["se"]) < 1e-3
            assert row["level"] == want["level"] and row["n_items"] == want["n_items"]
            compared += 1
    assert compared >= 15


@pytest.fixture(scope="module")
def cat_bank():
    return generate_synthetic_bank(items_per_competence=8, n_pilot_per_competence=1, languages=("en",),
                                   seed=5, name="scoring bank")


@pytest.mark.parametrize("config", [CatConfig(n_pilot=3), CatConfig(independent_areas=True, prior_sd=1.3),
                                    CatConfig(areas=["2", "4"], selection="max-info", exposure=None)])
def test_session_result_is_the_estimator_on_its_log(cat_bank, config):
    rng = np.random.default_rng(7)
    s = run_session(CatSession(cat_bank, config, seed=3), cat_bank, np.array([0.5, -1.0, 0.2, 1.1, 0.0]), rng)
    direct = estimate_profile(cat_bank, [e["item_id"] for e in s.log], [e["score"] for e in s.log],
                              areas=s.areas, prior_sd=config.prior_sd,
                              independent_areas=config.independent_areas,
                              prior_correlation_shrinkage=config.prior_correlation_shrinkage)
    assert s.result().to_dict() == direct.to_dict()
    # the CAT's running (grid-kernel) estimate is close to the scoring of record, not the same code (its
    # SE uses expected information, the Laplace SE the observed curvature: they differ for 3PL/GRM items)
    run = s.progress()["areas"]
    for a, r in s.result().areas.items():
        assert abs(run[a]["theta"] - r.theta) < 0.02 and abs(run[a]["se"] - r.se) < 0.05


def test_pilot_items_are_never_scored(cat_bank):
    pilots = [it.id for it in cat_bank.items if it.status == "pilot"][:3]
    active = [it.id for it in cat_bank.items if it.status == "active" and it.area == "1"][:4]
    with_pilots = estimate_profile(cat_bank, active + pilots, [1, 0, 1, 1, 1, 1, 1])
    without = estimate_profile(cat_bank, active, [1, 0, 1, 1])
    assert with_pilots.to_dict() == without.to_dict()
    assert estimate_profile(cat_bank, pilots, [1, 0, 1]).areas == {}


def test_untested_areas_do_not_change_the_tested_ones(cat_bank):
    """Gaussian prior, area-separable likelihood: the marginal posterior of the tested areas is the same
    whether the untested areas are in the model or not (but an untested area moves with the tested ones
    through the prior correlation)."""
    rng = np.random.default_rng(2)
    ids = [it.id for it in cat_bank.items if it.status == "active" and it.area in ("1", "3")]
    ids = list(rng.choice(ids, size=14, replace=False))
    scores = [int(rng.integers(0, cat_bank.item(i).n_categories)) for i in ids]
    only = estimate_profile(cat_bank, ids, scores)
    full = estimate_profile(cat_bank, ids, scores, areas=cat_bank.area_ids)
    assert set(only.areas) == {"1", "3"} and set(full.areas) == set(cat_bank.area_ids)
    for a in ("1", "3"):
        assert full.areas[a].theta == pytest.approx(only.areas[a].theta, abs=1e-6)
        assert full.areas[a].se == pytest.approx(only.areas[a].se, abs=1e-6)
        assert full.areas[a].level_probabilities == pytest.approx(only.areas[a].level_probabilities, abs=1e-6)
    assert full.areas["2"].n_items == 0 and full.areas["2"].se < 1.0          # informed by correlation
    # ... and with independent areas the untested ones keep the prior exactly
    ind = estimate_profile(cat_bank, ids, scores, areas=cat_bank.area_ids, independent_areas=True)
    assert ind.areas["2"].theta == 0.0 and ind.areas["2"].se == pytest.approx(1.0)


def test_estimator_is_the_joint_map_under_the_bank_prior(cat_bank):
    """Against MultidimensionalPosterior built by hand from the bank's correlation (the reference)."""
    rng = np.random.default_rng(4)
    ids = [it.id for it in cat_bank.items if it.status == "active"]
    ids = list(rng.choice(ids, size=25, replace=False))
    scores = [int(rng.integers(0, cat_bank.item(i).n_categories)) for i in ids]
    prof = ProfileEstimator(cat_bank, prior_sd=1.2).estimate(ids, scores)
    areas = [a for a in cat_bank.area_ids if a in prof.areas]
    pos = [cat_bank.area_ids.index(a) for a in areas]
    corr = np.asarray(cat_bank.area_correlation)[np.ix_(pos, pos)]
    dims = np.array([areas.index(cat_bank.item(i).area) for i in ids])
    ref = MultidimensionalPosterior.from_correlation(corr, sd=1.2).estimate(cat_bank.parameters(ids), dims,
                                                                          np.array(scores))
    np.testing.assert_allclose([prof.areas[a].theta for a in areas], ref.theta, atol=1e-9)
    np.testing.assert_allclose([prof.areas[a].se for a in areas], ref.se, atol=1e-9)
    assert sum(c.items for c in prof.competences.values()) == 25
