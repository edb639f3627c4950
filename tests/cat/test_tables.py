"""The CAT's grid tables are adaptive.irt's functions tabulated (no re-written formulas)."""

from __future__ import annotations

import numpy as np

from adaptive.cat.tables import build_tables
from adaptive.synthetic import generate_synthetic_bank


def test_tables_tabulate_irt_information_and_scores():
    bank = generate_synthetic_bank(items_per_competence=6, languages=("en",), share_3pl=0.3, share_grm=0.3,
                                   seed=5)
    tables = build_tables(bank)
    params = bank.parameters()
    np.testing.assert_allclose(tables.info, params.information(tables.grid), rtol=1e-12)
    scores = np.transpose(params.category_scores(tables.grid), (1, 2, 0))          # (n, K, G)
    np.testing.assert_allclose(tables.score_fn, scores, rtol=1e-6, atol=1e-6)   # stored as float32
    # off the grid, interpolation stays close to the exact score of every answer an item allows
    rng = np.random.default_rng(0)
    theta = rng.uniform(-3.0, 3.0, 50)
    exact = params.category_scores(theta)                                            # (T, n, K)
    for k in range(scores.shape[1]):
        approx = tables.interpolate(tables.score_fn[:, k, :][None, :, :], theta[:, None])
        allowed = k < params.n_categories
        np.testing.assert_allclose(approx[:, allowed], exact[:, allowed, k], atol=2e-3)
        assert np.all(approx[:, ~allowed] == 0)
