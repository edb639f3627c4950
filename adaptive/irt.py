"""IRT models: response probabilities, log-likelihood, Fisher information (vectorised).

Parameterisation (slope-difficulty, logistic metric, no D=1.7):

- dichotomous 4PL family: ``P(X=1|theta) = c + (d - c) / (1 + exp(-a (theta - b)))``;
  1PL/2PL: c=0, d=1; 3PL: d=1.
- GRM: ``P(X>=k|theta) = 1 / (1 + exp(-a (theta - b_k)))`` for k=1..K-1, categories scored 0..K-1.

Numerical stability. Every item without lower/upper asymptotes (1PL, 2PL, GRM, 3PL with c=0) is
handled as a GRM: the probability of category k is written without subtraction as

    P_k = expit(a (theta - b_k)) * expit(-a (theta - b_{k+1})) * (1 - exp(-a (b_{k+1} - b_k)))

with b_0 = -inf and b_K = +inf, so its log and the score ``d log P_k / d theta = a (Q*_k - P*_{k+1})``
never see 0/0 or log(0), whatever theta. Items with asymptotes use ``logaddexp`` forms. Nothing
overflows for |theta| up to 1e3 and any a > 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit

from adaptive.errors import ValidationError

MODELS = ("1PL", "2PL", "3PL", "4PL", "GRM")


def _as_theta(theta) -> np.ndarray:
    t = np.atleast_1d(np.asarray(theta, dtype=float))
    if t.ndim != 1:
        raise ValidationError(f"theta must be a scalar or 1-D array, got shape {t.shape}", field="theta")
    if not np.all(np.isfinite(t)):
        raise ValidationError("theta must be finite", field="theta")
    return t


def parameter_problem(model, a, b, c, d, n_categories) -> tuple[int, str, str] | None:
    """The first parameter rule broken, as (item index, field, reason), or None if all items are valid.

    The one definition of what valid item parameters are (``ItemParameters`` and the item bank's
    validation both call it). Arrays as in ``ItemParameters``: ``b`` (n, K_max - 1), NaN-padded.
    """
    model = np.asarray(model, dtype=str)
    a, b, c, d = (np.asarray(x, dtype=float) for x in (a, b, c, d))
    k = np.asarray(n_categories)
    poly = model == "GRM"
    col = np.arange(b.shape[1])
    used = col[None, :] < (k - 1)[:, None]
    n_given = np.sum(~np.isnan(b), axis=1)
    with np.errstate(invalid="ignore"):
        rising = np.diff(b, axis=1) > 0
    no_c = np.isin(model, ("1PL", "2PL", "GRM"))
    # (field, broken per item, reason for item i); checked in this order, the first broken rule wins
    rules = (
        ("model", ~np.isin(model, MODELS),
         lambda i: f"unknown IRT model {model[i]!r} (expected one of {', '.join(MODELS)})"),
        ("a", ~(np.isfinite(a) & (a > 0)),
         lambda i: f"discrimination a must be finite and > 0, got {a[i]!r}"),
        ("b", poly & (k < 2), lambda i: "a GRM item needs at least one threshold"),
        ("n_categories", ~poly & (k != 2), lambda i: "dichotomous items have 2 categories"),
        ("n_categories", k - 1 > b.shape[1], lambda i: "more categories than thresholds"),
        ("b", np.any(used & ~np.isfinite(b), axis=1),
         lambda i: f"difficulties/thresholds must be finite, got {_used(b, k, i)}"),
        ("b", ~poly & (n_given != 1),
         lambda i: f"a {model[i]} item has exactly one difficulty, got {n_given[i]} values"),
        ("b", poly & (n_given != k - 1),
         lambda i: f"a GRM item with {k[i]} categories has {k[i] - 1} thresholds, got {n_given[i]}"),
        ("b", np.any(used[:, 1:] & ~rising, axis=1),
         lambda i: f"GRM thresholds must be strictly increasing, got {_used(b, k, i)}"),
        ("c", ~((c >= 0) & (c < 1)), lambda i: f"guessing c must be in [0, 1), got {c[i]!r}"),
        ("c", no_c & (c != 0),
         lambda i: f"a {model[i]} item has no guessing parameter: c must be 0, got {c[i]!r}"),
        ("d", ~((d > c) & (d <= 1)),
         lambda i: f"upper asymptote d must be in (c, 1] = ({c[i]!r}, 1], got {d[i]!r}"),
        ("d", (model != "4PL") & (d != 1),
         lambda i: f"a {model[i]} item has no upper asymptote: d must be 1, got {d[i]!r}"),
    )
    for field, broken, reason in rules:
        bad = np.flatnonzero(broken)
        if bad.size:
            i = int(bad[0])
            return i, field, reason(i)
    return None


def _used(b: np.ndarray, k: np.ndarray, i: int) -> list[float]:
    """Item i's difficulty/thresholds as a list (for messages)."""
    return [float(x) for x in b[i, : max(int(k[i]) - 1, 1)]]


@dataclass(eq=False)
class ItemParameters:
    """Parameters of n items, any mix of models, as plain arrays.

    ``b`` is (n, K_max - 1), NaN-padded; for dichotomous items ``b[:, 0]`` is the difficulty.
    ``ids`` (optional) only serves to name items in error messages.
    """

    model: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray | None = None
    d: np.ndarray | None = None
    n_categories: np.ndarray | None = None
    ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.model = np.asarray(self.model, dtype=str).reshape(-1)
        n = self.model.shape[0]
        self.a = np.asarray(self.a, dtype=float).reshape(-1)
        b = np.asarray(self.b, dtype=float)
        if b.ndim == 1:
            b = b.reshape(-1, 1)
        if b.ndim != 2 or b.shape[1] < 1:
            raise ValidationError(f"b must be (n, K_max - 1), got shape {b.shape}", field="b")
        self.b = b
        self.c = np.zeros(n) if self.c is None else np.asarray(self.c, dtype=float).reshape(-1)
        self.d = np.ones(n) if self.d is None else np.asarray(self.d, dtype=float).reshape(-1)
        poly = self.model == "GRM"
        if self.n_categories is None:
            k = np.where(poly, np.sum(np.isfinite(b), axis=1) + 1, 2)
        else:
            k = np.asarray(self.n_categories).reshape(-1)
        self.n_categories = k.astype(int)
        if self.ids is not None:
            self.ids = np.asarray(self.ids, dtype=object).reshape(-1)
        self._validate()
        self._precompute()

    # -- construction helpers -------------------------------------------------------------------
    @classmethod
    def dichotomous(cls, a, b, c=None, d=None, model: str | None = None, ids=None) -> ItemParameters:
        """Dichotomous items from 1-D arrays; model inferred (4PL if d<1, 3PL if c>0, else 2PL)."""
        a = np.atleast_1d(np.asarray(a, dtype=float))
        b = np.atleast_1d(np.asarray(b, dtype=float))
        n = b.shape[0]
        a = np.broadcast_to(a, (n,)).copy()
        c = np.zeros(n) if c is None else np.broadcast_to(np.asarray(c, dtype=float), (n,)).copy()
        d = np.ones(n) if d is None else np.broadcast_to(np.asarray(d, dtype=float), (n,)).copy()
        if model is None:
            m = np.where(d < 1, "4PL", np.where(c > 0, "3PL", "2PL"))
        else:
            m = np.full(n, model)
        return cls(model=m, a=a, b=b.reshape(n, 1), c=c, d=d, n_categories=np.full(n, 2), ids=ids)

    @classmethod
    def graded(cls, a, thresholds, ids=None) -> ItemParameters:
        """GRM items; ``thresholds`` is (n, K_max - 1), NaN-padded for items with fewer categories."""
        b = np.atleast_2d(np.asarray(thresholds, dtype=float))
        n = b.shape[0]
        a = np.broadcast_to(np.asarray(a, dtype=float), (n,)).copy()
        return cls(model=np.full(n, "GRM"), a=a, b=b, ids=ids)

    @classmethod
    def concatenate(cls, parts: list[ItemParameters]) -> ItemParameters:
        kmax = max(p.b.shape[1] for p in parts)
        bs = [np.pad(p.b, ((0, 0), (0, kmax - p.b.shape[1])), constant_values=np.nan) for p in parts]
        ids = None
        if all(p.ids is not None for p in parts):
            ids = np.concatenate([p.ids for p in parts])
        return cls(
            model=np.concatenate([p.model for p in parts]),
            a=np.concatenate([p.a for p in parts]),
            b=np.concatenate(bs),
            c=np.concatenate([p.c for p in parts]),
            d=np.concatenate([p.d for p in parts]),
            n_categories=np.concatenate([p.n_categories for p in parts]),
            ids=ids,
        )

    def _name(self, i: int) -> str:
        return f"item {self.ids[i]!r}" if self.ids is not None else f"item index {i}"

    def _validate(self) -> None:
        n = self.model.shape[0]
        for name in ("a", "c", "d", "n_categories"):
            if getattr(self, name).shape != (n,):
                raise ValidationError(f"expected shape ({n},), got {getattr(self, name).shape}", field=name)
        if self.b.shape[0] != n:
            raise ValidationError(f"expected {n} rows, got {self.b.shape[0]}", field="b")
        if self.ids is not None and self.ids.shape != (n,):
            raise ValidationError(f"expected {n} ids, got {self.ids.shape[0]}", field="ids")
        problem = parameter_problem(self.model, self.a, self.b, self.c, self.d, self.n_categories)
        if problem is not None:
            i, field, reason = problem
            raise ValidationError(reason, where=self._name(i), field=field)

    def _precompute(self) -> None:
        n, kmax1 = self.b.shape
        k = self.n_categories
        # Extended thresholds: b_0 = -inf, b_1..b_{K-1}, then +inf from column K on.
        bext = np.full((n, kmax1 + 2), np.inf)
        bext[:, 0] = -np.inf
        col = np.arange(1, kmax1 + 1)
        inside = col[None, :] < k[:, None]
        bext[:, 1:kmax1 + 1] = np.where(inside, self.b, np.inf)
        self._bext = bext[:, : max(int(k.max(initial=2)), 2) + 1] if n else bext[:, :3]
        with np.errstate(invalid="ignore"):
            gap = np.diff(self._bext, axis=1)  # inf - inf -> nan beyond the last category
        gap = np.where(np.isnan(gap), np.inf, gap)
        with np.errstate(divide="ignore"):
            # log(1 - exp(-a gap)): constant in theta; 0 for the outer categories.
            self._logw = np.log(-np.expm1(-self.a[:, None] * gap))
        self._guess = (self.model != "GRM") & ((self.c > 0) | (self.d < 1))
        with np.errstate(divide="ignore"):
            self._log_c = np.log(self.c)
            self._log_1md = np.log1p(-self.d)
            self._log_dc = np.log(self.d - self.c)

    # -- basic properties ---------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.model.shape[0])

    @property
    def n_items(self) -> int:
        return len(self)

    @property
    def max_categories(self) -> int:
        return int(self._bext.shape[1] - 1)

    @property
    def is_polytomous(self) -> np.ndarray:
        return self.model == "GRM"

    def subset(self, idx) -> ItemParameters:
        """Rows ``idx`` (indices or boolean mask), without re-validating (cheap)."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        new = object.__new__(ItemParameters)
        new.model = self.model[idx]
        new.a = self.a[idx]
        new.b = self.b[idx]
        new.c = self.c[idx]
        new.d = self.d[idx]
        new.n_categories = self.n_categories[idx]
        new.ids = None if self.ids is None else self.ids[idx]
        new._bext = self._bext[idx]
        new._logw = self._logw[idx]
        new._guess = self._guess[idx]
        new._log_c = self._log_c[idx]
        new._log_1md = self._log_1md[idx]
        new._log_dc = self._log_dc[idx]
        return new

    # -- model functions over a theta grid ----------------------------------------------------
    # Private helpers take t2 of shape (T, 1) (a theta grid) or (T, n) (one theta per item).
    def _cumulative(self, t2: np.ndarray):
        """P*_k and Q*_k = 1 - P*_k for k = 0..K_max: arrays (T, n, K_max + 1)."""
        z = self.a[None, :, None] * (t2[..., None] - self._bext[None, :, :])
        return expit(z), expit(-z)

    def _guess_parts(self, t2: np.ndarray):
        """For the items with asymptotes: log P(X=1), log P(X=0) and log dP(X=1)/dtheta, (T, n_guess) each.

        P = c + (d - c) P* has slope a (d - c) P* Q*; all three in logs so the tails never give 0/0."""
        g = self._guess
        tg = t2 if t2.shape[1] == 1 else t2[:, g]
        z = self.a[g][None, :] * (tg - self.b[g, 0][None, :])
        lp, lq = log_expit(z), log_expit(-z)
        log_dc = self._log_dc[g]
        llp = np.logaddexp(self._log_c[g], log_dc + lp)
        llq = np.logaddexp(self._log_1md[g], log_dc + lq)
        log_slope = np.log(self.a[g]) + log_dc + lp + lq
        return llp, llq, log_slope

    def _grm_parts(self, t2: np.ndarray):
        """Category probabilities and scores d log P_k / d theta as if every item were a GRM (T, n, K_max).

        P_k = P*_k Q*_{k+1} (1 - exp(-a (b_{k+1} - b_k))) has score a (Q*_k - P*_{k+1}); columns beyond
        an item's categories hold probability 0 and a meaningless score (callers mask or weight by P)."""
        ps, qs = self._cumulative(t2)
        return self._grm_probabilities(ps, qs), self.a[None, :, None] * (qs[..., :-1] - ps[..., 1:])

    def _grm_probabilities(self, ps: np.ndarray, qs: np.ndarray) -> np.ndarray:
        return ps[..., :-1] * qs[..., 1:] * np.exp(self._logw)[None]

    def category_probabilities(self, theta) -> np.ndarray:
        """P(X = k | theta): (T, n, K_max), zeros beyond an item's categories."""
        t2 = _as_theta(theta)[:, None]
        probs = self._grm_probabilities(*self._cumulative(t2))
        if self._guess.any():
            llp, llq, _ = self._guess_parts(t2)
            g = np.flatnonzero(self._guess)
            probs[:, g, 1] = np.exp(llp)
            probs[:, g, 0] = np.exp(llq)
        return probs

    def log_category_probabilities(self, theta) -> np.ndarray:
        """log P(X = k | theta): (T, n, K_max), -inf beyond an item's categories; exact in the tails
        (no clipping): log P_k = log expit(z_k) + log expit(-z_{k+1}) + log(1 - exp(-a gap))."""
        t2 = _as_theta(theta)[:, None]
        z = self.a[None, :, None] * (t2[..., None] - self._bext[None, :, :])
        logp = log_expit(z[..., :-1]) + log_expit(-z[..., 1:]) + self._logw[None]
        if self._guess.any():
            llp, llq, _ = self._guess_parts(t2)
            g = np.flatnonzero(self._guess)
            logp[:, g, 1] = llp
            logp[:, g, 0] = llq
        return logp

    def category_scores(self, theta) -> np.ndarray:
        """Score functions d log P(X = k | theta) / d theta: (T, n, K_max), 0 beyond an item's categories.

        What a posterior update adds per answer; analytic (the CAT tabulates these on its grid)."""
        return self.information_and_scores(theta)[1]

    def information_and_scores(self, theta):
        """``information(theta)`` (T, n) and ``category_scores(theta)`` (T, n, K_max) from one evaluation."""
        return self._information_and_scores(_as_theta(theta)[:, None], scores_wanted=True)

    def _information_and_scores(self, t2: np.ndarray, scores_wanted: bool = False):
        probs, scores = self._grm_parts(t2)
        info = np.sum(probs * scores**2, axis=2)
        if self._guess.any():
            llp, llq, log_slope = self._guess_parts(t2)
            g = np.flatnonzero(self._guess)
            # (P')^2 / (P Q): the two categories' P score^2 summed, in logs so tails never give 0/0
            info[:, g] = np.exp(2 * log_slope - llp - llq)
            if scores_wanted:
                scores[:, g, 1] = np.exp(log_slope - llp)
                scores[:, g, 0] = -np.exp(log_slope - llq)
        if not scores_wanted:
            return info, None
        scores *= np.arange(scores.shape[2])[None, :] < self.n_categories[:, None]   # 0 beyond
        return info, scores

    def information(self, theta) -> np.ndarray:
        """Fisher information sum_k (P_k')^2 / P_k = sum_k P_k score_k^2: (T, n)."""
        return self._information(_as_theta(theta)[:, None])

    def information_per_item(self, theta_items) -> np.ndarray:
        """Information of item j at its own theta_items[j]: (n,) (between-item multidimensional use)."""
        t = _as_theta(theta_items)
        if t.shape != (len(self),):
            raise ValidationError(f"expected {len(self)} thetas, one per item, got {t.shape}", field="theta")
        return self._information(t[None, :])[0]

    def _information(self, t2: np.ndarray) -> np.ndarray:
        return self._information_and_scores(t2)[0]

    def information_at(self, theta: float) -> np.ndarray:
        """Fisher information of every item at one theta: (n,). What item selection calls."""
        return self.information(np.array([float(theta)]))[0]

    def expected_score(self, theta) -> np.ndarray:
        """E[X | theta] with categories scored 0..K-1: (T, n)."""
        t2 = _as_theta(theta)[:, None]
        ps, _ = self._cumulative(t2)
        score = np.sum(ps[..., 1:], axis=2)  # sum_k P(X >= k)
        if self._guess.any():
            llp, _, _ = self._guess_parts(t2)
            score[:, self._guess] = np.exp(llp)
        return score

    def log_likelihood(self, theta, responses) -> np.ndarray:
        """log L(theta) of one response pattern (-1 = not administered): (T,)."""
        t = _as_theta(theta)
        return ResponsePattern(self, responses).log_likelihood(t)

    def log_likelihood_derivatives(self, theta, responses):
        """(log L, d log L / d theta, d2 log L / d theta2), each (T,), for Newton steps."""
        t = _as_theta(theta)
        ll, d1, d2 = ResponsePattern(self, responses).terms(t[:, None])
        return ll.sum(axis=1), d1.sum(axis=1), d2.sum(axis=1)


class ResponsePattern:
    """The administered items of one response pattern, prepared once for repeated evaluation.

    ``terms(theta)`` returns per-item log-likelihood and its first and second derivatives in
    theta. ``theta`` broadcasts against (m,) administered items: pass (T, 1) for a grid, or (m,)
    with each item's own theta (between-item multidimensional use: ``theta[item_dims]``).
    """

    def __init__(self, params: ItemParameters, responses):
        r = np.asarray(responses)
        if r.shape != (len(params),):
            raise ValidationError(
                f"expected {len(params)} responses (one per item, -1 = not administered), "
                f"got shape {r.shape}",
                field="responses",
            )
        if r.dtype.kind == "f":
            if not np.all(np.isfinite(r) & (r == np.round(r))):
                raise ValidationError("responses must be integers (-1 = not administered)", field="responses")
        elif r.dtype.kind not in "iub":
            raise ValidationError("responses must be integers (-1 = not administered)", field="responses")
        r = r.astype(int)
        bad = (r < -1) | (r >= params.n_categories)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValidationError(
                f"response {r[i]} outside 0..{params.n_categories[i] - 1} (-1 = not administered)",
                where=params._name(i), field="response",
            )
        self.params = params
        self.index = np.flatnonzero(r >= 0)
        idx = self.index
        x = r[idx]
        self.responses = x
        a = params.a[idx]
        b_low = params._bext[idx, x]
        b_high = params._bext[idx, x + 1]
        # Most answers are "one-sided" (dichotomous items, lowest/highest GRM category): their
        # log-probability is a single log_expit. Middle GRM categories need two. One-sided items
        # come first internally; ``_order``/``_undo`` map to and from the order of ``index``.
        upper_open = np.isinf(b_high)
        one = upper_open | np.isinf(b_low)
        if one.all():
            self._order = self._undo = None
        else:
            self._order = np.concatenate([np.flatnonzero(one), np.flatnonzero(~one)])
            self._undo = np.argsort(self._order)
        o = self._order if self._order is not None else slice(None)
        self._m1 = int(one.sum())
        self.a = a
        # one-sided: log P = log_expit(sa (theta - edge)), sa = +a (highest category) or -a (lowest)
        self._sa = np.where(upper_open, a, -a)[o][: self._m1]
        self._edge = np.where(upper_open, b_low, b_high)[o][: self._m1]
        neg_a2 = -(a * a)[o]
        self._neg_a2_one, self._neg_a2_mid = neg_a2[: self._m1], neg_a2[self._m1:]
        mid = slice(self._m1, None)
        self._a_mid = a[o][mid]
        self._b_low_mid = b_low[o][mid]
        self._b_high_mid = b_high[o][mid]
        self._logw_mid = params._logw[idx, x][o][mid]
        # Asymptotes (dichotomous, hence one-sided): P(x) = K_x + (d - c) P_logistic(x) with
        # K_1 = c, K_0 = 1 - d (log K = -inf without asymptotes).
        guess = params._guess[idx][o][: self._m1]
        self._has_guess = bool(guess.any())
        if self._has_guess:
            self._log_dc = params._log_dc[idx][o][: self._m1]
            floor = np.where(x >= 1, params._log_c[idx], params._log_1md[idx])
            self._log_floor = floor[o][: self._m1]
        self._sub: ItemParameters | None = None

    @property
    def n(self) -> int:
        return int(self.index.size)

    def is_extreme(self) -> bool:
        """All administered answers in the lowest category, or all in the highest (MLE is infinite)."""
        if self.n == 0:
            return True
        top = self.params.n_categories[self.index] - 1
        return bool(np.all(self.responses == 0) or np.all(self.responses == top))

    def _split(self, theta):
        """theta for the one-sided and the two-sided items (per-item thetas are reordered)."""
        if not isinstance(theta, np.ndarray):
            theta = np.asarray(theta, dtype=float)
        if theta.ndim and theta.shape[-1] == self.n and self.n > 1:
            if self._order is not None:
                theta = theta[..., self._order]
            return theta[..., : self._m1], theta[..., self._m1:]
        return theta, theta

    def _one_sided(self, theta, derivatives: bool):
        z = self._sa * (theta - self._edge)
        ll = log_expit(z)
        if not derivatives:
            if self._has_guess:
                ll = np.logaddexp(self._log_floor, ll + self._log_dc)
            return ll, None, None
        p = expit(z)
        q = 1.0 - p  # accurate to 1e-16 in absolute terms, all the derivatives need
        d1 = self._sa * q
        d2 = self._neg_a2_one * (p * q)
        if self._has_guess:
            # log(K + exp(u)) with u the logistic part: the share R = exp(u - ll) in [0, 1] carries
            # the derivatives over (d ll = R u', d2 ll = R (u'' + (1 - R) u'^2)); R = 1 when K = 0.
            u = ll + self._log_dc
            ll = np.logaddexp(self._log_floor, u)
            share = np.exp(u - ll)
            d2 = share * (d2 + (1.0 - share) * d1 * d1)
            d1 = share * d1
        return ll, d1, d2

    def _two_sided(self, theta, derivatives: bool):
        a = self._a_mid
        z_lo = a * (theta - self._b_low_mid)
        z_hi = a * (theta - self._b_high_mid)
        ll = log_expit(z_lo) + log_expit(-z_hi) + self._logw_mid
        if not derivatives:
            return ll, None, None
        p_lo, p_hi = expit(z_lo), expit(z_hi)
        q_lo = 1.0 - p_lo
        d1 = a * (q_lo - p_hi)
        d2 = self._neg_a2_mid * (p_lo * q_lo + p_hi * (1.0 - p_hi))
        return ll, d1, d2

    def terms(self, theta):
        """Per-item (log-likelihood, first derivative, second derivative), broadcast shapes,
        items in the order of ``index``."""
        t1, t2 = self._split(theta)
        out1 = self._one_sided(t1, True)
        if self._order is None:
            return out1
        out2 = self._two_sided(t2, True)
        return tuple(np.concatenate([x1, x2], axis=-1)[..., self._undo]
                     for x1, x2 in zip(out1, out2, strict=True))

    def log_likelihood(self, theta) -> np.ndarray:
        """Summed log-likelihood at each theta of a (T,) grid (no derivatives: the EAP hot path)."""
        t = np.asarray(theta, dtype=float)[:, None]
        total = self._one_sided(t, False)[0].sum(axis=1)
        if self._order is not None:
            total = total + self._two_sided(t, False)[0].sum(axis=1)
        return total

    def information(self, theta) -> np.ndarray:
        """Fisher information of the administered items, each at its own theta (m,)."""
        if self._sub is None:
            self._sub = self.params.subset(self.index)
        theta = np.broadcast_to(np.asarray(theta, dtype=float), (self.n,))
        return self._sub._information(theta[None, :])[0]
