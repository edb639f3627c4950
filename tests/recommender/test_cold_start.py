"""Content-based cold start (issue 18): content the model has never seen is ranked from its tags until a
retraining with interactions folds it in; retired content is never recommended."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptive.errors import DataFileError
from recommender.data import Catalogue, ranking_level
from recommender.live_catalogue import (
    merge_catalogue,
    read_content_file,
    records_from_catalogue,
    validate_content,
    write_content_file,
)
from recommender.rankers.cold_start import MATCHED_ON_TAGS, ColdStartRanker
from recommender.training import train_bundle
from tests.api.e2e_models import small_bundle, small_world


@pytest.fixture(scope="module")
def world():
    return small_world()


@pytest.fixture(scope="module")
def bundle(world):
    return small_bundle(world)


def _new(content_id: str, competence: str, level: int, **extra) -> dict:
    return validate_content({"content_id": content_id, "title": f"new {content_id}", "format": "course",
                             "languages": ["en"], "competences": [competence], "level": level, **extra})


def _learner_with_gap(bundle):
    """A training learner (the personal route) given a profile with one large gap: 1.1 at level 2 for a
    role needing more; every other competence at the role's requirement (no gap)."""
    inter = bundle.interactions
    row = int(np.flatnonzero(inter.learner_role >= 0)[0])
    role = bundle.roles.role_ids[inter.learner_role[row]]
    required = bundle.roles.required_levels(role)
    comps = bundle.catalogue.competence_ids
    levels = {c: float(required.get(c, 1)) for c in comps}
    gap_comp = max(required, key=required.get)
    levels[gap_comp] = 1.0
    no_gap_comp = next(c for c in comps if c != gap_comp)
    levels[no_gap_comp] = 8.0
    return str(inter.learner_ids[row]), role, {"competence_levels": levels}, gap_comp, no_gap_comp


def _score(view, learner, profile, content_id):
    return view.explain(learner, content_id, profile=profile)


def test_new_content_is_ranked_from_its_tags_before_any_interaction(bundle):
    learner, role, profile, gap_comp, no_gap = _learner_with_gap(bundle)
    records = records_from_catalogue(bundle.catalogue)
    fits = _new("NEW-FIT", gap_comp, 2)           # the next level up in the largest gap
    twin = _new("NEW-TWIN", gap_comp, 2)          # same tags, other id: same score (nothing but tags)
    off = _new("NEW-OFF", no_gap, 2)              # a competence the learner has mastered
    view = bundle.with_catalogue(merge_catalogue(bundle.catalogue, [*records, fits, twin, off]))
    assert isinstance(view.ranker, ColdStartRanker) and len(view.catalogue) == len(bundle.catalogue) + 3

    recs = view.recommend(learner, k=10, profile=profile)
    assert recs.strategy == "personal"
    ids = [r.content_id for r in recs]
    assert "NEW-FIT" in ids and "NEW-OFF" not in ids
    fit = next(r for r in recs if r.content_id == "NEW-FIT")
    assert MATCHED_ON_TAGS in fit.reason and gap_comp in fit.reason
    assert all(MATCHED_ON_TAGS not in r.reason for r in recs if not r.content_id.startswith("NEW-"))

    a, b, c = (_score(view, learner, profile, x) for x in ("NEW-FIT", "NEW-TWIN", "NEW-OFF"))
    assert a["score"] == pytest.approx(b["score"]) and a["score"] > c["score"]
    # the trained content keeps the model's scores exactly
    base = bundle.explain(learner, str(bundle.catalogue.ids[0]), profile=profile)
    assert view.explain(learner, str(bundle.catalogue.ids[0]), profile=profile)["score"] == pytest.approx(
        base["score"])

    # change the tags, the score follows: NEW-FIT re-tagged to the mastered competence drops to NEW-OFF's
    moved = {**fits, "competences": [no_gap]}
    view2 = bundle.with_catalogue(merge_catalogue(bundle.catalogue, [*records, moved, twin, off]))
    assert _score(view2, learner, profile, "NEW-FIT")["score"] == pytest.approx(c["score"])
    assert "NEW-FIT" not in [r.content_id for r in view2.recommend(learner, k=10, profile=profile)]
    # and a level far above the learner's next level scores less than the next level up
    far = {**fits, "level": 8}
    view3 = bundle.with_catalogue(merge_catalogue(bundle.catalogue, [*records, far, twin, off]))
    assert _score(view3, learner, profile, "NEW-FIT")["score"] < a["score"]


def test_new_content_in_gap_role_and_pathway_routes(bundle):
    _, role, profile, gap_comp, _ = _learner_with_gap(bundle)
    records = records_from_catalogue(bundle.catalogue)
    # the only content at levels 2..3 of the gap competence is new: the pathway must take it
    kept = [r if not (gap_comp in r["competences"] and r["level"] in (2, 3)) else {**r, "status": "retired"}
            for r in records]
    view = bundle.with_catalogue(merge_catalogue(bundle.catalogue, [*kept, _new("NEW-2", gap_comp, 2)]))
    gap = view.recommend("someone-new", k=5, profile=profile, role=role)
    assert gap.strategy == "gap" and gap[0].content_id == "NEW-2" and MATCHED_ON_TAGS in gap[0].reason
    steps = view.pathway("someone-new", profile=profile, role=role)
    step = next(s for s in steps if s.competence == gap_comp and s.level == 2)
    assert step.content_id == "NEW-2" and MATCHED_ON_TAGS in step.reason
    retired = {r["content_id"] for r in kept if r["status"] == "retired"}
    assert not retired & {s.content_id for s in steps}
    role_recs = view.recommend_for_role(role, k=len(view.catalogue))
    assert not retired & {r.content_id for r in role_recs}
    new2 = next(r for r in role_recs if r.content_id == "NEW-2")
    assert MATCHED_ON_TAGS in new2.reason and "popular" not in new2.reason  # nobody has taken it yet


def test_retired_or_unlisted_content_is_never_recommended(bundle):
    learner, role, profile, _, _ = _learner_with_gap(bundle)
    top = [r.content_id for r in bundle.recommend(learner, k=5, profile=profile)]
    records = records_from_catalogue(bundle.catalogue)
    retired = [{**r, "status": "retired"} if r["content_id"] == top[0] else r for r in records]
    unlisted = [r for r in records if r["content_id"] != top[1]]  # the academy does not list it
    for recs_ in (retired, unlisted):
        view = bundle.with_catalogue(merge_catalogue(bundle.catalogue, recs_))
        gone = top[0] if recs_ is retired else top[1]
        everything = len(view.catalogue)
        assert gone not in [r.content_id for r in view.recommend(learner, k=everything, profile=profile)]
        assert gone not in [r.content_id for r in view.recommend_for_role(role, k=everything)]
        assert gone not in [s.content_id for s in view.pathway("x", profile=profile, role=role)]
    # without a catalogue of its own the bundle still serves its own (control: top[0] is recommendable)
    assert top[0] in [r.content_id for r in bundle.recommend(learner, k=5, profile=profile)]


def test_retraining_with_interactions_folds_new_content_in(bundle, world, tmp_path):
    learner, _, profile, gap_comp, _ = _learner_with_gap(bundle)
    new = _new("NEW-CF", gap_comp, 2)
    from adaptive.framework import get_framework

    lo = next(o for o in get_framework("digcomp-3.0").outcomes if o.competence_id == gap_comp)
    tagged = validate_content({"content_id": "NEW-LO", "title": "t", "format": "video", "languages": ["lt"],
                               "framework": "digcomp-3.0", "outcomes": [lo.id], "level": "Intermediate"})
    records = [*records_from_catalogue(bundle.catalogue), new, tagged]
    # the training export of the live catalogue reads back as the recommender's training catalogue
    path = write_content_file(records, tmp_path / "catalogue.csv")
    catalogue = Catalogue.read(path, bundle.catalogue.competence_ids)
    assert catalogue.ids[-2] == "NEW-CF" and catalogue.level[-2] == 2
    assert catalogue.competences[-1] == (gap_comp,) and catalogue.level[-1] == 4  # Intermediate: 3-4 of 8
    takers = pd.unique(world.events["learner_id"])[:40]
    extra = pd.DataFrame({"learner_id": takers, "content_id": "NEW-CF", "event": "completed", "value": 1.0,
                          "timestamp": world.events["timestamp"].max() + 1.0 + np.arange(len(takers)),
                          "event_id": [f"new-{i}" for i in range(len(takers))]})
    events = pd.concat([world.events, extra], ignore_index=True)
    retrained, _ = train_bundle(catalogue, world.roles, events, learners=world.learners, ranker="hybrid",
                                tune=False, baselines=False, progress=False)
    assert "NEW-CF" in retrained.catalogue.index
    from recommender.bundle import RecommenderBundle

    reloaded = RecommenderBundle.load(retrained.save(tmp_path / "bundle"))  # the saved catalogue reads back
    assert reloaded.catalogue.level.tolist() == retrained.catalogue.level.tolist()
    view = retrained.with_catalogue(merge_catalogue(retrained.catalogue, records))
    assert view.ranker.n_known_ == len(view.catalogue)  # nothing left to cold-start
    got = view.explain(learner, "NEW-CF", profile=profile)
    assert MATCHED_ON_TAGS not in got["reason"]
    assert got["score"] == pytest.approx(retrained.explain(learner, "NEW-CF", profile=profile)["score"])
    # and it now has a collaborative signal: a taker's neighbours get it from CF, not from tags
    cf = retrained.ranker.cf.score(_batch(retrained, takers[0]))
    assert cf[0, retrained.catalogue.index["NEW-CF"]] != 0


def _batch(bundle, learner_id):
    from recommender.profiles import LearnerBatch

    return LearnerBatch.single(bundle.interactions, str(learner_id))


def test_catalogue_file_form_levels_languages_and_errors(tmp_path):
    fw_levels = {"content_id": ["A", "B"], "title": ["a", "b"], "format": ["course", "video"],
                 "language": ["en;lt", "lt"], "framework": ["digcomp-3.0", ""], "competences": ["1.1", "2.1"],
                 "level": ["Intermediate", "6"], "status": ["active", "retired"]}
    cat = Catalogue.from_frame(pd.DataFrame(fw_levels))
    from adaptive.framework import get_framework

    fw = get_framework("digcomp-3.0")
    assert cat.level.tolist() == [ranking_level(fw, fw.level_scheme.number("Intermediate")), 6]
    assert cat.mask(language="lt").tolist() == [True, False]  # B offers lt but is retired
    assert cat.mask(language="en").tolist() == [True, False]
    path = tmp_path / "bad.csv"
    pd.DataFrame({**fw_levels, "level": ["Intermediate", "9"]}).to_csv(path, index=False)
    with pytest.raises(DataFileError) as err:
        read_content_file(path)
    assert err.value.file == str(path) and err.value.line == 3 and err.value.column == "level"


def test_live_events_on_new_content_leave_it_out_and_keep_the_model_scores(bundle):
    learner, _, profile, gap_comp, _ = _learner_with_gap(bundle)
    records = records_from_catalogue(bundle.catalogue)
    view = bundle.with_catalogue(merge_catalogue(
        bundle.catalogue, [*records, _new("NEW-FIT", gap_comp, 2), _new("NEW-TWIN", gap_comp, 2)]))
    events = [("NEW-FIT", "completed", 1.0)]
    ids = [r.content_id for r in view.recommend(learner, k=10, profile=profile, events=events)]
    assert "NEW-FIT" not in ids and "NEW-TWIN" in ids
    assert "NEW-FIT" in [r.content_id for r in view.recommend(learner, k=10, profile=profile)]
    # the model sees the learner's trained columns only: an event on new content is not a CF signal
    batch = view.ranker.known(_batch(view, learner))
    assert batch.history.shape[1] == len(bundle.catalogue)
    from recommender.profiles import LearnerBatch

    with_event = LearnerBatch.single(view.interactions, learner, events=events)
    assert view.ranker.known(with_event).history.nnz == _batch(bundle, learner).history.nnz
