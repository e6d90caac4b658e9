"""The :class:`Plan`: everything one planning run proposes, and where it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import pandas as pd

from .config import Config

__all__ = ["Plan"]


def _gdf() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4326"))


@dataclass(frozen=True)
class Plan:
    """Result of a planning run; every downstream step (coverage, maps, reports) reads it.

    All attributes exist from construction; tables that a run did not fill are empty
    with their columns.

    Attributes
    ----------
    enterprises
        Every accepted enterprise, indexed by ``uscc``, with the columns of
        :mod:`gridcover.schema` including ``grid_id, branch_id, action, gaps``.
    grids
        One row per grid (网格), EPSG:4326 polygons tiling their unit: ``grid_id,
        unit, unit_type, n_enterprises, staff, members, leader_uscc, leader_status,
        geometry``.
    branches
        Every joint branch (联合党支部) of the plan: ``branch_id, grid_id, unit,
        status`` (new/kept/split), ``uscc`` (``;``-joined), ``n_units, members,
        max_distance_m``.
    leaders
        Ranked grid-leader (网格长) candidates: ``grid_id, rank, uscc, name, reason``.
    units
        Jurisdiction units: ``unit, unit_type, township, geometry`` (parks, and
        townships outside parks).
    rejects, conflicts, warnings
        Carried from ingest and geocoding.
    gaps
        The gap list: ``uscc, rule_id, message``.
    instructors
        Instructor assignments (W1/W2): ``uscc, instructor, unit, distance_m``;
        empty without a roster.
    service_centres
        Existing party-mass service centres (党群服务中心), EPSG:4326 points.
    config
        The configuration the plan was made with.
    inputs
        Input file names and SHA-256 fingerprints.
    timings
        Seconds per stage.
    """

    enterprises: pd.DataFrame
    grids: gpd.GeoDataFrame = field(default_factory=_gdf)
    branches: pd.DataFrame = field(default_factory=pd.DataFrame)
    leaders: pd.DataFrame = field(default_factory=pd.DataFrame)
    units: gpd.GeoDataFrame = field(default_factory=_gdf)
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame)
    conflicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: pd.DataFrame = field(default_factory=pd.DataFrame)
    gaps: pd.DataFrame = field(default_factory=pd.DataFrame)
    instructors: pd.DataFrame = field(default_factory=pd.DataFrame)
    service_centres: gpd.GeoDataFrame = field(default_factory=_gdf)
    config: Config = field(default_factory=Config)
    inputs: Mapping[str, Any] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Plan:
        """A copy with some attributes replaced (plans are immutable)."""
        return replace(self, **changes)
