"""Benchmark 2: throughput of the batched simulator.

10,000 simulees with correlated 5-area thetas, up to 40 items each, on a ~1,000-item bank, D-optimal
selection with content balancing and randomesque exposure control (target: under 60 s on 2 cores).

    python -m experiments.cat_throughput [--simulees 10000] [--items-per-competence 48]
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from adaptive.cat import CatConfig
from adaptive.cat.simulation import simulate
from adaptive.synthetic import generate_synthetic_bank


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simulees", type=int, default=10_000)
    ap.add_argument("--items-per-competence", type=int, default=48)
    ap.add_argument("--selection", default="d-optimal")
    args = ap.parse_args()
    console = Console(width=120)
    bank = generate_synthetic_bank(items_per_competence=args.items_per_competence, languages=("en",), seed=1)
    cfg = CatConfig(selection=args.selection, se_target=0.3, max_items=40, exposure="randomesque")
    t0, c0 = time.perf_counter(), time.process_time()
    sim = simulate(bank, cfg, n_simulees=args.simulees, seed=0, progress=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    s = sim.summary()
    table = Table(title=f"Throughput: {args.simulees} simulees on a {len(bank)}-item bank ({args.selection})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("wall time (s)", f"{wall:.1f}")
    table.add_row("CPU time (s)", f"{cpu:.1f}")
    table.add_row("simulees / s (wall)", f"{args.simulees / wall:.0f}")
    table.add_row("items administered", f"{int(sim.n_items.sum())}")
    table.add_row("mean test length", f"{s['mean_length']:.1f}")
    table.add_row("max exposure", f"{s['max_exposure']:.3f}")
    rmse = [r["rmse"] for r in sim.area_report().values()]
    table.add_row("RMSE per area", " ".join(f"{x:.3f}" for x in rmse))
    console.print(table)
    console.print("target: < 60 s wall on the 2-core machine")


if __name__ == "__main__":
    main()
