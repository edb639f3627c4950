"""Ranking latency with an organisation's live catalogue vs without (issue 18).

A synthetic world (default the demo's size: 2,000 learners, 1,500 contents) trains an untuned hybrid
bundle. An organisation's catalogue (the bundle's plus ``--new`` contents the model has never seen) is
stored in a fresh SQLite database through ``api.persistence.catalogue``. Per request, "with" is what a
recommendation route does: read the catalogue's version token, take the cached merged bundle
(``served_bundle``), rank; "without" makes a database read of the same kind (a route reads the learner and
their events before ranking anyway; measured: a ranking right after a database read is slower than one
right after another ranking, so both arms read) and ranks on the bundle alone; "view" ranks on the cached
merged bundle with no read. The three alternate request by request so all see the same machine. Also
timed: building the merged view, once per catalogue version.

    python -m experiments.catalogue_latency [--learners 2000] [--content 1500] [--new 100] [--repeat 300]

Prints medians and p99 per route and their ratio; writes ``catalogue_latency.png`` under ``--out``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from api import db as dbmod
from api.auth import get_or_create_org
from api.persistence.catalogue import ServedCatalogues, apply_changes, catalogue_version
from recommender.live_catalogue import records_from_catalogue, validate_content
from recommender.synthetic import generate_world
from recommender.training import train_bundle


def _new_records(bundle, n: int, rng: np.random.Generator) -> list[dict]:
    comps = bundle.catalogue.competence_ids
    return [validate_content({"content_id": f"NEW-{i:05d}", "title": f"new content {i}", "format": "course",
                              "languages": ["en"], "competences": [str(rng.choice(comps))],
                              "level": int(rng.integers(1, 9))}) for i in range(n)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--content", type=int, default=1500)
    parser.add_argument("--new", type=int, default=100, help="contents the model has never seen")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("catalogue-latency"))
    args = parser.parse_args(argv)
    console = Console()
    rng = np.random.default_rng(args.seed)
    with console.status("training an untuned hybrid bundle"):
        world = generate_world(n_learners=args.learners, n_content=args.content, seed=args.seed)
        bundle, _ = train_bundle(world.catalogue, world.roles, world.events, learners=world.learners,
                                 ranker="hybrid", tune=False, baselines=False, progress=False)
    records = records_from_catalogue(bundle.catalogue) + _new_records(bundle, args.new, rng)
    inter = bundle.interactions
    learners = [str(x) for x in rng.choice(inter.learner_ids, size=args.repeat)]
    comps = bundle.catalogue.competence_ids
    profiles = [{"competence_levels": dict(zip(comps, rng.integers(1, 7, len(comps)).astype(float).tolist(),
                                               strict=True))} for _ in range(args.repeat)]
    roles = [bundle.roles.role_ids[i % len(bundle.roles)] for i in range(args.repeat)]
    routes = {
        "gap (new learner, profile)": lambda b, i: b.recommend(f"new-{i}", k=10, profile=profiles[i],
                                                               role=roles[i]),
        "role": lambda b, i: b.recommend_for_role(roles[i], k=10),
        "pathway": lambda b, i: b.pathway(f"new-{i}", profile=profiles[i], role=roles[i]),
        "personal (trained learner)": lambda b, i: b.recommend(learners[i], k=10, profile=profiles[i]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        dbmod.upgrade(url)
        engine = dbmod.make_engine(url)
        maker = dbmod.make_sessionmaker(engine)
        with maker() as session:
            org_id = get_or_create_org(session, "bench").id
            apply_changes(session, org_id, records, "bench")
            session.commit()
        served = ServedCatalogues()
        builds = []
        for _ in range(5):
            t = time.perf_counter()
            ServedCatalogues.build(bundle, records)
            builds.append(time.perf_counter() - t)
        times: dict[str, dict[str, list[float]]] = {r: {k: [] for k in ("without", "view", "with")}
                                                    for r in routes}
        with maker() as session, Progress(console=console, transient=True) as bar:
            view = served.bundle_for(session, org_id, bundle)  # the first request of a version builds it
            task = bar.add_task("ranking", total=args.repeat * len(routes))
            for name, call in routes.items():
                for i in range(args.repeat):
                    t = time.perf_counter()
                    catalogue_version(session, org_id)
                    call(bundle, i)
                    t1 = time.perf_counter()
                    call(view, i)
                    t2 = time.perf_counter()
                    call(served.bundle_for(session, org_id, bundle), i)
                    t3 = time.perf_counter()
                    times[name]["without"].append(t1 - t)
                    times[name]["view"].append(t2 - t1)
                    times[name]["with"].append(t3 - t2)
                    session.rollback()  # a request's session ends; do not hold a read transaction open
                    bar.advance(task)
        engine.dispose()
    table = Table(title=f"ranking latency, {len(bundle.catalogue):,} trained + {args.new} new contents, "
                        f"{args.repeat} requests per route (ms)")
    for col in ("route", "without p50", "view p50", "with p50", "without p99", "view p99", "with p99",
                "with/without p50"):  # without: DB read + bundle; view: no read; with: token read + view
        table.add_column(col, justify="right" if col != "route" else "left")
    for name, t in times.items():
        wo, vi, wi = (np.array(t[k]) * 1e3 for k in ("without", "view", "with"))
        table.add_row(name, *(f"{np.median(x):.2f}" for x in (wo, vi, wi)),
                      *(f"{np.percentile(x, 99):.2f}" for x in (wo, vi, wi)),
                      f"{np.median(wi) / np.median(wo):.2f}")
    console.print(table)
    console.print("building the merged view (once per catalogue version): median "
                  f"{np.median(builds) * 1e3:.0f} ms over {len(builds)} builds")
    args.out.mkdir(parents=True, exist_ok=True)
    path = _plot(times, args.out / "catalogue_latency.png", args.new, len(bundle.catalogue))
    console.print(f"wrote {path}")


def _plot(times, path: Path, n_new: int, n_known: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(times)
    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(len(names))
    labels = {"without": "DB read + bundle alone", "view": "merged view, no DB read",
              "with": "token read + merged view"}
    bars = ((-0.27, "without", "#999999"), (0.0, "view", "#9ecae1"), (0.27, "with", "#1f77b4"))
    for off, key, colour in bars:
        med = [np.median(times[n][key]) * 1e3 for n in names]
        p99 = [np.percentile(times[n][key], 99) * 1e3 for n in names]
        ax.bar(x + off, med, 0.27, color=colour, label=f"{labels[key]} (median)")
        ax.scatter(x + off, p99, color="black", marker="_", s=200, zorder=3)
    ax.set_xticks(x, names, fontsize=8)
    ax.set_yscale("log")  # the p99 of a shared machine is tens of times the median
    ax.set_ylabel("ms per ranking (bar: median, dash: p99; log scale)")
    ax.set_title(f"{n_known:,} trained contents + {n_new} new ones (tag-matched)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
