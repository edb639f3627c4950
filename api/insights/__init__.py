"""Organisation insights: competence gaps by role and unit, pathway progress and training impact.

``analytics`` (plain pandas/numpy), ``suppression`` (small-group rules), ``change`` (reliable change,
prior-free thetas), ``plots`` (matplotlib Agg), ``synthetic`` (a generated organisation with known truth).
"""

from api.insights.analytics import (
    OBSERVATIONAL_CAVEAT,
    GapOverview,
    PathwayProgress,
    ProfileSet,
    TrainingImpact,
    gap_overview,
    pathway_progress,
    training_impact,
)
from api.insights.change import reliable_change, remove_prior
from api.insights.plots import gap_heatmap
from api.insights.suppression import DEFAULT_MIN_GROUP_SIZE, suppression_mask

__all__ = [
    "DEFAULT_MIN_GROUP_SIZE",
    "OBSERVATIONAL_CAVEAT",
    "GapOverview",
    "PathwayProgress",
    "ProfileSet",
    "TrainingImpact",
    "gap_heatmap",
    "gap_overview",
    "pathway_progress",
    "reliable_change",
    "remove_prior",
    "suppression_mask",
    "training_impact",
]
