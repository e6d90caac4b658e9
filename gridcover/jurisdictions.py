"""Jurisdiction units: township/street (乡镇街道) and park (园区) polygons.

A park wins over the township it lies in (园区党工委); outside parks the township or
street does (属地管理). The *unit* of an enterprise is its park if any, else its
township; grids and branches never cross a unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd

__all__ = ["Jurisdictions"]


@dataclass(frozen=True)
class Jurisdictions:
    """Township and park polygons in EPSG:4326.

    Attributes
    ----------
    townships
        ``name, geometry``; one row per township/street.
    parks
        ``name, geometry``; may be empty.
    """

    townships: gpd.GeoDataFrame
    parks: gpd.GeoDataFrame
