"""``calibrate_bank``: response data -> a calibrated item bank with fit checks, model choice and linking.

Per area (between-item structure) the items are calibrated on their own unidimensional N(0, 1) scale
with :class:`MMLCalibrator`. Model choice (``model="auto"``): the dichotomous items are fitted as 1PL,
2PL and 3PL (polytomous items always GRM); the 2PL replaces the 1PL when the likelihood-ratio test
rejects the common slope (p < 0.05), and the 3PL replaces the 2PL only when it also lowers the BIC (its
Beta prior on c makes that LR test approximate, and guessing parameters are costly to estimate well).
AIC, BIC and both LR tests are reported in ``model_comparison`` with the reason for the choice.
The area correlation matrix is the correlation of the persons' per-area EAP
scores corrected for attenuation by the areas' empirical EAP reliabilities (rho = r / sqrt(rel1 rel2)),
projected to the nearest positive-definite correlation matrix.

Linking to an existing bank (``anchors``): a free calibration is linked by Stocking-Lord (or
mean-sigma) through the common items, giving the anchor-drift report; with ``link_method="fixed"``
(default) the final parameters come from a fixed-anchor calibration (stable anchors held at their
bank values, latent mean and SD estimated), which is how pilot items join the bank.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logit
from scipy.stats import chi2

from adaptive.calibration import fit as itemfit
from adaptive.calibration import linking
from adaptive.calibration.data import ResponseData, read_item_metadata, screen_items
from adaptive.calibration.em import MMLCalibrator
from adaptive.errors import ItemBankValidationError, ValidationError
from adaptive.irt import ItemParameters
from adaptive.itembank import DEFAULT_CUT_SCORES, Item, ItemBank, ItemContent

CANDIDATES = ("1PL", "2PL", "3PL")
# fewer items cannot identify an area's scale: one 2PL item's slope and difficulty trade off freely
# against the N(0, 1) latent distribution, and two give 3 pattern frequencies for 4 parameters
MIN_ITEMS_PER_AREA = 3


@dataclass
class AreaFit:
    area: str
    model: str
    calibrator: MMLCalibrator
    comparison: pd.DataFrame
    dimensionality: dict
    fit_table: pd.DataFrame
    linking: linking.LinkingResult | None = None


@dataclass
class CalibrationResult:
    bank: ItemBank
    items: pd.DataFrame
    model_comparison: pd.DataFrame
    metrics: dict[str, float]
    excluded: list[tuple[str, str]]
    area_fits: dict[str, AreaFit] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)  # run parameters (for MLflow logging by models/)
    artifact_paths: list[Path] = field(default_factory=list)  # filled by write_report
    validation_error: str | None = None  # why the new bank does not validate (e.g. areas unknown to DigComp)
    notes: list[str] = field(default_factory=list)  # warnings for the psychometrician (e.g. an unlinked area)
    # keyed scoring only (adaptive.calibration.keyed): per item and option, and option curves
    distractors: pd.DataFrame | None = None
    option_curves: pd.DataFrame | None = None

    @property
    def linking(self) -> dict[str, dict]:
        return {a: f.linking.to_dict() for a, f in self.area_fits.items() if f.linking is not None}

    def write_report(self, out_dir) -> Path:
        from adaptive.calibration.report import write_report

        return write_report(self, out_dir)


# --------------------------------------------------------------------------- helpers
def item_to_slope_intercept(item: Item) -> np.ndarray:
    """Bank item (slope-difficulty) -> the slope-intercept vector MMLCalibrator holds fixed."""
    a = item.a
    if item.model == "GRM":
        return np.concatenate([[a], [-a * b for b in item.b]])
    if item.model == "3PL":
        return np.array([a, -a * item.b[0], logit(min(max(item.c, 1e-6), 1 - 1e-6))])
    return np.array([a, -a * item.b[0]])


def calibrator_parameters(cal: MMLCalibrator, idx=None) -> ItemParameters:
    """Fitted items (all, or the indices ``idx``) as irt.ItemParameters in slope-difficulty form."""
    idx = np.arange(len(cal.item_ids_)) if idx is None else np.asarray(idx)
    models = cal.models_[idx]
    K = cal.n_categories_[idx]
    b = cal.b_[idx]
    c = np.where(models == "3PL", cal.c_[idx], 0.0)
    return ItemParameters(
        model=models,
        a=cal.a_[idx],
        b=b,
        c=c,
        n_categories=np.where(models == "GRM", K, 2),
        ids=cal.item_ids_[idx],
    )


def _bank_parameters(items: list[Item]) -> ItemParameters:
    return ItemBank(items).parameters()


def _comparison_rows(area, fits: dict[str, MMLCalibrator]) -> pd.DataFrame:
    rows, prev = [], None
    for name, cal in fits.items():
        row = {
            "area": area,
            "model": name,
            "logLik": cal.loglik_,
            "n_parameters": cal.n_parameters_,
            "AIC": cal.aic_,
            "BIC": cal.bic_,
            "LR_vs": "",
            "LR_X2": np.nan,
            "LR_df": np.nan,
            "LR_p": np.nan,
            "converged": cal.converged_,
        }
        if prev is not None:
            pn, pc = prev
            x2 = max(2 * (cal.loglik_ - pc.loglik_), 0.0)
            df = cal.n_parameters_ - pc.n_parameters_
            row.update(LR_vs=pn, LR_X2=x2, LR_df=df, LR_p=chi2.sf(x2, df) if df > 0 else np.nan)
        rows.append(row)
        prev = (name, cal)
    return pd.DataFrame(rows)


def _choose(comp: pd.DataFrame, alpha: float = 0.05) -> tuple[str, str]:
    """2PL over 1PL when the LR test rejects at ``alpha``; 3PL over 2PL only when it also lowers the BIC
    (the c prior makes that LR test approximate and the 3PL is costly to estimate well)."""
    rows = {r.model: r for r in comp.itertuples()}
    if "2PL" not in rows:
        return str(comp["model"].iloc[0]), "only model"
    r2 = rows["2PL"]
    if "1PL" in rows and not (r2.LR_p < alpha):
        chosen, why = "1PL", f"LR test 1PL vs 2PL not significant (p={r2.LR_p:.3g})"
    else:
        chosen, why = "2PL", f"LR test 1PL vs 2PL p={r2.LR_p:.3g} < {alpha}" if "1PL" in rows else "2PL"
    if chosen == "2PL" and "3PL" in rows and rows["3PL"].BIC < r2.BIC:
        chosen, why = "3PL", f"BIC 3PL {rows['3PL'].BIC:.1f} < 2PL {r2.BIC:.1f}"
    elif chosen == "2PL" and "3PL" in rows:
        why += f"; BIC 3PL {rows['3PL'].BIC:.1f} >= 2PL {r2.BIC:.1f}"
    return chosen, why


def _nearest_correlation(R: np.ndarray) -> np.ndarray:
    R = (R + R.T) / 2
    w, V = np.linalg.eigh(R)
    R = V @ np.diag(np.maximum(w, 1e-3)) @ V.T
    d = np.sqrt(np.diag(R))
    R = R / np.outer(d, d)
    np.fill_diagonal(R, 1.0)
    return R


def area_correlation(fits: dict[str, AreaFit], min_overlap: int = 30) -> tuple[np.ndarray, dict]:
    """Disattenuated correlation of per-area EAP scores (persons with responses in both areas)."""
    areas = list(fits)
    D = len(areas)
    R = np.eye(D)
    rel = {}
    eap = {}
    for a in areas:
        cal = fits[a].calibrator
        v = np.var(cal.eap_)
        rel[a] = float(v / (v + np.mean(cal.eap_sd_**2)))  # empirical EAP reliability
        eap[a] = pd.Series(cal.eap_, index=cal.person_ids_)
    n_pairs, ci95 = {}, {}
    for i in range(D):
        for j in range(i + 1, D):
            pair = f"{areas[i]}-{areas[j]}"
            both = eap[areas[i]].index.intersection(eap[areas[j]].index)
            n_pairs[pair] = int(len(both))
            if len(both) < min_overlap:
                r = 0.0
                ci95[pair] = [-0.99, 0.99]  # not estimable: anything
            else:
                r = np.corrcoef(eap[areas[i]][both], eap[areas[j]][both])[0, 1]
                # Fisher's z interval of the observed correlation, disattenuated like the estimate (the
                # reliabilities taken as known: the interval is, if anything, a little too narrow)
                z, half = np.arctanh(np.clip(r, -0.999, 0.999)), 1.959964 / np.sqrt(len(both) - 3)
                scale = np.sqrt(rel[areas[i]] * rel[areas[j]])
                ci95[pair] = [float(np.clip(np.tanh(z - half) / scale, -0.99, 0.99)),
                              float(np.clip(np.tanh(z + half) / scale, -0.99, 0.99))]
                r = r / scale
            R[i, j] = R[j, i] = float(np.clip(r, -0.99, 0.99))
    return _nearest_correlation(R) if D > 1 else R, {
        "reliability": rel,
        "n_persons_per_pair": n_pairs,
        "ci95": ci95,
        "method": "EAP correlation / sqrt(rel_i rel_j)",
    }


def _level_from_b(b: float, cuts) -> int:
    return int(1 + np.searchsorted(np.asarray(cuts, float), b))


# --------------------------------------------------------------------------- main entry
def calibrate_bank(
    responses: ResponseData,
    template: ItemBank | None = None,
    metadata_csv=None,
    model: str = "auto",
    anchors: ItemBank | None = None,
    progress: bool = True,
    seed: int = 0,
    *,
    min_responses: int = 30,
    link_method: str = "fixed",
    c_prior=(5.0, 17.0),
    a_prior=None,
    se_method: str = "observed",
    drop_unstable_anchors: bool = True,
) -> CalibrationResult:
    """Calibrate every area of ``responses`` and build a new item bank (see module docstring).

    ``model``: "auto" (per area: 2PL over 1PL by LR test, 3PL over 2PL by BIC; polytomous items GRM), "1PL",
    "2PL", "3PL", or "template" (each item's model from the metadata ``model`` column or the template bank).
    ``seed`` drives the simulated parallel analysis of the dimensionality check (the fits are deterministic).
    """
    t0 = time.perf_counter()
    model = model if model in ("auto", "template") else model.upper()
    if model not in ("auto", "template", *CANDIDATES):
        raise ValidationError(f"model must be auto, template, 1PL, 2PL or 3PL, got {model!r}", field="model")
    if link_method not in ("fixed", "stocking-lord", "mean-sigma"):
        raise ValidationError(f"unknown link_method {link_method!r}", field="link_method")
    meta = read_item_metadata(metadata_csv) if metadata_csv is not None else None
    known: dict[str, Item] = {}
    for bank in (template, anchors):
        if bank is not None:
            known.update({it.id: it for it in bank.items})

    has_areas = meta is not None or bool(known)

    def area_of(iid: str) -> str | None:
        if meta is not None and iid in meta.index:
            return str(meta.loc[iid, "area"])
        if iid in known:
            return known[iid].area
        return None if has_areas else "1"  # no item information at all: one scale, area "1"

    kept, excluded = screen_items(responses, min_responses=min_responses)
    if template is not None and anchors is None:
        in_data = set(responses.item_ids)
        excluded += [(it.id, "no responses in the data") for it in template.items if it.id not in in_data]
    by_area: dict[str, list[str]] = {}
    for iid in kept:
        area = area_of(iid)
        if area is None:  # never guess: an item on the wrong scale would distort a whole area
            excluded.append((iid, "area unknown: not in the metadata, template or anchor bank"))
        else:
            by_area.setdefault(area, []).append(iid)
    for area in sorted(by_area):
        if len(by_area[area]) < MIN_ITEMS_PER_AREA:
            few = by_area.pop(area)
            why = (
                f"area {area} has only {len(few)} usable item(s); {MIN_ITEMS_PER_AREA} are needed to "
                "identify its scale"
            )
            excluded += [(iid, why) for iid in few]
    if not by_area:
        raise ValidationError(
            "nothing to calibrate: no area has "
            f"{MIN_ITEMS_PER_AREA}+ items with {min_responses}+ responses and some variance "
            f"({len(excluded)} items excluded; first: {excluded[0][0]}: {excluded[0][1]})"
            if excluded
            else "nothing to calibrate: no items in the data",
            where=responses.source,
        )

    _refuse_model_conflicts(responses, by_area, model, meta, known)

    ref_b = None
    if anchors is not None or template is not None:
        bb = np.concatenate([np.asarray(it.b) for it in (anchors or template).items])
        ref_b = (max(-4.0, float(bb.min()) - 0.5), min(4.0, float(bb.max()) + 0.5))
    b_range = ref_b or (-4.0, 4.0)

    # only active bank items anchor the scale; pilot items in the bank carry provisional parameters
    active_anchor_ids = (
        {it.id for it in anchors.items if it.status == "active"} if anchors is not None else set()
    )
    fits: dict[str, AreaFit] = {}
    comparisons = []
    notes: list[str] = []
    # SEs only for the final fit
    common = dict(c_prior=c_prior, a_prior=a_prior, se_method="none", progress=progress)
    for area in sorted(by_area):
        data = responses.subset_items(by_area[area])
        anchor_ids = [i for i in data.item_ids if i in active_anchor_ids]
        per_item_template = None
        if model == "template":
            per_item_template = {iid: _declared_model(iid, model, meta, known) for iid in data.item_ids}

        def models_for(name, data=data, per_item_template=per_item_template):
            if per_item_template is not None:
                return per_item_template
            return {iid: name for iid in data.item_ids}

        # free calibrations (model comparison)
        names = list(CANDIDATES) if model == "auto" else [model]
        if model == "auto":
            # all-polytomous: every candidate is the same GRM, fitted once
            free = {"2PL": MMLCalibrator(model=models_for("2PL"), **common).fit(data)}
            if all(m == "GRM" for m in free["2PL"].models_):
                free = {"GRM": free["2PL"]}
            else:
                free = {
                    n: free["2PL"] if n == "2PL" else MMLCalibrator(model=models_for(n), **common).fit(data)
                    for n in names
                }
        else:
            free = {n: MMLCalibrator(model=models_for(n), **common).fit(data) for n in names}
        if model == "auto":
            comp = _comparison_rows(area, free)
            chosen, why = _choose(comp)
            comp["chosen"] = comp["model"] == chosen
            comp["reason"] = np.where(comp["chosen"], why, "")
        else:
            chosen = model if model != "template" else "template"
            comp = _comparison_rows(area, free)
            comp["chosen"] = True
            comp["reason"] = "requested"
        cal = free[chosen]
        link_res = None
        if anchors is not None:
            n_usable = sum(1 for i in anchor_ids if anchors.item(i).model in ("1PL", "2PL", "3PL", "GRM"))
            if n_usable < 2:
                notes.append(
                    f"area {area}: {n_usable} usable anchor item(s) in the data (need 2): NOT linked, "
                    "its items are on this sample's own N(0, 1) scale"
                )
        if anchor_ids:
            old_items = [anchors.item(i) for i in anchor_ids]
            usable = [it for it in old_items if it.model in ("1PL", "2PL", "3PL", "GRM")]
            idx = [int(np.flatnonzero(cal.item_ids_ == it.id)[0]) for it in usable]
            new_p = calibrator_parameters(cal, idx)
            old_p = _bank_parameters(usable)
            same_shape = old_p.n_categories == new_p.n_categories
            if same_shape.sum() >= 2:
                keep = np.flatnonzero(same_shape)
                method = "stocking-lord" if link_method == "fixed" else link_method
                cal.compute_standard_errors("observed" if se_method == "none" else se_method)
                se_b = np.nanmean(cal.se_["b"][np.asarray(idx)[keep]], axis=1)  # mean threshold SE for GRM
                link_res = linking.link(
                    old_p.subset(keep),
                    new_p.subset(keep),
                    [usable[k].id for k in keep],
                    method=method,
                    drop_unstable=drop_unstable_anchors,
                    se_b_new=se_b,
                )
                stable = [i for i in link_res.anchors.index if i not in link_res.dropped]
                if link_method == "fixed":
                    fixed = {i: item_to_slope_intercept(anchors.item(i)) for i in stable}
                    mods = dict(models_for(chosen))
                    mods.update({i: anchors.item(i).model for i in fixed})
                    cal = MMLCalibrator(model=mods, **common).fit(data, fixed=fixed)
                    link_res.method = "fixed-anchor (drift by stocking-lord)"
                else:
                    cal = _transformed(cal, link_res.A, link_res.B)
        if se_method != "none" and not (link_res is not None and link_method != "fixed"):
            cal.compute_standard_errors(se_method)
        n_rep = 10 if data.n_responses < 2_000_000 else 3  # parallel analysis replications
        dim = itemfit.dimensionality(cal, n_replications=n_rep, seed=seed)
        table = itemfit.item_fit_table(cal, b_range=b_range)
        fits[area] = AreaFit(area, chosen, cal, comp, dim, table, link_res)
        comparisons.append(comp)

    R, corr_info = area_correlation(fits)
    bank, items_df, excluded = _build_bank(fits, R, template, anchors, meta, responses, excluded, model, seed)
    n_flag = int((items_df["flags"] != "").sum()) if len(items_df) else 0
    metrics: dict[str, float] = {
        "n_persons": float(responses.n_persons),
        "n_responses": float(responses.n_responses),
        "n_items_calibrated": float(len(items_df)),
        "n_items_excluded": float(len(excluded)),
        "n_items_flagged": float(n_flag),
        "seconds": time.perf_counter() - t0,
    }
    for area, f in fits.items():
        c = f.calibrator
        metrics.update(
            {
                f"area_{area}_loglik": c.loglik_,
                f"area_{area}_aic": c.aic_,
                f"area_{area}_bic": c.bic_,
                f"area_{area}_n_items": float(len(c.item_ids_)),
                f"area_{area}_eap_reliability": corr_info["reliability"][area],
            }
        )
        if f.dimensionality.get("ratio_1_2") is not None:
            metrics[f"area_{area}_eigen_ratio"] = float(f.dimensionality["ratio_1_2"])
    metrics["loglik_total"] = float(sum(f.calibrator.loglik_ for f in fits.values()))
    params = {
        "model": model,
        "link_method": link_method if anchors is not None else "none",
        "c_prior": str(c_prior),
        "a_prior": str(a_prior),
        "se_method": se_method,
        "min_responses": str(min_responses),
        "quadrature": "61 points on [-6, 6], N(0, 1)",
        "source": str(responses.source),
        "seed": str(seed),
        "chosen_models": ", ".join(f"{a}:{_model_summary(f)}" for a, f in fits.items()),
    }
    bank.provenance["area_correlation_method"] = corr_info["method"]
    # its uncertainty, for the multidimensional prior's shrinkage to be judged against (issue 14)
    bank.provenance["area_correlation_ci95"] = corr_info["ci95"]
    try:  # a long fit is never thrown away: the problem is reported (and ItemBank.load_json would refuse)
        bank.validate()
        problem = None
    except ItemBankValidationError as exc:
        problem = str(exc)
    return CalibrationResult(
        bank=bank,
        items=items_df,
        model_comparison=pd.concat(comparisons, ignore_index=True),
        metrics=metrics,
        excluded=excluded,
        area_fits=fits,
        params=params,
        validation_error=problem,
        notes=notes,
    )


def _model_summary(f: AreaFit) -> str:
    """The area's chosen model, with the polytomous items the GRM took (never hidden behind "2PL")."""
    n_grm = int(np.sum(f.calibrator.models_ == "GRM"))
    if f.model == "GRM" or n_grm == 0:
        return f.model
    return f"{f.model}+GRM({n_grm})"


def _declared_model(iid: str, model: str, meta, known: dict[str, Item]) -> str:
    if model != "template":
        return model
    if meta is not None and "model" in meta.columns and iid in meta.index and meta.loc[iid, "model"]:
        return str(meta.loc[iid, "model"])
    return known[iid].model if iid in known else "2PL"


def _refuse_model_conflicts(responses: ResponseData, by_area, model: str, meta, known) -> None:
    """An item declared dichotomous (metadata ``model`` column, template or anchor bank) with a score above
    1 would silently become a GRM while the summary names the declared model: an error naming the items
    and values, unless the data decide (``model="auto"``). Items without a declaration take the requested
    model if dichotomous in the data, else the GRM (reported per area as ``+GRM(n)``)."""
    if model == "auto":
        return
    top = np.full(responses.n_items, -1)
    np.maximum.at(top, responses.cols, responses.scores)
    col = {str(iid): j for j, iid in enumerate(responses.item_ids)}
    conflicts = []
    for iids in by_area.values():
        for iid in iids:
            has_meta = meta is not None and "model" in meta.columns and iid in meta.index
            if not ((has_meta and meta.loc[iid, "model"]) or iid in known):
                continue
            declared = _declared_model(iid, "template", meta, known)
            if declared != "GRM" and top[col[iid]] > 1:
                conflicts.append(f"item {iid!r} (declared {declared}) has a response of {int(top[col[iid]])}")
    if conflicts:
        more = f" (and {len(conflicts) - 3} more)" if len(conflicts) > 3 else ""
        raise ValidationError(
            f"responses conflict with the declared model: {'; '.join(conflicts[:3])}{more}; a dichotomous "
            "item is scored 0/1 (raw option codes: score them with a key; to let the data decide: auto)",
            where=responses.source,
        )


def _transformed(cal: MMLCalibrator, A: float, B: float) -> MMLCalibrator:
    """Put a fitted calibrator's items on the bank scale (theta_old = A theta_new + B) in place."""
    cal.a_ = cal.a_ / A
    cal.b_ = A * cal.b_ + B
    cal.d_ = -cal.a_[:, None] * cal.b_
    cal.se_ = dict(cal.se_)
    cal.se_["a"] = cal.se_["a"] / A
    cal.se_["b"] = cal.se_["b"] * A
    # d = -a b on the new scale mixes a and b: its SE would need their covariance, so none is claimed
    cal.se_["d"] = np.full_like(cal.d_, np.nan)
    for g in cal._groups:
        g.params[:, 0] = g.params[:, 0] / A
        nd = 1 if g.model in ("1PL", "2PL", "3PL") else g.params.shape[1] - 1
        g.params[:, 1 : 1 + nd] = -g.params[:, [0]] * cal.b_[g.items, :nd]
    cal.theta_ = A * cal.theta_ + B  # the quadrature grid moves with the scale (weights unchanged)
    cal.latent_mean_, cal.latent_sd_ = A * cal.latent_mean_ + B, A * cal.latent_sd_
    cal.eap_ = A * cal.eap_ + B
    cal.eap_sd_ = A * cal.eap_sd_
    return cal


def _build_bank(fits, R, template, anchors, meta, responses, excluded, model, seed):
    base = anchors or template
    cut_scores = dict(base.cut_scores) if base is not None else {}
    languages = list(base.languages) if base is not None else ["en"]
    known = {}
    for bank in (template, anchors):
        if bank is not None:
            known.update({it.id: it for it in bank.items})
    new_items: dict[str, Item] = {}
    rows = []
    for area, f in fits.items():
        cal = f.calibrator
        # stable anchors keep their bank parameters (fixed-anchor: held; Stocking-Lord/mean-sigma: only used
        # for the transformation); anchors dropped for drift get their new estimates
        keep_bank = set()
        if f.linking is not None:
            keep_bank = {i for i in f.linking.anchors.index if i not in f.linking.dropped}
        cuts = cut_scores.get(area, list(DEFAULT_CUT_SCORES))
        cut_scores.setdefault(area, list(cuts))
        for j, iid in enumerate(cal.item_ids_):
            K = int(cal.n_categories_[j])
            m = str(cal.models_[j])
            a = float(cal.a_[j])
            b = [float(x) for x in cal.b_[j, : K - 1]]
            if not (np.isfinite(a) and a > 0):
                excluded.append((str(iid), f"negative or zero discrimination (a={a:.3f}): check the key"))
                continue
            if m == "GRM" and K == 2:
                m = "2PL"
            src = known.get(iid)
            if src is not None and src.n_categories != K:
                excluded.append(
                    (
                        str(iid),
                        f"{K} score categories observed, the bank item has {src.n_categories}"
                        + (" (option codes? score them with the bank's keys)" if src.key is not None else ""),
                    )
                )
                continue
            c = float(cal.c_[j]) if m == "3PL" else 0.0
            if str(iid) in keep_bank:
                item = anchors.item(str(iid))  # a stable anchor keeps exactly the bank's values
            elif src is not None:
                item = Item.from_dict(src.to_dict())
                item.model, item.a, item.b, item.c, item.d = m, a, b, c, 1.0
            else:
                md = meta.loc[iid] if meta is not None and iid in meta.index else {}
                comp = str(md.get("competence") or f"{area}.1")
                level = int(md.get("level")) if md.get("level") else _level_from_b(float(np.mean(b)), cuts)
                opts = [str(k) for k in range(K)] if m == "GRM" else ["incorrect", "correct"]
                item = Item(
                    id=str(iid),
                    area=area,
                    competence=comp,
                    level=level,
                    model=m,
                    a=a,
                    b=b,
                    c=c,
                    status=str(md.get("status") or "active"),
                    content={
                        lang: ItemContent(stem=f"(content of item {iid} pending)", options=opts)
                        for lang in languages
                    },
                    key=list(range(K)) if m == "GRM" else 1,
                )
            new_items[str(iid)] = item
            t = f.fit_table.loc[iid]
            rows.append(
                {
                    "item_id": str(iid),
                    "area": area,
                    "model": m,
                    "status": item.status,
                    "n_responses": int(cal.responses_per_item_[j]),
                    "a": a,
                    "b": b,
                    "c": c,
                    "se_a": float(cal.se_["a"][j]),
                    "se_b": [float(x) for x in cal.se_["b"][j, : K - 1]],
                    "se_c": float(cal.se_["c"][j]) if m == "3PL" else np.nan,
                    # slope-intercept form logit P = a theta + d (d = -a b), as mirt reports it
                    "d": [float(x) for x in cal.d_[j, : K - 1]],
                    "se_d": [float(x) for x in cal.se_["d"][j, : K - 1]],
                    # Rasch easiness of a 1PL item: with theta' = a theta, logit P = theta' + d
                    "easiness": float(cal.d_[j, 0]) if m == "1PL" else np.nan,
                    "se_easiness": float(cal.se_["d"][j, 0]) if m == "1PL" else np.nan,
                    "anchor_fixed": bool(cal.fixed_[j]),
                    "anchor": "kept (bank values)"
                    if str(iid) in keep_bank
                    else (
                        "dropped (drift)" if f.linking is not None and str(iid) in f.linking.dropped else ""
                    ),
                    "categories": [int(x) for x in cal.categories_[j]],
                    **{k: t[k] for k in t.index},
                }
            )
    if anchors is not None:
        items = [new_items.pop(it.id, it) for it in anchors.items] + list(new_items.values())
    elif template is not None:  # keep the template's item order, new items after it
        items = [new_items.pop(it.id) for it in template.items if it.id in new_items] + list(
            new_items.values()
        )
    else:
        items = list(new_items.values())
    in_bank = {it.id for it in items}
    for it in items:  # enemies must stay inside the bank
        if any(e not in in_bank for e in it.enemies):
            it.enemies = [e for e in it.enemies if e in in_bank]
    area_ids = sorted({it.area for it in items} | set(cut_scores), key=lambda s: (len(s), s))
    cut_scores = {a: cut_scores.get(a, list(DEFAULT_CUT_SCORES)) for a in area_ids}
    full_R = np.eye(len(area_ids))
    if anchors is not None:
        full_R = (
            np.array(anchors.area_correlation, float) if len(anchors.area_ids) == len(area_ids) else full_R
        )
    pos = {a: k for k, a in enumerate(area_ids)}
    fa = list(fits)
    for i, ai in enumerate(fa):
        for j, aj in enumerate(fa):
            if anchors is None or len(fa) > 1:
                full_R[pos[ai], pos[aj]] = R[i, j]
    provenance = {
        "source": "calibration",
        "data": str(responses.source),
        "calibrated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "method": "MML-EM (Bock-Aitkin), 61 quadrature points on [-6, 6]",
        "model_selection": model,
        "models": {a: f.model for a, f in fits.items()},
        "n_persons": int(responses.n_persons),
        "n_responses": int(responses.n_responses),
        "seed": seed,
        "linked_to": (anchors.name or "anchor bank") if anchors is not None else None,
    }
    bank = ItemBank(
        items,
        framework_version=base.framework_version if base is not None else "2.2",
        languages=languages,
        cut_scores=cut_scores,
        area_ids=area_ids,
        area_correlation=full_R,
        provenance=provenance,
        name=(base.name + " (recalibrated)") if base is not None else "calibrated bank",
        framework_id=base.framework_id if base is not None else None,
    )
    df = pd.DataFrame(rows).set_index("item_id") if rows else pd.DataFrame()
    return bank, df, excluded
