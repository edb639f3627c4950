"""Small-group suppression so that no published figure singles out an individual.

Rule (threshold rule with complementary suppression, as in statistical disclosure control):

1. *Primary*: a group with fewer than ``min_size`` members (but at least one) is suppressed.
2. *Secondary*: the groups of one partition (all roles, or all units) add up to the organisation total,
   which is itself published. If the suppressed groups together held fewer than ``min_size`` members,
   "total minus the published groups" would give their figure back, so the smallest published groups
   are suppressed as well until the suppressed ones hold at least ``min_size`` members together.

3. *Overlaps* (when the members of each group are known): groups of different partitions overlap (a
   role and a unit made mostly of that role). If two published groups A and B differ by 1 to
   ``min_size - 1`` people (A and B without their common members), the difference of their figures is
   about those few alone, so the smaller group of such a pair is suppressed as well, until no published
   pair differs so.

The rule is applied to group sizes first, then to every cell (area, competence, content ...) across the
groups of a partition, with the groups already suppressed kept suppressed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from adaptive.errors import ValidationError

DEFAULT_MIN_GROUP_SIZE = 5


def check_min_size(min_size: int) -> int:
    if isinstance(min_size, bool) or not isinstance(min_size, int | np.integer) or min_size < 1:
        raise ValidationError(f"must be an integer >= 1, got {min_size!r}", field="min_group_size")
    return int(min_size)


def suppression_mask(sizes, min_size: int = DEFAULT_MIN_GROUP_SIZE, hidden=None) -> np.ndarray:
    """(G,) bool: which groups of one partition to suppress, given their sizes (0 = empty, never hidden).

    ``hidden``: groups suppressed already (e.g. for being too small as a whole); kept suppressed.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    min_size = check_min_size(min_size)
    mask = (sizes > 0) & (sizes < min_size)
    if hidden is not None:
        mask |= np.asarray(hidden, dtype=bool) & (sizes > 0)
    # secondary: the suppressed groups together must not be recoverable from the published total
    while 0 < sizes[mask].sum() < min_size:
        candidates = np.flatnonzero(~mask & (sizes > 0))
        if candidates.size == 0:
            break
        mask[candidates[np.argmin(sizes[candidates])]] = True
    return mask


def overlap_mask(members, min_size: int = DEFAULT_MIN_GROUP_SIZE, hidden=None) -> np.ndarray:
    """(G,) bool: ``hidden`` extended so that no two shown groups differ by 1 to ``min_size - 1`` people.

    ``members``: (G, L) bool, which of L people belong to each group (groups of any partitions, one cell).
    Two groups differ by the people in one and not the other (the symmetric difference: a group nested in
    another with a few more people is the typical case). Of a failing pair the smaller group is
    suppressed (the larger figure covers more people); repeated until every shown pair differs by 0 or
    >= ``min_size`` people.
    """
    m = np.asarray(members, dtype=bool)
    min_size = check_min_size(min_size)
    sizes = m.sum(axis=1)
    mask = np.zeros(len(m), dtype=bool) if hidden is None else np.asarray(hidden, dtype=bool).copy()
    counts = m.astype(np.int32)
    while True:
        shown = np.flatnonzero(~mask & (sizes > 0))
        if shown.size < 2:
            return mask
        inter = counts[shown] @ counts[shown].T
        only = sizes[shown][:, None] - inter                 # |A \ B| for A = row, B = column
        differ = only + only.T
        bad = (differ > 0) & (differ < min_size)
        if not bad.any():
            return mask
        i, j = np.argwhere(bad)[0]
        a, b = shown[i], shown[j]
        mask[b if sizes[b] <= sizes[a] else a] = True


def suppress_partition(frame: pd.DataFrame, by: list[str], size: str, value_columns: list[str],
                       min_size: int, hidden_groups: set | None = None, group: str = "group",
                       members: list | None = None) -> pd.DataFrame:
    """Apply :func:`suppression_mask` within each ``by`` partition of ``frame`` (rows = groups).

    Suppressed rows get NaN in ``value_columns`` and <NA> in ``size`` (a size alone is not secret, but a
    size below the threshold would say "these few people"), and ``suppressed = True``.
    ``hidden_groups``: ``(by[0], group)`` pairs suppressed already at the group level.
    ``members``: optional, per row a (L,) bool vector of who the row covers (all over the same L
    people); then :func:`overlap_mask` runs per cell (``by`` without ``by[0]``, the grouping) across the
    groupings.
    """
    out = frame.copy()
    out["suppressed"] = False
    if out.empty:
        return out
    keys = out[by].astype(str).agg("\x1f".join, axis=1) if by else pd.Series("", index=out.index)
    for _, idx in out.groupby(keys, sort=False).groups.items():
        part = out.loc[idx]
        pre = None
        if hidden_groups:
            pre = np.array([(g0, g) in hidden_groups for g0, g in zip(part[by[0]], part[group], strict=True)])
        mask = suppression_mask(part[size].fillna(0).to_numpy(), min_size, pre)
        out.loc[idx[mask], "suppressed"] = True
    if members is not None and len(members):
        rows = np.arange(len(out))
        cells = by[1:]
        keys = out[cells].astype(str).agg("\x1f".join, axis=1) if cells else pd.Series("", index=out.index)
        matrix = np.vstack([np.asarray(v, dtype=bool) for v in members])
        for _, pos in pd.Series(rows, index=out.index).groupby(keys.to_numpy(), sort=False):
            pos = pos.to_numpy()
            hidden = out["suppressed"].to_numpy()[pos]
            mask = overlap_mask(matrix[pos], min_size, hidden)
            out.loc[out.index[pos[mask]], "suppressed"] = True
    hide = out["suppressed"].to_numpy()
    for col in value_columns:
        out[col] = out[col].astype(float)
        out.loc[hide, col] = np.nan
    out[size] = out[size].astype("Int64").mask(hide)     # counts stay integers; suppressed -> <NA>
    return out
