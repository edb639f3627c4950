"""Report tables of an MML-EM fit (what a person reads; the EM itself is in ``em``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from adaptive.calibration.em import MMLCalibrator


def item_parameters_table(cal: MMLCalibrator) -> pd.DataFrame:
    """One row per item: model, categories, n, a, b, c, their SEs, fixed."""
    import pandas as pd  # imported on use: the EM itself does not need pandas

    rows = []
    for j, iid in enumerate(cal.item_ids_):
        K = int(cal.n_categories_[j])
        rows.append(
            {
                "item_id": iid,
                "model": cal.models_[j],
                "n_categories": K,
                "n": cal.responses_per_item_[j],
                "a": cal.a_[j],
                "b": [float(x) for x in cal.b_[j, : K - 1]],
                "c": cal.c_[j],
                "se_a": cal.se_["a"][j],
                "se_b": [float(x) for x in cal.se_["b"][j, : K - 1]],
                "se_c": cal.se_["c"][j],
                "fixed": bool(cal.fixed_[j]),
            }
        )
    return pd.DataFrame(rows).set_index("item_id")
