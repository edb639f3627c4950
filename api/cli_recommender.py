"""``digipath recommender ...``: generate a synthetic world, train a bundle, compare rankers offline."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from adaptive.errors import DigipathError

app = typer.Typer(
    help="Learning-content recommender: synthetic data, training, offline evaluation.", no_args_is_help=True
)
console = Console()


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def _load_inputs(
    data: Path | None,
    catalogue: Path | None,
    roles: Path | None,
    learners: Path | None,
    events: Path | None,
    rename: dict[str, str] | None = None,
    sep: str | None = None,
    names: str | None = None,
):
    from recommender.data import Catalogue, Learners, RoleProfiles, read_events

    def pick(explicit, name):
        if explicit is not None:
            return explicit
        if data is not None:
            for suffix in (".csv", ".parquet"):
                if (data / f"{name}{suffix}").exists():
                    return data / f"{name}{suffix}"
        return None

    paths = {
        n: pick(p, n)
        for n, p in (("catalogue", catalogue), ("roles", roles), ("learners", learners), ("events", events))
    }
    if paths["events"] is None:
        raise typer.BadParameter("no events file: give --events or --data DIR holding events.csv")
    cat = Catalogue.read(paths["catalogue"]) if paths["catalogue"] else None
    rol = RoleProfiles.read(paths["roles"]) if paths["roles"] else None
    lrn = Learners.read(paths["learners"], roles=rol) if paths["learners"] else None
    ev = read_events(paths["events"], rename=rename, sep=sep, names=_names(names))
    return cat, rol, lrn, ev


RATINGS_HELP = ("rated events: 'centred' (stars minus 3, ratings at or below 3 add nothing: dropped) or "
                "'graded' (every rating a positive, confidence rising with the stars)")


def _weights(ratings: str):
    from recommender.interactions import EventWeights

    return EventWeights(ratings=ratings)


def _names(names: str | None) -> list[str] | None:
    return [n.strip() for n in names.split(",")] if names else None


def _read_test(path: Path | None, rename, sep, names):
    from recommender.data import read_events

    return read_events(path, rename=rename, sep=sep, names=_names(names)) if path is not None else None


def _say_warnings(warnings) -> None:
    for text in warnings or ():
        console.print(f"[yellow]warning:[/yellow] {text}", highlight=False, soft_wrap=True)


# options shared by train and evaluate for the data scientist's own files
SEP_HELP = "delimiter of text files: ',' or '\\t' (tab) or ';' (default: detected from the file)"
NAMES_HELP = "column names of event files without a header row, e.g. learner_id,content_id,value,timestamp"
TEST_EVENTS_HELP = (
    "your own test events (then --events are all training; validation is carved from them the way the test "
    "was held out: random share, per-learner latest items or a time cut, read from the two files)"
)
SPLIT_HELP = (
    "last-n | temporal | random | leave-one-out (default last-n; with --test-events: the split that carves "
    "validation, default mirroring your test)"
)
TEST_SHARE_HELP = "test share of the random or temporal split (default 0.2)"


def _rename(options: list[str] | None) -> dict[str, str] | None:
    if not options:
        return None
    out = {}
    for opt in options:
        if "=" not in opt:
            raise typer.BadParameter(f"--column expects FILE_COLUMN=OUR_COLUMN, got {opt!r}")
        src, dst = opt.split("=", 1)
        out[src.strip()] = dst.strip()
    return out


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="directory to write the CSV files to"),
    learners: int = typer.Option(5000, help="number of learners"),
    content: int = typer.Option(2000, help="number of catalogue items"),
    mean_items: float = typer.Option(20.0, help="mean content items per learner"),
    seed: int = typer.Option(0),
):
    """Write a synthetic world (catalogue, roles, learners, events, profiles) to OUT."""
    from recommender.synthetic import generate_world

    try:
        with console.status("generating synthetic world"):
            world = generate_world(learners, content, mean_items, seed=seed)
            paths = world.write(out)
    except DigipathError as exc:
        _fail(exc)
    console.print(
        f"{len(world.events):,} events, {learners:,} learners, {content:,} items, {len(world.roles)} roles"
    )
    for name, path in paths.items():
        console.print(f"  {name}: {path}")


@app.command()
def train(
    data: Path = typer.Option(None, "--data", help="directory with catalogue/roles/learners/events"),
    catalogue: Path = typer.Option(None),
    roles: Path = typer.Option(None),
    learners: Path = typer.Option(None),
    events: Path = typer.Option(None),
    out: Path = typer.Option(..., "--out", help="directory to save the bundle to"),
    ranker: str = typer.Option(
        "hybrid", help="hybrid | blend | ease | rp3beta | als | bpr | item-knn | gap | role-popularity"
    ),
    split: str = typer.Option(None, help=SPLIT_HELP),
    no_tune: bool = typer.Option(False, "--no-tune", help="skip validation tuning"),
    seed: int = typer.Option(0),
    column: list[str] = typer.Option(None, "--column", help="rename FILE_COL=our_col (repeatable)"),
    mlflow_run: bool = typer.Option(True, "--mlflow/--no-mlflow", help="log the training as an MLflow run"),
    register: bool = typer.Option(False, "--register", help="also register it as learning-recommender"),
    test_events: Path = typer.Option(None, "--test-events", help=TEST_EVENTS_HELP),
    test_share: float = typer.Option(None, "--test-share", help=TEST_SHARE_HELP),
    sep: str = typer.Option(None, "--sep", help=SEP_HELP),
    names: str = typer.Option(None, "--names", help=NAMES_HELP),
    ratings: str = typer.Option("centred", "--ratings", help=RATINGS_HELP),
):
    """Tune on validation, evaluate on test, refit on everything, save a RecommenderBundle."""
    from recommender.training import train_bundle

    try:
        weights = _weights(ratings)  # a bad --ratings fails before any file is read
        cat, rol, lrn, ev = _load_inputs(
            data, catalogue, roles, learners, events, _rename(column), sep, names
        )
        test = _read_test(test_events, _rename(column), sep, names)
        bundle, metrics = train_bundle(
            cat, rol, ev, lrn, ranker=ranker, seed=seed, split=split, tune=not no_tune, progress=True,
            test_events=test, test_share=test_share, weights=weights,
        )
        bundle.save(out)
    except (DigipathError, ValueError) as exc:
        _fail(exc)
    (Path(out) / "metrics.json").write_text(json.dumps(metrics, indent=2))
    console.print(
        f"weighting of all {int(metrics['weighting.events']):,} events: "
        f"{int(metrics['weighting.kept']):,} kept as is, {int(metrics['weighting.changed']):,} re-weighted, "
        f"{int(metrics['weighting.dropped']):,} dropped",
        highlight=False,
    )
    console.print(
        f"saved {ranker} bundle to {out}; test NDCG@10 = {metrics.get('test_ndcg_at_10', float('nan')):.4f}"
    )
    if mlflow_run:
        from models import runs, tracking

        try:
            config = tracking.configure()
            version = runs.log_recommender(bundle, metrics, params={"ranker": ranker, "split": split,
                                                                   "seed": seed, "tuned": not no_tune},
                                           register=register)
        except DigipathError as exc:
            _fail(exc)
        registered = f"; registered learning-recommender version {version}" if version is not None else ""
        console.print(f"MLflow run logged to {config.tracking_uri}{registered}", highlight=False)


@app.command()
def evaluate(
    data: Path = typer.Option(None, "--data", help="directory with catalogue/roles/learners/events"),
    catalogue: Path = typer.Option(None),
    roles: Path = typer.Option(None),
    learners: Path = typer.Option(None),
    events: Path = typer.Option(None),
    rankers: str = typer.Option(
        "popularity,role-popularity,gap,item-knn,rp3beta,ease,bpr,als,hybrid,blend",
        help="comma-separated rankers to compare",
    ),
    blend: str = typer.Option(
        None, "--blend",
        help="components of the blend ranker (default: every ranker but hybrid that the data can use)"
    ),
    split: str = typer.Option(None, help=SPLIT_HELP),
    tune: bool = typer.Option(True, help="tune ALS / hybrid on validation carved from training"),
    k: str = typer.Option("5,10,20", help="cut-offs"),
    out: Path = typer.Option(Path("recommender-evaluation"), "--out", help="where to write table+plot"),
    seed: int = typer.Option(0),
    column: list[str] = typer.Option(None, "--column", help="rename FILE_COL=our_col (repeatable)"),
    mlflow_run: bool = typer.Option(True, "--mlflow/--no-mlflow", help="log each ranker as an MLflow run"),
    test_events: Path = typer.Option(None, "--test-events", help=TEST_EVENTS_HELP),
    test_share: float = typer.Option(None, "--test-share", help=TEST_SHARE_HELP),
    sep: str = typer.Option(None, "--sep", help=SEP_HELP),
    names: str = typer.Option(None, "--names", help=NAMES_HELP),
    ratings: str = typer.Option("centred", "--ratings", help=RATINGS_HELP),
    reference: str = typer.Option(
        "ease,als", "--reference",
        help="rankers every other is compared with, paired by learner (NDCG difference with a 95% CI)",
    ),
):
    """Compare rankers on one split: prints a table, writes metrics.json/CSV and a plot."""
    from recommender.experiment import describe_paired, run_comparison

    try:
        weights = _weights(ratings)  # a bad --ratings fails before any file is read
        cat, rol, lrn, ev = _load_inputs(
            data, catalogue, roles, learners, events, _rename(column), sep, names
        )
        test = _read_test(test_events, _rename(column), sep, names)
        try:
            ks = tuple(int(x) for x in k.split(","))
        except ValueError:
            raise ValueError(f"--k expects comma-separated integers, got {k!r}") from None
        result = run_comparison(
            ev,
            cat,
            rol,
            lrn,
            [r.strip() for r in rankers.split(",") if r.strip()],
            split=split,
            tune=tune,
            ks=ks,
            seed=seed,
            out_dir=out,
            progress=True,
            test_events=test,
            test_share=test_share,
            blend_components=[c.strip() for c in blend.split(",") if c.strip()] if blend else None,
            weights=weights,
            references=[r.strip() for r in reference.split(",") if r.strip()],
        )
    except (DigipathError, ValueError) as exc:
        _fail(exc)
    _say_warnings(result["warnings"])
    if result.get("validation"):
        console.print(f"tuned on {result['validation']}", highlight=False)
    for side, rep in result["weighting"].items():
        from recommender.interactions import describe_weighting

        console.print(f"{side} weighting: {describe_weighting(rep)}", highlight=False, soft_wrap=True)
    kk = 10 if 10 in ks else ks[0]
    table = Table(
        title=f"Offline comparison on split {result['split']} ({int(result['n_learners'])} test learners)"
    )
    table.add_column("ranker", no_wrap=True)
    for col in (
        f"precision@{kk}",
        f"recall@{kk}",
        f"ndcg@{kk} [95% CI]",
        f"map_min@{kk}",
        f"map_r@{kk}",
        f"mrr@{kk}",
        f"coverage@{kk}",
        f"novelty@{kk}",
    ):
        table.add_column(col, justify="right")
    for name, s in result["summary"].items():
        ndcg = f"ndcg@{kk}"
        table.add_row(
            name,
            f"{s[f'precision@{kk}']:.4f}",
            f"{s[f'recall@{kk}']:.4f}",
            f"{s[ndcg]:.4f} [{s[ndcg + '_ci_low']:.4f}, {s[ndcg + '_ci_high']:.4f}]",
            f"{s[f'map_min@{kk}']:.4f}",
            f"{s[f'map_r@{kk}']:.4f}",
            f"{s[f'mrr@{kk}']:.4f}",
            f"{s[f'coverage@{kk}']:.3f}",
            f"{s[f'novelty@{kk}']:.2f}",
        )
    console.print(table)
    for line in describe_paired(result["paired"], kk):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"wrote {result['paths']['metrics']}, {result['paths']['plot']}")
    if mlflow_run:
        from models import runs, tracking

        try:
            config = tracking.configure()
            for name, summary in result["summary"].items():
                runs.log_evaluation(
                    name,
                    metrics=summary,
                    params={"split": result["split"], "seed": seed, "tuned": tune,
                            **{f"{name}.{p}": v for p, v in (result["params"].get(name) or {}).items()}},
                    artifacts=[result["paths"]["metrics"], result["paths"]["plot"]],
                    tags={"split": str(result["split"])},
                )
        except DigipathError as exc:
            _fail(exc)
        console.print(f"one MLflow run per ranker logged to {config.tracking_uri} "
                      "(experiment recommender-evaluation)", highlight=False)


@app.command()
def recommend(
    bundle: Path = typer.Option(..., "--bundle", help="a saved bundle directory"),
    learner: str = typer.Option(None, help="learner id"),
    role: str = typer.Option(None),
    k: int = typer.Option(10),
    language: str = typer.Option(None),
    format: str = typer.Option(None),
):
    """Print a ranking from a saved bundle (for a learner, or for a role when only --role is given)."""
    from recommender.bundle import RecommenderBundle

    try:
        b = RecommenderBundle.load(bundle)
        recs = (
            b.recommend_for_role(role, k, language, format)
            if learner is None and role
            else b.recommend(learner, k, role=role, language=language, format=format)
        )
    except DigipathError as exc:
        _fail(exc)
    for i, r in enumerate(recs, 1):
        console.print(f"{i:2d}. {r.content_id}  {r.title}  ({r.score:.3f})\n    {r.reason}", highlight=False)
