"""Calibration report: Markdown tables plus PNG plots (ICCs, test information per area, item fit)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

THETA = np.linspace(-4, 4, 161)


def _fmt(v) -> str:
    if isinstance(v, float | np.floating):
        return "" if not np.isfinite(v) else f"{v:.3f}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v).replace("|", "/")


def markdown_table(df: pd.DataFrame, index: bool = True) -> str:
    if df is None or len(df) == 0:
        return "_(none)_\n"
    d = df.reset_index() if index else df
    cols = [str(c) for c in d.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in d.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _plot_icc(result, area, path: Path) -> None:
    bank = result.bank
    ids = [i for i in result.items.index if result.items.loc[i, "area"] == area]
    if not ids:
        return
    params = bank.parameters(ids)
    es = params.expected_score(THETA) / np.maximum(params.n_categories - 1, 1)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    flagged = result.items.loc[ids, "flags"].to_numpy() != ""
    for k in range(len(ids)):
        ax.plot(THETA, es[:, k], lw=0.8, color="tab:red" if flagged[k] else "tab:blue", alpha=0.7)
    ax.set(
        xlabel="theta",
        ylabel="expected score / max score",
        title=f"Area {area}: item characteristic curves ({len(ids)} items; red = flagged)",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_information(result, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for area in result.area_fits:
        ids = [i for i in result.items.index if result.items.loc[i, "area"] == area]
        if ids:
            info = result.bank.parameters(ids).information(THETA).sum(axis=1)
            ax.plot(THETA, info, label=f"area {area} ({len(ids)} items)")
    ax.set(xlabel="theta", ylabel="test information", title="Test information per area")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_item_fit(result, path: Path) -> None:
    df = result.items
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    flagged = df["flags"] != ""
    b0 = np.array([np.mean(b) for b in df["b"]])
    axes[0].scatter(df["infit"], df["outfit"], c=np.where(flagged, "tab:red", "tab:blue"), s=14)
    for v in (0.7, 1.3):
        axes[0].axvline(v, color="grey", ls=":")
        axes[0].axhline(v, color="grey", ls=":")
    axes[0].set(xlabel="infit MNSQ", ylabel="outfit MNSQ", title="Infit vs outfit (red = flagged)")
    p = df["fit_p"].astype(float).clip(lower=1e-12)
    axes[1].scatter(b0, -np.log10(p), c=np.where(flagged, "tab:red", "tab:blue"), s=14)
    axes[1].axhline(2, color="grey", ls=":", label="p = 0.01")
    axes[1].set(
        xlabel="difficulty b (mean threshold)",
        ylabel="-log10 p (item fit)",
        title="Item fit test by difficulty",
    )
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_option_curves(result, path: Path, max_items: int = 12) -> bool:
    """Share choosing each option by ability group; flagged items first (a miskey shows as a rising
    distractor curve)."""
    curves = result.option_curves
    if curves is None or not len(curves):
        return False
    flagged = list(dict.fromkeys(result.distractors.loc[result.distractors["flag"] != "", "item_id"]))
    others = [i for i in dict.fromkeys(curves["item_id"]) if i not in flagged]
    items = (flagged + others)[:max_items]
    ncol = min(4, len(items))
    nrow = -(-len(items) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.6 * nrow), squeeze=False)
    keyed = result.distractors.set_index(["item_id", "option"])["key"]
    for ax, iid in zip(axes.ravel(), items, strict=False):
        for opt, g in curves[curves["item_id"] == iid].groupby("option"):
            is_key = bool(keyed.get((iid, opt), False))
            ax.plot(
                g["ability_group"],
                g["proportion"],
                marker="o",
                lw=2.2 if is_key else 1.0,
                label=f"{opt}{' (key)' if is_key else ''}",
            )
        ax.set_title(f"{iid}{' *miskey?*' if iid in flagged else ''}", fontsize=8)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=6)
    for ax in axes.ravel()[len(items) :]:
        ax.axis("off")
    fig.supxlabel("ability group (rest score quantile)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


def write_report(result, out_dir) -> Path:
    """Write report.md, PNG plots, items.csv and metrics.json into ``out_dir``; returns report.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for area in result.area_fits:
        p = out / f"icc_area_{area}.png"
        _plot_icc(result, area, p)
        if p.exists():
            paths.append(p)
    if len(result.items):
        _plot_information(result, out / "test_information.png")
        _plot_item_fit(result, out / "item_fit.png")
        paths += [out / "test_information.png", out / "item_fit.png"]
    result.items.to_csv(out / "items.csv")
    (out / "metrics.json").write_text(json.dumps(result.metrics, indent=2))
    paths += [out / "items.csv", out / "metrics.json"]

    md = [
        "# Calibration report",
        "",
        f"Data: `{result.params.get('source', '')}`; {int(result.metrics['n_persons'])} persons, "
        f"{int(result.metrics['n_responses'])} responses; {int(result.metrics['n_items_calibrated'])} items "
        f"calibrated, {int(result.metrics['n_items_excluded'])} excluded, "
        f"{int(result.metrics['n_items_flagged'])} flagged for review.",
        "",
        "Method: marginal maximum likelihood (Bock-Aitkin EM), theta ~ N(0, 1) per area, 61 quadrature "
        "points on [-6, 6]; standard errors from the observed information; item fit by S-X2 (complete data) "
        "or LOO-X2 on leave-one-out posterior predictions (sparse data); infit/outfit from the same "
        "predictions.",
        "",
        "## Model choice per area",
        "",
        markdown_table(result.model_comparison, index=False),
        "",
    ]
    for area, f in result.area_fits.items():
        md += [
            f"## Area {area}: {f.model}",
            "",
            f"logLik {f.calibrator.loglik_:.3f}, AIC {f.calibrator.aic_:.2f}, BIC {f.calibrator.bic_:.2f}, "
            f"{f.calibrator.n_iter_} EM cycles (converged: {f.calibrator.converged_}), SE method "
            f"{f.calibrator.se_method_}.",
            "",
            f"Dimensionality: {json.dumps(f.dimensionality)}",
            "",
        ]
        if f.linking is not None:
            md += [
                f"Linking: {f.linking.method}, A = {f.linking.A:.4f}, B = {f.linking.B:.4f}; "
                f"unstable anchors: {f.linking.unstable or 'none'}; dropped: {f.linking.dropped or 'none'}",
                "",
                markdown_table(f.linking.anchors),
                "",
            ]
        if (out / f"icc_area_{area}.png").exists():
            md += [f"![ICCs area {area}](icc_area_{area}.png)", ""]
    cols = [
        "area",
        "model",
        "n_responses",
        "a",
        "se_a",
        "b",
        "se_b",
        "d",
        "se_d",
        "easiness",
        "se_easiness",
        "c",
        "fit_test",
        "fit_X2",
        "fit_df",
        "fit_p",
        "infit",
        "outfit",
        "p_value",
        "point_biserial",
        "flags",
    ]
    md += [
        "## Items",
        "",
        markdown_table(result.items[[c for c in cols if c in result.items.columns]]),
        "",
        "![Test information](test_information.png)",
        "",
        "![Item fit](item_fit.png)",
        "",
    ]
    if result.distractors is not None:
        result.distractors.to_csv(out / "distractors.csv", index=False)
        paths.append(out / "distractors.csv")
        md += [
            "## Distractor analysis",
            "",
            "Per option: share of the item's respondents choosing it and its point-biserial with the rest "
            "score (proportion of the maximum on the other items answered). *possible miskey*: a wrong "
            "option that correlates positively with ability and more than the key.",
            "",
            markdown_table(result.distractors, index=False),
            "",
        ]
        if _plot_option_curves(result, out / "option_curves.png"):
            paths.append(out / "option_curves.png")
            md += ["![Option curves](option_curves.png)", ""]
    md += [
        "## Excluded items",
        "",
        markdown_table(pd.DataFrame(result.excluded, columns=["item_id", "reason"]), index=False),
        "",
        "## Area correlation",
        "",
        markdown_table(
            pd.DataFrame(
                result.bank.area_correlation, index=result.bank.area_ids, columns=result.bank.area_ids
            )
        ),
        "",
    ]
    ci = (result.bank.provenance or {}).get("area_correlation_ci95") or {}
    if ci:
        md += ["95% intervals (Fisher's z of the EAP correlation, disattenuated; reliabilities taken as "
               "known). The CAT's prior shrinks the correlations towards 0 (`prior_correlation_shrinkage`) "
               "so that an overestimate of this size does not overstate precision.", "",
               markdown_table(pd.DataFrame([{"areas": k, "low": lo, "high": hi}
                                            for k, (lo, hi) in ci.items()]), index=False), ""]
    for note in reversed(result.notes):
        md.insert(2, f"**Note:** {note}\n")
    if result.validation_error:
        md.insert(2, f"**Warning: the new bank does not validate:** {result.validation_error}\n")
    report = out / "report.md"
    report.write_text("\n".join(md))
    result.artifact_paths = [report, *paths]
    return report
