"""Calibration: response data in, calibrated item bank out (MML-EM, SEs, item fit, model choice, linking).

Entry point :func:`calibrate_bank`; lower-level estimators (scikit-learn style) :class:`TwoPLCalibrator`
and friends in :mod:`adaptive.calibration.em`.
"""

from adaptive.calibration.calibrate import AreaFit, CalibrationResult, calibrate_bank
from adaptive.calibration.data import ResponseData, read_item_metadata, screen_items
from adaptive.calibration.em import (
    GRMCalibrator,
    MMLCalibrator,
    OnePLCalibrator,
    RaschCalibrator,
    ThreePLCalibrator,
    TwoPLCalibrator,
)
from adaptive.calibration.fit import dimensionality, infit_outfit, item_fit_table, s_x2
from adaptive.calibration.linking import LinkingResult, link, mean_sigma, stocking_lord

__all__ = [
    "AreaFit",
    "CalibrationResult",
    "calibrate_bank",
    "ResponseData",
    "read_item_metadata",
    "screen_items",
    "MMLCalibrator",
    "RaschCalibrator",
    "OnePLCalibrator",
    "TwoPLCalibrator",
    "ThreePLCalibrator",
    "GRMCalibrator",
    "dimensionality",
    "infit_outfit",
    "item_fit_table",
    "s_x2",
    "LinkingResult",
    "link",
    "mean_sigma",
    "stocking_lord",
]
