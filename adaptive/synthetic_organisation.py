"""A generated organisation whose true competence gaps and training effects are known.

Learners get a role and a unit; their true area thetas are the role's mean plus the unit's offset plus
correlated individual variation. Each learner with a diagnostic takes a real (batched) adaptive test
on a synthetic item bank (``adaptive.cat.simulation.simulate``), so thetas, SEs and levels carry the
measurement error, shrinkage and level misclassification of the real engine. A share of learners
completes training contents with known true effects on one area each and retakes the diagnostic.
Pathway steps and completions are drawn with known per-unit completion rates.

Used by the tests (``tests/insights``) and ``experiments/insights_recovery.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from adaptive.cat import CatConfig
from adaptive.cat.profile import ProfileEstimator
from adaptive.cat.simulation import simulate
from adaptive.cat.start import prior
from adaptive.estimation import level_of
from adaptive.framework import load_framework
from adaptive.synthetic import generate_synthetic_bank

AREAS = ("1", "2", "3", "4", "5")
# role -> (share of learners, true mean theta per area, required level per area's competences)
ROLES = {
    "clerk": (0.40, (-0.6, -0.2, -0.9, -0.4, -0.7), (3, 3, 2, 4, 2)),
    "analyst": (0.25, (0.6, 0.1, 0.2, 0.0, 0.5), (6, 4, 4, 4, 5)),
    "manager": (0.15, (0.2, 0.7, -0.4, 0.2, 0.0), (4, 6, 2, 5, 4)),
    "it-specialist": (0.20, (1.0, 0.4, 1.2, 1.3, 1.1), (6, 4, 6, 7, 6)),
}
TINY_ROLES = {"data-protection-officer": (3, (0.4, 0.3, 0.0, 1.2, 0.2), (4, 4, 3, 7, 4)),
              "auditor": (2, (0.5, 0.0, 0.0, 0.5, 0.3), (5, 3, 3, 5, 4))}
# per-competence exceptions to the area's requirement (0: not required by the role)
OVERRIDES = {"clerk": {"3.4": 0, "5.4": 0, "2.3": 0}, "analyst": {"1.3": 7, "3.4": 5, "2.6": 0},
             "manager": {"3.4": 0, "2.5": 4}, "it-specialist": {"3.4": 7, "2.3": 0}}
# unit -> (share, theta offset, pathway completion probability per step)
UNITS = {"finance": (0.30, 0.0, 0.6), "social-affairs": (0.30, -0.2, 0.3),
         "digital-office": (0.20, 0.3, 0.8), "citizen-services": (0.20, -0.1, 0.45)}
TINY_UNIT = ("legal", 3, 0.0, 0.5)
# content -> (area, true effect on theta); completions happen between the two diagnostics
CONTENTS = {"C-SEARCH": ("1", 0.6), "C-DATA": ("1", 0.0), "C-COLLAB": ("2", 0.4), "C-CREATE": ("3", 0.8),
            "C-SECURE": ("4", 0.5), "C-PRIVACY": ("4", 0.0), "C-SOLVE": ("5", 0.3),
            "C-NETIQUETTE": ("2", 0.0)}
N_PATHWAY_CONTENT = 30
DAY = 86400.0
T0 = pd.Timestamp("2026-01-05", tz="UTC")


@dataclass
class SyntheticOrganisation:
    learners: pd.DataFrame                 # learner_id, role, unit
    roles: dict[str, dict[str, int]]       # role -> {competence: required level}
    catalogue: pd.DataFrame                # content_id, area, competences, effect
    diagnostics: list[dict]                # learner_id, diagnostic_id, finished_at, profile
    events: pd.DataFrame                   # learner_id, content_id, event, value, timestamp, event_id
    pathways: dict[str, list[str]]
    cuts: np.ndarray                       # (D, 7) theta cut scores per area
    true_before: np.ndarray                # (N, D) true theta at the first diagnostic
    true_after: np.ndarray                 # (N, D) true theta at the retest (NaN: no retest)
    diagnosed: np.ndarray                  # (N,) bool: has a finished diagnostic
    retest: np.ndarray                     # (N,) bool
    took: np.ndarray                       # (N, n_contents) completed content between the diagnostics
    pathway_done: dict[str, list[bool]] = field(default_factory=dict)
    prior: tuple[np.ndarray, np.ndarray] | None = None   # the CAT's prior (mean, cov) over the areas

    @property
    def content_ids(self) -> list[str]:
        return list(CONTENTS)

    def true_latest(self) -> np.ndarray:
        """(N, D) true theta at each learner's latest diagnostic."""
        return np.where(self.retest[:, None], self.true_after, self.true_before)

    def true_levels(self, theta: np.ndarray) -> np.ndarray:
        return np.stack([[level_of(t, self.cuts[k]) for k, t in enumerate(row)] for row in theta])


def generate_organisation(n_learners: int = 400, seed: int = 0, bank=None, retest_share: float = 0.7,
                          completion_rate: float = 0.35, undiagnosed_share: float = 0.08,
                          sd: float = 0.8, selection_bias: float = 0.0,
                          config: CatConfig | None = None) -> SyntheticOrganisation:
    """``n_learners`` regular learners plus the tiny roles/unit (never enough to be shown).

    ``selection_bias`` > 0 makes learners with a low *measured* baseline more likely to take the content
    of that area (confounding, as in real programmes); 0 = random uptake.
    """
    rng = np.random.default_rng(seed)
    fw = load_framework()
    bank = bank if bank is not None else generate_synthetic_bank(items_per_competence=24, languages=("en",),
                                                                  seed=seed)
    config = config or CatConfig()
    d = len(AREAS)
    role_names = list(ROLES)
    role = rng.choice(role_names, size=n_learners, p=[ROLES[r][0] for r in role_names]).astype(object)
    unit_names = list(UNITS)
    unit = rng.choice(unit_names, size=n_learners, p=[UNITS[u][0] for u in unit_names]).astype(object)
    # tiny groups: two small roles inside the big units, one small unit of clerks
    extra_roles = [r for r, (n, _, _) in TINY_ROLES.items() for _ in range(n)]
    role = np.r_[role, extra_roles, ["clerk"] * TINY_UNIT[1]].astype(object)
    unit = np.r_[unit, rng.choice(unit_names, size=len(extra_roles)),
                 [TINY_UNIT[0]] * TINY_UNIT[1]].astype(object)
    n = len(role)
    means = {**{r: v[1] for r, v in ROLES.items()}, **{r: v[1] for r, v in TINY_ROLES.items()}}
    offsets = {**{u: v[1] for u, v in UNITS.items()}, TINY_UNIT[0]: TINY_UNIT[2]}
    corr = np.asarray(bank.area_correlation, dtype=float)
    noise = rng.multivariate_normal(np.zeros(d), corr * sd ** 2, size=n, method="cholesky")
    true_before = np.array([means[r] for r in role]) + np.array([offsets[u] for u in unit])[:, None] + noise
    ids = np.array([f"emp-{i:05d}" for i in range(n)], dtype=object)

    requirements = {**{r: v[2] for r, v in ROLES.items()}, **{r: v[2] for r, v in TINY_ROLES.items()}}
    roles = {}
    for r, req in requirements.items():
        levels = {c.id: int(req[AREAS.index(c.area_id)]) for c in fw.competences}
        levels.update(OVERRIDES.get(r, {}))
        roles[r] = {c: lv for c, lv in levels.items() if lv > 0}

    diagnosed = rng.random(n) >= undiagnosed_share
    diagnosed[n_learners:] = True                      # the tiny groups must be tested to test suppression
    retest = diagnosed & (rng.random(n) < retest_share)
    first = simulate(bank, config, true_theta=true_before, seed=seed + 1)
    cuts = first.cuts
    # uptake: random, or (selection_bias) more likely for a low measured baseline in the content's area
    contents = list(CONTENTS)
    area_of = np.array([AREAS.index(CONTENTS[c][0]) for c in contents])
    effect = np.array([CONTENTS[c][1] for c in contents])
    logit = np.log(completion_rate / (1 - completion_rate)) - selection_bias * first.theta[:, area_of]
    took = retest[:, None] & (rng.random((n, len(contents))) < 1 / (1 + np.exp(-logit)))
    gain = np.zeros((n, d))
    np.add.at(gain.T, area_of, (took * effect).T)
    true_after = np.where(retest[:, None], true_before + gain + rng.normal(0, 0.1, (n, d)), np.nan)
    second = simulate(bank, config, true_theta=np.nan_to_num(true_after), seed=seed + 2)

    scoring = ProfileEstimator(bank, list(first.areas), prior_sd=config.prior_sd,
                               independent_areas=config.independent_areas,
                               prior_correlation_shrinkage=config.prior_correlation_shrinkage)

    def profile(res, i: int) -> dict:
        """The reported profile of simulee ``i``: the estimator of record on the items given."""
        given = np.flatnonzero(res.administered[i])
        return scoring.estimate_indices(given, res.responses[i, given]).to_dict()

    # whole microseconds: what databases and datetime keep
    start = (T0 + pd.to_timedelta(rng.uniform(0, 10, n), unit="D")).floor("us")
    retake = (start + pd.to_timedelta(rng.uniform(120, 130, n), unit="D")).floor("us")
    diagnostics = []
    for i in np.flatnonzero(diagnosed):
        diagnostics.append({"learner_id": ids[i], "diagnostic_id": f"d1-{ids[i]}",
                            "finished_at": start[i], "profile": profile(first, i)})
        if retest[i]:
            diagnostics.append({"learner_id": ids[i], "diagnostic_id": f"d2-{ids[i]}",
                                "finished_at": retake[i], "profile": profile(second, i)})

    events = []
    for i, j in zip(*np.nonzero(took), strict=True):
        t = start[i] + pd.Timedelta(days=float(rng.uniform(20, 110)))
        events.append((ids[i], contents[j], "enrolled", 1.0, t - pd.Timedelta(days=5)))
        events.append((ids[i], contents[j], "completed", 1.0, t))
    # noise that must not count as "completed in between": completions before the baseline, views
    for i in rng.choice(np.flatnonzero(retest), size=max(1, int(retest.sum()) // 10), replace=False):
        j = int(rng.integers(len(contents)))
        if not took[i, j]:
            events.append((ids[i], contents[j], "completed", 1.0, start[i] - pd.Timedelta(days=30)))
        events.append((ids[i], contents[(j + 1) % len(contents)], "viewed", 1.0,
                       start[i] + pd.Timedelta(days=3)))

    # pathways: 2-6 steps from a pool; each step completed with the unit's probability (after the baseline)
    pool = [f"P-{k:03d}" for k in range(N_PATHWAY_CONTENT)]
    p_done = {**{u: v[2] for u, v in UNITS.items()}, TINY_UNIT[0]: TINY_UNIT[3]}
    pathways, pathway_done = {}, {}
    for i in np.flatnonzero(diagnosed):
        k = int(rng.integers(0, 7))                     # 0: nothing to do (no gap)
        steps = list(rng.choice(pool, size=k, replace=False)) if k else []
        flags = list(rng.random(k) < p_done[unit[i]])
        pathways[ids[i]], pathway_done[ids[i]] = steps, flags
        for s, f in zip(steps, flags, strict=True):
            t = start[i] + pd.Timedelta(days=float(rng.uniform(1, 60)))
            events.append((ids[i], s, "viewed", 1.0, t - pd.Timedelta(hours=1)))
            if f:
                events.append((ids[i], s, "completed", 1.0, t))
                if rng.random() < 0.1:                 # a duplicate completion must count once
                    events.append((ids[i], s, "completed", 1.0, t + pd.Timedelta(days=1)))
    ev = pd.DataFrame(events, columns=["learner_id", "content_id", "event", "value", "timestamp"])
    ev["timestamp"] = pd.to_datetime(ev["timestamp"], utc=True).dt.floor("us")
    ev["event_id"] = [f"ev-{k:06d}" for k in range(len(ev))]

    learners = pd.DataFrame({"learner_id": ids, "role": role, "unit": unit})
    catalogue = pd.DataFrame({"content_id": contents, "area": [CONTENTS[c][0] for c in contents],
                              "competences": [";".join(x.id for x in fw.competences_in(CONTENTS[c][0]))
                                              for c in contents],
                              "effect": effect})
    cat_prior = prior(bank, list(first.areas), None, config.prior_sd, config.independent_areas,
                      config.prior_correlation_shrinkage)
    return SyntheticOrganisation(learners, roles, catalogue, diagnostics, ev, pathways, cuts, true_before,
                                 true_after, diagnosed, retest, took, pathway_done, cat_prior)
