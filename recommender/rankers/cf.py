"""Collaborative filtering with implicit: ALS (main), BPR and item-item (BM25 / cosine).

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

from recommender.interactions import Interactions
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
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed
        self.num_threads = num_threads

    def _fit(self, interactions: Interactions) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        with _blas_single():
            self.model_ = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.num_threads,
            )
            self.model_.fit(interactions.matrix, show_progress=False)
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
        c = self.alpha * np.asarray(confidence, dtype=np.float64)
        a = self._yty + (y.T * (c - 1.0)) @ y
        return np.linalg.solve(a, y.T @ c).astype(self.item_factors_.dtype)

    def save_state(self, directory: Path) -> None:
        self.model_.save(str(Path(directory) / f"{self.name}.npz"))

    def load_state(self, directory: Path) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        with _blas_single():
            self.model_ = AlternatingLeastSquares.load(str(Path(directory) / f"{self.name}.npz"))
        self.model_.num_threads = self.num_threads
        self._cache()


class BPRRanker(_FactorRanker):
    """Bayesian personalised ranking (Rendle et al. 2009), SGD on sampled (positive, negative) pairs."""

    name = "bpr"

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
        seed: int = 0,
        num_threads: int = 0,
    ):
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.seed = seed
        self.num_threads = num_threads

    def _fit(self, interactions: Interactions) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        with _blas_single():
            model = BayesianPersonalizedRanking(
                factors=self.factors,
                learning_rate=self.learning_rate,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.num_threads,
            )
            model.fit(interactions.matrix, show_progress=False)
        self.model_ = model
        self._cache()

    def _cache(self) -> None:
        self.user_factors_ = np.asarray(self.model_.user_factors)
        self.item_factors_ = np.asarray(self.model_.item_factors)

    def train_more(self, epochs: int) -> BPRRanker:
        """Continue SGD from the current factors for ``epochs`` more epochs (early stopping on
        validation, see :func:`recommender.training.tune_bpr`); ``iterations`` counts all epochs run."""
        with _blas_single():
            self.model_.iterations = int(epochs)
            self.model_.fit(self.interactions_.matrix, show_progress=False)
        self.iterations = int(self.iterations) + int(epochs)
        self._cache()
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
