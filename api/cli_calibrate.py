"""``digipath calibrate ...``: fit an item bank from response data, link banks, check item fit."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from pathlib import Path

import typer

app = typer.Typer(
    help="Calibrate item banks from response data (MML-EM), link them, check item fit.", no_args_is_help=True
)


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=1)


def _warning_notes(caught) -> list[str]:
    """Python warnings raised during a fit (numerical overflow, ...) as one line each, with a count, for
    the CLI and the report, instead of raw lines on stderr."""
    counts = Counter(
        (w.category.__name__, str(w.message).splitlines()[0], Path(w.filename).name, w.lineno) for w in caught
    )
    return [f"{cat} ({n}x) at {file}:{line}: {msg}" for (cat, msg, file, line), n in sorted(counts.items())]


def _read_responses(path: Path, wide: bool):
    from adaptive.calibration.data import ResponseData

    return ResponseData.from_wide_csv(path) if wide else ResponseData.from_long_csv(path)


def _read_keyed(path: Path, wide: bool, key: str | None, bank, missing: list[str], missing_as: str):
    """Raw answer codes scored with a key file (or ``template``: the keys of ``bank``); without a key the
    file must already hold scores. Returns (scored data, the keyed scoring or None)."""
    if key is None:
        if missing:
            from adaptive.errors import ValidationError

            raise ValidationError("--missing needs --key (missing codes apply to raw answer codes)")
        return _read_responses(path, wide), None
    from adaptive.calibration.keyed import AnswerKey, RawResponses, score_responses
    from adaptive.errors import ValidationError

    if key == "template":
        if bank is None:
            raise ValidationError("--key template needs a bank (--template) whose keys score the answers")
        answer_key = AnswerKey.from_bank(bank)
    else:
        answer_key = AnswerKey.from_csv(key)
    scoring = score_responses(RawResponses.from_csv(path, wide=wide), answer_key, missing, missing_as)
    return scoring.data, scoring


_KEY_HELP = (
    "answer key: CSV item_id,key (several codes 'A;C' = multiple-response item, all or nothing) or "
    "'template' (the keys of the --template bank / the checked bank); RESPONSES then hold option codes"
)
_MISSING_HELP = "answer code meaning omitted / not reached (repeatable); blank is always 'not administered'"
_MISSING_AS_HELP = "omitted / not-reached answers: 'missing' (default, not scored) or 'wrong' (scored 0)"


def _load_bank(path: Path):
    from adaptive.itembank import ItemBank

    return ItemBank.load_json(path)


_NO_EXPOSURE_HELP = (
    "register the bank without calibrating its exposure control (the service then gives it randomesque; "
    "`digipath calibrate exposure` adds one later)"
)
_EXPOSURE_SIMULEES_HELP = "simulees per calibration run of the exposure control"


def _service_cat_config():
    """The CAT settings the service runs diagnostics with (``DIGIPATH_MAX_ITEMS`` over the defaults): the
    ones a registered bank's exposure control is calibrated for."""
    import pydantic

    from adaptive.cat import CatConfig
    from adaptive.errors import ValidationError
    from api.settings import Settings

    try:
        settings = Settings()
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        raise ValidationError(f"DIGIPATH_{str(first['loc'][0]).upper()}: {first['msg']}",
                              where="service settings") from None
    return CatConfig.from_dict(settings.cat_overrides)


def _calibrate_exposure(bank, quiet: bool, n_simulees: int, seed: int = 0, target: float | None = None):
    """``bank`` with the exposure control of the service's CAT settings calibrated and stored, as the
    bootstrap stores it (``models.bootstrap.store_exposure_control``; progress on stderr), or without one
    when it is too small to hold the target (said on stderr)."""
    from rich.console import Console

    from models.bootstrap import EXPOSURE_TARGET, store_exposure_control

    return store_exposure_control(bank.replace(exposure_control=None), Console(stderr=True), seed=seed,
                                  n_simulees=n_simulees, target=EXPOSURE_TARGET if target is None else target,
                                  config=_service_cat_config(), progress=not quiet)


def _exposure_line(bank) -> str:
    """One output line on the exposure control a bank carries (or that it carries none)."""
    control = bank.exposure_control
    if not control:
        return ("exposure control: none; the service will give this bank randomesque (no exposure target "
                "holds) until `digipath calibrate exposure` registers a version with one")
    check = control["check"]
    config = control.get("config", {})
    return (f"exposure control: {control['method']} for tests of up to {config.get('max_items')} items, "
            f"target {control['target']:g}: {len(control['parameters'])} items with some K < 1; check run of "
            f"{check['n_simulees']} simulees: max exposure {check['max_exposure']:.3f} "
            f"({max(check['max_exposure_by_band'].values()):.3f} in a theta band)")


@app.command("fit")
def fit(
    responses: Path = typer.Argument(..., help="response CSV: long (person_id,item_id,response) or --wide"),
    out: Path = typer.Option(..., "--out", help="output directory (bank.json, report.md, plots)"),
    wide: bool = typer.Option(False, "--wide", help="wide CSV: a column per item, blank = missing"),
    metadata: Path | None = typer.Option(None, "--metadata", help="item metadata CSV (item_id, area, ...)"),
    template: Path | None = typer.Option(
        None, "--template", help="bank JSON supplying item content/metadata"
    ),
    model: str = typer.Option("auto", "--model", help="auto | 1PL | 2PL | 3PL | template"),
    anchor_bank: Path | None = typer.Option(
        None, "--anchor-bank", help="existing bank: link through common items"
    ),
    link_method: str = typer.Option("fixed", "--link-method", help="fixed | stocking-lord | mean-sigma"),
    min_responses: int = typer.Option(30, "--min-responses", help="items with fewer responses are excluded"),
    se: str = typer.Option("observed", "--se", help="observed | crossprod | none"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress display"),
    mlflow_run: bool = typer.Option(
        True, "--mlflow/--no-mlflow", help="log the fit as an MLflow run (local store or MLFLOW_TRACKING_URI)"
    ),
    register: bool = typer.Option(
        False, "--register",
        help="also register the bank as digcomp-item-bank, with its exposure control calibrated for the "
             "service's CAT settings"),
    no_exposure_control: bool = typer.Option(False, "--no-exposure-control", help=_NO_EXPOSURE_HELP),
    exposure_simulees: int = typer.Option(2000, "--exposure-simulees", min=100, help=_EXPOSURE_SIMULEES_HELP),
    key: str | None = typer.Option(None, "--key", help=_KEY_HELP),
    missing: list[str] = typer.Option([], "--missing", help=_MISSING_HELP),
    missing_as: str = typer.Option("missing", "--missing-as", help=_MISSING_AS_HELP),
):
    """Calibrate RESPONSES into a new item bank with a calibration report."""
    from adaptive.calibration.calibrate import calibrate_bank
    from adaptive.calibration.keyed import attach_keyed_scoring
    from adaptive.errors import DigipathError

    try:
        tmpl = _load_bank(template) if template else None
        data, scoring = _read_keyed(responses, wide, key, tmpl, missing, missing_as)
        anchors = _load_bank(anchor_bank) if anchor_bank else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = calibrate_bank(
                data,
                template=tmpl,
                metadata_csv=metadata,
                model=model,
                anchors=anchors,
                progress=not quiet,
                min_responses=min_responses,
                link_method=link_method,
                se_method=se,
            )
        result.notes += data.notes + _warning_notes(caught)
        if scoring is not None:
            attach_keyed_scoring(result, scoring)
        out.mkdir(parents=True, exist_ok=True)
        report = result.write_report(out)
        if not len(result.items):  # nothing calibrated is a failure, never an empty bank
            excl = "; ".join(f"{i}: {why}" for i, why in result.excluded[:3])
            more = " ..." if len(result.excluded) > 3 else ""
            raise DigipathError(
                f"no item calibrated ({len(result.excluded)} excluded: {excl}{more}); see {report}"
            )
        registering = register and mlflow_run
        if registering and not no_exposure_control:
            result.bank = _calibrate_exposure(result.bank, quiet, exposure_simulees)
        result.bank.save_json(out / "bank.json")
    except DigipathError as exc:
        _fail(exc)
    m = result.metrics
    for note in result.notes:
        typer.echo(f"note: {note}")
    typer.echo(
        f"calibrated {int(m['n_items_calibrated'])} items ({int(m['n_items_excluded'])} excluded, "
        f"{int(m['n_items_flagged'])} flagged) from {int(m['n_persons'])} persons; "
        f"models: {result.params['chosen_models']}"
    )
    for area, info in result.linking.items():
        typer.echo(
            f"area {area}: linked ({info['method']}), A={info['A']:.4f} B={info['B']:.4f}, "
            f"unstable anchors: {', '.join(info['unstable_anchors']) or 'none'}"
        )
    typer.echo(f"bank: {out / 'bank.json'}\nreport: {report}")
    if registering:
        if no_exposure_control:
            typer.echo("exposure control: not calibrated (--no-exposure-control)")
        typer.echo(_exposure_line(result.bank))
    if mlflow_run:
        from models import runs, tracking
        from models.bootstrap import exposure_metrics

        try:
            config = tracking.configure()
            result.metrics.update(exposure_metrics(result.bank))
            version = runs.log_calibration(result, register=register, report_dir=out)
        except DigipathError as exc:
            _fail(exc)
        registered = f"; registered digcomp-item-bank version {version}" if version is not None else ""
        typer.echo(f"MLflow run logged to {config.tracking_uri}{registered}")


@app.command("link")
def link(
    new: Path = typer.Argument(..., help="newly calibrated bank JSON (own scale)"),
    anchor_bank: Path = typer.Option(..., "--anchor-bank", help="existing bank JSON (target scale)"),
    out: Path = typer.Option(..., "--out", help="output bank JSON (anchor bank + new items on its scale)"),
    method: str = typer.Option("stocking-lord", "--method", help="stocking-lord | mean-sigma"),
    drop_unstable: bool = typer.Option(
        True, "--drop-unstable/--keep-unstable", help="re-link without anchors flagged for drift"
    ),
):
    """Put NEW's items onto ANCHOR_BANK's scale through their common items; write drift report beside OUT."""
    from adaptive.calibration.linking import link as link_banks
    from adaptive.calibration.linking import transform
    from adaptive.errors import DigipathError, ValidationError
    from adaptive.itembank import Item

    try:
        new_bank, old_bank = _load_bank(new), _load_bank(anchor_bank)
        old_ids = {it.id for it in old_bank.items}
        common = [it.id for it in new_bank.items if it.id in old_ids]
        if len(common) < 2:
            raise ValidationError(
                f"only {len(common)} common items between {new} and {anchor_bank}; need >= 2"
            )
        res = link_banks(
            old_bank.parameters(common),
            new_bank.parameters(common),
            common,
            method=method,
            drop_unstable=drop_unstable,
        )
        extra = [it for it in new_bank.items if it.id not in old_ids]
        items = list(old_bank.items)
        if extra:
            p = transform(new_bank.parameters([it.id for it in extra]), res.A, res.B)
            for k, it in enumerate(extra):
                rec = it.to_dict()
                K = int(p.n_categories[k])
                rec.update(a=float(p.a[k]), b=[float(x) for x in p.b[k, : K - 1]])
                items.append(Item.from_dict(rec))
        bank = old_bank.replace(
            items=items,
            provenance={
                **old_bank.provenance,
                "linked": {**res.to_dict(), "from": str(new), "n_new_items": len(extra)},
            },
        )
        bank.save_json(out)
        drift = out.with_name(out.stem + "_anchor_drift.csv")
        res.anchors.to_csv(drift)
    except DigipathError as exc:
        _fail(exc)
    typer.echo(
        f"linked {len(extra)} new items by {method}: A={res.A:.4f} B={res.B:.4f}; "
        f"unstable anchors: {', '.join(res.unstable) or 'none'}; dropped: {', '.join(res.dropped) or 'none'}"
    )
    typer.echo(f"bank: {out}\nanchor drift: {drift}")


@app.command("fit-check")
def fit_check(
    bank: Path = typer.Argument(..., help="bank JSON whose parameters are checked"),
    responses: Path = typer.Argument(..., help="response CSV (long, or --wide)"),
    wide: bool = typer.Option(False, "--wide"),
    out: Path | None = typer.Option(None, "--out", help="write the item-fit table as CSV"),
    min_responses: int = typer.Option(30, "--min-responses"),
    key: str | None = typer.Option(None, "--key", help=_KEY_HELP),
    missing: list[str] = typer.Option([], "--missing", help=_MISSING_HELP),
    missing_as: str = typer.Option("missing", "--missing-as", help=_MISSING_AS_HELP),
):
    """Item fit of a bank's fixed parameters against new responses (per area; latent mean/SD estimated)."""
    import pandas as pd

    from adaptive.calibration.calibrate import item_to_slope_intercept
    from adaptive.calibration.data import screen_items
    from adaptive.calibration.em import MMLCalibrator
    from adaptive.calibration.fit import item_fit_table
    from adaptive.errors import DigipathError

    try:
        b = _load_bank(bank)
        data, _ = _read_keyed(responses, wide, key, b, missing, missing_as)
        ids = {it.id for it in b.items}
        kept, excluded = screen_items(data, min_responses=min_responses)
        unknown = [i for i in kept if i not in ids]
        excluded += [(i, "not in the bank") for i in unknown]
        kept = [i for i in kept if i in ids]
        tables, notes = [], list(data.notes)
        for area in b.area_ids:
            area_ids = [i for i in kept if b.item(i).area == area]
            if not area_ids:
                continue
            fixed = {i: item_to_slope_intercept(b.item(i)) for i in area_ids}
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                cal = MMLCalibrator(model={i: b.item(i).model for i in area_ids}, se_method="none").fit(
                    data.subset_items(area_ids), fixed=fixed
                )
                t = item_fit_table(cal)
            notes += _warning_notes(caught)
            t.insert(0, "area", area)
            t.insert(1, "latent_mean", cal.latent_mean_)
            t.insert(2, "latent_sd", cal.latent_sd_)
            tables.append(t)
        if not tables:
            raise DigipathError(f"no bank item in {responses} has {min_responses}+ responses")
        table = pd.concat(tables)
        if out is not None:
            table.to_csv(out)
    except DigipathError as exc:
        _fail(exc)
    for note in notes:
        typer.echo(f"note: {note}")
    flagged = table[table["flags"] != ""]
    typer.echo(f"{len(table)} items checked, {len(flagged)} flagged, {len(excluded)} excluded")
    for iid, row in flagged.iterrows():
        typer.echo(f"  {iid}: {row['flags']}")
    for iid, why in excluded:
        typer.echo(f"  excluded {iid}: {why}")
    if out is not None:
        typer.echo(json.dumps({"table": str(out)}))


@app.command("pilots")
def pilots(
    responses: Path = typer.Argument(
        ..., help="response CSV with pilot and operational items (long, or --wide)"
    ),
    bank: Path = typer.Option(..., "--bank", help="the live bank JSON (its pilot items have status 'pilot')"),
    out: Path = typer.Option(..., "--out", help="output directory (bank.json, report.md, pilots.csv)"),
    wide: bool = typer.Option(False, "--wide"),
    min_responses: int = typer.Option(30, "--min-responses"),
    key: str | None = typer.Option(None, "--key", help=_KEY_HELP),
    missing: list[str] = typer.Option([], "--missing", help=_MISSING_HELP),
    missing_as: str = typer.Option("missing", "--missing-as", help=_MISSING_AS_HELP),
    quiet: bool = typer.Option(False, "--quiet", help="no progress display"),
    register: bool = typer.Option(
        False,
        "--register",
        help="log an MLflow run and register the new bank version (passing pilots active), with its "
             "exposure control calibrated for the service's CAT settings",
    ),
    no_exposure_control: bool = typer.Option(
        False, "--no-exposure-control",
        help="register without recalibrating the exposure control (the live bank's carries over; newly "
             "active items get K = 1)"),
    exposure_simulees: int = typer.Option(2000, "--exposure-simulees", min=100, help=_EXPOSURE_SIMULEES_HELP),
):
    """Fit BANK's pilot items on the live scale (active items held at their bank values), report their
    fit, and write a bank in which the pilots that pass (calibrated, no review flag) become active."""
    import pandas as pd

    from adaptive.calibration.calibrate import calibrate_bank
    from adaptive.calibration.keyed import attach_keyed_scoring
    from adaptive.errors import DigipathError, ValidationError
    from adaptive.itembank import Item

    try:
        live = _load_bank(bank)
        pilot_ids = [it.id for it in live.items if it.status == "pilot"]
        if not pilot_ids:
            raise ValidationError(f"{bank} has no pilot items (status 'pilot')")
        data, scoring = _read_keyed(responses, wide, key, live, missing, missing_as)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # fixed-anchor calibration: only the active items anchor; pilots are re-estimated
            result = calibrate_bank(
                data,
                anchors=live,
                model="template",
                link_method="fixed",
                progress=not quiet,
                min_responses=min_responses,
            )
        result.notes += data.notes + _warning_notes(caught)
        if scoring is not None:
            attach_keyed_scoring(result, scoring)
        excluded = dict(result.excluded)
        rows = []
        for iid in pilot_ids:
            if iid in result.items.index:
                flags = str(result.items.at[iid, "flags"])
                verdict = "passed" if not flags else f"kept as pilot: {flags}"
            else:
                verdict = f"kept as pilot: not calibrated ({excluded.get(iid, 'no responses')})"
            rows.append((iid, verdict))
        passed = {iid for iid, v in rows if v == "passed"}
        items = []
        for it in result.bank.items:
            if it.id in passed:
                it = Item.from_dict({**it.to_dict(), "status": "active"})
            items.append(it)
        # without a new calibration (registered below), the live bank's exposure control carries over (the
        # service's default CAT uses it); the newly active items get K = 1 in every band until recalibrated
        recalibrate = register and not no_exposure_control
        result.bank = result.bank.replace(items=items, exposure_control=live.exposure_control)
        if live.exposure_control and passed and not recalibrate:
            result.notes.append(f"exposure control carried over from {bank.name}: the {len(passed)} newly "
                                f"active item(s) have no exposure parameters (K = 1) until recalibrated")
        out.mkdir(parents=True, exist_ok=True)
        report = result.write_report(out)
        pd.DataFrame(rows, columns=["item_id", "verdict"]).to_csv(out / "pilots.csv", index=False)
        if recalibrate:
            result.bank = _calibrate_exposure(result.bank, quiet, exposure_simulees)
        result.bank.save_json(out / "bank.json")
    except DigipathError as exc:
        _fail(exc)
    for note in result.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"{len(passed)} of {len(pilot_ids)} pilot items pass and become active")
    for iid, verdict in rows:
        typer.echo(f"  {iid}: {verdict}")
    typer.echo(f"bank: {out / 'bank.json'}\nreport: {report}\npilots: {out / 'pilots.csv'}")
    if register:
        from models import runs, tracking
        from models.bootstrap import exposure_metrics

        if no_exposure_control:
            carried = " (the live bank's, carried over)" if live.exposure_control else ""
            typer.echo(f"exposure control: not recalibrated (--no-exposure-control){carried}")
        typer.echo(_exposure_line(result.bank))
        try:
            config = tracking.configure()
            result.metrics.update(exposure_metrics(result.bank))
            version = runs.log_calibration(result, register=True, report_dir=out, run_name="pilots")
        except DigipathError as exc:
            _fail(exc)
        typer.echo(
            f"MLflow run logged to {config.tracking_uri}; registered digcomp-item-bank version {version}"
        )


@app.command("exposure")
def exposure(
    version: int | None = typer.Option(None, "--version", min=1, help="registered digcomp-item-bank version"),
    alias: str | None = typer.Option(None, "--alias", help="... or the version this alias points to"),
    target: float = typer.Option(0.25, "--target", min=0.01, max=1.0,
                                 help="maximum exposure rate to hold in every theta band"),
    simulees: int = typer.Option(2000, "--simulees", min=100, help=_EXPOSURE_SIMULEES_HELP),
    seed: int = typer.Option(0, "--seed", help="random seed of the calibration"),
    out: Path | None = typer.Option(None, "--out", help="also write the new bank JSON to this file"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress display"),
):
    """Calibrate the exposure control of a registered bank version for the service's CAT settings and
    register the bank with it as a new version naming its source (the source version is not changed).
    Serve it with `digipath models promote digcomp-item-bank NEW_VERSION`."""
    from adaptive.errors import DigipathError, ValidationError
    from models import registry, runs, tracking
    from models.bootstrap import exposure_metrics, exposure_shortfall

    try:
        if (version is None) == (alias is None):
            raise ValidationError("give the bank version: --version N or --alias NAME (one of them)")
        config = tracking.configure()
        bank, source = registry.load_item_bank(alias=alias, version=version)
        shortfall = exposure_shortfall(bank, _service_cat_config(), target)
        if shortfall is not None:
            raise DigipathError(f"digcomp-item-bank version {source}: {shortfall}; nothing registered")
        bank = _calibrate_exposure(bank, quiet, simulees, seed=seed, target=target)
        bank = bank.replace(provenance={**bank.provenance, "derived_from_version": source,
                                        "derived_by": "digipath calibrate exposure"})
        new_version = runs.log_derived_bank(
            bank, source, "exposure control calibrated", metrics=exposure_metrics(bank),
            run_name="exposure-control", tags={"digipath.source": "calibrate exposure"})
        if out is not None:
            bank.save_json(out)
    except DigipathError as exc:
        _fail(exc)
    typer.echo(_exposure_line(bank))
    typer.echo(f"MLflow run logged to {config.tracking_uri}; registered digcomp-item-bank version "
               f"{new_version}: version {source} with this exposure control (version {source} is unchanged)")
    if out is not None:
        typer.echo(f"bank: {out}")
    typer.echo(f"serve it with: digipath models promote digcomp-item-bank {new_version}")
