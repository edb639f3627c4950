"""Train/test splits of an event log (validated frame from :func:`recommender.data.validate_events`).

- ``temporal_global_split``: every event before the time quantile ``1 - test_fraction`` trains, the rest
  tests (the honest "predict the future" split).
- ``temporal_last_n_split``: each learner's last ``n`` distinct content items (by first-touch time) test;
  learners with fewer than ``min_train + n`` items keep everything in training.
- ``random_split``: a random ``test_fraction`` of (learner, content) pairs tests.
- ``leave_one_out_split``: each learner's last distinct item tests (last-n with n = 1).

Splits act on (learner, content) pairs, so all events of a pair land on the same side, except in the
global temporal split where a pair touched on both sides of the cut stays in training (it is not new).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Split:
    name: str
    train: pd.DataFrame
    test: pd.DataFrame


def _first_touch(events: pd.DataFrame) -> pd.DataFrame:
    pairs = events.groupby(["learner_id", "content_id"], sort=False)["timestamp"].min().reset_index()
    return pairs.sort_values(["learner_id", "timestamp"], kind="stable")


def _split_pairs(events: pd.DataFrame, test_pairs: pd.DataFrame, name: str) -> Split:
    key = events["learner_id"].astype(str) + "\x1f" + events["content_id"].astype(str)
    tkey = set(test_pairs["learner_id"].astype(str) + "\x1f" + test_pairs["content_id"].astype(str))
    is_test = key.isin(tkey).to_numpy()
    return Split(name, events[~is_test].reset_index(drop=True), events[is_test].reset_index(drop=True))


def temporal_global_split(events: pd.DataFrame, test_fraction: float = 0.2) -> Split:
    cut = float(np.quantile(events["timestamp"].to_numpy(), 1 - test_fraction))
    after = events["timestamp"].to_numpy() > cut
    train, test = events[~after], events[after]
    seen = set(train["learner_id"].astype(str) + "\x1f" + train["content_id"].astype(str))
    tkey = test["learner_id"].astype(str) + "\x1f" + test["content_id"].astype(str)
    old = tkey.isin(seen).to_numpy()
    train = pd.concat([train, test[old]]).sort_values("timestamp", kind="stable")
    return Split(
        f"temporal-global({test_fraction})", train.reset_index(drop=True), test[~old].reset_index(drop=True)
    )


def temporal_last_n_split(events: pd.DataFrame, n: int = 2, min_train: int = 2) -> Split:
    pairs = _first_touch(events)
    rank_from_end = pairs.groupby("learner_id", sort=False).cumcount(ascending=False).to_numpy()
    size = pairs.groupby("learner_id", sort=False)["content_id"].transform("size").to_numpy()
    test_pairs = pairs[(rank_from_end < n) & (size >= n + min_train)]
    return _split_pairs(events, test_pairs, f"last-{n}")


def leave_one_out_split(events: pd.DataFrame, min_train: int = 2) -> Split:
    split = temporal_last_n_split(events, n=1, min_train=min_train)
    split.name = "leave-one-out"
    return split


def random_split(events: pd.DataFrame, test_fraction: float = 0.2, seed=0) -> Split:
    rng = np.random.default_rng(seed)
    pairs = events[["learner_id", "content_id"]].drop_duplicates()
    test_pairs = pairs[rng.random(len(pairs)) < test_fraction]
    return _split_pairs(events, test_pairs, f"random({test_fraction})")


SPLITS = {
    "temporal": temporal_global_split,
    "last-n": temporal_last_n_split,
    "random": random_split,
    "leave-one-out": leave_one_out_split,
}


def split_options(kind: str, test_share: float | None = None, seed=0) -> dict:
    """Keyword arguments of split ``kind``: the test share (random and temporal splits) and the seed."""
    if kind not in SPLITS:
        raise ValueError(f"unknown split {kind!r}; choose one of {sorted(SPLITS)}")
    kw: dict = {"seed": seed} if kind == "random" else {}
    if test_share is not None:
        if kind not in ("random", "temporal"):
            raise ValueError(f"a test share applies to the random and temporal splits, not {kind!r}")
        if not 0.0 < test_share < 1.0:
            raise ValueError(f"the test share must lie strictly between 0 and 1, got {test_share}")
        kw["test_fraction"] = float(test_share)
    return kw


def external_split(train: pd.DataFrame, test: pd.DataFrame) -> Split:
    """The data scientist's own split: training and test events given as two logs.

    Test pairs that also occur in training stay out of the relevant sets (evaluation drops items a
    learner touched in training), exactly as with our own splits.
    """
    return Split("external", train.reset_index(drop=True), test.reset_index(drop=True))


LATER_SHARE = 0.9  # share of learners whose test is later than their training that makes a split temporal


def mirror_options(train: pd.DataFrame, test: pd.DataFrame) -> tuple[str, dict]:
    """The split of our own that looks like an external (train, test) pair: (kind, keyword arguments).

    Validation carved from an external training log should be held out the way the test was, or the
    tuning optimises for another task (e.g. each learner's last 2 items while the test is a random quarter
    of their history: other hyper-parameters win). Read from the pair itself:

    - every test event after (almost) every training event (at most 5% of training events come after the
      first test event): a global time cut, ``temporal`` with the test share of events;
    - else, for at least ``LATER_SHARE`` of the learners in both logs, their first test item touched at
      or after the first touch of their last training item: a per-learner hold-out of the latest items,
      ``last-n`` with n the median number of test items per learner;
    - else (also when the logs carry no timestamps, so time is row order in each file): ``random`` with
      the share of (learner, content) pairs the test holds.
    """
    test_pairs = test[["learner_id", "content_id"]].drop_duplicates()
    train_pairs = train[["learner_id", "content_id"]].drop_duplicates()
    share = round(float(np.clip(len(test_pairs) / max(len(test_pairs) + len(train_pairs), 1), 0.01, 0.99)), 3)
    if len(test) and len(train):
        t_train, t_test = train["timestamp"].to_numpy(float), test["timestamp"].to_numpy(float)
        # a global cut leaves in training only old pairs touched again after it (a few events)
        if float(np.mean(t_train > t_test.min())) <= 0.05 and t_test.min() > t_train.min():
            fraction = round(float(np.clip(len(test) / (len(test) + len(train)), 0.01, 0.99)), 3)
            return "temporal", {"test_fraction": fraction}
        # by first touch of each pair, as last-n holds out (a training item may be completed later)
        last_train = _first_touch(train).groupby("learner_id", sort=False)["timestamp"].max()
        first_test = test.groupby("learner_id", sort=False)["timestamp"].min()
        both = first_test.index.intersection(last_train.index)
        if len(both) and float((first_test[both] >= last_train[both]).mean()) >= LATER_SHARE:
            n = int(max(1, round(float(test_pairs.groupby("learner_id").size().median()))))
            return "last-n", {"n": n}
    return "random", {"test_fraction": share}


def validation_split(outer: Split, kind: str | None = None, options: dict | None = None, seed=0) -> Split:
    """Validation carved from ``outer.train`` for tuning (the test is never looked at).

    ``kind`` None after an external split: held out the way its test was (:func:`mirror_options`);
    otherwise split ``kind`` (default ``last-n``) with ``options`` (those of the outer split: validation
    repeats how the test was held out). The name says which, e.g.
    ``validation random(0.25), mirroring the external split``.
    """
    if kind is None and outer.name == "external":
        kind, kw = mirror_options(outer.train, outer.test)
        kw = {**kw, "seed": seed} if kind == "random" else kw
        inner = make_split(outer.train, kind, **kw)
        inner.name = f"validation {inner.name}, mirroring the external split"
        return inner
    inner = make_split(outer.train, kind or "last-n", **(options or {}))
    inner.name = f"validation {inner.name}"
    return inner


def make_split(events: pd.DataFrame, kind: str = "last-n", **kwargs) -> Split:
    try:
        fn = SPLITS[kind]
    except KeyError:
        raise ValueError(f"unknown split {kind!r}; choose one of {sorted(SPLITS)}") from None
    return fn(events, **kwargs)
