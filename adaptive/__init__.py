"""IRT, item banks, ability estimation, calibration and computerized adaptive testing for DigComp."""
