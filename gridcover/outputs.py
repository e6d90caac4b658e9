"""Output files of ``validate``, ``plan`` and ``demo`` (the contract in DESIGN.md).

Every file is written atomically: to a temporary file in the same folder, then renamed
over the target, so a reader never sees a half-written file. CSVs are UTF-8 with BOM
(Excel opens them as-is); GeoJSON is EPSG:4326.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from .config import Basemap, Config
from .ledger import Ledger
from .plan import Plan
from .schema import ENTERPRISE_OUTPUT_COLUMNS, LEDGER_COLUMNS, REJECT_COLUMNS

__all__ = ["atomic_path", "read_plan", "write_csv", "write_plan", "write_validation"]

logger = logging.getLogger(__name__)

GRID_COLUMNS = ("grid_id", "unit", "n_enterprises", "staff", "members", "leader_uscc")
BRANCH_COLUMNS = ("branch_id", "grid_id", "status", "uscc", "members", "max_distance_m")
GAP_COLUMNS = ("uscc", "rule_id", "message")


@contextmanager
def atomic_path(target: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a not-yet-existing path in a temporary folder next to ``target``; move it
    over ``target`` on success.

    On an exception the temporary folder is removed and ``target`` is left as it was.
    ``suffix`` names the temporary file's extension when a writer insists on one (GDAL
    wants ``.gpkg``); by default the temporary file has the target's own name.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        tmp = tmpdir / (f"part{suffix}" if suffix is not None else target.name)
        yield tmp
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def write_csv(df: pd.DataFrame, path: str | Path, *, columns: tuple[str, ...] | None = None) -> Path:
    """Write a CSV in UTF-8 with BOM, atomically; ``columns`` fixes the header."""
    if columns is not None:
        df = df.reindex(columns=list(columns))
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n")
    return Path(path)


def _write_with(path: Path, writer: Callable[[Path], Any]) -> Path:
    with atomic_path(path) as tmp:
        writer(tmp)
    return path


def _enterprise_table(enterprises: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    df = enterprises.reset_index()
    for c in columns:
        if c not in df:
            df[c] = ""
    out = df[list(columns)].copy()
    for c in ("lon", "lat"):
        if c in out:
            out[c] = pd.to_numeric(out[c], errors="coerce").round(6)
    return out


def _rejects(rejects: pd.DataFrame) -> pd.DataFrame:
    if rejects is None or rejects.empty:
        return pd.DataFrame({c: [] for c in REJECT_COLUMNS})
    return rejects.reindex(columns=list(REJECT_COLUMNS)).sort_values("source_row", kind="stable")


def write_validation(ledger: Ledger, out_dir: str | Path) -> list[Path]:
    """``enterprises.csv`` (accepted rows, canonical columns, WGS-84) and ``rejects.csv``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    first = ("uscc", "name", "township", "park", "unit", "lon", "lat", "precision")
    rest = tuple(c for c in LEDGER_COLUMNS if c not in first and c not in ("lon_src", "lat_src"))
    cols = first + rest + tuple(c for c in ("size_class", "eligible") if c in ledger.enterprises)
    written = [
        write_csv(_enterprise_table(ledger.enterprises, cols), out / "enterprises.csv"),
        write_csv(_rejects(ledger.rejects), out / "rejects.csv"),
    ]
    if ledger.conflicts is not None and not ledger.conflicts.empty:
        written.append(write_csv(ledger.conflicts, out / "conflicts.csv"))
    return written


def _grids_geojson(plan: Plan, path: Path) -> Path:
    grids = plan.grids
    cols = [c for c in GRID_COLUMNS if c in grids] + [c for c in ("unit_type", "leader_status") if c in grids]
    gdf = gpd.GeoDataFrame(grids[cols].copy(), geometry=grids.geometry, crs=grids.crs or "EPSG:4326")
    gdf = gdf.to_crs("EPSG:4326")

    def writer(tmp: Path) -> None:
        tmp.write_text(gdf.to_json(drop_id=True, ensure_ascii=False, sort_keys=False), encoding="utf-8")

    return _write_with(path, writer)


def run_record(plan: Plan) -> dict[str, Any]:
    """What ``run.json`` holds: version, config, input fingerprints, counts, timings."""
    from . import __version__

    return {
        "tool": "gridcover",
        "version": __version__,
        "config": plan.config.to_dict(),
        "inputs": dict(plan.inputs.get("files", {})) if plan.inputs else {},
        "counts": dict(plan.inputs.get("counts", {})) if plan.inputs else {},
        "date": plan.inputs.get("date", "") if plan.inputs else "",
        "area": plan.inputs.get("area", "") if plan.inputs else "",
        "timings_s": dict(plan.timings),
    }


def write_plan(plan: Plan, out_dir: str | Path, *, maps: bool = True, offline: bool = True,
               basemap: Basemap | None = None, png: bool = True, shapefiles: bool = False) -> list[Path]:
    """Write every output file of a plan into ``out_dir`` (see DESIGN.md's table).

    Besides the contract files: ``conflicts.csv`` (when any), ``plan.gpkg`` (enterprises,
    grids, units, service centres), ``coverage.png`` (a printed-report choropleth, when
    ``png`` and a CJK font is installed) and, with ``shapefiles``, ``shapefiles/`` in
    GBK for older GIS software. ``run.json`` is written last, so its presence marks a
    complete output folder.
    """
    from .coverage import coverage_table
    from .report import coverage_png, write_excel, write_geopackage, write_shapefiles

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [
        write_csv(_enterprise_table(plan.enterprises, ENTERPRISE_OUTPUT_COLUMNS), out / "enterprises.csv"),
        write_csv(_rejects(plan.rejects), out / "rejects.csv"),
        _grids_geojson(plan, out / "grids.geojson"),
        write_csv(plan.branches, out / "branches.csv", columns=BRANCH_COLUMNS),
        write_csv(coverage_table(plan), out / "coverage.csv"),
        write_csv(plan.gaps, out / "gaps.csv", columns=GAP_COLUMNS),
    ]
    if plan.conflicts is not None and not plan.conflicts.empty:
        written.append(write_csv(plan.conflicts, out / "conflicts.csv"))
    if len(plan.changes):  # a re-plan (--previous)
        written.append(write_csv(plan.changes, out / "changes.csv"))
    if len(plan.grid_checks):  # planner-edited grids (--grids)
        written.append(write_csv(plan.grid_checks, out / "grid_checks.csv"))
    written.append(write_excel(plan, out / "plan.xlsx"))  # the report writers are atomic themselves
    written.append(write_geopackage(plan, out / "plan.gpkg"))
    if png and len(plan.units):
        try:
            written.append(coverage_png(plan, out / "coverage.png"))
        except RuntimeError as exc:  # no CJK font on this machine: the PNG would be unreadable
            logger.warning("coverage.png not written: %s", exc)
    if shapefiles:
        written.extend(write_shapefiles(plan, out / "shapefiles"))
    if maps:
        from .maps import write_maps

        written.extend(write_maps(plan, out, offline=offline, basemap=basemap))
    record = run_record(plan)
    written.append(_write_with(out / "run.json", lambda tmp: tmp.write_text(
        json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")))
    return written


def read_plan(plan_dir: str | Path) -> Plan:
    """Read a plan back from a folder written by :func:`write_plan` (for ``gridcover map``)."""
    import pyogrio

    from .errors import GridcoverError

    folder = Path(plan_dir)
    gpkg = folder / "plan.gpkg"
    if not gpkg.is_file():
        msg = f"{folder} is not a gridcover plan folder (no plan.gpkg)"
        raise GridcoverError(msg)
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}

    def layer(name: str) -> gpd.GeoDataFrame:
        if name not in layers:
            return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4326"))
        return gpd.read_file(gpkg, layer=name)

    ent = layer("enterprises")
    enterprises = pd.DataFrame(ent.drop(columns="geometry")).set_index("uscc")
    for c in enterprises.columns:
        if enterprises[c].dtype == object or str(enterprises[c].dtype).startswith("str"):
            enterprises[c] = enterprises[c].fillna("").astype(str)
    config = Config()
    run_json = folder / "run.json"
    inputs: dict[str, Any] = {}
    if run_json.is_file():
        record = json.loads(run_json.read_text(encoding="utf-8"))
        config = Config.from_dict(record.get("config", {}))
        inputs = {"files": record.get("inputs", {}), "counts": record.get("counts", {}),
                  "date": record.get("date", ""), "area": record.get("area", "")}

    def csv(name: str) -> pd.DataFrame:
        p = folder / name
        return pd.read_csv(p, encoding="utf-8-sig", dtype=str, keep_default_na=False) if p.is_file() else pd.DataFrame()

    branches = csv("branches.csv")
    for c in ("members",):
        if c in branches:
            branches[c] = pd.to_numeric(branches[c]).astype("int64")
    if "max_distance_m" in branches:
        branches["max_distance_m"] = pd.to_numeric(branches["max_distance_m"])
    return Plan(enterprises=enterprises, grids=layer("grids"), branches=branches, units=layer("units"),
                rejects=csv("rejects.csv"), gaps=csv("gaps.csv"), service_centres=layer("service_centres"),
                config=config, inputs=inputs)
