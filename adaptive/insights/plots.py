"""Plots of the insights (matplotlib, Agg; no pyplot state, so safe inside a server thread)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from adaptive.errors import ValidationError

IMAGE_FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
VALUES = {"share_below": "share below required level", "expected_share_below": "expected share below",
          "mean_gap": "mean gap (levels)"}


def gap_matrix(competences: pd.DataFrame, grouping: str = "role",
               value: str = "share_below") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(values, suppressed) group x competence frames from a gap overview's ``competences`` table.

    Groups without a cell to show are left out; cells with no requirement are NaN and not suppressed."""
    if value not in VALUES:
        raise ValidationError(f"must be one of {sorted(VALUES)}, got {value!r}", field="value")
    part = competences[competences["grouping"] == grouping]
    if part.empty:
        raise ValidationError(f"no {grouping!r} groups to plot", field="grouping")
    values = part.pivot(index="group", columns="competence", values=value)
    hidden = part.pivot(index="group", columns="competence", values="suppressed")
    hidden = hidden.astype("boolean").fillna(False).astype(bool)
    keep = values.index.isin(part.loc[~part["suppressed"], "group"])   # groups with a cell to show
    return values[keep], hidden[keep]


def gap_heatmap(competences: pd.DataFrame, grouping: str = "role", value: str = "share_below",
                format: str = "png", title: str | None = None, dpi: int = 110) -> bytes:
    """A group x competence heatmap (PNG or SVG bytes). Suppressed cells are grey and hatched."""
    if format not in IMAGE_FORMATS:
        raise ValidationError(f"must be one of {sorted(IMAGE_FORMATS)}, got {format!r}", field="format")
    values, hidden = gap_matrix(competences, grouping, value)
    data = values.to_numpy(dtype=float)
    n_rows, n_cols = data.shape
    fig = Figure(figsize=(max(6.0, 0.45 * n_cols + 2.5), max(2.5, 0.45 * n_rows + 1.6)), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    finite = data[np.isfinite(data)]
    vmax = 1.0 if value != "mean_gap" or finite.size == 0 else max(1.0, float(finite.max()))
    img = ax.imshow(np.ma.masked_invalid(data), cmap="OrRd", vmin=0, vmax=vmax, aspect="auto")
    mask = hidden.to_numpy()
    if mask.any():   # suppressed cells: grey, hatched, so they cannot be mistaken for "no gap"
        ax.imshow(np.ma.masked_where(~mask, np.ones_like(data)), cmap=ListedColormap(["#bdbdbd"]),
                  aspect="auto")
        for i, j in zip(*np.nonzero(mask), strict=True):
            ax.add_patch(_hatch(j, i))
    for i in range(n_rows):
        for j in range(n_cols):
            if np.isfinite(data[i, j]) and not mask[i, j]:
                text = f"{data[i, j]:.0%}" if value != "mean_gap" else f"{data[i, j]:.1f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=6,
                        color="white" if data[i, j] > 0.6 * vmax else "black")
    ax.set_xticks(range(n_cols), [str(c) for c in values.columns], fontsize=7, rotation=90)
    ax.set_yticks(range(n_rows), [str(g) for g in values.index], fontsize=8)
    ax.set_xlabel("DigComp competence")
    ax.set_ylabel(grouping)
    ax.set_title(title or f"{VALUES[value]} by {grouping} (grey: group too small to show)", fontsize=9)
    fig.colorbar(img, ax=ax, fraction=0.03, pad=0.02).set_label(VALUES[value], fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=format, metadata={"Software": None} if format == "png" else {"Date": None})
    return buf.getvalue()


def _hatch(x: float, y: float):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, hatch="///", edgecolor="#7f7f7f", linewidth=0)
