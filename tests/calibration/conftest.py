"""Shared fixtures: the mirt reference data sets and simulated response data with known truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def lsat7():
    pat = pd.read_csv(DATA / "lsat7_patterns.csv")
    X = np.repeat(pat.iloc[:, :5].to_numpy(float), pat["count"].to_numpy(), axis=0)
    ref = json.loads((DATA / "lsat7_reference.json").read_text())["references"]
    return X, ref


@pytest.fixture(scope="session")
def science():
    X = pd.read_csv(DATA / "science4.csv").to_numpy(float)
    ref = json.loads((DATA / "science_reference.json").read_text())["references"]
    return X, ref
