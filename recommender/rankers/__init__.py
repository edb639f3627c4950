"""Rankers sharing one interface (see :class:`recommender.rankers.base.Ranker`)."""

from recommender.rankers.base import Ranker, Recommendation, RecommendationList
from recommender.rankers.blend import BlendRanker
from recommender.rankers.cf import ALSRanker, BPRRanker, ItemKNNRanker
from recommender.rankers.gap import CompetenceGapRanker
from recommender.rankers.hybrid import HybridRanker
from recommender.rankers.item import EASERanker, RP3betaRanker
from recommender.rankers.popularity import PopularityRanker, RolePopularityRanker

RANKERS = {
    "popularity": PopularityRanker,
    "role-popularity": RolePopularityRanker,
    "als": ALSRanker,
    "bpr": BPRRanker,
    "item-knn": ItemKNNRanker,
    "ease": EASERanker,
    "rp3beta": RP3betaRanker,
    "gap": CompetenceGapRanker,
    "hybrid": HybridRanker,
    "blend": BlendRanker,
}


def make_ranker(name: str, **params) -> Ranker:
    """A ranker by name (``RANKERS`` keys); ``item-cosine`` is item-knn with cosine weighting."""
    if name == "item-cosine":
        return ItemKNNRanker(weighting="cosine", **params)
    try:
        return RANKERS[name](**params)
    except KeyError:
        raise ValueError(
            f"unknown ranker {name!r}; choose one of {sorted(RANKERS) + ['item-cosine']}"
        ) from None


__all__ = [
    "RANKERS",
    "make_ranker",
    "Ranker",
    "Recommendation",
    "RecommendationList",
    "ALSRanker",
    "BPRRanker",
    "ItemKNNRanker",
    "EASERanker",
    "RP3betaRanker",
    "CompetenceGapRanker",
    "HybridRanker",
    "BlendRanker",
    "PopularityRanker",
    "RolePopularityRanker",
]
