"""Output files of ``validate``, ``plan`` and ``demo`` (the contract in DESIGN.md).

:func:`write_plan` is the one orchestrator of a plan folder: every file of a run is
written into a hidden folder beside ``out_dir``, listed with its SHA-256 in
``run.json`` (written last) and swapped in as a whole (:func:`gridcover._io.write_folder`),
so a reader, or a run killed at any moment, sees the complete previous plan or the
complete new one. :func:`read_plan` checks a folder against its ``run.json`` first.
CSVs are UTF-8 with BOM (Excel opens them as-is) with formula-safe text cells (OWASP);
GeoJSON is EPSG:4326.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import pandas as pd

from . import _io
from ._io import atomic_file, write_csv
from .config import Basemap, Config
from .ledger import Ledger
from .plan import Plan
from .schema import ACTION_LABELS, ENTERPRISE_OUTPUT_COLUMNS, LEDGER_COLUMNS, REJECT_FILE_COLUMNS

__all__ = ["atomic_path", "output_workers", "read_plan", "rewrite_maps", "write_csv", "write_plan",
           "write_validation"]

logger = logging.getLogger(__name__)

GRID_COLUMNS = ("grid_id", "unit", "n_enterprises", "staff", "members", "leader_uscc")
BRANCH_COLUMNS = ("branch_id", "grid_id", "status", "uscc", "members", "max_distance_m", "approx_points",
                  "lever")
GAP_COLUMNS = ("uscc", "rule_id", "message")
ADVICE_COLUMNS = ("uscc", "rule_id", "message")


def advice_table(enterprises: pd.DataFrame) -> pd.DataFrame:
    """``advice.csv``: what the rules advise an enterprise beyond its action (O2: elect a
    branch committee), one row per advice: ``uscc, rule_id, message``."""
    advice = (enterprises["advice"].fillna("").astype(str) if "advice" in enterprises
              else pd.Series("", index=enterprises.index, dtype="str"))
    advice = advice[advice.ne("")]
    return pd.DataFrame({"uscc": advice.index.astype(str), "rule_id": "O2", "message": advice.to_numpy()})

#: Names a plan folder may hold (DESIGN.md's table and the extra files of :func:`write_plan`).
PLAN_NAMES: Final = frozenset({
    "enterprises.csv", "rejects.csv", "grids.geojson", "branches.csv", "coverage.csv", "gaps.csv",
    "plan.xlsx", "map.html", "targets.csv", "members_needed.csv", "changes.csv", "grid_checks.csv",
    "run.json", "conflicts.csv", "advice.csv", "plan.gpkg", "coverage.png", "shapefiles", "maps",
    "books", "enterprises.parquet", "grids.parquet",
    "new_centres.csv", "responsibility.csv",
})
#: Files ``validate --out`` writes.
VALIDATION_NAMES: Final = ("enterprises.csv", "rejects.csv", "conflicts.csv")

#: One atomic file (kept under its earlier name): see :func:`gridcover._io.atomic_file`.
atomic_path = atomic_file


def _write_with(path: Path, writer: Callable[[Path], Any]) -> Path:
    with atomic_file(path) as tmp:
        writer(tmp)
    return path


def _enterprise_table(enterprises: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    df = enterprises.reset_index()
    for c in columns:
        if c not in df:
            df[c] = ""
    if "action_cn" in columns and "action" in df:
        df["action_cn"] = df["action"].astype(str).map(ACTION_LABELS).fillna("")
    out = df[list(columns)].copy()
    for c in ("lon", "lat"):
        if c in out:
            out[c] = pd.to_numeric(out[c], errors="coerce").round(6)
    return out


def _rejects(rejects: pd.DataFrame) -> pd.DataFrame:
    """The rejects table as written: ``source_row, uscc, reason, reason_cn``; a missing or
    blank ``reason_cn`` is the reason translated (:func:`gridcover._messages.reason_cn`)."""
    from ._messages import reason_cn

    if rejects is None or rejects.empty:
        return pd.DataFrame({c: [] for c in REJECT_FILE_COLUMNS})
    out = rejects.reindex(columns=list(REJECT_FILE_COLUMNS))
    given = out["reason_cn"].astype("string").fillna("").str.strip()
    translated = out["reason"].fillna("").astype(str).map(reason_cn)
    out["reason_cn"] = given.where(given.ne(""), translated)
    return out.sort_values("source_row", kind="stable")


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
    gdf = _grids_frame(plan)

    def writer(tmp: Path) -> None:
        tmp.write_text(gdf.to_json(drop_id=True, ensure_ascii=False, sort_keys=False), encoding="utf-8")

    return _write_with(path, writer)


def run_record(plan: Plan) -> dict[str, Any]:
    """What ``run.json`` holds: version, config, input fingerprints, counts, timings.

    ``timings_s`` holds the seconds of each stage of the pipeline (``ingest``,
    ``partition``, …) and, once :func:`write_plan` has written the folder, of each output:
    ``write:<file>`` per file (``write:maps/`` the unit maps together, ``write:books/``,
    ``write:shapefiles/``; with parallel writers, the time of each in its own process) and
    ``outputs``, the wall time of writing them all (before hashing).
    """
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


def output_workers(workers: int | None = None) -> int:
    """Processes writing a plan's files: ``workers``, or the CPUs this process may use."""
    if workers is not None:
        return max(1, int(workers))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def write_plan(plan: Plan, out_dir: str | Path, *, maps: bool = True, offline: bool = True,
               basemap: Basemap | None = None, png: bool = True, shapefiles: bool = False,
               tile_url: str | None = None, attribution: str | None = None,
               per_unit_books: bool = False, workers: int | None = None,
               parquet: bool | None = None) -> list[Path]:
    """Write every output file of a plan into ``out_dir`` as a whole (see DESIGN.md's table).

    Besides the contract files: ``conflicts.csv`` (when any), ``plan.gpkg`` (enterprises,
    grids, units, service centres), ``coverage.png`` (a printed-report choropleth, when
    ``png`` and a CJK font is installed) and, with ``shapefiles``, ``shapefiles/`` in
    GBK for older GIS software. The files are written into a hidden folder beside
    ``out_dir`` and swapped in together; ``run.json`` (written last) lists each with
    its SHA-256 and the seconds each took (``timings_s``, see :func:`run_record`).
    ``out_dir`` must be new, empty or an earlier plan folder.

    The writers are independent (each file, and each unit's map, is its own task) and
    run in ``workers`` forked processes, the largest first; the files are byte for byte
    those of a serial run (``workers=1``).

    At province size (``parquet``, by default from ``config.parquet_min_enterprises``
    enterprises) the plan also writes ``enterprises.parquet`` and ``grids.parquet``
    (GeoParquet, EPSG:4326: the columns of ``enterprises.csv`` with the point, of
    ``grids.geojson`` with the polygon) and ``plan.xlsx`` holds its summary sheets only
    (:data:`gridcover.report.SUMMARY_SHEETS`: 汇总 with the coverage tables, 指导员 which
    ``gridcover map`` reads back, 经费测算, 达标路径, 发展党员): the tables themselves
    are the CSV and Parquet files.

    Parameters
    ----------
    workers
        Processes writing the files (None: the CPUs this process may use; 1: serial).
    parquet
        Write the Parquet files and the summary workbook (None: at province size).

    Returns
    -------
    list of pathlib.Path
        The files of the plan folder, ``run.json`` last.

    Raises
    ------
    OutputError
        When ``out_dir`` holds other files or cannot be written (a full disk, a
        read-only file system); the previous plan is then left as it was.
    """
    import time

    from .coverage import measured
    from .gis import write_geopackage, write_geoparquet, write_shapefiles
    from .report import coverage_png, write_excel

    measured_once = measured(plan)  # measured once; every writer below reads this record
    plan = plan.replace(coverage=measured_once)
    coverage = measured_once.table()
    n = len(plan.enterprises)
    at_scale = n >= plan.config.parquet_min_enterprises if parquet is None else bool(parquet)

    def steps(out: Path) -> list[tuple[str, int, Callable[[], Any]]]:
        """(timing name, size to schedule by, writer) of every file."""
        def enterprise_table() -> pd.DataFrame:
            return _enterprise_table(plan.enterprises, ENTERPRISE_OUTPUT_COLUMNS)

        todo: list[tuple[str, int, Callable[[], Any]]] = [
            ("enterprises.csv", n // 4, lambda: write_csv(enterprise_table(), out / "enterprises.csv")),
            ("rejects.csv", 0, lambda: write_csv(_rejects(plan.rejects), out / "rejects.csv")),
            ("grids.geojson", len(plan.grids) // 4, lambda: _grids_geojson(plan, out / "grids.geojson")),
            ("branches.csv", 0, lambda: write_csv(plan.branches, out / "branches.csv", columns=BRANCH_COLUMNS)),
            ("coverage.csv", 0, lambda: write_csv(coverage, out / "coverage.csv")),
            ("gaps.csv", 0, lambda: write_csv(plan.gaps, out / "gaps.csv", columns=GAP_COLUMNS)),
        ]
        if plan.targets is not None:
            from .targets import MEMBERS_COLUMNS, TARGET_COLUMNS

            todo.append(("targets.csv", 0, lambda: write_csv(plan.targets.table, out / "targets.csv",
                                                             columns=TARGET_COLUMNS)))
            todo.append(("members_needed.csv", 0, lambda: write_csv(plan.targets.members, out / "members_needed.csv",
                                                                    columns=MEMBERS_COLUMNS)))
        if plan.responsible is not None:
            from .resources import RESPONSIBLE_COLUMNS

            todo.append(("responsibility.csv", 0, lambda: write_csv(plan.responsible, out / "responsibility.csv",
                                                                    columns=RESPONSIBLE_COLUMNS)))
        if plan.new_sites is not None:
            from .resources import SITE_COLUMNS

            todo.append(("new_centres.csv", 0, lambda: write_csv(
                pd.DataFrame(plan.new_sites).drop(columns="geometry", errors="ignore"),
                out / "new_centres.csv", columns=SITE_COLUMNS)))
        if plan.conflicts is not None and not plan.conflicts.empty:
            todo.append(("conflicts.csv", 0, lambda: write_csv(plan.conflicts, out / "conflicts.csv")))
        todo.append(("advice.csv", 0, lambda: write_csv(advice_table(plan.enterprises), out / "advice.csv",
                                                        columns=ADVICE_COLUMNS)))
        if len(plan.changes):  # a re-plan (--previous)
            todo.append(("changes.csv", 0, lambda: write_csv(plan.changes, out / "changes.csv")))
        if len(plan.grid_checks):  # planner-edited grids (--grids)
            todo.append(("grid_checks.csv", 0, lambda: write_csv(plan.grid_checks, out / "grid_checks.csv")))
        if at_scale:
            todo.append(("enterprises.parquet", n // 4, lambda: write_geoparquet(
                _points(enterprise_table()), out / "enterprises.parquet")))
            todo.append(("grids.parquet", len(plan.grids) // 4, lambda: write_geoparquet(
                _grids_frame(plan), out / "grids.parquet")))
        todo.append(("plan.xlsx", n if not at_scale else 0,
                     lambda: write_excel(plan, out / "plan.xlsx", summary_only=at_scale)))
        todo.append(("plan.gpkg", n // 2, lambda: write_geopackage(plan, out / "plan.gpkg")))
        if png and len(plan.units):
            todo.append(("coverage.png", len(plan.units) * 20, lambda: _coverage_png(coverage_png, plan,
                                                                                     out / "coverage.png")))
        if shapefiles:
            todo.append(("shapefiles/", n // 2, lambda: write_shapefiles(plan, out / "shapefiles")))
        if per_unit_books:  # 一园一策: books/<unit>.xlsx
            from .report import write_unit_books

            todo.append(("books/", n, lambda: write_unit_books(plan, out / "books")))
        if maps:
            from .maps import map_tasks

            for name, task in map_tasks(plan, out, offline=offline, basemap=basemap, tile_url=tile_url,
                                        attribution=attribution):
                todo.append((name if name == "map.html" else "maps/", task.size, task))
        return todo

    record = run_record(plan)

    def fill(out: Path) -> None:
        t0 = time.perf_counter()
        todo = steps(out)
        order = sorted(range(len(todo)), key=lambda k: -todo[k][1])
        timings: dict[str, float] = {}
        results = _io.run_tasks([t for _, _, t in todo], output_workers(workers), order=order)
        for i, ((name, _, _), (_, seconds)) in enumerate(zip(todo, results, strict=True), start=1):
            timings[name] = timings.get(name, 0.0) + seconds
            _io.fault_point(f"file:{i}")
        record["timings_s"].update({f"write:{k}": round(v, 3) for k, v in timings.items()})
        record["timings_s"]["outputs"] = round(time.perf_counter() - t0, 3)

    return _io.write_folder(out_dir, fill, record, known=PLAN_NAMES)


def _points(table: pd.DataFrame) -> gpd.GeoDataFrame:
    """The enterprises table with its points (EPSG:4326; none where unlocated)."""
    lon = pd.to_numeric(table["lon"], errors="coerce")
    lat = pd.to_numeric(table["lat"], errors="coerce")
    geometry = gpd.points_from_xy(lon, lat, crs="EPSG:4326")
    geometry[(lon.isna() | lat.isna()).to_numpy()] = None
    return gpd.GeoDataFrame(table, geometry=geometry, crs="EPSG:4326")


def _grids_frame(plan: Plan) -> gpd.GeoDataFrame:
    """The grids as ``grids.geojson`` holds them (its columns, EPSG:4326)."""
    grids = plan.grids
    cols = [c for c in GRID_COLUMNS if c in grids] + [c for c in ("unit_type", "leader_status") if c in grids]
    gdf = gpd.GeoDataFrame(grids[cols].copy(), geometry=grids.geometry, crs=grids.crs or "EPSG:4326")
    return gdf.to_crs("EPSG:4326").reset_index(drop=True)


def _coverage_png(writer: Callable[[Plan, Path], Path], plan: Plan, path: Path) -> None:
    try:
        writer(plan, path)
    except RuntimeError as exc:  # no CJK font on this machine: the PNG would be unreadable
        logger.warning("coverage.png not written: %s", exc)


def rewrite_maps(plan_dir: str | Path, *, offline: bool = True, basemap: Basemap | None = None,
                 per_unit: bool = True, tile_url: str | None = None,
                 attribution: str | None = None) -> list[Path]:
    """Re-render the maps of a plan folder in place, as a whole (``gridcover map``).

    The folder is checked against its ``run.json`` first; the new folder holds the
    same files with new maps and a new ``run.json``, swapped in together.

    Returns
    -------
    list of pathlib.Path
        The maps written.
    """
    from .maps import write_maps

    folder = Path(plan_dir)
    record = _io.verify_folder(folder)
    plan = _read_plan(folder, record)

    def fill(new: Path) -> None:
        for name in sorted(record["files"]):
            if name == "map.html" or name.startswith("maps/"):
                continue
            (new / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / name, new / name)
        write_maps(plan, new, offline=offline, basemap=basemap, per_unit=per_unit, tile_url=tile_url,
                   attribution=attribution)

    rest = {k: v for k, v in record.items() if k != "files"}
    written = _io.write_folder(folder, fill, rest, known=PLAN_NAMES)
    return [p for p in written if p.suffix == ".html"]


def read_plan(plan_dir: str | Path) -> Plan:
    """Read a plan back from a folder written by :func:`write_plan` (for ``gridcover map``).

    Raises
    ------
    OutputError
        One line when the folder is not the whole plan its ``run.json`` describes (a
        file missing or changed, ``run.json`` missing or damaged).
    """
    folder = Path(plan_dir)
    return _read_plan(folder, _io.verify_folder(folder))


def _read_plan(folder: Path, record: dict[str, Any]) -> Plan:
    import pyogrio

    from .errors import OutputError

    gpkg = folder / "plan.gpkg"
    if not gpkg.is_file():
        msg = f"{folder} is not a gridcover plan folder (no plan.gpkg)"
        raise OutputError(msg)
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
    config = Config.from_dict(record.get("config", {}))
    inputs = {"files": record.get("inputs", {}), "counts": record.get("counts", {}),
              "date": record.get("date", ""), "area": record.get("area", "")}

    def csv(name: str) -> pd.DataFrame:
        p = folder / name
        return _io.read_csv(p) if p.is_file() else pd.DataFrame()

    branches = csv("branches.csv")
    for c in ("members",):
        if c in branches:
            branches[c] = pd.to_numeric(branches[c]).astype("int64")
    if "max_distance_m" in branches:
        branches["max_distance_m"] = pd.to_numeric(branches["max_distance_m"])
    return Plan(enterprises=enterprises, grids=layer("grids"), branches=branches, units=layer("units"),
                rejects=csv("rejects.csv"), gaps=csv("gaps.csv"), service_centres=layer("service_centres"),
                instructors=_read_assignments(folder / "plan.xlsx"), config=config, inputs=inputs)


def _read_assignments(xlsx: Path) -> pd.DataFrame:
    """The roster assignment of a written plan (the 指导员 sheet's planned rows), so a plan read
    back measures the same work coverage and shortfall as the run that wrote it."""
    if not xlsx.is_file():
        return pd.DataFrame()
    sheet = pd.read_excel(xlsx, sheet_name="指导员", dtype=str, engine="calamine").fillna("")
    if not {"统一社会信用代码", "党建工作指导员", "来源"} <= set(sheet.columns):
        return pd.DataFrame()
    planned = sheet[sheet["来源"].ne("台账已有")]
    return pd.DataFrame({"uscc": planned["统一社会信用代码"].to_numpy(),
                         "instructor": planned["党建工作指导员"].to_numpy()})
