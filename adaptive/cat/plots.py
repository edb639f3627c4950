"""Figures of a CAT simulation (matplotlib, Agg): convergence by position, exposure, test information."""

from __future__ import annotations

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
        with np.errstate(invalid="ignore"):
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


def write_plots(sim, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [plot_convergence(sim, out / "convergence.png"), plot_exposure(sim, out / "exposure.png"),
            plot_test_information(sim, out / "test_information.png")]


def _save(fig, path) -> Path:
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
