"""Batched CAT simulation (catsim-like) for every feature of the engine, and Sympson-Hetter calibration.

Simulees run in chunks through one ``CatEngine`` per chunk, the same selection, balancing, exposure
and stopping code a live ``CatSession`` uses; only the random draws come from one generator per run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from rich.progress import Progress

from adaptive.cat.engine import CatEngine, pilot_slots
from adaptive.cat.exposure import DEFAULT_BANDS, N_UNIFORMS
from adaptive.cat.profile import ProfileEstimator
from adaptive.estimation import level_probabilities_batch
from adaptive.synthetic import simulate_responses


def correlated_thetas(n: int, correlation: np.ndarray, rng: np.random.Generator,
                      mean: np.ndarray | None = None) -> np.ndarray:
    """(n, D) simulee thetas from N(mean, correlation)."""
    corr = np.asarray(correlation, dtype=float)
    mean = np.zeros(corr.shape[0]) if mean is None else np.asarray(mean, dtype=float)
    return rng.multivariate_normal(mean, corr, size=n, method="cholesky")


def equicorrelation(d: int, r: float) -> np.ndarray:
    corr = np.full((d, d), float(r))
    np.fill_diagonal(corr, 1.0)
    return corr


THETA_BAND_EDGES = np.array([-np.inf, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, np.inf])


def _band_label(lo: float, hi: float) -> str:
    if not np.isfinite(lo):
        return f"< {hi:g}"
    if not np.isfinite(hi):
        return f">= {lo:g}"
    return f"[{lo:g}, {hi:g})"


@dataclass
class SimulationResult:
    areas: list[str]
    item_ids: list[str]
    config: dict
    true_theta: np.ndarray        # (N, D)
    theta: np.ndarray             # (N, D) final estimates (the scoring of record unless rescore=False)
    se: np.ndarray                # (N, D)
    n_items: np.ndarray           # (N,) operational test length
    n_area: np.ndarray            # (N, D)
    administered: np.ndarray      # (N, n) operational items given
    theta_trace: np.ndarray       # (N, L+1, D) running (CAT kernel) estimate after 0..L operational items
    se_trace: np.ndarray          # (N, L+1, D)
    cuts: np.ndarray | None       # (D, 7)
    test_information: np.ndarray  # (D, G) information of the bank's test items per area on the grid
    administered_information: np.ndarray  # (D, G) information of the mean administered test per area
    grid: np.ndarray
    n_pilot_given: np.ndarray     # (N,)
    exposure_target: float = 0.25
    lotteries: np.ndarray | None = None   # (n,) Sympson-Hetter lotteries per item (None without SH)
    responses: np.ndarray | None = None   # (N, n) every simulee's drawn score on every test item (int8)
    test_items_mask: np.ndarray | None = None   # (n,) operational items of the tested areas
    success_trace: np.ndarray | None = None     # (N, L) score / max score of the k-th operational item
    # conditional Sympson-Hetter: band (of exposure_bands) of the running estimate in the item's area when
    # each item was given, -1 if not given (None under other exposure controls)
    admin_band: np.ndarray | None = None        # (N, n) int8
    exposure_bands: np.ndarray | None = None
    item_dim: np.ndarray | None = None          # (n,) tested area of each item (-1: not tested)

    @property
    def exposure_rates(self) -> np.ndarray:
        return self.administered.mean(axis=0)

    def overlap_rate(self) -> float:
        """Mean share of items two simulees have in common (Chen, Ankenmann & Spray 2003)."""
        counts = self.administered.sum(axis=0).astype(float)
        n = self.administered.shape[0]
        if n < 2 or self.n_items.mean() == 0:
            return float("nan")
        return float((counts * (counts - 1)).sum() / (n * (n - 1) * self.n_items.mean()))

    def conditional_exposure(self, edges=DEFAULT_BANDS) -> dict:
        """Exposure rate of each item among simulees whose true theta in the item's area lies in each
        band: ``rates`` (n, G), ``n`` (D, G) simulees per area and band. An item over the target only
        among able (or weak) learners shows here and not in the overall rate."""
        edges = np.asarray(edges, dtype=float)
        band = np.digitize(self.true_theta, edges)                          # (N, D)
        n_bands = len(edges) + 1
        counts = np.stack([np.bincount(band[:, k], minlength=n_bands) for k in range(len(self.areas))])
        rates = np.zeros((len(self.item_ids), n_bands))
        tested = self.item_dim >= 0
        for g in range(n_bands):
            in_band = band == g                                               # (N, D)
            given = (self.administered[:, tested] & in_band[:, self.item_dim[tested]]).sum(axis=0)
            rates[tested, g] = given / np.maximum(counts[self.item_dim[tested], g], 1)
        labels = [_band_label(lo, hi) for lo, hi in zip(np.r_[-np.inf, edges], np.r_[edges, np.inf],
                                                         strict=True)]
        return {"edges": edges.tolist(), "bands": labels, "rates": rates, "n": counts}

    def conditional_exposure_summary(self, edges=DEFAULT_BANDS) -> list[dict]:
        """Per true-theta band (pooled over areas): simulees, maximum and 99th percentile of the items'
        exposure rates, share of items over the target, and the sampling SD of a rate at the target."""
        ce = self.conditional_exposure(edges)
        pool = self.test_items_mask if self.test_items_mask is not None else self.item_dim >= 0
        rows = []
        for g, label in enumerate(ce["bands"]):
            r = ce["rates"][pool, g]
            n_min = int(ce["n"][:, g].min())
            rows.append({"band": label, "n_per_area": int(round(ce["n"][:, g].mean())), "min_n": n_min,
                         "max_exposure": float(r.max()), "p99_exposure": float(np.percentile(r, 99)),
                         "share_over_target": float((r > self.exposure_target).mean()),
                         "sd_at_target": float(np.sqrt(self.exposure_target * (1 - self.exposure_target)
                                                       / max(n_min, 1)))})
        return rows

    def area_report(self) -> dict[str, dict[str, float]]:
        err = self.theta - self.true_theta
        out = {}
        est_level = true_level = None
        if self.cuts is not None:
            est_level = level_probabilities_batch(self.theta, self.se, self.cuts).argmax(axis=-1) + 1
            true_level = np.stack([np.searchsorted(self.cuts[k], self.true_theta[:, k], side="right") + 1
                                   for k in range(len(self.areas))], axis=1)
        for k, a in enumerate(self.areas):
            row = {
                "bias": float(err[:, k].mean()),
                "rmse": float(np.sqrt((err[:, k] ** 2).mean())),
                "mean_se": float(self.se[:, k].mean()),
                "rms_se": float(np.sqrt((self.se[:, k] ** 2).mean())),
                # share of true thetas inside estimate +- 1.96 SE: whether the reported SE can be trusted
                "coverage": float((np.abs(err[:, k]) <= 1.959964 * self.se[:, k]).mean()),
                "corr": float(np.corrcoef(self.theta[:, k], self.true_theta[:, k])[0, 1]),
                "mean_items": float(self.n_area[:, k].mean()),
            }
            if est_level is not None:
                row["level_accuracy"] = float((est_level[:, k] == true_level[:, k]).mean())
                row["level_within_one"] = float((np.abs(est_level[:, k] - true_level[:, k]) <= 1).mean())
            out[a] = row
        return out

    def summary(self) -> dict[str, float]:
        rates = self.exposure_rates
        pool = self.test_items_mask
        lengths = self.n_items
        return {
            "n_simulees": int(len(lengths)),
            "mean_length": float(lengths.mean()),
            "sd_length": float(lengths.std()),
            "min_length": int(lengths.min()),
            "median_length": float(np.median(lengths)),
            "max_length": int(lengths.max()),
            "max_exposure": float(rates.max()),
            "share_over_target": float((rates[pool] > self.exposure_target).mean()),
            "share_unused": float((rates[pool] == 0).mean()),
            "overlap_rate": self.overlap_rate(),
            # by true-theta band (DEFAULT_BANDS) of the item's area: the largest rate in any band
            "max_conditional_exposure": max(r["max_exposure"] for r in self.conditional_exposure_summary()),
            "mean_pilot_items": float(self.n_pilot_given.mean()),
            # the learner's experience of the start: score / max score over the first items (gentle start)
            "success_first_items": float(np.nanmean(self.success_trace[:, : self.config.get("gentle_start")
                                                                       or 5]))
            if self.success_trace is not None and self.success_trace.shape[1] else float("nan"),
        }

    def conditional_report(self, edges=THETA_BAND_EDGES, z: float = 1.959964) -> list[dict]:
        """Bias, RMSE, mean SE and coverage of theta +- z SE by true-theta band, per area and over all
        areas ("all"): EAP shrinkage shows as positive bias at low theta and negative at high theta."""
        err = self.theta - self.true_theta
        covered = np.abs(err) <= z * self.se
        band = np.digitize(self.true_theta, edges[1:-1])        # 0 .. len(edges) - 2
        rows = []
        for k, area in [*enumerate(self.areas), (None, "all")]:
            sel = (slice(None), k) if k is not None else (slice(None), slice(None))
            e, c, s, b = err[sel].ravel(), covered[sel].ravel(), self.se[sel].ravel(), band[sel].ravel()
            for j in range(len(edges) - 1):
                m = b == j
                if not m.any():
                    continue
                rows.append({"area": area, "band": _band_label(edges[j], edges[j + 1]),
                             "lower": float(edges[j]), "upper": float(edges[j + 1]), "n": int(m.sum()),
                             "bias": float(e[m].mean()), "rmse": float(np.sqrt((e[m] ** 2).mean())),
                             "mean_se": float(s[m].mean()), "coverage": float(c[m].mean())})
        return rows

    def length_distribution(self) -> dict[str, float]:
        """Share of tests by length, and how many stopped before the item cap (on precision or level)."""
        lengths = self.n_items
        cap = self.config.get("max_items")
        values, counts = np.unique(lengths, return_counts=True)
        out = {"share_at_cap": float((lengths >= cap).mean()) if cap else float("nan")}
        # stopped on precision: before the cap with every area at its SE target (the running estimate's
        # SE, what the stopping rule saw); the rest stopped at the cap or on per-area item limits
        final_se = self.se_trace[np.arange(len(lengths)), lengths]
        precise = (final_se <= self.config["se_target"] + 1e-12).all(axis=1)
        out["share_stopped_on_precision"] = float((precise & (lengths < cap)).mean()) if cap else float("nan")
        out["percentiles"] = {str(q): float(np.percentile(lengths, q)) for q in (10, 25, 50, 75, 90)}
        out["by_length"] = {str(int(v)): float(c / len(lengths)) for v, c in zip(values, counts, strict=True)}
        return out

    def report(self) -> dict:
        return {"summary": self.summary(), "areas": self.area_report(),
                "conditional": self.conditional_report(), "length_distribution": self.length_distribution(),
                "exposure_by_band": self.conditional_exposure_summary()}



def simulate(bank, config, n_simulees: int = 1000, seed: int = 0, true_theta: np.ndarray | None = None,
             correlation: np.ndarray | float | None = None, chunk_size: int = 2000, progress: bool = False,
             exposure_target: float = 0.25, prior_mean: np.ndarray | None = None,
             rescore: bool = True) -> SimulationResult:
    """Run ``n_simulees`` adaptive tests. Thetas are drawn from N(0, correlation) (default: the bank's
    area correlations) unless ``true_theta`` (N, D) is given.

    ``theta``/``se`` are each simulee's final profile from the estimator of record
    (:class:`adaptive.cat.profile.ProfileEstimator`, what ``CatSession.result`` reports) on the items
    given; ``rescore=False`` keeps the CAT's running (grid-kernel) estimate instead (faster; the traces
    are always the running estimate, what selection and stopping saw)."""
    rng = np.random.default_rng(seed)
    probe = CatEngine(bank, config, 1)
    areas, d = probe.areas, len(probe.areas)
    t = probe.tables
    if true_theta is None:
        if correlation is None:
            idx = [list(bank.area_ids).index(a) for a in areas]
            corr = np.asarray(bank.area_correlation, dtype=float)[np.ix_(idx, idx)]
        elif np.isscalar(correlation):
            corr = equicorrelation(d, float(correlation))
        else:
            corr = np.asarray(correlation, dtype=float)
        true_theta = correlated_thetas(n_simulees, corr, rng)
    true_theta = np.asarray(true_theta, dtype=float)
    n = len(true_theta)
    # every simulee's answer to every test item, drawn up front (scores 0..K-1)
    params = bank.parameters()
    responses = np.zeros((n, t.n_items), dtype=np.int8)
    for k in range(d):
        idx = np.flatnonzero(probe.item_dim == k)
        responses[:, idx] = simulate_responses(params.subset(idx), true_theta[:, k], rng)
    estimator = None
    if rescore:
        start = None if prior_mean is None else dict(zip(areas, np.asarray(prior_mean, dtype=float).tolist(),
                                                         strict=True))
        estimator = ProfileEstimator(bank, areas, prior_sd=config.prior_sd,
                                     independent_areas=config.independent_areas, start_theta=start,
                                     prior_correlation_shrinkage=config.prior_correlation_shrinkage)
    L = config.max_items
    res = dict(theta=np.zeros((n, d)), se=np.zeros((n, d)), n_items=np.zeros(n, dtype=np.int64),
               n_area=np.zeros((n, d), dtype=np.int64), administered=np.zeros((n, t.n_items), dtype=bool),
               theta_trace=np.full((n, L + 1, d), np.nan), se_trace=np.full((n, L + 1, d), np.nan),
               n_pilot_given=np.zeros(n, dtype=np.int64), success_trace=np.full((n, L), np.nan))
    conditional = getattr(probe.exposure, "conditional", False)
    if conditional:
        res["admin_band"] = np.full((n, t.n_items), -1, dtype=np.int8)
    slots = pilot_slots(config, d, rng, n)
    max_steps = L + config.n_pilot
    lotteries = None
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"simulating {n} CATs", total=n)
        for start in range(0, n, chunk_size):
            sl = slice(start, min(start + chunk_size, n))
            m = sl.stop - sl.start
            eng = CatEngine(bank, config, m, prior_mean=prior_mean, pilot_positions=slots[sl])
            resp = responses[sl]
            pilot_given = np.zeros(m, dtype=np.int64)
            res["theta_trace"][sl, 0] = eng.posterior.theta
            res["se_trace"][sl, 0] = eng.posterior.se
            live = np.flatnonzero(~eng.finished)
            for _ in range(max_steps):
                if len(live) == 0:
                    break
                items, pilot = eng.select(live, rng.random((len(live), N_UNIFORMS)))
                stuck = items < 0
                eng.finished[live[stuck]] = True
                rows, items, pilot = live[~stuck], items[~stuck], pilot[~stuck]
                if conditional:     # the band whose K the item was given under: before theta moves
                    dims = np.maximum(eng.item_dim[items], 0)
                    res["admin_band"][sl.start + rows, items] = np.digitize(
                        eng.posterior.theta[rows, dims], eng.exposure.band_edges)
                eng.record(rows, items, resp[rows, items], pilot)
                pilot_given[rows[pilot]] += 1
                op = rows[~pilot]
                pos = eng.n_items[op]
                op_items = items[~pilot]
                res["success_trace"][sl.start + op, pos - 1] = (resp[op, op_items]
                                                                / np.maximum(t.max_score[op_items], 1))
                res["theta_trace"][sl.start + op, pos] = eng.posterior.theta[op]
                res["se_trace"][sl.start + op, pos] = eng.posterior.se[op]
                live = rows[~eng.finished[rows]]
            res["theta"][sl] = eng.posterior.theta
            res["se"][sl] = eng.posterior.se
            if rescore:
                _rescore(estimator, eng, resp, res["theta"][sl], res["se"][sl])
            res["n_items"][sl] = eng.n_items
            res["n_area"][sl] = eng.n_area
            res["administered"][sl] = eng.administered & eng.balancer.operational
            res["n_pilot_given"][sl] = pilot_given
            if hasattr(eng.exposure, "lotteries"):
                lotteries = eng.exposure.lotteries + (0 if lotteries is None else lotteries)
            bar.advance(task, m)
    operational = probe.balancer.operational
    test_info = np.stack([t.info[:, (probe.item_dim == k) & operational].sum(axis=1) for k in range(d)])
    mean_given = res["administered"].mean(axis=0)
    given_info = np.stack([t.info[:, probe.item_dim == k] @ mean_given[probe.item_dim == k]
                           for k in range(d)])
    out = SimulationResult(areas=areas, item_ids=t.item_ids, config=config.to_dict(), true_theta=true_theta,
                           cuts=probe.cuts, test_information=test_info, administered_information=given_info,
                           grid=t.grid,
                           exposure_target=exposure_target, lotteries=lotteries,
                           test_items_mask=operational, responses=responses, item_dim=probe.item_dim,
                           exposure_bands=probe.exposure.band_edges if conditional else None, **res)
    return out


def _rescore(estimator: ProfileEstimator, eng: CatEngine, resp: np.ndarray, theta: np.ndarray,
             se: np.ndarray) -> None:
    """Overwrite ``theta``/``se`` (m, D) with each simulee's profile from the estimator of record."""
    given = eng.administered & eng.balancer.operational
    for r in range(len(given)):
        index = np.flatnonzero(given[r])
        est = estimator.posterior_estimate(index, resp[r, index], eng.areas)
        theta[r], se[r] = est.theta, est.se


def calibrate_sympson_hetter(bank, config, target: float = 0.25, n_simulees: int = 1000,
                             n_iterations: int = 20, seed: int = 0, progress: bool = False,
                             tolerance: float | None = None, margin: float = 2.0, damping: float = 0.25,
                             k_floor: float = 0.02, theta_sd: float = 1.0, on_run=None
                             ) -> tuple[dict[str, float | list[float]], list[float]]:
    """Sympson-Hetter exposure parameters by iterated simulation (Sympson & Hetter 1985), or, when
    ``config.exposure`` is ``"conditional-sympson-hetter"``, one K per theta band (Stocking & Lewis 1998).

    Iteration t simulates ``n_simulees`` with the current K^t and measures the exposure rates P^t(A_i)
    (conditional: P^t(A_i | h), h the band of the simulee's true theta in the item's area). With
    aim = target - ``margin`` SDs (SD = sqrt(target (1 - target) / n), the binomial SD of a rate at the
    target over the n simulees it is measured on: all of them, or those of band h), items over the aim
    get K^{t+1} = K^t * aim / P^t(A_i) (the multiplicative update of van der Linden 2003: K keeps its
    memory, where the classic K_i = target / P(S_i) or 1 lets an item back to K = 1 as soon as its
    neighbours' K fall, and oscillates); items under it move up towards min(1, K^t * aim / P^t(A_i)) by
    the share ``damping`` only, so freeing items is slower than restraining them. K never falls below
    ``k_floor``. Aiming under the target is needed because the largest of a few hundred rates estimated
    from n simulees lies ~2.5 SDs over its true value.

    Conditional: K_{i,g} is applied in band g of the running estimate while the target is about the
    true theta; K_{i,g} takes the smallest correction aim_h / P(A_i | h) among the true bands h that
    received at least 5% of the administrations made under it. ``theta_sd`` > 1 widens the simulees'
    theta distribution (N(0, theta_sd^2 R)) so that the outer bands hold enough simulees to be measured.

    The loop stops as soon as a simulation with the current K has every rate <= its target + ``tolerance``
    (default: 1 SD), or after ``n_iterations`` simulations; the last simulation always evaluates the
    returned K. Returns the parameters (items with some K < 1, for ``CatConfig.exposure_parameters``) and
    the maximum exposure rate of each simulation (conditional: the largest over bands; the last entry is
    that of the returned K). ``on_run(iteration, max_exposure)``, if given, hears of each simulation as it
    ends (progress display).
    """
    if not 0 < target <= 1:
        raise ValueError(f"exposure target must be in (0, 1], got {target}")
    if n_iterations < 1:
        raise ValueError(f"n_iterations must be at least 1, got {n_iterations}")
    conditional = config.exposure == "conditional-sympson-hetter"
    edges = np.asarray(config.exposure_bands or DEFAULT_BANDS, dtype=float) if conditional else np.zeros(0)
    n_bands = len(edges) + 1
    ids = [it.id for it in bank.items]
    pos = {iid: j for j, iid in enumerate(ids)}
    k = np.ones((len(ids), n_bands))
    history: list[float] = []
    rng = np.random.default_rng([seed, 7])
    probe = CatEngine(bank, replace(config, exposure=None), 1)
    corr = np.asarray(bank.area_correlation, dtype=float)[
        np.ix_(*[[list(bank.area_ids).index(a) for a in probe.areas]] * 2)]
    for it in range(n_iterations):
        params = {i: (v.tolist() if conditional else float(v[0]))
                  for i, v in zip(ids, k, strict=True) if (v < 1).any()}
        cfg = replace(config, exposure="conditional-sympson-hetter" if conditional else "sympson-hetter",
                      exposure_parameters=params,
                      exposure_bands=edges.tolist() if conditional else config.exposure_bands)
        theta = correlated_thetas(n_simulees, corr * theta_sd**2, rng)
        sim = simulate(bank, cfg, seed=seed + it, progress=progress, rescore=False, true_theta=theta)
        col = np.array([pos[i] for i in sim.item_ids])    # the simulation's items -> bank order
        dim = sim.item_dim
        true_band = np.digitize(sim.true_theta, edges) if conditional else np.zeros_like(sim.true_theta, int)
        n_h = np.stack([np.bincount(true_band[:, d], minlength=n_bands) for d in range(len(probe.areas))])
        r_idx, c_idx = np.nonzero(sim.administered)
        h = true_band[r_idx, dim[c_idx]]
        g = sim.admin_band[r_idx, c_idx].astype(np.intp) if conditional else np.zeros_like(h)
        given = np.zeros((len(ids), n_bands, n_bands))               # (item, K band g, true band h)
        np.add.at(given, (col[c_idx], g, h), 1)
        n_item_h = np.ones((len(ids), n_bands))           # simulees per true band of the item's area
        n_item_h[col[dim >= 0]] = n_h[dim[dim >= 0]]
        rates = given.sum(axis=1) / np.maximum(n_item_h, 1)           # P(A_i | h)
        sd = np.sqrt(target * (1 - target) / np.maximum(n_item_h, 1))
        tol = sd if tolerance is None else float(tolerance)
        history.append(float(rates.max()))
        if on_run is not None:
            on_run(it, history[-1])
        if (rates <= target + tol).all() or it == n_iterations - 1:
            break                           # K was just evaluated: return it
        aim = np.maximum(target - margin * sd, target / 2)
        ratio = aim / np.maximum(rates, 1e-12)                        # (item, h) correction each band needs
        share = given / np.maximum(given.sum(axis=2, keepdims=True), 1)
        fed = (given > 0) & (share >= 0.05)
        factor = np.where(fed, ratio[:, None, :], np.inf).min(axis=2)  # (item, g); inf: nothing given under g
        proposal = np.minimum(k * factor, 1.0)
        k = np.where(proposal < k, proposal, k + damping * (proposal - k))
        k = np.clip(k, k_floor, 1.0)
    return {i: (v.tolist() if conditional else float(v[0]))
            for i, v in zip(ids, k, strict=True) if (v < 1).any()}, history


def sympson_hetter_holding(bank, config, target: float = 0.25, n_simulees: int = 1000, seed: int = 0,
                           progress: bool = False) -> tuple[dict[str, float], list[float], float]:
    """Sympson-Hetter parameters under which a *fresh* simulation keeps its maximum exposure at or below
    ``target``: calibrated to target - 2 SD (SD of a rate at the target measured on ``n_simulees``), since
    the largest of a few hundred measured rates lies about that far over the true largest rate. On the
    bootstrap bank (16 items per competence, 1000 simulees) this gives max exposure .23-.24 over fresh
    seeds where calibrating to the target itself gives .25-.29. Returns (K, history, the aim used)."""
    sd = float(np.sqrt(target * (1 - target) / n_simulees))
    aim = max(target - 2 * sd, target / 2)
    k, history = calibrate_sympson_hetter(bank, config, target=aim, n_simulees=n_simulees, seed=seed,
                                          progress=progress)
    return k, history, aim


EXPOSURE_CONFIG_FIELDS = ("areas", "selection", "se_target", "min_items", "max_items", "min_items_per_area",
                          "max_items_per_area", "classification_threshold", "competence_balancing",
                          "prior_sd", "independent_areas", "gentle_start", "gentle_p")


def exposure_config_matches(stored: dict | None, config) -> bool:
    """Whether exposure parameters stored for ``stored["config"]`` were calibrated for ``config``: the
    settings that change which items a test gives (selection, stopping, content limits, prior)."""
    if not stored:
        return False
    mine = config.to_dict()
    return all(stored.get("config", {}).get(f) == mine[f] for f in EXPOSURE_CONFIG_FIELDS)


def calibrate_exposure_control(bank, config, target: float = 0.25, n_simulees: int = 2000, seed: int = 0,
                               n_iterations: int = 20, theta_sd: float = 1.5, check_simulees: int = 2000,
                               progress: bool = False, on_run=None) -> dict:
    """Conditional Sympson-Hetter parameters for ``bank`` under ``config``, as stored with a registered
    bank (``ItemBank.exposure_control``) and used by default by the service and ``digipath simulate``.

    Calibrated by :func:`calibrate_sympson_hetter` on ``n_simulees`` drawn from N(0, ``theta_sd``^2 R)
    (1.5: the outer bands hold ~16% of the simulees each instead of 7%, so their rates are measured),
    then checked on a fresh run of ``check_simulees`` from the bank's population N(0, R): the record keeps
    that run's maximum exposure overall and by true-theta band, with the sampling SD of a rate at the
    target in the smallest band. ``on_run(run, max_exposure)`` hears of each calibration run as it ends and
    of the check run (``run`` = ``n_iterations``)."""
    from dataclasses import replace as _replace

    cfg = _replace(config, exposure="conditional-sympson-hetter", exposure_parameters=None,
                   exposure_bands=list(config.exposure_bands or DEFAULT_BANDS))
    k, history = calibrate_sympson_hetter(bank, cfg, target=target, n_simulees=n_simulees, seed=seed,
                                          n_iterations=n_iterations, theta_sd=theta_sd, progress=progress,
                                          on_run=on_run)
    checked = simulate(bank, _replace(cfg, exposure_parameters=k), n_simulees=check_simulees,
                       seed=seed + 1000, rescore=False, exposure_target=target)
    if on_run is not None:
        on_run(n_iterations, float(checked.exposure_rates.max()))
    bands = checked.conditional_exposure_summary(cfg.exposure_bands)
    return {
        "method": "conditional-sympson-hetter", "target": float(target),
        "theta_bands": list(cfg.exposure_bands), "parameters": k,
        "config": {f: cfg.to_dict()[f] for f in EXPOSURE_CONFIG_FIELDS},
        "calibration": {"n_simulees": int(n_simulees), "theta_sd": float(theta_sd), "seed": int(seed),
                        "max_exposure_by_iteration": [round(h, 4) for h in history]},
        "check": {"n_simulees": int(check_simulees), "seed": int(seed + 1000),
                  "max_exposure": float(checked.exposure_rates.max()),
                  "max_exposure_by_band": {b["band"]: round(b["max_exposure"], 4) for b in bands},
                  "sd_at_target_smallest_band": round(max(b["sd_at_target"] for b in bands), 4),
                  "share_unused": float(checked.summary()["share_unused"])},
    }
