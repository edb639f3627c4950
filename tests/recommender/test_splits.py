"""Splits: disjoint pairs, the right sizes, time order respected."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.splits import (
    external_split,
    leave_one_out_split,
    make_split,
    mirror_options,
    random_split,
    temporal_global_split,
    temporal_last_n_split,
    validation_split,
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


def test_validation_mirrors_an_external_split(world):
    ev = world.events
    # a random 25% of the pairs: random validation with that share of the training pairs
    r = random_split(ev, test_fraction=0.25, seed=1)
    kind, kw = mirror_options(r.train, r.test)
    n_pairs = len(pairs(ev))
    assert kind == "random" and abs(kw["test_fraction"] - 0.25) < 4 * np.sqrt(0.25 * 0.75 / n_pairs)
    inner = validation_split(external_split(r.train, r.test), seed=2)
    assert "mirroring" in inner.name and pairs(inner.test) <= pairs(r.train)
    share = len(pairs(inner.test)) / len(pairs(r.train))
    assert abs(share - kw["test_fraction"]) < 4 * np.sqrt(0.25 * 0.75 / len(pairs(r.train)))
    # each learner's latest 3 items: last-n with n = 3
    last = temporal_last_n_split(ev, n=3)
    assert mirror_options(last.train, last.test) == ("last-n", {"n": 3})
    inner = validation_split(external_split(last.train, last.test))
    assert (inner.test.groupby("learner_id")["content_id"].nunique() == 3).all()
    # a global time cut at 85% of the events: temporal, with about that share
    cut = temporal_global_split(ev, test_fraction=0.15)
    kind, kw = mirror_options(cut.train, cut.test)
    assert kind == "temporal" and 0.08 < kw["test_fraction"] <= 0.15
    # files without timestamps (time is row order in each file): nothing temporal can be read, so random
    shuffled = r.test.sample(frac=1.0, random_state=0)
    shuffled = shuffled.assign(timestamp=np.arange(len(shuffled), dtype=float))
    train_rows = r.train.assign(timestamp=np.arange(len(r.train), dtype=float))
    assert mirror_options(train_rows, shuffled)[0] == "random"
    # a split named explicitly is used as named
    assert validation_split(external_split(r.train, r.test), "last-n", {"n": 1}).name == "validation last-1"
