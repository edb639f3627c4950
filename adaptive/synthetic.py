"""Synthetic DigComp item banks and simulated responses, for demos, tests and simulation studies.

Parameters follow what operational banks look like: discrimination log-normal around 1.2,
difficulty placed inside the theta band of the item's intended level (bands from the cut scores),
a share of 3PL multiple-choice items with guessing around 0.2, and some 5-category GRM
self-assessment items with increasing thresholds. Content is readable placeholder text per
language ("[lt] ..."). Everything is driven by one seed, so a bank is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from adaptive.framework import Framework, load_framework
from adaptive.itembank import DEFAULT_CUT_SCORES, Item, ItemBank, ItemContent

A_MEDIAN = 1.2
A_LOG_SD = 0.25
A_RANGE = (0.4, 3.0)
C_BETA = (4.0, 16.0)  # mean 0.2
C_RANGE = (0.05, 0.35)
GRM_CATEGORIES = 5
# self-reports on a statement discriminate less than knowledge items (and five categories already carry
# more information per item): without this a CAT on DigComp 3.0 would give almost only rating-scale items
SELF_ASSESSMENT_A_MEDIAN = 0.8
# the outermost levels get a band this wide beyond the first/last cut
OUTER_BAND = 0.7
N_MC_OPTIONS = 4
SHARE_WITH_MEDIA = 0.1

SCALE_LABELS = ("Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree")
TASK_VERBS = (
    "Which option best describes how to",
    "What is the most appropriate way to",
    "A colleague asks you how to",
    "Which step should you take first to",
)


def level_bands(cut_scores: Sequence[float]) -> np.ndarray:
    """(L, 2) theta interval of each of the L = len(cut_scores) + 1 levels: between consecutive cuts,
    outer levels OUTER_BAND wide."""
    cuts = np.asarray(cut_scores, dtype=float)
    edges = np.concatenate([[cuts[0] - OUTER_BAND], cuts, [cuts[-1] + OUTER_BAND]])
    return np.column_stack([edges[:-1], edges[1:]])


def default_cut_scores(framework: Framework) -> tuple[float, ...]:
    """Theta cut scores for the framework's own level scheme (``n_levels - 1`` of them).

    Eight levels: ``DEFAULT_CUT_SCORES``. A scheme stated as a coarsening of an eight-level scheme
    (DigComp 3.0: each named level is two of the eight) takes the default cuts at its boundaries, so the
    same person gets the same level either way. Otherwise the cuts are spread evenly over the range of
    the default ones."""
    n = framework.n_levels
    if n == len(DEFAULT_CUT_SCORES) + 1:
        return tuple(DEFAULT_CUT_SCORES)
    m = framework.mapping(framework.scheme_id, "eight-level")
    if m is not None and all(len(v) >= 1 for v in m.pairs.values()) and len(m.pairs) == n:
        # the eight-level boundary above each own level but the last
        return tuple(DEFAULT_CUT_SCORES[max(m.pairs[k]) - 1] for k in range(1, n))
    if n == 2:
        return (0.0,)
    return tuple(float(x) for x in np.linspace(DEFAULT_CUT_SCORES[0], DEFAULT_CUT_SCORES[-1], n - 1))


def generate_synthetic_bank(
    framework: Framework | None = None,
    items_per_competence: int = 48,
    languages: Sequence[str] = ("en", "lt", "lv"),
    share_3pl: float = 0.2,
    share_grm: float = 0.1,
    n_pilot_per_competence: int = 0,
    seed: int | np.random.Generator = 0,
    cut_scores: Sequence[float] | None = None,
    area_correlation: float = 0.6,
    n_enemy_pairs_per_competence: int = 1,
    name: str = "synthetic DigComp bank",
    statement_items: bool = True,
) -> ItemBank:
    """Generate a valid bank: per competence ``items_per_competence`` active items spread evenly over
    levels of the framework's own scheme (plus ``n_pilot_per_competence`` pilot items), 2PL by default,
    with the given shares of 3PL and GRM items. ``cut_scores``: one list for every area (default
    :func:`default_cut_scores`). The bank validates against ``framework``.

    With ``statement_items`` and a framework that has competence statements (DigComp 3.0), the bank
    shows real framework content: every statement becomes a self-assessment item (rating scale, GRM) at
    the statement's level, beside ``items_per_competence`` knowledge items (2PL/3PL) whose stems are the
    competence's knowledge learning outcomes; each item names what it measures (``Item.measures``).
    Answer options of knowledge items stay placeholders: the framework has no test questions."""
    framework = framework or load_framework()
    cut_scores = default_cut_scores(framework) if cut_scores is None else tuple(cut_scores)
    if items_per_competence < 1:
        raise ValueError("items_per_competence must be >= 1")
    if not (0 <= share_3pl and 0 <= share_grm and share_3pl + share_grm <= 1):
        raise ValueError("share_3pl and share_grm must be >= 0 and sum to at most 1")
    # an equicorrelation matrix is positive definite iff -1/(D-1) < r < 1
    if len(framework.areas) > 1 and not -1 / (len(framework.areas) - 1) < area_correlation < 1:
        raise ValueError("area_correlation must keep the equicorrelation matrix positive definite")
    rng = np.random.default_rng(seed)
    # Item numbers are drawn from their own stream (spawned: the main stream, and so every parameter,
    # stays as before): numbered in generation order, an id would give away the intended level.
    numbering = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
    bands = level_bands(cut_scores)
    items: list[Item] = []
    real = statement_items and bool(framework.statements)
    for comp in framework.competences:
        comp_items = []
        # one numbering over active and pilot items: an id tells neither the level nor that an item is
        # unscored (a test taker would skip pilot items, spoiling their calibration)
        numbers = iter(numbering.permutation(items_per_competence + max(0, n_pilot_per_competence)) + 1)
        knowledge = [o for o in framework.outcomes if o.competence_id == comp.id and o.type == "knowledge"]
        for status, n in (("active", items_per_competence), ("pilot", n_pilot_per_competence)):
            if n <= 0:
                continue
            # levels cycle 1..L so every level is covered once n >= L; models assigned at random
            levels = np.arange(n) % len(bands) + 1
            # with real statements the rating-scale items are the statements themselves
            n_grm = 0 if real else int(round(share_grm * n))
            n_3pl = int(round(share_3pl * n))
            models = np.array(["GRM"] * n_grm + ["3PL"] * n_3pl + ["2PL"] * (n - n_grm - n_3pl))
            rng.shuffle(models)
            for k in range(n):
                item_id = f"DC-{comp.id}-{int(next(numbers)):03d}"
                number = len(comp_items) + 1
                text, measures = None, []
                if real and knowledge:
                    at_level = [o for o in knowledge if o.level == levels[k]] or knowledge
                    outcome = at_level[(number - 1) // len(bands) % len(at_level)]
                    text, measures = f"Knowledge check: {outcome.description}", [outcome.id]
                comp_items.append(
                    _make_item(rng, item_id, comp, int(levels[k]), str(models[k]), status, bands, languages,
                               text=text, measures=measures)
                )
        if real:
            for j, st in enumerate(s for s in framework.statements if s.competence_id == comp.id):
                comp_items.append(_make_item(
                    rng, f"SA-{comp.id}-{j + 1:03d}", comp, st.level, "GRM", "active", bands, languages,
                    a_median=SELF_ASSESSMENT_A_MEDIAN,
                    text=f"How well does this describe you? \u201c{st.description}\u201d", measures=[st.id]))
        _add_enemies(rng, comp_items, n_enemy_pairs_per_competence)
        items.extend(comp_items)
    d = len(framework.areas)
    corr = np.full((d, d), float(area_correlation))
    np.fill_diagonal(corr, 1.0)
    provenance = {
        "source": "synthetic",
        "generator": "adaptive.synthetic.generate_synthetic_bank",
        "seed": seed if isinstance(seed, int) else None,
        "items_per_competence": items_per_competence,
        "share_3pl": share_3pl,
        "share_grm": share_grm,
        "n_pilot_per_competence": n_pilot_per_competence,
    }
    bank = ItemBank(
        items=items,
        framework_version=framework.version,
        languages=list(languages),
        cut_scores={a: list(cut_scores) for a in framework.area_ids},
        area_ids=list(framework.area_ids),
        area_correlation=corr,
        provenance=provenance,
        name=name,
        framework_id=framework.id,
    )
    bank.validate(framework)
    return bank


def _make_item(
    rng: np.random.Generator,
    item_id: str,
    comp,
    level: int,
    model: str,
    status: str,
    bands: np.ndarray,
    languages: Sequence[str],
    text: str | None = None,
    measures: Sequence[str] = (),
    a_median: float = A_MEDIAN,
) -> Item:
    a = float(np.clip(rng.lognormal(np.log(a_median), A_LOG_SD), *A_RANGE))
    lo, hi = bands[level - 1]
    centre = float(rng.uniform(lo, hi))
    c = 0.0
    if model == "GRM":
        # gaps of mean 0.8 between thresholds, centred on the level's band
        gaps = 0.4 + rng.gamma(4.0, 0.1, GRM_CATEGORIES - 2)
        b = np.concatenate([[0.0], np.cumsum(gaps)])
        b = b - b.mean() + centre
        key: int | list[int] = list(range(GRM_CATEGORIES))
    else:
        b = np.array([centre])
        key = int(rng.integers(N_MC_OPTIONS))
        if model == "3PL":
            c = float(np.clip(rng.beta(*C_BETA), *C_RANGE))
    verb = TASK_VERBS[int(rng.integers(len(TASK_VERBS)))]
    media = [f"media/{item_id}.png"] if rng.random() < SHARE_WITH_MEDIA else []
    content = {}
    # Stems name the competence, never the intended level: shown with the item, a level would tell the
    # test taker the item's difficulty (and, across sessions, which answers moved the test up or down).
    for lang in languages:
        if text is not None:       # real framework text; other languages marked until translated
            mark = "" if lang == "en" else f"[{lang}] "
            stem = f"{mark}{text}" + ("" if model == "GRM" else f" [{item_id}]")
            letters = [f"Option {chr(65 + j)}" for j in range(N_MC_OPTIONS)]
            labels = SCALE_LABELS if model == "GRM" else letters
            options = [f"{mark}{label}" for label in labels]
        elif model == "GRM":
            stem = (
                f"[{lang}] Self-assessment ({comp.id} {comp.name}): "
                f"I can handle such tasks in '{comp.name.lower()}' without help. [{item_id}]"
            )
            options = [f"[{lang}] {label}" for label in SCALE_LABELS]
        else:
            stem = f"[{lang}] {verb} deal with a task in '{comp.name.lower()}' ({comp.id})? [{item_id}]"
            options = [f"[{lang}] Option {chr(65 + j)}" for j in range(N_MC_OPTIONS)]
        content[lang] = ItemContent(stem=stem, options=options, media=list(media))
    return Item(
        id=item_id,
        area=comp.area_id,
        competence=comp.id,
        level=level,
        model=model,
        a=a,
        b=[float(x) for x in b],
        c=c,
        d=1.0,
        status=status,
        content=content,
        key=key,
        enemies=[],
        measures=list(measures),
    )


def _add_enemies(rng: np.random.Generator, items: list[Item], n_pairs: int) -> None:
    """Mark pairs of items of the same level as enemies (they would cue each other)."""
    by_level: dict[int, list[Item]] = {}
    for it in items:
        if not it.enemies:
            by_level.setdefault(it.level, []).append(it)
    candidates = [lv for lv, its in by_level.items() if len(its) >= 2]
    for lv in rng.permutation(candidates)[:n_pairs] if candidates else []:
        first, second = rng.choice(len(by_level[int(lv)]), size=2, replace=False)
        x, y = by_level[int(lv)][int(first)], by_level[int(lv)][int(second)]
        x.enemies.append(y.id)
        y.enemies.append(x.id)


def simulate_responses(params, theta: np.ndarray, rng: int | np.random.Generator = 0) -> np.ndarray:
    """(N, n) responses of N simulees with ``theta`` (N,) to every item: 0/1 for dichotomous items,
    category 0..K-1 for GRM items. ``params`` is an ``adaptive.irt.ItemParameters``."""
    rng = np.random.default_rng(rng)
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    n_items = len(params.a)
    out = np.empty((theta.size, n_items), dtype=np.int64)
    max_cat = np.asarray(params.n_categories) - 1
    # chunk persons so the (T, n, K) probability cube stays around 16 MB
    k_max = int(max_cat.max()) + 1 if n_items else 2
    step = max(1, 2_000_000 // max(1, n_items * k_max))
    for start in range(0, theta.size, step):
        t = theta[start : start + step]
        probs = params.category_probabilities(t)  # (T, n, K)
        cum = np.cumsum(probs, axis=2)
        u = rng.random((t.size, n_items, 1))
        # category = number of cumulative probabilities below u; clip guards rounding at the top
        out[start : start + step] = np.minimum((cum < u).sum(axis=2), max_cat)
    return out
