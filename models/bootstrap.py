"""Bootstrap: a complete, coherent demo world and served models on a fresh machine.

1. a synthetic DigComp item bank covering all 21 competences (the generating "true" bank);
2. a synthetic learning world (catalogue, role profiles, learners, learning events);
3. diagnostic response data in the sparse CAT-log shape: each learner takes a two-stage adaptive
   test per area (random routing items, then items picked by information at the provisional EAP,
   randomesque). Selection depends on observed responses only, so the missing data are ignorable
   (MAR) and marginal-likelihood calibration stays unbiased;
4. a calibration of the bank from those responses (the served parameters are estimates), with the
   conditional Sympson-Hetter exposure parameters of the service's default CAT configuration stored in
   the bank (``exposure_control``) when the bank is large enough to hold the exposure target;
5. a trained and evaluated recommender;
6. both logged as MLflow runs, registered, and promoted to ``champion``.

Everything generated is written under ``DIGIPATH_HOME/demo`` so people can inspect it and re-run
calibration or evaluation by hand.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from scipy.stats import norm, rankdata

DEMO_DIR = "demo"
REPORT_DIR = "calibration_report"  # under DEMO_DIR
DEFAULT_FRAMEWORK = "digcomp-3.0"   # issue 12: a new academy starts on DigComp 3.0
SESSION_START = np.datetime64("2025-03-01T09:00:00")
# log-normal slope prior for the sparse demo calibration: median a = 1, 95% of its mass in [0.38, 2.7]
# (without it, easy items seen mostly by able learners run off along the (a, b) ridge: b of -10 measured)
SLOPE_PRIOR = (0.0, 0.5)
# What tuning the recommender on the default demo world finds (regenerate with
# ``python -m models.bootstrap --retune``): tuning is a third of a bootstrap and gives the same answer on
# the same data, so a world whose fingerprint matches skips the search and serves the same model.
DEMO_TUNING = Path(__file__).resolve().parent / "data" / "demo_tuning.json"
# The same for the exposure control of the default demo bank (``python -m models.bootstrap
# --record-exposure HOME`` records it from a bootstrapped home): a bank and settings whose fingerprint
# matches get the recorded parameters, anything else is calibrated (about half a bootstrap otherwise).
DEMO_EXPOSURE = Path(__file__).resolve().parent / "data" / "demo_exposure.json"


@dataclass
class BootstrapResult:
    """What a bootstrap made (or found) and where."""

    home: Path
    data_dir: Path
    versions: dict[str, int]  # champion version per registered model
    created: bool  # False when champions existed and nothing was rebuilt
    files: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


# --------------------------------------------------------------------------- response simulation


def _eap_on_grid(log_lik: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """EAP per row of a (N, G) log-likelihood under a N(0, 1) prior."""
    log_post = log_lik - 0.5 * grid[None, :] ** 2
    w = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    return (w @ grid) / w.sum(axis=1)


def simulate_cat_log(bank, theta: np.ndarray, rng: np.random.Generator, n_routing: int = 6,
                     n_adaptive: int = 4, randomesque_k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Sparse two-stage adaptive responses: per area ``n_routing`` random items, then ``n_adaptive``
    items chosen one at a time by Fisher information at the running EAP (randomly among the
    ``randomesque_k`` most informative, which spreads exposure as an operational CAT would).

    The defaults (10 items per area) keep every item of a 16-per-competence bank above ~100
    responses at 2,000 learners; with fewer random routing items the rarely chosen extreme items
    get too few responses for a stable 2PL/3PL fit (measured: one item's b off by 270 at 4+4).

    ``theta`` is (N, D) over ``bank.area_ids``; only active items are used. Returns the (N, n_items)
    response matrix with -1 for items not given and the (N, n_items) administration order (0-based,
    -1 if not given) so that timestamps can follow the order.
    """
    from adaptive.synthetic import simulate_responses

    n_persons = theta.shape[0]
    params = bank.parameters()
    active = np.zeros(len(bank), dtype=bool)
    active[bank.select(status=("active",))] = True
    areas = bank.item_areas()
    responses = np.full((n_persons, len(bank)), -1, dtype=np.int64)
    order = np.full((n_persons, len(bank)), -1, dtype=np.int64)
    grid = np.linspace(-4.0, 4.0, 41)
    rows = np.arange(n_persons)
    for d in range(len(bank.area_ids)):
        idx = np.flatnonzero((areas == d) & active)
        if idx.size == 0:
            continue
        sub = params.subset(idx)
        full = simulate_responses(sub, theta[:, d], rng)  # every answer drawn up front; reveal the given ones
        log_p = np.log(np.clip(sub.category_probabilities(grid), 1e-12, 1.0))  # (G, n, K)
        info = sub.information(grid)  # (G, n)
        given = np.zeros((n_persons, idx.size), dtype=bool)
        log_lik = np.zeros((n_persons, grid.size))
        n_steps = min(n_routing + n_adaptive, idx.size)
        for step in range(n_steps):
            if step < n_routing:
                score = rng.random((n_persons, idx.size))
            else:  # randomesque: a random draw among the k most informative at the provisional EAP
                at = np.abs(grid[None, :] - _eap_on_grid(log_lik, grid)[:, None]).argmin(axis=1)
                top = np.argsort(-np.where(given, -np.inf, info[at]), axis=1)[:, :randomesque_k]
                k_live = np.minimum(randomesque_k, idx.size - step)
                pick = top[rows, (rng.random(n_persons) * k_live).astype(int)]
                score = np.zeros((n_persons, idx.size))
                score[rows, pick] = 1.0
            choice = np.where(given, -np.inf, score).argmax(axis=1)
            given[rows, choice] = True
            resp = full[rows, choice]
            log_lik += log_p[:, choice, resp].T
            responses[rows, idx[choice]] = resp
            order[rows, idx[choice]] = d * n_steps + step
    return responses, order


def write_responses_csv(path: Path, person_ids, item_ids, responses: np.ndarray, order: np.ndarray) -> Path:
    """The long response log: ``person_id,item_id,response,session_id,administered_at``."""
    p, j = np.nonzero(responses >= 0)
    stamps = SESSION_START + np.timedelta64(1, "h") * p + np.timedelta64(40, "s") * order[p, j]
    frame = pd.DataFrame({
        "person_id": np.asarray(person_ids)[p], "item_id": np.asarray(item_ids)[j],
        "response": responses[p, j],
        "session_id": np.char.add("S-", np.asarray(person_ids)[p].astype(str)),
        "administered_at": np.datetime_as_string(stamps, unit="s"),
    })
    frame = frame.sort_values(["person_id", "administered_at"], kind="stable")
    frame.to_csv(path, index=False)
    return path


def resolve_framework(framework: str | Path):
    """(Framework, source file or None) from a loaded framework id or an own framework file."""
    from adaptive.errors import UnknownIdError
    from adaptive.framework import get_framework, known_frameworks, read_framework_file

    if str(framework) in known_frameworks():
        return get_framework(str(framework)), None
    path = Path(framework)
    if not path.is_file():
        raise UnknownIdError("framework", str(framework), f"{str(framework)!r} is neither a loaded framework "
                             f"({', '.join(known_frameworks())}) nor a framework file")
    return read_framework_file(path), path


def learner_thetas(world, area_ids, rng: np.random.Generator | None = None) -> np.ndarray:
    """(N, D) diagnostic thetas of the world's learners on the N(0, 1) scale the calibration identifies.

    The world's profiles carry their own, level-derived metric, right-skewed with no one far below the
    mean; standardising alone left the easiest items answered correctly by everyone and their slopes
    unidentified (b of -8 measured). Normal scores keep each learner's rank and make the latent
    distribution the calibration assumes true."""
    ids = list(world.learners.ids)
    if not all(a in world.profiles[ids[0]]["areas"] for a in area_ids):
        # an own framework's areas are not the world's: independent standard normal thetas
        rng = rng if rng is not None else np.random.default_rng(0)
        return rng.standard_normal((len(ids), len(area_ids)))
    theta = np.array([[world.profiles[u]["areas"][a]["theta"] for a in area_ids] for u in ids], dtype=float)
    ranks = rankdata(theta, axis=0)
    return norm.ppf((ranks - 0.5) / theta.shape[0])


# --------------------------------------------------------------------------- the bootstrap


EXPOSURE_TARGET = 0.25


def exposure_shortfall(bank, config, target: float = EXPOSURE_TARGET) -> str | None:
    """Why exposure control cannot hold ``target`` on ``bank``, or None when it can: every test gives up to
    ``max_items`` of the active items, so the mean exposure is ~max_items / n and the largest well over it;
    below 1.5 x max_items / target active items (240 for 40 items at .25) the target is out of reach and
    calibrating only drives every K to its floor."""
    n_active = len(bank.select(status=("active",)))
    needed = math.ceil(1.5 * config.max_items / target)
    if n_active >= needed:
        return None
    return (f"{n_active} active items cannot hold a maximum exposure of {target:g} with tests of up to "
            f"{config.max_items} items (at least {needed} needed)")


def store_exposure_control(bank, console: Console, seed: int = 0, n_simulees: int = 2000,
                           target: float = EXPOSURE_TARGET, recorded: Path | None = DEMO_EXPOSURE,
                           config=None, progress: bool = False):
    """``bank`` with the conditional Sympson-Hetter parameters of the service's CAT configuration
    (``config``, default ``adaptive.cat.CatConfig()``) stored in it, or unchanged (said on the console) when
    it is too small to hold ``target``; the service then falls back to randomesque. Parameters recorded in
    ``recorded`` for the same fingerprint (bank, settings, target, simulees, seed) are reused instead of
    calibrated. ``progress``: a progress bar of the calibration runs on ``console``."""
    from adaptive.cat import CatConfig
    from adaptive.cat.simulation import calibrate_exposure_control

    config = config if config is not None else CatConfig()
    shortfall = exposure_shortfall(bank, config, target)
    if shortfall is not None:
        console.print(f"exposure control: {shortfall}; the service will use randomesque", soft_wrap=True)
        return bank
    fingerprint = exposure_fingerprint(bank, config, target, n_simulees, seed)
    control = known_record(recorded, fingerprint, "exposure_control") if recorded else None
    if control is None:
        n_runs = 20  # calibration runs at most (it stops once the target holds), then one check run
        with _progress(progress, console) as bar:
            task = bar.add_task("exposure control: calibrating", total=n_runs + 1) if bar else None

            def on_run(run: int, max_exposure: float) -> None:
                if bar is not None:
                    what = "check run" if run >= n_runs else f"calibration run {run + 1}"
                    bar.update(task, completed=min(run + 1, n_runs + 1),
                               description=f"exposure control: {what} done, max exposure {max_exposure:.3f}")

            control = calibrate_exposure_control(bank, config, target=target, n_simulees=n_simulees,
                                                 seed=seed, n_iterations=n_runs, on_run=on_run)
    return bank.replace(exposure_control=control)


def exposure_metrics(bank) -> dict[str, float]:
    """The stored exposure control's check run as metrics of the run that registers ``bank`` (none without
    a control)."""
    if not bank.exposure_control:
        return {}
    check = bank.exposure_control["check"]
    return {"exposure_max": check["max_exposure"],
            "exposure_max_in_a_theta_band": max(check["max_exposure_by_band"].values())}


def exposure_fingerprint(bank, config, target: float, n_simulees: int, seed: int) -> str:
    """SHA-256 of what the exposure control's calibration depends on: the bank's items, areas and
    correlation (not its name, provenance or any stored control), the CAT settings, the target, the number
    of simulees and the seed."""
    data = {k: v for k, v in bank.to_dict().items() if k not in ("exposure_control", "provenance", "name")}
    blob = json.dumps({"bank": data, "config": config.to_dict(), "target": target, "n_simulees": n_simulees,
                       "seed": seed}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def record_exposure(home: str | Path, path: Path = DEMO_EXPOSURE, seed: int = 0,
                    n_simulees: int = 2000) -> dict:
    """Record the exposure control a bootstrap stored with the demo bank of ``home`` in ``path``."""
    from adaptive.cat import CatConfig
    from adaptive.itembank import ItemBank

    bank = ItemBank.load_json(Path(home) / DEMO_DIR / "bank_calibrated.json")
    if not bank.exposure_control:
        raise SystemExit(f"{home}: the demo bank holds no exposure control to record")
    record = {"fingerprint": exposure_fingerprint(bank, CatConfig(), EXPOSURE_TARGET, n_simulees, seed),
              "exposure_control": bank.exposure_control,
              "made_by": "python -m models.bootstrap --record-exposure HOME"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return record


def _progress(enabled: bool, console: Console):
    if not enabled:
        return nullcontext(None)
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                    console=console)


def bootstrap(home: str | Path | None = None, seed: int = 0, n_learners: int = 2000, force: bool = False,
              progress: bool = True, *, items_per_competence: int = 16, n_content: int = 1500,
              n_routing: int = 6, n_adaptive: int = 4, tune: bool = True,
              console: Console | None = None, framework: str | Path = DEFAULT_FRAMEWORK,
              parallel: bool = True, exposure_simulees: int = 2000) -> BootstrapResult:
    """Build the demo world and models under ``home`` (default ``DIGIPATH_HOME``) and set champions.

    ``framework``: a loaded framework id (``digcomp-3.0``, the default, with its real statements as
    self-assessment items; ``digcomp-2.2``) or an own framework file, which is validated first (a bad file
    stops the bootstrap before anything is written) and copied to ``<home>/frameworks/`` so the service
    reports results in its level scheme. The learning world (catalogue, roles) stays on DigComp
    competences; learners' diagnostic thetas come from it where the areas are DigComp's.

    With champions for both models already registered nothing is rebuilt unless ``force``; with
    one missing, only the missing one is registered and promoted (the data are regenerated so the
    world stays coherent). ``parallel``: calibrate the bank in a second process while the recommender
    trains (same results; on one core, or inside a worker process, say False). ``exposure_simulees``:
    simulees per calibration run of the stored exposure control. Returns what was made and where.
    """
    from models import registry, tracking
    from models.registry import ITEM_BANK_MODEL, RECOMMENDER_MODEL

    t0 = time.perf_counter()
    console = console or Console(quiet=not progress)
    fw, fw_file = resolve_framework(framework)      # before anything is written: a bad file changes nothing
    config = tracking.configure(home)
    home_path = config.home
    data_dir = home_path / DEMO_DIR
    existing = registry.champions()
    if not force and all(v is not None for v in existing.values()):
        console.print(f"champions already registered in {config.tracking_uri}: "
                      + ", ".join(f"{k} v{v}" for k, v in existing.items())
                      + " (use --force to rebuild)")
        return BootstrapResult(home_path, data_dir, dict(existing), created=False)
    todo = {name for name, v in existing.items() if force or v is None}

    from adaptive.synthetic import generate_synthetic_bank
    from models import runs
    from recommender.live_catalogue import SEED_FILE, records_from_catalogue, write_content_file
    from recommender.synthetic import generate_world
    from recommender.training import train_bundle

    data_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    files: dict[str, Path] = {}
    metrics: dict[str, float] = {}
    versions = {k: v for k, v in existing.items() if v is not None}
    with _progress(progress, console) as bar, ExitStack() as stack:
        pool = None
        if parallel and ITEM_BANK_MODEL in todo:
            # The bank's half (simulated diagnostics, calibration, report: most of a bootstrap) needs nothing
            # from the recommender's: it runs in a second process meanwhile, which does its imports now,
            # while this one builds the world. Spawned, not forked: this process holds BLAS and
            # progress-bar threads. MLflow logging stays in this process (one writer).
            pool = stack.enter_context(ProcessPoolExecutor(1, mp_context=get_context("spawn")))
            pool.submit(_import_bank_half)

        def task(text: str, total: float = 1.0):
            return bar.add_task(text, total=total) if bar is not None else None

        def done(t):
            if bar is not None:
                bar.update(t, completed=bar.tasks[t].total)

        if fw_file is not None:
            own_dir = home_path / "frameworks"
            own_dir.mkdir(parents=True, exist_ok=True)
            files["framework"] = own_dir / f"{fw.id}.json"
            text = json.dumps(fw.to_dict(), ensure_ascii=False, indent=1)
            files["framework"].write_text(text, encoding="utf-8")
        t = task(f"synthetic item bank ({fw.id}: {len(fw.competences)} competences, {fw.n_levels} levels)")
        true_bank = generate_synthetic_bank(fw, items_per_competence=items_per_competence, seed=seed,
                                            name=f"digipath demo bank {fw.id} (generating parameters)")
        done(t)

        t = task(f"synthetic learning world ({n_learners} learners, {n_content} contents)")
        world = generate_world(n_learners=n_learners, n_content=n_content, seed=seed)
        done(t)

        calibrating = None
        if ITEM_BANK_MODEL in todo:
            t_bank = task("simulated diagnostics, calibration of the bank (MML-EM) and its report")
            theta = learner_thetas(world, true_bank.area_ids, rng)
            job = (true_bank, theta, list(world.learners.ids), rng, data_dir, seed, n_routing, n_adaptive,
                   exposure_simulees)
            calibrating = pool.submit(calibrate_demo_bank, *job) if pool else _Done(calibrate_demo_bank(*job))
        # written once the bank's half has its inputs (it is the longer one)
        files["bank_true"] = true_bank.save_json(data_dir / "bank_true.json")
        files.update(world.write(data_dir))
        # the demo academy's own catalogue starts as the bundle's (``digipath serve`` stores it)
        files["catalogue_live"] = write_content_file(records_from_catalogue(world.catalogue),
                                                     data_dir / SEED_FILE)

        if RECOMMENDER_MODEL in todo:
            fingerprint = tuning_fingerprint(files, seed)
            known = known_tuning(fingerprint) if tune else None
            t = task("training and evaluating the recommender"
                     + (" (tuning found earlier for this world)" if known else ""))
            bundle, rec_metrics = train_bundle(world.catalogue, world.roles, world.events, world.learners,
                                               seed=seed, progress=False, tune=tune, tuned_params=known)
            metrics.update({f"recommender.{k}": v for k, v in rec_metrics.items()})
            done(t)

            t = task(f"registering {RECOMMENDER_MODEL}")
            versions[RECOMMENDER_MODEL] = runs.log_recommender(
                bundle, rec_metrics, params={"bootstrap.seed": seed, "n_learners": n_learners,
                                             "n_content": n_content, "ranker": bundle.ranker_name,
                                             "tuning": ("from " + DEMO_TUNING.name if known else
                                                        "searched" if tune else "none"),
                                             "tuning_fingerprint": fingerprint},
                tags={"digipath.source": "bootstrap"}, run_name="bootstrap-training")
            registry.promote(RECOMMENDER_MODEL, versions[RECOMMENDER_MODEL])
            done(t)

        if calibrating is not None:
            result, bank_files, bank_metrics = calibrating.result()
            files.update(bank_files)
            metrics.update(bank_metrics)
            done(t_bank)

            t = task(f"registering {ITEM_BANK_MODEL}")
            versions[ITEM_BANK_MODEL] = runs.log_calibration(
                result, report_dir=data_dir / REPORT_DIR,
                params={"bootstrap.seed": seed, "bootstrap.n_routing": n_routing,
                        "bootstrap.n_adaptive": n_adaptive},
                tags={"digipath.source": "bootstrap"}, run_name="bootstrap-calibration")
            registry.promote(ITEM_BANK_MODEL, versions[ITEM_BANK_MODEL])
            done(t)

    (data_dir / "bootstrap.json").write_text(json.dumps(
        {"seed": seed, "framework": fw.id, "n_learners": n_learners, "n_content": n_content,
         "items_per_competence": items_per_competence, "versions": versions,
         "tracking_uri": config.tracking_uri}, indent=2))
    result = BootstrapResult(home_path, data_dir, versions, created=True, files=files, metrics=metrics,
                             seconds=time.perf_counter() - t0)
    _print_summary(console, result, config.tracking_uri)
    return result


def calibrate_demo_bank(true_bank, theta: np.ndarray, person_ids: list, rng: np.random.Generator,
                        data_dir: Path, seed: int, n_routing: int, n_adaptive: int,
                        exposure_simulees: int = 2000):
    """The item bank's half of a bootstrap: simulated CAT-log responses of the learners (``theta``) to
    ``true_bank``, the calibration of the bank from them and its report, written to ``data_dir``.

    Returns ``(calibration result, {name: path}, {"calibration.<metric>": value})``; the result keeps what
    logging it needs (the per-area fits stay behind: the report holds them)."""
    from adaptive.calibration import ResponseData, calibrate_bank

    files: dict[str, Path] = {}
    responses, order = simulate_cat_log(true_bank, theta, rng, n_routing=n_routing, n_adaptive=n_adaptive)
    item_ids = [it.id for it in true_bank.items]
    files["responses"] = write_responses_csv(data_dir / "responses.csv", person_ids, item_ids, responses,
                                             order)
    np.savetxt(data_dir / "theta_true.csv", theta, delimiter=",", header=",".join(true_bank.area_ids),
               comments="")
    files["theta_true"] = data_dir / "theta_true.csv"

    p, j = np.nonzero(responses >= 0)
    data = ResponseData.from_arrays(np.asarray(person_ids)[p], np.asarray(item_ids)[j], responses[p, j],
                                    source=str(files["responses"]))
    result = calibrate_bank(data, template=true_bank, model="template", progress=False, seed=seed,
                            a_prior=SLOPE_PRIOR)
    result.bank.name = "digipath demo bank (calibrated)"
    # the exposure control of the service's default CAT settings, stored with the registered bank
    result.bank = store_exposure_control(result.bank, Console(stderr=True), seed=seed,
                                         n_simulees=exposure_simulees)
    result.metrics.update(exposure_metrics(result.bank))  # logged with the calibration run too
    files["bank_calibrated"] = result.bank.save_json(data_dir / "bank_calibrated.json")
    files["calibration_report"] = Path(result.write_report(data_dir / REPORT_DIR))
    metrics = {f"calibration.{k}": v for k, v in result.metrics.items()}
    metrics["calibration.b_rmse"], metrics["calibration.b_median_abs_error"] = _b_errors(true_bank,
                                                                                       result.bank)
    result.area_fits = {}  # fitted calibrators: large, and in the report already
    return result, files, metrics


def _import_bank_half() -> None:
    """The imports of :func:`calibrate_demo_bank` (in the second process, while the first one works)."""
    import adaptive.calibration  # noqa: F401
    import adaptive.calibration.report  # noqa: F401


@dataclass
class _Done:
    """A result computed in this process, with the ``result()`` of a future."""

    value: object

    def result(self):
        return self.value


def tuning_fingerprint(files: dict[str, Path], seed: int) -> str:
    """SHA-256 of what the recommender's tuning depends on: the world as written (catalogue, roles,
    learners, events), the seed and the search grids."""
    from recommender import training

    digest = hashlib.sha256()
    for name in ("catalogue", "roles", "learners", "events"):
        digest.update(Path(files[name]).read_bytes())
    digest.update(json.dumps({"seed": seed, "als_grid": training.ALS_GRID, "als_start": training.ALS_START,
                              "hybrid_grid": training.HYBRID_GRID, "edge_steps": training.EDGE_STEPS,
                              "max_edge_steps": training.MAX_EDGE_STEPS,
                              "search_passes": training.SEARCH_PASSES}, sort_keys=True).encode())
    return digest.hexdigest()


def known_tuning(fingerprint: str, path: Path = DEMO_TUNING) -> dict | None:
    """The tuned parameters recorded for a world with this fingerprint, or None (then tuning runs)."""
    return known_record(path, fingerprint, "tuned_params")


def known_record(path: Path, fingerprint: str, field: str):  # noqa: ANN201 - the recorded JSON value
    """``field`` of the record in ``path`` if it was made for ``fingerprint``, else None (then the search
    or calibration it stands for runs)."""
    try:
        recorded = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return recorded.get(field) if recorded.get("fingerprint") == fingerprint else None


def retune_demo(path: Path = DEMO_TUNING, seed: int = 0, n_learners: int = 2000,
                n_content: int = 1500) -> dict:
    """Tune the recommender on the default demo world and record the result in ``path``."""
    import tempfile

    from recommender.synthetic import generate_world
    from recommender.training import train_bundle, tuned_from_bundle

    world = generate_world(n_learners=n_learners, n_content=n_content, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        fingerprint = tuning_fingerprint(world.write(tmp), seed)
    bundle, _ = train_bundle(world.catalogue, world.roles, world.events, world.learners, seed=seed,
                             progress=False, tune=True)
    record = {"fingerprint": fingerprint, "tuned_params": tuned_from_bundle(bundle),
              "world": {"seed": seed, "n_learners": n_learners, "n_content": n_content},
              "made_by": "python -m models.bootstrap --retune"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def _b_errors(true_bank, calibrated) -> tuple[float, float]:
    """RMSE and median absolute error of the calibrated dichotomous difficulties against the
    generating ones (a recovery check; the median is robust to the odd extreme, rarely seen item)."""
    diffs = np.array([calibrated.item(it.id).b[0] - it.b[0] for it in true_bank.items
                      if it.model != "GRM" and _has(calibrated, it.id)])
    if diffs.size == 0:
        return float("nan"), float("nan")
    return float(np.sqrt(np.mean(diffs ** 2))), float(np.median(np.abs(diffs)))


def _has(bank, item_id: str) -> bool:
    try:
        bank.index_of(item_id)
        return True
    except KeyError:
        return False


def _print_summary(console: Console, result: BootstrapResult, tracking_uri: str) -> None:
    from rich.table import Table

    table = Table(title=f"bootstrap finished in {result.seconds:.0f} s", title_justify="left")
    table.add_column("what")
    table.add_column("where / value", overflow="fold")
    for name, path in result.files.items():
        table.add_row(name, str(path))
    table.add_row("MLflow store", tracking_uri)
    for name, v in result.versions.items():
        table.add_row(f"{name} champion", f"version {v}")
    for key in ("calibration.n_persons", "calibration.n_responses", "calibration.n_items_calibrated",
                "calibration.b_rmse", "calibration.b_median_abs_error", "recommender.test_ndcg_at_10",
                "recommender.test_recall_at_10"):
        if key in result.metrics:
            table.add_row(key, f"{result.metrics[key]:.4g}")
    console.print(table)


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--record-exposure"] and len(sys.argv) == 3:
        print(record_exposure(sys.argv[2])["fingerprint"])
    elif sys.argv[1:] == ["--retune"]:
        print(json.dumps(retune_demo(), indent=2))
    else:
        raise SystemExit(f"usage: python -m models.bootstrap --retune   (re-records {DEMO_TUNING})\n"
                         f"       python -m models.bootstrap --record-exposure HOME   (re-records "
                         f"{DEMO_EXPOSURE} from a bootstrapped HOME)")
