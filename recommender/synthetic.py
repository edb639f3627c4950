"""A synthetic world for demos, tests and benchmarks: roles, learners, a catalogue and learning events.

Generative model (all randomness from one seed):

- **Roles** (8 public-sector roles): every competence needs level 3 by default; each role raises the
  competences of the areas it leans on (e.g. an IT specialist +3 in area 5 "problem solving") and a
  seeded +-1 jitter per competence. Levels are clipped to 1..8.
- **Learners**: a role (fixed shares), a language (en 60%, lt 25%, lv 15%), a taste vector u (6-dim, N(0,1)).
  True continuous level of competence c: ``required_c - 1.5 + 1.2 z_area(c) + 0.5 e_c`` with area
  abilities z ~ N(0, R), R = 0.6 off the diagonal (correlated across areas, role-dependent through
  ``required``); true level = that rounded and clipped to 1..8.
- **Diagnostic profile** (what the service would know): area level = mean true level of the area's
  competences + N(0, 0.4), competence level = true level + N(0, 0.6), both rounded; the profile dict has
  ``areas`` (theta, se, level, level_probabilities) and ``competence_levels``.
- **Catalogue**: each item develops one competence (30%: plus a second one in the same area), targets a
  level (1..8, mostly 2..6), has a language (en 50%, lt 25%, lv 25%), a format, a duration, a global
  appeal q_j ~ N(0, 0.8) and a taste vector v_j (6-dim). Each role has a favourite list (4% of the
  catalogue, drawn towards the competences it needs most).
- **Events** (behavioural model): each learner takes ``n_u`` items (1 + negative binomial, mean
  ``mean_items``) in 3 phases, each item drawn without replacement with probability proportional to
  ``exp(U_uj)`` (Gumbel-max), where

      U_uj = 5.0 fit_uj + 0.8 q_j + 1.5 [j in favourites(role_u)] + 1.2 u.v_j
             + 1.0 [language match] + 0.3 [English for a non-English speaker]

  and ``fit_uj = max_{c in C_j} need_uc * exp(-(L_j - (l_uc + 1))^2 / 2)``, need_uc =
  max(required - true level, 0) / 4 + 0.1: content near the next level in competences the role needs.
  Completing an item at the learner's next level raises that true level by 1 before the next phase, so
  learners climb. Each draw yields ``viewed``; ``enrolled`` with p = 0.55 + 0.3 fit; ``completed`` (given
  enrolled) with p = 0.5 + 0.4 fit; ``rated`` (given completed) with p = 0.3 and value 1..5 rising with
  fit and taste. Timestamps: a start in the year 2025 and exponential gaps (mean 3 days).

Signal each ranker can use (none wins by construction): global popularity sees q_j only; role
popularity sees q_j + the role favourites; the gap ranker sees the competence need but only through the
noisy diagnostic (not the true, moving levels) and nothing of taste or language; CF (ALS/BPR/item-kNN)
sees co-consumption, hence taste, language and favourites, but must infer needs from history and has
nothing for new learners. The hybrid can combine both, which is what the comparison measures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from recommender.data import FORMATS, Catalogue, Learners, RoleProfiles, write_events

ROLE_SPECS = (  # role id, title, share of learners, {area: raise}
    ("clerk", "Administrative clerk", 0.22, {"1": 1, "2": 1}),
    ("caseworker", "Caseworker", 0.18, {"2": 1, "4": 1}),
    ("it-specialist", "IT specialist", 0.08, {"3": 2, "4": 2, "5": 3}),
    ("data-analyst", "Data analyst", 0.08, {"1": 3, "3": 2}),
    ("manager", "Team manager", 0.12, {"2": 2, "5": 1}),
    ("communications", "Communications officer", 0.10, {"2": 3, "3": 2}),
    ("procurement", "Procurement officer", 0.10, {"1": 1, "4": 1, "5": 1}),
    ("policy-officer", "Policy officer", 0.12, {"1": 2, "2": 2}),
)
LANGUAGES = ("en", "lt", "lv")
BEHAVIOUR = {"fit": 5.0, "appeal": 0.8, "favourite": 1.5, "taste": 1.2, "language": 1.0, "english": 0.3}
TASTE_DIM = 6
EPOCH_2025 = 1735689600  # 2025-01-01T00:00:00Z


@dataclass
class SyntheticWorld:
    """What :func:`generate_world` returns. ``true_levels`` are the final (after learning) true levels."""

    catalogue: Catalogue
    roles: RoleProfiles
    learners: Learners
    profiles: dict[str, dict]
    true_levels: np.ndarray
    events: pd.DataFrame
    params: dict = field(default_factory=dict)
    # the generator's hidden variables (learner ``taste``; item ``appeal``, ``item_taste``): what a
    # simulation needs to let learners behave as the world says (recommender.simulation)
    latent: dict = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write catalogue/roles/learners/events CSVs and profiles.json; returns the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "catalogue": self.catalogue.write(out / "catalogue.csv"),
            "roles": self.roles.write(out / "roles.csv"),
            "learners": self.learners.write(out / "learners.csv"),
            "events": write_events(self.events, out / "events.csv"),
        }
        paths["profiles"] = out / "profiles.json"
        paths["profiles"].write_text(json.dumps(self.profiles))
        (out / "world.json").write_text(json.dumps(self.params, indent=2))
        return paths


def _taste_match(learner_taste: np.ndarray, item_taste: np.ndarray) -> np.ndarray:
    """learner_taste @ item_taste.T as elementwise products summed in a fixed order: a BLAS product's last
    digits depend on the CPU's kernels (AVX2 vs AVX-512), and a last digit can flip a learner's choice, so
    the same seed would give another world, and another fingerprint of the demo world, on another machine."""
    out = np.zeros((learner_taste.shape[0], item_taste.shape[0]))
    for d in range(learner_taste.shape[1]):
        out += learner_taste[:, d, None] * item_taste[None, :, d]
    return out


def _pairs(catalogue: Catalogue):
    cm = catalogue.competence_matrix.tocsr()
    cm.sort_indices()
    counts = np.diff(cm.indptr)
    return (
        cm.indices.copy(),
        np.repeat(np.arange(cm.shape[0]), counts),
        cm.indptr[:-1][counts > 0],
        counts > 0,
    )


def _level_probabilities(mean_level: np.ndarray, sd: float) -> np.ndarray:
    edges = np.concatenate([[-np.inf], np.arange(1.5, 8.5, 1.0), [np.inf]])
    cdf = norm.cdf((edges[None, :] - mean_level[:, None]) / sd)
    return np.diff(cdf, axis=1)


def generate_world(
    n_learners: int = 2000,
    n_content: int = 1500,
    mean_items: float = 20.0,
    seed=0,
    framework=None,
    batch_size: int = 1000,
) -> SyntheticWorld:
    """Generate a world (see the module docstring for the model). Runs in seconds for 5,000 x 2,000."""
    from adaptive.framework import load_framework

    rng = np.random.default_rng(seed)
    fw = framework or load_framework()
    comp_ids = tuple(fw.competence_ids)
    comp_area = np.array([c.split(".")[0] for c in comp_ids])
    area_ids = tuple(fw.area_ids)
    area_of = np.array([area_ids.index(a) for a in comp_area])
    names = {c.id: c.name for c in fw.competences}
    n_comp, n_area = len(comp_ids), len(area_ids)

    # roles
    required = np.full((len(ROLE_SPECS), n_comp), 3, dtype=np.int64)
    for r, (_, _, _, raise_) in enumerate(ROLE_SPECS):
        for a, plus in raise_.items():
            required[r, comp_area == a] += plus
    required = np.clip(required + rng.integers(-1, 2, size=required.shape), 1, 8)
    roles = RoleProfiles([s[0] for s in ROLE_SPECS], [s[1] for s in ROLE_SPECS], required, comp_ids)

    # learners
    shares = np.array([s[2] for s in ROLE_SPECS])
    role = rng.choice(len(ROLE_SPECS), size=n_learners, p=shares / shares.sum())
    lang = rng.choice(len(LANGUAGES), size=n_learners, p=[0.6, 0.25, 0.15])
    corr = np.full((n_area, n_area), 0.6) + 0.4 * np.eye(n_area)
    z = rng.multivariate_normal(np.zeros(n_area), corr, size=n_learners)
    cont = required[role] - 1.5 + 1.2 * z[:, area_of] + 0.5 * rng.standard_normal((n_learners, n_comp))
    true = np.clip(np.rint(cont), 1, 8)
    taste = rng.standard_normal((n_learners, TASTE_DIM))

    measured = np.clip(np.rint(true + 0.6 * rng.standard_normal(true.shape)), 1, 8)
    area_cont = np.stack([true[:, area_of == a].mean(axis=1) for a in range(n_area)], axis=1)
    area_cont = area_cont + 0.4 * rng.standard_normal(area_cont.shape)
    area_level = np.clip(np.rint(area_cont), 1, 8).astype(int)
    learner_ids = np.array([f"L{i:06d}" for i in range(n_learners)])
    profiles = {}
    probs_all = [_level_probabilities(area_cont[:, a], 0.5) for a in range(n_area)]
    for u in range(n_learners):
        profiles[learner_ids[u]] = {
            "areas": {
                area_ids[a]: {
                    "theta": float((area_cont[u, a] - 4.5) / 1.5),
                    "se": 0.35,
                    "level": int(area_level[u, a]),
                    "level_probabilities": [round(float(p), 4) for p in probs_all[a][u]],
                }
                for a in range(n_area)
            },
            "competence_levels": {c: int(measured[u, j]) for j, c in enumerate(comp_ids)},
        }
    learners = Learners(
        learner_ids,
        np.array([ROLE_SPECS[r][0] for r in role]),
        measured,
        comp_ids,
        np.array([LANGUAGES[x] for x in lang], dtype=object),
    )

    # catalogue
    primary = rng.integers(0, n_comp, size=n_content)
    comps = []
    for p in primary:
        same = np.flatnonzero((area_of == area_of[p]) & (np.arange(n_comp) != p))
        second = [int(rng.choice(same))] if same.size and rng.random() < 0.3 else []
        comps.append(";".join(comp_ids[j] for j in [int(p), *second]))
    level = rng.choice(np.arange(1, 9), size=n_content, p=[0.08, 0.15, 0.18, 0.18, 0.15, 0.12, 0.08, 0.06])
    c_lang = rng.choice(len(LANGUAGES), size=n_content, p=[0.5, 0.25, 0.25])
    fmt = rng.choice(len(FORMATS), size=n_content, p=[0.3, 0.25, 0.2, 0.1, 0.15])
    duration = np.rint(np.array([90, 12, 8, 60, 25])[fmt] * rng.lognormal(0, 0.4, n_content))
    content_ids = np.array([f"C{i:05d}" for i in range(n_content)])
    titles = [
        f"{FORMATS[f].capitalize()} (level {lv}): {names[comp_ids[p]]} #{i}"
        for i, (f, lv, p) in enumerate(zip(fmt, level, primary, strict=True))
    ]
    catalogue = Catalogue(
        pd.DataFrame(
            {
                "content_id": content_ids,
                "title": titles,
                "language": [LANGUAGES[x] for x in c_lang],
                "format": [FORMATS[x] for x in fmt],
                "duration_minutes": duration,
                "competences": comps,
                "level": level.astype(np.int64),
            }
        ),
        comp_ids,
    )
    appeal = 0.8 * rng.standard_normal(n_content)
    item_taste = rng.standard_normal((n_content, TASTE_DIM)) / np.sqrt(TASTE_DIM)
    favourite = np.zeros((len(ROLE_SPECS), n_content), dtype=bool)
    n_fav = max(1, int(0.04 * n_content))
    for r in range(len(ROLE_SPECS)):
        w = np.exp(0.8 * required[r, primary])
        favourite[r, rng.choice(n_content, size=n_fav, replace=False, p=w / w.sum())] = True

    # events
    pair_comp, pair_item, starts, has_pair = _pairs(catalogue)
    pair_level = level[pair_item].astype(float)
    b = BEHAVIOUR
    n_items = 1 + rng.negative_binomial(2, 2 / (2 + max(mean_items - 1, 0.01)), size=n_learners)
    n_items = np.minimum(n_items, min(80, n_content))
    base_static = b["appeal"] * appeal
    rows: list[np.ndarray] = []
    for s in range(0, n_learners, batch_size):
        idx = np.arange(s, min(s + batch_size, n_learners))
        nb = idx.size
        static = (
            base_static[None, :]
            + b["favourite"] * favourite[role[idx]]
            + b["taste"] * _taste_match(taste[idx], item_taste)
            + b["language"] * (c_lang[None, :] == lang[idx, None])
            + b["english"] * ((c_lang[None, :] == 0) & (lang[idx, None] != 0))
        )
        lv = true[idx].copy()
        taken = np.zeros((nb, n_content), dtype=bool)
        phase_n = np.stack(
            [n_items[idx] // 3 + (np.arange(3)[:, None] < n_items[idx] % 3)[k] for k in range(3)], axis=1
        )
        t = EPOCH_2025 + rng.uniform(0, 300 * 86400, nb)
        for ph in range(3):
            need = np.clip(required[role[idx]] - lv, 0, None) / 4.0 + 0.1
            val = need[:, pair_comp] * np.exp(-0.5 * (pair_level[None, :] - (lv[:, pair_comp] + 1.0)) ** 2)
            fit = np.zeros((nb, n_content))
            fit[:, has_pair] = np.maximum.reduceat(val, starts, axis=1)
            util = b["fit"] * fit + static + rng.gumbel(size=(nb, n_content))
            util[taken] = -np.inf
            m = int(phase_n[:, ph].max())
            if m == 0:
                continue
            top = np.argpartition(-util, m - 1, axis=1)[:, :m]
            order = np.argsort(-np.take_along_axis(util, top, axis=1), axis=1)
            top = np.take_along_axis(top, order, axis=1)
            keep = np.arange(m)[None, :] < phase_n[:, ph][:, None]
            u_loc, pos = np.nonzero(keep)
            items = top[u_loc, pos]
            taken[u_loc, items] = True
            f = fit[u_loc, items]
            gaps = rng.exponential(3 * 86400, size=u_loc.size)
            # time of each draw: the learner's clock advanced by the gaps, in draw order (rows are grouped)
            cs = np.cumsum(gaps)
            first = np.r_[0, np.flatnonzero(np.diff(u_loc)) + 1]
            group_len = np.diff(np.r_[first, u_loc.size])
            before = np.repeat(cs[first] - gaps[first], group_len)
            clock = t[u_loc] + cs - before
            t[u_loc[first + group_len - 1]] = clock[first + group_len - 1]
            enrolled = rng.random(u_loc.size) < 0.55 + 0.3 * f
            completed = enrolled & (rng.random(u_loc.size) < 0.5 + 0.4 * f)
            rated = completed & (rng.random(u_loc.size) < 0.3)
            tv = (taste[idx[u_loc]] * item_taste[items]).sum(axis=1)
            stars = np.clip(np.rint(3 + 1.5 * f + 0.5 * tv + 0.7 * rng.standard_normal(u_loc.size)), 1, 5)
            lu = idx[u_loc]
            for kind, mask, offset, value in (
                ("viewed", np.ones(u_loc.size, bool), 0, 1.0),
                ("enrolled", enrolled, 600, 1.0),
                ("completed", completed, 3600 * 24, 1.0),
                ("rated", rated, 3600 * 25, stars),
            ):
                v = np.broadcast_to(value, u_loc.size)[mask]
                rows.append(
                    np.rec.fromarrays(
                        [
                            lu[mask],
                            items[mask],
                            np.full(mask.sum(), kind, dtype=object),
                            v.astype(float),
                            np.floor(clock[mask] + offset),
                        ],
                        names="u,j,event,value,ts",
                    )
                )
            # learning: completing the next level up in a competence raises the true level
            done_u, done_j = u_loc[completed], items[completed]
            cm = catalogue.competence_matrix
            counts = np.diff(cm.indptr)[done_j]
            pidx = np.repeat(cm.indptr[done_j], counts) + (
                np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            )
            pu, pj, pc = np.repeat(done_u, counts), np.repeat(done_j, counts), cm.indices[pidx]
            up = level[pj] == lv[pu, pc] + 1
            lv[pu[up], pc[up]] = np.minimum(8, lv[pu[up], pc[up]] + 1)
        true[idx] = lv
    rec = (
        np.concatenate(rows).view(np.recarray)
        if rows
        else np.rec.fromarrays([[], [], [], [], []], names="u,j,event,value,ts")
    )
    events = pd.DataFrame(
        {
            "learner_id": learner_ids[rec.u],
            "content_id": content_ids[rec.j],
            "event": rec.event,
            "value": rec.value,
            "timestamp": rec.ts.astype(float),
        }
    )
    events = events.sort_values(["timestamp", "learner_id"], kind="stable").reset_index(drop=True)
    events["event_id"] = [f"E{i:08d}" for i in range(len(events))]
    params = {
        "n_learners": n_learners,
        "n_content": n_content,
        "mean_items": mean_items,
        "seed": seed,
        "behaviour": BEHAVIOUR,
        "framework_version": fw.version,
    }
    latent = {"taste": taste, "appeal": appeal, "item_taste": item_taste}
    return SyntheticWorld(catalogue, roles, learners, profiles, true, events, params, latent)


def movielens_like_ratings(n_users: int = 900, n_items: int = 1600, mean_ratings: float = 100.0, seed=0):
    """A rating log shaped like MovieLens 100K's ``u.data``: columns user, item, rating (1..5), timestamp.

    Users and items carry latent tastes in a few genres; a user rates items drawn by popularity (Zipf-like)
    and taste, and the rating rises with the taste match. Only the shape and the kind of signal match
    the public data (no number of ours is tuned to it): a test fixture and an experiment input for the
    data scientist's path (tab-separated, no header, ratings).
    """
    rng = np.random.default_rng(seed)
    genres = 12
    user_taste = rng.dirichlet(np.full(genres, 0.3), size=n_users)
    item_genre = rng.dirichlet(np.full(genres, 0.2), size=n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    popularity = popularity[rng.permutation(n_items)]
    rows = []
    counts = rng.lognormal(np.log(mean_ratings) - 0.5, 1.0, size=n_users)
    counts = np.clip(counts, 20, n_items // 2).astype(int)
    for u in range(n_users):
        match = item_genre @ user_taste[u]
        p = popularity * (0.05 + match) ** 2
        items = rng.choice(n_items, size=counts[u], replace=False, p=p / p.sum())
        affinity = match[items] / max(match.max(), 1e-12)
        rating = np.clip(np.rint(1.5 + 3.5 * affinity + rng.normal(0, 0.8, items.size)), 1, 5).astype(int)
        start = 874_724_710 + rng.integers(0, 20_000_000)
        ts = start + np.sort(rng.integers(0, 5_000_000, size=items.size))
        rows.append(pd.DataFrame({"user": u + 1, "item": items + 1, "rating": rating, "timestamp": ts}))
    return pd.concat(rows, ignore_index=True)
