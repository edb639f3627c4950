"""Exposure control against precision and test length on the bootstrap bank (issue 14, items 3 and 6).

For each (SE target, item cap): conditional Sympson-Hetter calibrated to the .25 target per theta band
(the service's and ``digipath simulate``'s default, as ``models.bootstrap`` stores it with the bank), then
an evaluation run on a seed the calibration did not use: maximum exposure (overall and by true-theta band),
share of the bank never used, overlap, mean RMSE over areas, the length distribution and the share of tests
that stopped on precision (every area at its SE target before the cap). ``--randomesque`` adds randomesque
k=5 rows for comparison. The bank is the bootstrap's (DigComp 3.0, 16 items per competence, 698 items).

    python -m experiments.exposure_stopping [--simulees 2000] [--seed 1] [--randomesque]
        [--settings 0.55:40,0.50:48] [--out experiments/out/exposure_stopping]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from adaptive.cat import CatConfig
from adaptive.cat.simulation import calibrate_exposure_control, simulate

SETTINGS = ((0.35, 40), (0.45, 40), (0.50, 40), (0.55, 40), (0.50, 48))


def bootstrap_bank():
    from adaptive.framework import get_framework
    from adaptive.synthetic import generate_synthetic_bank
    from models.bootstrap import DEFAULT_FRAMEWORK

    return generate_synthetic_bank(get_framework(DEFAULT_FRAMEWORK), items_per_competence=16, seed=0)


def run(bank, se: float, cap: int, method: str, simulees: int, seed: int) -> dict:
    cfg = CatConfig(se_target=se, max_items=cap, exposure=method)
    if method == "conditional-sympson-hetter":
        bank = bank.replace(exposure_control=calibrate_exposure_control(bank, cfg, seed=seed + 1))
    sim = simulate(bank, cfg, n_simulees=simulees, seed=seed)
    rep = sim.report()
    s, ld = rep["summary"], rep["length_distribution"]
    return {"se_target": se, "max_items": cap, "exposure": method,
            "max_exposure": s["max_exposure"], "max_conditional_exposure": s["max_conditional_exposure"],
            "share_unused": s["share_unused"], "overlap": s["overlap_rate"],
            "rmse": float(np.mean([a["rmse"] for a in rep["areas"].values()])),
            "mean_se": float(np.mean([a["mean_se"] for a in rep["areas"].values()])),
            "coverage": float(np.mean([a["coverage"] for a in rep["areas"].values()])),
            "mean_length": s["mean_length"], "share_at_cap": ld["share_at_cap"],
            "share_stopped_on_precision": ld["share_stopped_on_precision"],
            "length_percentiles": ld["percentiles"], "lengths": sim.n_items.tolist(),
            "exposure_by_band": rep["exposure_by_band"]}


def plot(rows: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["exposure"] == "conditional-sympson-hetter"]
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    for cap in sorted({r["max_items"] for r in rows}):
        rr = sorted((r for r in rows if r["max_items"] == cap), key=lambda r: r["se_target"])
        se = [r["se_target"] for r in rr]
        ax[0].plot(se, [r["share_stopped_on_precision"] for r in rr], "o-", label=f"cap {cap}")
        ax[1].plot(se, [r["mean_length"] for r in rr], "o-", label=f"cap {cap}")
        ax[2].plot(se, [r["rmse"] for r in rr], "o-", label=f"cap {cap}")
    ax[0].axhline(0.5, color="grey", lw=0.5)
    ax[0].set(xlabel="SE target", ylabel="share stopped on precision", ylim=(0, 1))
    ax[1].set(xlabel="SE target", ylabel="mean test length (items)")
    ax[2].set(xlabel="SE target", ylabel="RMSE (mean over areas)")
    for a in ax:
        a.legend()
    fig.suptitle("Stopping under conditional Sympson-Hetter (exposure <= .25 per theta band)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_lengths(rows: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["exposure"] == "conditional-sympson-hetter"]
    fig, ax = plt.subplots(figsize=(8, 4))
    for r in rows:
        values, counts = np.unique(r["lengths"], return_counts=True)
        ax.step(values, np.cumsum(counts) / counts.sum(), where="post",
                label=f"SE {r['se_target']:.2f}, cap {r['max_items']}")
    ax.set(xlabel="test length (items)", ylabel="share of tests of at most this length")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _settings(text: str) -> tuple[tuple[float, int], ...]:
    try:
        return tuple((float(se), int(cap)) for se, cap in (pair.split(":") for pair in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SE:CAP pairs such as 0.55:40,0.50:48, got {text!r}"
                                         ) from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simulees", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--randomesque", action="store_true", help="also randomesque k=5 rows")
    ap.add_argument("--settings", type=_settings, default=SETTINGS,
                    help="SE:CAP pairs, comma-separated (default: the five of the study); e.g. 0.55:40, the "
                         "service's default, for a short comparison")
    ap.add_argument("--out", type=Path, default=Path("experiments/out/exposure_stopping"))
    args = ap.parse_args()
    bank = bootstrap_bank()
    methods = ("conditional-sympson-hetter", *(("randomesque",) if args.randomesque else ()))
    rows = []
    with Progress(transient=True) as bar:
        task = bar.add_task("settings", total=len(args.settings) * len(methods))
        for se, cap in args.settings:
            for method in methods:
                rows.append(run(bank, se, cap, method, args.simulees, args.seed))
                r = rows[-1]
                bar.console.log(f"SE {se:.2f} cap {cap} {method}: stopped on SE "
                                f"{r['share_stopped_on_precision']:.1%}, mean length {r['mean_length']:.1f}, "
                                f"max exposure {r['max_exposure']:.3f} "
                                f"(by band {r['max_conditional_exposure']:.3f})"
                                f", RMSE {r['rmse']:.3f}")
                bar.advance(task)
    table = Table(title=f"Exposure vs precision and length ({len(bank)} items, {args.simulees} simulees)")
    for col in ("SE target", "cap", "exposure", "max exp.", "max exp. | band", "unused", "overlap", "RMSE",
                "coverage", "mean length", "p10/p50/p90", "at cap", "stopped on SE"):
        table.add_column(col, justify="right")
    for r in rows:
        p = r["length_percentiles"]
        table.add_row(f"{r['se_target']:.2f}", str(r["max_items"]),
                      "CSH" if r["exposure"] == "conditional-sympson-hetter" else r["exposure"],
                      f"{r['max_exposure']:.3f}", f"{r['max_conditional_exposure']:.3f}",
                      f"{r['share_unused']:.1%}", f"{r['overlap']:.3f}", f"{r['rmse']:.3f}",
                      f"{r['coverage']:.3f}", f"{r['mean_length']:.1f}",
                      f"{p['10']:.0f}/{p['50']:.0f}/{p['90']:.0f}", f"{r['share_at_cap']:.1%}",
                      f"{r['share_stopped_on_precision']:.1%}")
    Console().print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "exposure_stopping.json").write_text(json.dumps(rows, indent=1))
    paths = [plot(rows, args.out / "stopping_tradeoff.png"), plot_lengths(rows, args.out / "length_cdf.png")]
    Console().print(f"wrote {args.out / 'exposure_stopping.json'}, " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    main()
