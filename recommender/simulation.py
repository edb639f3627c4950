"""Pathway simulation: what following a served bundle's pathways or rankings does for simulated learners.

Each simulated learner follows one :class:`~recommender.bundle.RecommenderBundle` through its own serving
code (``bundle.pathway`` or ``bundle.recommend`` with live events and a diagnostic profile), never a
re-implementation of a ranker. The learner model is stated here and in :class:`LearnerModel`:

- **Ability** (IRT-style, on the level scale): a continuous ability ``theta_c`` per competence; the level
  is ``floor(theta_c)`` clipped to 1..8. Start: ``theta_c = start level + U(0, 1)``.
- **Diagnostic** (what the service sees): level ``round(floor(theta_c) + N(0, diagnostic_sd))`` per
  competence, clipped to 1..8; taken at the start, every ``retest_every`` items and whenever a pathway
  runs out.
- **Drop-out**: before each item the learner leaves for good with probability ``dropout``.
- **Completion** (engagement, the world's own utility without the fit term): an item is completed with
  probability ``sigmoid(engagement + w_appeal q_j + w_taste u.v_j + w_language [language match]
  + w_english [English content for a non-English speaker])``; an item not completed teaches nothing.
- **Learning**: completing content at level ``L`` raises ``theta_c`` of each of its competences by
  ``w * max(0, gain + gain_sd * e)`` with ``w = 1`` at the learner's next level (``L = level_c + 1``),
  ``w = stretch`` further above, ``w = review`` at or below the current level; content at level ``L``
  never lifts ``theta_c`` to ``L + 1`` or beyond (it cannot teach past its own level).
- **Goal**: every competence at the role's required level (``floor(theta_c) >= required_c``).

Random numbers are common across bundles (per learner: one stream for drop-out and diagnostics by step,
one completion draw and one gain draw per item), so two bundles are compared on the same learners with
the same luck: differences are paired.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from recommender.metrics import bootstrap_ci


@dataclass
class LearnerModel:
    """The simulated learner's behaviour (see the module docstring); every number is stated here."""

    gain: float = 0.8
    gain_sd: float = 0.3
    stretch: float = 0.3
    review: float = 0.1
    dropout: float = 0.02
    diagnostic_sd: float = 0.6
    retest_every: int = 5
    engagement: float = 0.5
    w_appeal: float = 0.8
    w_taste: float = 1.2
    w_language: float = 1.0
    w_english: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SimulatedLearners:
    """Who is simulated: ids (known to the bundle or new), roles, start levels and behaviour latents.

    ``start_levels`` (n, n_competences) are integer levels; ``required`` (n, n_competences) the role's
    requirements; ``completion_logit`` (n, n_items) the item-specific engagement term (taste, appeal,
    language) before the learner model's intercept.
    """

    ids: np.ndarray
    roles: np.ndarray
    start_levels: np.ndarray
    required: np.ndarray
    completion_logit: np.ndarray

    @classmethod
    def from_world(cls, world, model: LearnerModel | None = None, n: int | None = None, seed=0,
                   max_gap: float | None = None) -> SimulatedLearners:
        """Learners of a :func:`recommender.synthetic.generate_world` world as they stand at its end (their
        true levels after their logged history), with the world's taste/appeal/language latents.
        Only learners below their role's requirement somewhere, and with ``max_gap`` given, at most that
        many levels below it in total (summed over competences); ``n``: a seeded sample of them."""
        model = model or LearnerModel()
        lrn, cat, roles = world.learners, world.catalogue, world.roles
        role_pos = np.array([roles.index[r] for r in lrn.role_ids])
        required = roles.required[role_pos].astype(float)
        start = np.asarray(world.true_levels, dtype=float)
        total_gap = np.clip(required - start, 0, None).sum(axis=1)
        keep = np.flatnonzero((total_gap > 0) & (total_gap <= (np.inf if max_gap is None else max_gap)))
        if n is not None and n < keep.size:
            keep = np.sort(np.random.default_rng(seed).choice(keep, n, replace=False))
        lat = world.latent
        lang = np.asarray(lrn.language, dtype=object)[keep]
        item_lang = np.asarray(cat.language, dtype=object)
        match = lang[:, None] == item_lang[None, :]
        english = (item_lang[None, :] == "en") & (lang[:, None] != "en")
        logit = (
            model.w_appeal * lat["appeal"][None, :]
            + model.w_taste * lat["taste"][keep] @ lat["item_taste"].T
            + model.w_language * match
            + model.w_english * english
        )
        return cls(lrn.ids[keep], lrn.role_ids[keep], start[keep], required[keep], logit)

    def __len__(self) -> int:
        return len(self.ids)


def _reached(theta: np.ndarray, required: np.ndarray) -> bool:
    return bool((np.floor(theta) >= required).all())


def _diagnose(theta: np.ndarray, rng: np.random.Generator, sd: float, competence_ids) -> dict:
    measured = np.clip(np.rint(np.floor(theta) + sd * rng.standard_normal(theta.size)), 1, 8)
    return {"competence_levels": {c: int(v) for c, v in zip(competence_ids, measured, strict=True)}}


def simulate_learner(bundle, learners: SimulatedLearners, i: int, model: LearnerModel, budget: int,
                     mode: str, seed) -> dict:
    """One learner following ``bundle`` for at most ``budget`` items; returns their trajectory summary.

    ``mode="pathway"``: the learner follows ``bundle.pathway`` step by step, asking for a new pathway
    (after a new diagnostic) when it runs out; ``mode="ranking"``: the learner takes the best-ranked item
    of ``bundle.recommend`` not tried yet, with their live events and latest diagnostic.
    """
    cat = bundle.catalogue
    cm = cat.competence_matrix.tocsr()
    # common random numbers: the same learner gets the same luck with every bundle
    s_theta, s_drop, s_diag, s_item = np.random.SeedSequence([int(seed), int(i)]).spawn(4)
    drop_u = np.random.default_rng(s_drop).random(budget)  # drop-out before item t
    rng_diag = np.random.default_rng(s_diag)
    item_rng = np.random.default_rng(s_item)
    completion_u = item_rng.random(len(cat))
    gain_e = item_rng.standard_normal(len(cat))
    theta = learners.start_levels[i] + np.random.default_rng(s_theta).random(learners.start_levels.shape[1])
    required = learners.required[i]
    start_gap = float(np.clip(required - np.floor(theta), 0, None).sum())
    learner_id, role = str(learners.ids[i]), str(learners.roles[i])
    events: list[tuple[str, str, float]] = []
    tried: set[int] = set()
    plan: list[int] = []

    def diagnose() -> dict:
        return _diagnose(theta, rng_diag, model.diagnostic_sd, cat.competence_ids)

    profile = diagnose()
    since_test, items, reached_at, dropped, stuck = 0, 0, None, False, False
    curve = np.zeros(budget + 1, dtype=bool)  # curve[t]: goal reached after t items
    curve[0] = _reached(theta, required)
    while items < budget and reached_at is None:
        if drop_u[items] < model.dropout:
            dropped = True
            break
        if model.retest_every and since_test >= model.retest_every:
            profile, since_test, plan = diagnose(), 0, []
        item = _next_item(bundle, mode, learner_id, role, profile, events, tried, plan)
        if item is None:  # nothing left to offer on this diagnostic: test again, then ask again
            profile, since_test, plan = diagnose(), 0, []
            item = _next_item(bundle, mode, learner_id, role, profile, events, tried, plan)
            if item is None:
                stuck = True
                break
        tried.add(item)
        items += 1
        since_test += 1
        cid = str(cat.ids[item])
        events.append((cid, "viewed", 1.0))
        p = 1.0 / (1.0 + np.exp(-(model.engagement + learners.completion_logit[i, item])))
        if completion_u[item] < p:
            events.append((cid, "completed", 1.0))
            level = int(cat.level[item])
            delta = max(0.0, model.gain + model.gain_sd * gain_e[item])
            for j in cm.indices[cm.indptr[item] : cm.indptr[item + 1]]:
                now = np.floor(theta[j])
                w = 1.0 if level == now + 1 else (model.stretch if level > now + 1 else model.review)
                theta[j] = max(theta[j], min(theta[j] + w * delta, level + 1 - 1e-9))
        curve[items] = _reached(theta, required)
        if curve[items]:
            reached_at = items
    if reached_at is not None:
        curve[reached_at:] = True
    else:
        curve[items:] = curve[items]
    return {
        "learner_id": learner_id,
        "role": role,
        "start_gap": start_gap,
        "end_gap": float(np.clip(required - np.floor(theta), 0, None).sum()),
        "items": items,
        "reached_at": np.nan if reached_at is None else float(reached_at),
        "dropped": dropped,
        "stuck": stuck,
        "curve": curve,
    }


def _next_item(bundle, mode, learner_id, role, profile, events, tried, plan) -> int | None:
    index = bundle.catalogue.index
    if mode == "pathway":
        if not plan:
            steps = bundle.pathway(learner_id, profile=profile, role=role, events=events)
            plan.extend(index[s.content_id] for s in steps)
        while plan:
            item = plan.pop(0)
            if item not in tried:
                return item
        return None
    if mode == "ranking":
        recs = bundle.recommend(learner_id, k=len(tried) + 1, profile=profile, role=role, events=events)
        for r in recs:
            item = index[r.content_id]
            if item not in tried:
                return item
        return None
    raise ValueError(f"mode must be 'pathway' or 'ranking', got {mode!r}")


@dataclass
class SimulationResult:
    """Per-learner outcomes (``learners``) and the share who reached the goal after t items (``curve``,
    shape (n, budget + 1)) for one bundle and one mode."""

    name: str
    mode: str
    learners: pd.DataFrame
    curve: np.ndarray

    def reached_by(self, n_items: int) -> np.ndarray:
        return self.curve[:, min(n_items, self.curve.shape[1] - 1)].astype(float)


def simulate(bundle, learners: SimulatedLearners, model: LearnerModel | None = None, budget: int = 40,
             mode: str = "pathway", seed=0, name: str | None = None, progress=None) -> SimulationResult:
    """Every learner of ``learners`` follows ``bundle`` (see :func:`simulate_learner`)."""
    model = model or LearnerModel()
    rows, curves = [], []
    for i in range(len(learners)):
        out = simulate_learner(bundle, learners, i, model, budget, mode, seed)
        curves.append(out.pop("curve"))
        rows.append(out)
        if progress is not None:
            progress()
    return SimulationResult(name or bundle.ranker_name, mode, pd.DataFrame(rows), np.array(curves))


def summarise(results: dict[str, SimulationResult], checkpoints=(20, 40), baseline: str = "popularity",
              n_boot: int = 1000, seed=0) -> pd.DataFrame:
    """One row per bundle: share reaching the goal after each checkpoint (bootstrap 95% CI over learners),
    its paired difference from ``baseline`` (same learners, same luck) with CI, and the mean number of
    items to reach the goal among those who did (CI), within the largest checkpoint."""
    base = results.get(baseline)
    rows = []
    for name, res in results.items():
        row = {"ranker": name, "mode": res.mode, "n_learners": len(res.learners)}
        for n in checkpoints:
            hit = res.reached_by(n)
            row[f"reached@{n}"] = float(hit.mean())
            row[f"reached@{n}_ci_low"], row[f"reached@{n}_ci_high"] = bootstrap_ci(hit, n_boot, seed=seed)
            if base is not None:
                diff = hit - base.reached_by(n)
                row[f"diff@{n}"] = float(diff.mean())
                row[f"diff@{n}_ci_low"], row[f"diff@{n}_ci_high"] = bootstrap_ci(diff, n_boot, seed=seed)
        last = max(checkpoints)
        at = res.learners["reached_at"].to_numpy(dtype=float)
        at = at[at <= last]
        row["n_reached"] = int(at.size)
        row["mean_items_to_goal"] = float(at.mean()) if at.size else float("nan")
        low, high = bootstrap_ci(at, n_boot, seed=seed)
        row["mean_items_to_goal_ci_low"], row["mean_items_to_goal_ci_high"] = low, high
        row["share_dropped"] = float(res.learners["dropped"].mean())
        start_gap = max(res.learners["start_gap"].sum(), 1e-12)
        row["gap_closed"] = float(1 - res.learners["end_gap"].sum() / start_gap)
        rows.append(row)
    return pd.DataFrame(rows)


def plot_curves(results: dict[str, SimulationResult], path, n_boot: int = 200, seed=0, title: str = ""):
    """Share of learners at their role's level after t items, one line per bundle (95% bootstrap band)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = sorted({r.mode for r in results.values()})
    fig, axes = plt.subplots(1, len(modes), figsize=(6.5 * len(modes), 4.2), squeeze=False)
    rng = np.random.default_rng(seed)
    for ax, mode in zip(axes[0], modes, strict=True):
        for name, res in results.items():
            if res.mode != mode:
                continue
            c = res.curve.astype(float)
            t = np.arange(c.shape[1])
            boots = np.array([c[rng.integers(0, len(c), len(c))].mean(axis=0) for _ in range(n_boot)])
            line = ax.plot(t, c.mean(axis=0), label=name.split(":")[0])[0]
            band = np.quantile(boots, [0.025, 0.975], axis=0)
            ax.fill_between(t, *band, color=line.get_color(), alpha=0.15)
        ax.set_xlabel("content items taken")
        ax.set_ylabel("share at the role's required level")
        ax.set_title(f"{title} following the {mode}".strip())
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
