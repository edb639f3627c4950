"""Organisation insights as plain analytics (pandas/numpy; nothing of HTTP or databases).

``gaps`` (competence gaps per role and unit), ``impact`` (training impact between two diagnostics),
``profiles`` (profile dicts as arrays), ``suppression`` (small-group rules), ``tables`` (shared inputs and
report tables), ``plots`` (matplotlib Agg heatmaps; import it yourself). Pathway progress lives beside the
recommender (``recommender.progress``), reliable change and prior removal in ``adaptive.change``, the
generated organisation in ``adaptive.synthetic_organisation``.
"""

from adaptive.insights.gaps import GapOverview, gap_overview
from adaptive.insights.impact import OBSERVATIONAL_CAVEAT, TrainingImpact, training_impact
from adaptive.insights.profiles import ProfileSet, profile_levels
from adaptive.insights.suppression import DEFAULT_MIN_GROUP_SIZE, suppression_mask

__all__ = [
    "DEFAULT_MIN_GROUP_SIZE",
    "OBSERVATIONAL_CAVEAT",
    "GapOverview",
    "ProfileSet",
    "TrainingImpact",
    "gap_overview",
    "profile_levels",
    "suppression_mask",
    "training_impact",
]
