"""``digipath simulate BANK.json``: run a CAT simulation study on an item bank, print the report and
write the plots (convergence, exposure, test information)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from adaptive.cat.config import CatConfig
from adaptive.errors import DigipathError

DEFAULTS = CatConfig()      # the service's CAT defaults: one place (adaptive.cat.config)
console = Console()
err_console = Console(stderr=True)


def simulate_command(
    bank_path: Annotated[Path, typer.Argument(help="item bank JSON (ItemBank.save_json)",
                                              show_default=False)],
    simulees: Annotated[int, typer.Option("--simulees", "-n", min=2, help="number of simulees")] = 1000,
    selection: Annotated[str, typer.Option(help="max-info | d-optimal | shadow")] = "d-optimal",
    se_target: Annotated[float, typer.Option(help="stop an area at this posterior SE")] = DEFAULTS.se_target,
    min_items: Annotated[int, typer.Option(help="minimum test length")] = DEFAULTS.min_items,
    max_items: Annotated[int, typer.Option(help="maximum test length (scored items)")] = DEFAULTS.max_items,
    min_items_per_area: Annotated[int, typer.Option()] = DEFAULTS.min_items_per_area,
    max_items_per_area: Annotated[int, typer.Option()] = DEFAULTS.max_items_per_area,
    classification_threshold: Annotated[float | None, typer.Option(
        help="also stop an area once P(most likely level) reaches this")] = None,
    exposure: Annotated[str, typer.Option(
        help="conditional-sympson-hetter (the default: the bank's stored parameters when they were "
             "calibrated for these settings and target, else calibrated first) | sympson-hetter "
             "(calibrated first) | randomesque | none")]
    = "conditional-sympson-hetter",
    randomesque_k: Annotated[int, typer.Option()] = 5,
    exposure_target: Annotated[float, typer.Option(help="target maximum exposure rate")] = 0.25,
    n_pilot: Annotated[int, typer.Option(help="pilot items seeded into each test")] = 0,
    gentle_start: Annotated[int, typer.Option(
        help="first K items among those with predicted success >= --gentle-p (0: off)")] = 0,
    gentle_p: Annotated[float, typer.Option(help="gentle start: minimum predicted success")] = 0.7,
    areas: Annotated[str | None, typer.Option(help="comma-separated area ids (default: all)")] = None,
    correlation: Annotated[float | None, typer.Option(
        help="simulee area correlation (default: the bank's)")] = None,
    assumed_correlation: Annotated[float | None, typer.Option(
        help="area correlation the CAT's prior assumes (default: the bank's); with --correlation, a "
             "misspecification study")] = None,
    independent_areas: Annotated[bool, typer.Option(
        help="ignore area correlations (separate per-area CATs)")] = False,
    prior_correlation_shrinkage: Annotated[float, typer.Option(
        help="the CAT's prior uses (1 - s) x the area correlations")] = DEFAULTS.prior_correlation_shrinkage,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    out: Annotated[Path | None, typer.Option(help="directory for report.json and plots")] = None,
) -> None:
    """Simulate adaptive tests on BANK and report precision, test length and exposure."""
    try:
        _run(**locals())
    except DigipathError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _run(bank_path, simulees, selection, se_target, min_items, max_items, min_items_per_area,
         max_items_per_area, classification_threshold, exposure, randomesque_k, exposure_target, n_pilot,
         gentle_start, gentle_p,
         areas, correlation, assumed_correlation, independent_areas, prior_correlation_shrinkage, seed,
         out) -> None:
    from adaptive.cat.simulation import (
        calibrate_exposure_control,
        exposure_config_matches,
        simulate,
        sympson_hetter_holding,
    )
    from adaptive.errors import DataFileError
    from adaptive.itembank import ItemBank

    if not bank_path.is_file():
        raise DataFileError("no such file", file=str(bank_path))
    bank = ItemBank.load_json(bank_path)
    if assumed_correlation is not None:
        import numpy as np

        from adaptive.cat.simulation import equicorrelation
        from adaptive.errors import ValidationError

        if not -0.25 < assumed_correlation < 1:
            raise ValidationError(f"--assumed-correlation must be in (-0.25, 1), got {assumed_correlation}")
        if correlation is None:  # the simulees keep the bank's correlations; only the CAT's prior changes
            wanted = [a.strip() for a in areas.split(",")] if areas else list(bank.area_ids)
            unknown = [a for a in wanted if a not in bank.area_ids]
            if unknown:
                raise ValidationError(f"unknown area(s) {unknown}; the bank has {list(bank.area_ids)}")
            idx = [list(bank.area_ids).index(a) for a in wanted]
            correlation = np.asarray(bank.area_correlation, dtype=float)[np.ix_(idx, idx)]
        bank = bank.replace(area_correlation=equicorrelation(len(bank.area_ids), assumed_correlation))
    config = CatConfig(
        areas=[a.strip() for a in areas.split(",")] if areas else None, selection=selection,
        se_target=se_target, min_items=min_items, max_items=max_items, min_items_per_area=min_items_per_area,
        max_items_per_area=max_items_per_area, classification_threshold=classification_threshold,
        exposure=None if exposure == "none" else exposure, randomesque_k=randomesque_k, n_pilot=n_pilot,
        independent_areas=independent_areas, gentle_start=gentle_start, gentle_p=gentle_p,
        prior_correlation_shrinkage=prior_correlation_shrinkage)
    sh_history = stored = None
    if config.exposure == "conditional-sympson-hetter":
        stored = bank.exposure_control
        if (exposure_config_matches(stored, config) and stored.get("target") == exposure_target
                and assumed_correlation is None):
            console.print(f"conditional Sympson-Hetter: the bank's stored parameters (target "
                          f"{exposure_target:g}, "
                          f"{len(stored['parameters'])} items with some K < 1)")
        else:
            n_cal = max(min(simulees, 2000), 500)
            why = "the bank has none" if not stored else "the bank's were calibrated for other settings"
            console.print(f"calibrating conditional Sympson-Hetter parameters ({why}) to a maximum "
                          f"exposure of "
                          f"{exposure_target:g} per theta band ({n_cal} simulees) ...")
            stored = calibrate_exposure_control(bank, config, target=exposure_target, n_simulees=n_cal,
                                                seed=seed + 1, progress=True)
            bank = bank.replace(exposure_control=stored)
            sh_history = stored["calibration"]["max_exposure_by_iteration"]
            console.print(f"conditional Sympson-Hetter: {len(sh_history)} calibration runs, "
                          f"{len(stored['parameters'])} items with some K < 1")
    elif config.exposure == "sympson-hetter":
        n_cal = min(simulees, 1000)
        console.print(f"calibrating Sympson-Hetter parameters to a maximum exposure of "
                      f"{exposure_target:g} ({n_cal} simulees) ...")
        k, sh_history, aim = sympson_hetter_holding(bank, config, target=exposure_target, n_simulees=n_cal,
                                                    seed=seed + 1, progress=True)
        console.print(f"Sympson-Hetter: aimed at {aim:.3f} (2 sampling SDs under the target), "
                      f"{len(sh_history)} calibration runs, {len(k)} items with K < 1")
        config.exposure_parameters = k
    sim = simulate(bank, config, n_simulees=simulees, seed=seed, correlation=correlation, progress=True,
                   exposure_target=exposure_target)
    report = sim.report()
    _print_report(bank, config, report)
    if out is not None:
        from adaptive.cat.plots import write_plots

        out.mkdir(parents=True, exist_ok=True)
        doc = {"bank": getattr(bank, "name", ""), "config": config.to_dict(), **report}
        if sh_history is not None:
            doc["sympson_hetter_max_exposure_by_iteration"] = sh_history
        if stored:     # how the conditional parameters were calibrated and checked (not the K themselves)
            doc["exposure_control"] = {k: v for k, v in stored.items() if k != "parameters"}
        doc["config"]["exposure_parameters"] = None if config.exposure_parameters is None else len(
            config.exposure_parameters)
        (out / "report.json").write_text(json.dumps(doc, indent=2))
        paths = write_plots(sim, out)
        console.print(f"wrote {out / 'report.json'} and {', '.join(p.name for p in paths)}")


def _print_report(bank, config, report: dict) -> None:
    s = report["summary"]
    table = Table(title=f"CAT simulation: {s['n_simulees']} simulees, {config.selection}, "
                        f"SE target {config.se_target:g}, max {config.max_items} items")
    for col in ("area", "bias", "RMSE", "mean SE", "coverage", "corr", "mean items", "level acc.",
                "level +-1"):
        table.add_column(col, justify="right")
    for area, r in report["areas"].items():
        table.add_row(area, f"{r['bias']:+.3f}", f"{r['rmse']:.3f}", f"{r['mean_se']:.3f}",
                      f"{r['coverage']:.3f}", f"{r['corr']:.3f}", f"{r['mean_items']:.1f}",
                      f"{r.get('level_accuracy', float('nan')):.1%}",
                      f"{r.get('level_within_one', float('nan')):.1%}")
    console.print(table)
    summary = Table(title="Test length and exposure", show_header=False)
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    summary.add_row("test length mean (sd)", f"{s['mean_length']:.1f} ({s['sd_length']:.1f})")
    summary.add_row("test length min / median / max",
                    f"{s['min_length']} / {s['median_length']:g} / {s['max_length']}")
    summary.add_row("max exposure rate", f"{s['max_exposure']:.3f}")
    summary.add_row("items over exposure target", f"{s['share_over_target']:.1%}")
    summary.add_row("items never used", f"{s['share_unused']:.1%}")
    summary.add_row("test overlap rate", f"{s['overlap_rate']:.3f}")
    if s["mean_pilot_items"]:
        summary.add_row("pilot items per test", f"{s['mean_pilot_items']:.1f}")
    ld = report["length_distribution"]
    summary.add_row("max exposure rate in a theta band", f"{s['max_conditional_exposure']:.3f}")
    summary.add_row("tests run to the item cap", f"{ld['share_at_cap']:.1%}")
    summary.add_row("tests stopped on precision", f"{ld['share_stopped_on_precision']:.1%}")
    p = ld["percentiles"]
    summary.add_row("test length p10 / p25 / p50 / p75 / p90",
                    " / ".join(f"{p[q]:g}" for q in ("10", "25", "50", "75", "90")))
    k = config.gentle_start or 5
    summary.add_row(f"mean success on the first {k} items", f"{s['success_first_items']:.3f}")
    console.print(summary)
    cond = Table(title="By true theta (all areas; per area in report.json)")
    for col in ("theta", "n", "bias", "RMSE", "mean SE", "coverage 95%"):
        cond.add_column(col, justify="right")
    for r in report["conditional"]:
        if r["area"] == "all":
            cond.add_row(r["band"], str(r["n"]), f"{r['bias']:+.3f}", f"{r['rmse']:.3f}",
                         f"{r['mean_se']:.3f}", f"{r['coverage']:.3f}")
    console.print(cond)
    bands = Table(title="Exposure by true theta band of the item's area")
    for col in ("theta", "simulees (fewest area)", "max exposure", "99th pct", "items over target",
                "SD of a rate at the target"):
        bands.add_column(col, justify="right")
    for r in report["exposure_by_band"]:
        bands.add_row(r["band"], str(r["min_n"]), f"{r['max_exposure']:.3f}", f"{r['p99_exposure']:.3f}",
                      f"{r['share_over_target']:.1%}", f"{r['sd_at_target']:.3f}")
    console.print(bands)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
