"""Heatmap (PNG/SVG via matplotlib Agg) and CSV export of every table."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from adaptive.errors import ValidationError
from adaptive.insights.plots import gap_heatmap, gap_matrix


def test_png_heatmap(overview):
    png = gap_heatmap(overview.competences, "role")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(io.BytesIO(png), format="png")
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 400
    assert img[..., :3].std() > 0.05                      # not blank


def test_svg_heatmap_shows_only_groups_that_may_be_shown(overview):
    svg = gap_heatmap(overview.competences, "unit", format="svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    values, hidden = gap_matrix(overview.competences, "unit")
    for group in values.index:
        assert group in svg
    assert "legal" not in svg and "legal" not in values.index
    g = overview.groups
    for group in g[(g["grouping"] == "unit") & g["suppressed"]]["group"]:
        assert group not in values.index


def test_heatmap_matrix_matches_the_table(overview):
    values, hidden = gap_matrix(overview.competences, "role", "mean_gap")
    comp = overview.competences.set_index(["grouping", "group", "competence"])
    assert values.loc["clerk", "4.1"] == comp.loc[("role", "clerk", "4.1"), "mean_gap"]
    assert np.isnan(values.loc["clerk", "3.4"]) and not hidden.loc["clerk", "3.4"]   # not required


@pytest.mark.parametrize(("kwargs", "field"), [({"format": "gif"}, "format"), ({"value": "n"}, "value"),
                                               ({"grouping": "team"}, "grouping")])
def test_heatmap_bad_arguments(overview, kwargs, field):
    with pytest.raises(ValidationError, match=field):
        gap_heatmap(overview.competences, **kwargs)


def test_csv_export_round_trips(overview, progress, impact, tmp_path):
    for report in (overview, progress, impact):
        paths = report.write_csv(tmp_path / type(report).__name__)
        assert set(paths) == set(report.table_names)
        for name, path in paths.items():
            back = pd.read_csv(path, dtype={"group": str, "area": str, "competence": str})
            table = report.tables()[name]
            assert list(back.columns) == list(table.columns) and len(back) == len(table)
            assert back.to_csv(index=False) == pd.read_csv(io.StringIO(report.to_csv(name)),
                                                           dtype={"group": str, "area": str,
                                                                  "competence": str}).to_csv(index=False)
            numeric = table.select_dtypes("number").columns
            np.testing.assert_allclose(back[numeric].to_numpy(float), table[numeric].to_numpy(float),
                                       rtol=1e-12, equal_nan=True)
    with pytest.raises(ValidationError, match="unknown table"):
        overview.to_csv("secrets")
