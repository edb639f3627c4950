"""Figures of a CAT simulation (matplotlib, Agg): convergence by position, exposure, test information."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_convergence(sim, path: str | Path) -> Path:
    """Mean |theta_hat - theta| and mean SE after each operational item, per area."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    pos = np.arange(sim.theta_trace.shape[1])
    for k, area in enumerate(sim.areas):
        err = np.abs(sim.theta_trace[:, :, k] - sim.true_theta[:, k : k + 1])
        # positions after a simulee's test ended are NaN: average over those still testing
        with warnings.catch_warnings():  # all-NaN positions (everyone finished) plot as gaps
            warnings.simplefilter("ignore", RuntimeWarning)
            axes[0].plot(pos, np.nanmean(err, axis=0), label=f"area {area}")
            axes[1].plot(pos, np.nanmean(sim.se_trace[:, :, k], axis=0), label=f"area {area}")
    axes[0].set(xlabel="items answered", ylabel="mean |theta estimate - true theta|",
                title="Theta convergence")
    axes[1].set(xlabel="items answered", ylabel="mean posterior SE", title="SE by position")
    se_target = sim.config.get("se_target")
    if se_target:
        axes[1].axhline(se_target, color="grey", linestyle="--", linewidth=1)
    axes[1].legend(fontsize=8)
    return _save(fig, path)


def plot_exposure(sim, path: str | Path) -> Path:
    rates = sim.exposure_rates[sim.test_items_mask]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(rates, bins=np.linspace(0, max(rates.max(), sim.exposure_target) * 1.05, 30), color="#4477aa")
    ax.axvline(sim.exposure_target, color="#cc3311", linestyle="--", label=f"target {sim.exposure_target:g}")
    ax.set(xlabel="exposure rate", ylabel="items", title=f"Item exposure ({(rates == 0).mean():.0%} unused)")
    ax.legend()
    return _save(fig, path)


def plot_exposure_by_band(sim, path: str | Path) -> Path:
    """Exposure rates of the items by true-theta band of their area: box per band, the maximum marked,
    the target and the target + 2 sampling SDs of a rate measured on the band's simulees."""
    ce = sim.conditional_exposure()
    pool = sim.test_items_mask
    rates = ce["rates"][pool]
    fig, ax = plt.subplots(figsize=(7, 4))
    pos = np.arange(len(ce["bands"]))
    ax.boxplot([rates[:, g] for g in pos], positions=pos, widths=0.5, showfliers=False)
    ax.plot(pos, rates.max(axis=0), "v", color="#cc3311", label="max")
    n_min = ce["n"].min(axis=0)
    t = sim.exposure_target
    ax.axhline(t, color="#cc3311", linestyle="--", lw=1, label=f"target {t:g}")
    ax.plot(pos, t + 2 * np.sqrt(t * (1 - t) / np.maximum(n_min, 1)), "_", ms=20, color="grey",
            label="target + 2 sampling SD")
    ax.set_xticks(pos, [f"{b}\nn={int(n)}" for b, n in zip(ce["bands"], n_min, strict=True)], fontsize=7)
    ax.set(xlabel="true theta band of the item's area (n: fewest simulees of an area)",
           ylabel="exposure rate",
           title="Item exposure by theta band")
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_test_information(sim, path: str | Path) -> Path:
    """Bank information per area and the information of the average administered test."""
    fig, ax = plt.subplots(figsize=(7, 4))
    grid = sim.grid
    col = [f"C{k}" for k in range(len(sim.areas))]
    for k, area in enumerate(sim.areas):
        ax.plot(grid, sim.test_information[k], color=col[k], label=f"bank, area {area}")
        ax.plot(grid, sim.administered_information[k], color=col[k], linestyle="--")
    ax.set(xlabel="theta", ylabel="Fisher information", yscale="log",
           title="Test information: bank (solid) vs mean administered test (dashed)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_conditional(sim, path: str | Path) -> Path:
    """Bias, RMSE / mean SE and coverage by true-theta band, per area (thin) and over all areas (thick)."""
    rows = sim.conditional_report()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for area in [*sim.areas, "all"]:
        r = [x for x in rows if x["area"] == area]
        mid = [_band_mid(x) for x in r]
        lw, label = (2.5, "all areas") if area == "all" else (1.0, f"area {area}")
        axes[0].plot(mid, [x["bias"] for x in r], marker="o", lw=lw, label=label)
        line = axes[1].plot(mid, [x["rmse"] for x in r], marker="o", lw=lw, label=label)[0]
        axes[1].plot(mid, [x["mean_se"] for x in r], ls="--", lw=lw, color=line.get_color())
        axes[2].plot(mid, [x["coverage"] for x in r], marker="o", lw=lw, label=label)
    axes[0].axhline(0, color="grey", lw=1)
    axes[2].axhline(0.95, color="grey", ls="--", lw=1)
    axes[0].set(xlabel="true theta (band)", ylabel="bias", title="Bias by theta")
    axes[1].set(xlabel="true theta (band)", ylabel="RMSE (solid), mean SE (dashed)",
                title="Precision by theta")
    axes[2].set(xlabel="true theta (band)", ylabel="coverage of theta +- 1.96 SE", title="Coverage by theta")
    axes[2].legend(fontsize=7)
    return _save(fig, path)


def plot_length(sim, path: str | Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(sim.n_items, bins=np.arange(sim.n_items.min(), sim.n_items.max() + 2) - 0.5, color="#4477aa")
    ax.set(xlabel="operational items", ylabel="tests",
           title=f"Test length ({sim.length_distribution()['share_at_cap']:.0%} at the cap, "
                 f"{sim.length_distribution()['share_stopped_on_precision']:.0%} stopped on SE)")
    return _save(fig, path)


def _band_mid(row) -> float:
    lo, hi = row["lower"], row["upper"]
    if not np.isfinite(lo):
        return hi - 0.25
    if not np.isfinite(hi):
        return lo + 0.25
    return (lo + hi) / 2


def write_plots(sim, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [plot_convergence(sim, out / "convergence.png"), plot_exposure(sim, out / "exposure.png"),
            plot_test_information(sim, out / "test_information.png"),
            plot_conditional(sim, out / "conditional.png"), plot_length(sim, out / "test_length.png"),
            plot_exposure_by_band(sim, out / "exposure_by_band.png")]


def _save(fig, path) -> Path:
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
