"""Collaborative filtering: ALS and item-item (BM25 / cosine) with implicit, BPR in numpy (see BPRRanker).

implicit pitfalls handled here:
- orientation: implicit >= 0.7 fits on the learner x content (user_items) matrix, as we store it;
- learners not seen in training (or with live events) are folded in with ``recalculate_user`` (ALS);
  BPR has no fold-in, so its unseen learners get the confidence-weighted mean of their items' factors;
- BLAS threads: OpenBLAS's own pool fights implicit's threads, so fitting (and model construction, which
  checks it) runs under ``threadpool_limits(1, "blas")``;
- persistence: models are saved as .npz and loaded through the CPU classes (never a GPU pickle).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from recommender.interactions import Interactions, scale_confidence, scale_values
from recommender.profiles import LearnerBatch
from recommender.rankers.base import Ranker


def _blas_single():
    return threadpool_limits(1, "blas")


class _FactorRanker(Ranker):
    """Shared scoring for matrix-factorisation models (learner factors x item factors)."""

    def learner_factors(self, batch: LearnerBatch) -> np.ndarray:
        raise NotImplementedError

    def score(self, batch: LearnerBatch) -> np.ndarray:
        return self.learner_factors(batch) @ self.item_factors_.T

    def score_role(self, role_idx: int) -> np.ndarray:
        members = np.flatnonzero(self.interactions_.learner_role == role_idx)
        if members.size == 0:
            return super().score_role(role_idx)
        return self.user_factors_[members].mean(axis=0) @ self.item_factors_.T


class ALSRanker(_FactorRanker):
    """Implicit ALS (Hu, Koren & Volinsky 2008) with conjugate-gradient solves."""

    name = "als"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 2.0,
        iterations: int = 15,
        seed: int = 0,
        num_threads: int = 0,
        confidence: str = "linear",
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed
        self.num_threads = num_threads
        self.confidence = confidence

    confidence_eps_ = 1.0

    def _fit(self, interactions: Interactions) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        # confidence = 1 + alpha * scaled(c): raw play counts need the log scale (Hu et al. 2008)
        matrix, self.confidence_eps_ = scale_confidence(interactions.matrix, self.confidence)

        with _blas_single():
            self.model_ = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.num_threads,
            )
            self.model_.fit(matrix.astype(np.float32), show_progress=False)
        self._cache()

    def _cache(self) -> None:
        self.user_factors_ = np.asarray(self.model_.user_factors)
        self.item_factors_ = np.asarray(self.model_.item_factors)
        y = self.item_factors_.astype(np.float64)
        self._yty = y.T @ y + self.regularization * np.eye(y.shape[1])

    def learner_factors(self, batch: LearnerBatch) -> np.ndarray:
        out = np.zeros((len(batch), self.item_factors_.shape[1]), dtype=self.item_factors_.dtype)
        stored = (batch.rows >= 0) & ~batch.fold_in
        out[stored] = self.user_factors_[batch.rows[stored]]
        for i in np.flatnonzero(~stored & (np.diff(batch.history.indptr) > 0)):
            lo, hi = batch.history.indptr[i], batch.history.indptr[i + 1]
            out[i] = self.fold_in(batch.history.indices[lo:hi], batch.history.data[lo:hi])
        return out


    def fold_in(self, items: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        """ALS learner factors for one unseen learner (what implicit's ``recalculate_user`` computes).

        Solves (Y'Y + Y_u'(C_u - I)Y_u + lambda I) x = Y_u' C_u 1 with C_u = alpha * confidence. Done in numpy
        because implicit's OpenMP call plus a threadpoolctl context costs ~10-30 ms per learner on a
        loaded 2-core machine, against ~0.1 ms here.
        """
        y = self.item_factors_[items].astype(np.float64)
        c = self.alpha * scale_values(confidence, self.confidence, self.confidence_eps_)
        a = self._yty + (y.T * (c - 1.0)) @ y
        return np.linalg.solve(a, y.T @ c).astype(self.item_factors_.dtype)

    def save_state(self, directory: Path) -> None:
        self.model_.save(str(Path(directory) / f"{self.name}.npz"))
        np.savez(Path(directory) / f"{self.name}-confidence.npz", eps=self.confidence_eps_)

    def load_state(self, directory: Path) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        with _blas_single():
            self.model_ = AlternatingLeastSquares.load(str(Path(directory) / f"{self.name}.npz"))
        self.model_.num_threads = self.num_threads
        scale = Path(directory) / f"{self.name}-confidence.npz"
        if scale.exists():  # bundles saved before the confidence scale: linear, no eps
            with np.load(scale) as d:
                self.confidence_eps_ = float(d["eps"])
        self._cache()


def _scatter_add(target: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """target[rows] += values with repeated rows summed (np.add.at, through a sparse product: ~10x faster)."""
    import scipy.sparse as sp

    uniq, inv = np.unique(rows, return_inverse=True)
    onehot = sp.csr_matrix((np.ones(rows.size, np.float32), (inv, np.arange(rows.size))),
                           shape=(uniq.size, rows.size))
    target[uniq] += onehot @ values


class BPRRanker(_FactorRanker):
    """Bayesian personalised ranking (Rendle et al. 2009): SGD on sampled (learner, positive, negative)
    triples, maximising ln sigmoid(x_ui - x_uj) with L2 regularisation; an item bias is learned too.

    Our own numpy implementation, not implicit's: implicit draws the negative item j as the item of a
    random *interaction*, i.e. proportionally to popularity (benfred/implicit#255), so popular items are
    mostly negatives and the model learns to push down exactly what a popularity-skewed test set holds;
    on our data its validation optimum was a learning rate so small that the model stayed at its
    initial (popularity) state. ``negatives="uniform"`` is the paper's sampler (j uniform over items, the
    learner's own items rejected), ``"popularity"`` implicit's; the sampler is a tuned hyper-parameter.
    Mini-batches of ``batch_size`` triples are applied at once (vectorised; collisions add up).
    """

    name = "bpr"

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
        negatives: str = "uniform",
        batch_size: int = 1024,
        seed: int = 0,
    ):
        if negatives not in ("uniform", "popularity"):
            raise ValueError("negatives must be 'uniform' or 'popularity'")
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.negatives = negatives
        self.batch_size = batch_size
        self.seed = seed

    def _fit(self, interactions: Interactions) -> None:
        x = interactions.matrix.tocsr()
        x.sort_indices()
        n_users, n_items = x.shape
        self._rng = np.random.default_rng(self.seed)
        k = int(self.factors)
        self._u = (self._rng.standard_normal((n_users, k)) * 0.1).astype(np.float32)
        self._v = (self._rng.standard_normal((n_items, k)) * 0.1).astype(np.float32)
        self._b = np.zeros(n_items, dtype=np.float32)
        positive = x.data > 0
        self._pu = np.repeat(np.arange(n_users), np.diff(x.indptr))[positive]
        self._pi = x.indices[positive].astype(np.int64)
        self._codes = self._pu.astype(np.int64) * n_items + self._pi  # sorted: rows, then sorted columns
        self._epochs(int(self.iterations))

    def _is_positive(self, u: np.ndarray, j: np.ndarray) -> np.ndarray:
        codes = u.astype(np.int64) * self._v.shape[0] + j
        at = np.searchsorted(self._codes, codes)
        return self._codes[np.minimum(at, self._codes.size - 1)] == codes

    def _epochs(self, n: int) -> None:
        """``n`` epochs, each as many sampled triples as there are positive pairs."""
        rng, u_f, v_f, b = self._rng, self._u, self._v, self._b
        n_items, size = v_f.shape[0], self._pi.size
        lr, reg = float(self.learning_rate), float(self.regularization)
        if size == 0 or n_items < 2:
            self._cache_factors()
            return
        for _ in range(n):
            order = rng.permutation(size)
            for s in range(0, size, self.batch_size):
                pick = order[s : s + self.batch_size]
                u, i = self._pu[pick], self._pi[pick]
                if self.negatives == "uniform":
                    j = rng.integers(0, n_items, size=pick.size)
                else:
                    j = self._pi[rng.integers(0, size, size=pick.size)]
                for _retry in range(3):  # resample negatives the learner actually has
                    bad = self._is_positive(u, j)
                    if not bad.any():
                        break
                    j[bad] = (rng.integers(0, n_items, size=int(bad.sum())) if self.negatives == "uniform"
                              else self._pi[rng.integers(0, size, size=int(bad.sum()))])
                ok = ~self._is_positive(u, j)
                u, i, j = u[ok], i[ok], j[ok]
                pu, qi, qj = u_f[u], v_f[i], v_f[j]
                diff = qi - qj
                x = np.einsum("nk,nk->n", pu, diff) + b[i] - b[j]
                g = (1.0 / (1.0 + np.exp(np.clip(x, -30, 30)))).astype(np.float32)  # sigmoid(-x)
                _scatter_add(u_f, u, lr * (g[:, None] * diff - reg * pu))
                _scatter_add(v_f, np.r_[i, j], lr * np.vstack([g[:, None] * pu - reg * qi,
                                                               -g[:, None] * pu - reg * qj]))
                b += lr * np.bincount(np.r_[i, j], np.r_[g - reg * b[i], -g - reg * b[j]],
                                      minlength=n_items).astype(np.float32)
        self._cache_factors()

    def _cache_factors(self) -> None:
        # the item bias rides in the last factor (learners carry 1 there), as implicit stores it
        self.user_factors_ = np.hstack([self._u, np.ones((self._u.shape[0], 1), np.float32)])
        self.item_factors_ = np.hstack([self._v, self._b[:, None]])

    def train_more(self, epochs: int) -> BPRRanker:
        """Continue SGD from the current factors for ``epochs`` more epochs (early stopping on
        validation, see :func:`recommender.training.tune_bpr`); ``iterations`` counts all epochs run."""
        self._epochs(int(epochs))
        self.iterations = int(self.iterations) + int(epochs)
        return self

    def learner_factors(self, batch: LearnerBatch) -> np.ndarray:
        out = np.zeros((len(batch), self.item_factors_.shape[1]), dtype=self.item_factors_.dtype)
        stored = (batch.rows >= 0) & ~batch.fold_in
        out[stored] = self.user_factors_[batch.rows[stored]]
        need = np.flatnonzero(~stored & (np.diff(batch.history.indptr) > 0))
        if need.size:
            h = batch.history[need]
            weights = h.multiply(1.0 / np.maximum(h.sum(axis=1), 1e-12)).tocsr()
            out[need] = weights @ self.item_factors_
            out[need, -1] = 1.0  # implicit keeps the item bias in the last factor; users carry 1 there
        return out

    def save_state(self, directory: Path) -> None:
        np.savez(
            Path(directory) / f"{self.name}.npz",
            user_factors=self.user_factors_,
            item_factors=self.item_factors_,
        )

    def load_state(self, directory: Path) -> None:
        with np.load(Path(directory) / f"{self.name}.npz") as data:
            self.user_factors_ = data["user_factors"]
            self.item_factors_ = data["item_factors"]


class ItemKNNRanker(Ranker):
    """Item-item neighbourhood model: score = learner history x item similarity (K nearest kept)."""

    name = "item-knn"

    def __init__(
        self, K: int = 100, weighting: str = "bm25", K1: float = 1.2, B: float = 0.75, num_threads: int = 0
    ):
        if weighting not in ("bm25", "cosine"):
            raise ValueError("weighting must be 'bm25' or 'cosine'")
        self.K = K
        self.weighting = weighting
        self.K1 = K1
        self.B = B
        self.num_threads = num_threads

    def _model_class(self):
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

        return BM25Recommender if self.weighting == "bm25" else CosineRecommender

    def _fit(self, interactions: Interactions) -> None:
        cls = self._model_class()
        model = (
            cls(K=self.K, K1=self.K1, B=self.B, num_threads=self.num_threads)
            if self.weighting == "bm25"
            else cls(K=self.K, num_threads=self.num_threads)
        )
        with warnings.catch_warnings():  # implicit's own bm25/normalize hand it a COO matrix and then warn
            warnings.simplefilter("ignore")
            model.fit(interactions.matrix, show_progress=False)
        self.similarity_ = model.similarity.tocsr()

    def score(self, batch: LearnerBatch) -> np.ndarray:
        return np.asarray((batch.history @ self.similarity_).todense(), dtype=np.float64)

    def score_role(self, role_idx: int) -> np.ndarray:
        inter = self.interactions_
        members = np.flatnonzero(inter.learner_role == role_idx)
        if members.size == 0:
            return super().score_role(role_idx)
        mean_history = np.asarray(inter.matrix[members].mean(axis=0))
        return np.asarray(self.similarity_.T @ mean_history.ravel()).ravel()

    def save_state(self, directory: Path) -> None:
        s = self.similarity_
        np.savez(
            Path(directory) / f"{self.name}.npz",
            data=s.data,
            indices=s.indices,
            indptr=s.indptr,
            shape=np.array(s.shape),
        )

    def load_state(self, directory: Path) -> None:
        import scipy.sparse as sp

        with np.load(Path(directory) / f"{self.name}.npz") as d:
            self.similarity_ = sp.csr_matrix((d["data"], d["indices"], d["indptr"]), shape=tuple(d["shape"]))
