"""The :class:`Plan`: everything one planning run proposes, and where it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from .config import Config

if TYPE_CHECKING:
    from .coverage import Coverage

__all__ = ["Plan"]


_MEASURED_FROM = frozenset({"enterprises", "branches", "instructors", "units", "config"})


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
    coverage
        The coverage record of the measure stage (:class:`~gridcover.coverage.Coverage`:
        M1/M2/M3/M5 on every scope, targets, funding), set by :func:`~gridcover.run`;
        ``None`` until measured (readers then measure once with
        :func:`~gridcover.coverage.measured`).
    changes
        With a previous plan (re-plan): ``object`` (grid/branch/enterprise), ``id``,
        ``change`` (kept/changed/new/dissolved/moved), ``reason``; empty otherwise.
    grid_checks
        With planner-edited grids: ``grid_id, check`` (size/unit/members/overlap/hole),
        ``ok, detail``; empty otherwise.
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
    coverage: Coverage | None = None
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    grid_checks: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: "What it takes" (targets.csv, members_needed.csv; :mod:`gridcover.targets`), or None.
    targets: Any = None
    #: Proposed new service-centre sites (``config.new_centres``; :mod:`gridcover.resources`), or None.
    new_sites: Any = None
    #: W4: the responsible instructor of each grid and joint branch (:func:`~gridcover.resources.assign_responsible`), or None.
    responsible: Any = None

    def replace(self, **changes: Any) -> Plan:
        """A copy with some attributes replaced (plans are immutable).

        Replacing a table the coverage record was measured from (enterprises, branches,
        instructors, units, config) drops the record, so it is never stale.
        """
        if "coverage" not in changes and _MEASURED_FROM & set(changes):
            changes["coverage"] = None
        return replace(self, **changes)

    def summary(self) -> dict[str, Any]:
        """Headline figures: counts, coverage before/after, actions.

        Examples
        --------
        >>> import pandas as pd
        >>> from gridcover import Plan
        >>> Plan(enterprises=pd.DataFrame()).summary()["enterprises"]
        0
        """
        ent = self.enterprises
        out: dict[str, Any] = {
            "enterprises": int(len(ent)),
            "rejected": int(len(self.rejects)),
            "grids": int(len(self.grids)),
            "joint_branches": int(len(self.branches)),
            "gaps": int(len(self.gaps)),
        }
        if len(ent) and "org_type" in ent:
            from .coverage import measured

            cov = measured(self)
            t = cov.total()
            for col in ("org_rate_before", "org_rate_after", "work_rate_before", "work_rate_after",
                        "backstop_rate_after"):
                out[col] = float(t[col])
            out["instructors_needed"] = int(t["instructors_needed"])
            out["instructors_short"] = int(t["instructors_short"])
            out["shortfall"] = cov.shortfall()
        if "action" in ent:
            out["actions"] = {k: int(v) for k, v in ent["action"].value_counts().sort_index().items()}
        return out

    def __repr__(self) -> str:
        s = self.summary()
        return (f"<Plan: {s['enterprises']} enterprises, {s['grids']} grids, "
                f"{s['joint_branches']} joint branches, {s['rejected']} rejected rows>")

    def _repr_html_(self) -> str:
        from html import escape

        s = self.summary()
        rows = [("企业 enterprises", s["enterprises"]), ("未入库 rejected rows", s["rejected"]),
                ("网格 grids", s["grids"]), ("联合党支部 joint branches", s["joint_branches"]),
                ("问题 gaps", s["gaps"])]
        for key, label in (("org_rate", "党组织覆盖率 organisational coverage"),
                           ("work_rate", "党的工作覆盖率 work coverage")):
            if f"{key}_before" in s:
                rows.append((label, f"{s[key + '_before']:.1%} → {s[key + '_after']:.1%}"))
        if "backstop_rate_after" in s:
            rows.append(("属地兜底（M5，不计入工作覆盖）backstop only", f"{s['backstop_rate_after']:.1%}"))
            rows.append(("缺指导员的企业 instructors short", s["instructors_short"]))
        for action, n in s.get("actions", {}).items():
            rows.append((f"action: {action}", n))
        body = "".join(f"<tr><th style='text-align:left'>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
                       for k, v in rows)
        return f"<div><strong>gridcover Plan</strong><table>{body}</table></div>"
