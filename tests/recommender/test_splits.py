"""Splits: disjoint pairs, the right sizes, time order respected."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.splits import (
    leave_one_out_split,
    make_split,
    random_split,
    temporal_global_split,
    temporal_last_n_split,
)


def pairs(frame):
    return set(zip(frame["learner_id"], frame["content_id"], strict=True))


def test_last_n_holds_out_each_learners_latest_items(world):
    ev = world.events
    s = temporal_last_n_split(ev, n=2, min_train=2)
    assert pairs(s.train).isdisjoint(pairs(s.test)) and len(s.train) + len(s.test) == len(ev)
    per = s.test.groupby("learner_id")["content_id"].nunique()
    assert (per == 2).all()
    # every held-out item was first touched after every training item of that learner
    first_train = s.train.groupby(["learner_id", "content_id"])["timestamp"].min().groupby("learner_id").max()
    first_test = s.test.groupby(["learner_id", "content_id"])["timestamp"].min().groupby("learner_id").min()
    assert (first_test >= first_train.reindex(first_test.index)).all()
    # learners with fewer than n + min_train items keep all of them in training
    n_items = ev.groupby("learner_id")["content_id"].nunique()
    short = set(n_items[n_items < 4].index)
    assert short and short.isdisjoint(set(s.test["learner_id"]))


def test_leave_one_out_and_random(world):
    ev = world.events
    loo = leave_one_out_split(ev)
    assert (loo.test.groupby("learner_id")["content_id"].nunique() == 1).all()
    r = random_split(ev, test_fraction=0.2, seed=3)
    n_pairs = len(pairs(ev))
    # binomial(n_pairs, 0.2): 4 standard deviations
    assert abs(len(pairs(r.test)) - 0.2 * n_pairs) < 4 * np.sqrt(n_pairs * 0.16)
    assert pairs(r.train).isdisjoint(pairs(r.test))
    assert pairs(random_split(ev, 0.2, seed=3).test) == pairs(r.test)


def test_temporal_global_cut(world):
    ev = world.events
    s = temporal_global_split(ev, test_fraction=0.2)
    assert s.test["timestamp"].min() > ev["timestamp"].quantile(0.8) - 1e-9
    assert pairs(s.train).isdisjoint(pairs(s.test))  # re-touched old pairs stay in training
    assert 0.1 < len(s.test) / len(ev) <= 0.2
    with pytest.raises(ValueError, match="unknown split"):
        make_split(ev, "sideways")
