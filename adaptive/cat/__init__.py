"""Computerized adaptive testing on a DigComp item bank: sessions, selection, exposure, simulation."""

from adaptive.cat.config import CatConfig
from adaptive.cat.profile import CompetenceProfile
from adaptive.cat.session import CatSession

__all__ = ["CatConfig", "CatSession", "CompetenceProfile"]
