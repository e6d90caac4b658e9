"""The whole pipeline from files to a :class:`~gridcover.Plan`, one function per entry point.

``run`` is what ``gridcover plan`` and ``gridcover demo`` call; ``locate`` is what
``gridcover validate`` calls. The stages themselves are pure functions in their own
modules; this module only reads the input files (the I/O edge) and chains them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd

from . import datasets
from ._engine import Engine, check_engine, unit_executor
from .classify import classify
from .config import Config
from .ledger import Ledger, check_row_accounting, read_ledger
from .plan import Plan

__all__ = ["Inputs", "locate", "run", "sample_inputs"]

logger = logging.getLogger(__name__)

PathLike = str | Path
StageCallback = Callable[[str], None]


@dataclass(frozen=True)
class Inputs:
    """The files of one planning run (only ``ledger`` is required).

    Attributes
    ----------
    ledger
        The ledger (台账): CSV, XLSX, GeoJSON or GeoPackage.
    townships, parks
        Township/street and park boundary files (GeoJSON, GeoPackage, Shapefile).
    gazetteer
        Village/community gazetteer CSV for offline geocoding of address-only rows.
    service_centres
        Party-mass service centres (党群服务中心), CSV with lon/lat or a vector file.
    instructors
        Instructor roster (党建工作指导员), CSV or XLSX.
    sheet
        Sheet of an XLSX ledger (name or 0-based index); the first by default.
    name_field, encoding
        Name field and attribute encoding of the boundary files, when not detected.
    area
        The area's name for map titles and reports (e.g. "青岚县"); optional.
    """

    ledger: PathLike
    townships: PathLike | None = None
    parks: PathLike | None = None
    gazetteer: PathLike | None = None
    service_centres: PathLike | None = None
    instructors: PathLike | None = None
    sheet: str | int | None = None
    name_field: str | None = None
    encoding: str | None = None
    area: str = ""

    def fingerprints(self) -> dict[str, dict[str, str]]:
        """File name and SHA-256 of every given input file (for ``run.json``)."""
        out: dict[str, dict[str, str]] = {}
        for name in ("ledger", "townships", "parks", "gazetteer", "service_centres", "instructors"):
            path = getattr(self, name)
            if path is not None and Path(path).is_file():
                out[name] = {"file": Path(path).name, "sha256": _sha256(Path(path))}
        return out


def sample_inputs() -> Inputs:
    """The bundled synthetic sample county (what ``gridcover demo`` runs on)."""
    return Inputs(
        ledger=datasets.get_path("ledger"),
        townships=datasets.get_path("townships"),
        parks=datasets.get_path("parks"),
        gazetteer=datasets.get_path("gazetteer"),
        service_centres=datasets.get_path("service_centres"),
        instructors=datasets.get_path("instructors"),
        area="青岚县（虚构示例）",
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Timer:
    def __init__(self, on_stage: StageCallback | None) -> None:
        self.timings: dict[str, float] = {}
        self._on_stage = on_stage

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self._on_stage is not None:
            self._on_stage(name)
        logger.info("stage %s", name)
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 3)


def _jurisdictions(inputs: Inputs) -> Any:
    from .jurisdictions import load_jurisdictions

    if inputs.townships is None:
        return None
    return load_jurisdictions(inputs.townships, inputs.parks, name_field=inputs.name_field,
                              encoding=inputs.encoding)


def _locate(inputs: Inputs, config: Config, timer: _Timer, geocoder: Any) -> tuple[Ledger, Any]:
    from .geocode import geocode, read_gazetteer

    with timer.stage("ingest"):
        ledger = read_ledger(inputs.ledger, sheet=inputs.sheet, config=config)
    with timer.stage("jurisdictions"):
        jurisdictions = _jurisdictions(inputs)
        gazetteer = read_gazetteer(inputs.gazetteer) if inputs.gazetteer is not None else None
    with timer.stage("geocode"):
        ledger = geocode(ledger, jurisdictions, gazetteer=gazetteer, config=config, geocoder=geocoder)
    with timer.stage("classify"):
        ledger = replace(ledger, enterprises=classify(ledger.enterprises, config))
    check_row_accounting(ledger.n_rows, ledger.enterprises, ledger.rejects, stage="geocode", source=str(inputs.ledger))
    return ledger, jurisdictions


def locate(inputs: Inputs, *, config: Config | None = None, geocoder: Any = None,
           on_stage: StageCallback | None = None) -> Ledger:
    """Ingest, validate, geocode and assign jurisdictions (what ``gridcover validate`` does).

    Parameters
    ----------
    inputs
        The input files; only ``ledger`` is required.
    config
        Rules and parameters (defaults per RULES.md).
    geocoder
        An opt-in online geocoder (see :mod:`gridcover.geocode`); ``None`` stays offline.
    on_stage
        Called with each stage's name as it starts (the CLI's progress display).

    Returns
    -------
    Ledger
        Accepted enterprises with location and class columns, and every rejected row.

    Raises
    ------
    AccountingError
        accepted + rejected differs from the ledger's data rows (checked at the end).
    """
    config = config or Config()
    ledger, _ = _locate(inputs, config, _Timer(on_stage), geocoder)
    return ledger


def run(inputs: Inputs, *, config: Config | None = None, geocoder: Any = None,
        on_stage: StageCallback | None = None, workers: int = 1, previous: Plan | PathLike | None = None,
        lock: PathLike | list[str] | None = None, grids: PathLike | gpd.GeoDataFrame | None = None,
        engine: Engine = "local", scheduler: str | None = None) -> Plan:
    """The whole pipeline: ingest → geocode → classify → partition → gaps → instructors → measure.

    Parameters
    ----------
    inputs
        The input files. Townships are needed for grids (the partition works inside
        jurisdiction units).
    config
        Rules and parameters (defaults per RULES.md).
    geocoder
        An opt-in online geocoder; ``None`` stays offline.
    on_stage
        Called with each stage's name as it starts.
    workers
        Processes that partition the jurisdiction units in parallel (1: serial), or the
        workers of the LocalCluster the ``dask`` engine starts (at least 2). The result
        is the same whatever the number.
    previous
        A previous plan (a :class:`Plan` or a plan folder): re-plan from it (quarterly
        update, :func:`gridcover.replan.replan`), keeping what still obeys the rules;
        the plan's ``changes`` say what changed and why.
    lock
        With ``previous``: a lock file (CSV with ``grid_id`` or ``branch_id``) or ids kept exactly.
    grids
        Planner-edited grid polygons (e.g. an edited ``grids.geojson``) that become the
        grids; the plan's ``grid_checks`` check each against the rules.
    engine
        Where the units are partitioned: ``"local"`` (this machine) or ``"dask"``
        (dask.distributed: each unit one task; a LocalCluster for the run unless
        ``scheduler`` is given). The plan is the same on every engine.
    scheduler
        Address of a running Dask scheduler (``engine="dask"`` only); checked before
        any work, so a wrong address fails in seconds.

    Returns
    -------
    Plan
        Enterprises with grid, branch, action and gaps; grids; joint branches; grid
        leaders; instructor assignments; and where it all came from.

    Raises
    ------
    AccountingError
        accepted + rejected differs from the ledger's data rows (checked at the end).
    EngineError
        dask is not installed, or the scheduler does not answer (before any work).

    Examples
    --------
    >>> import gridcover as gc
    >>> plan = gc.run(gc.sample_inputs())  # doctest: +SKIP
    """
    from .coverage import measure_plan
    from .gaps import find_gaps, gap_column
    from .partition import partition
    from .resources import assign_instructors, read_roster, read_service_centres

    config = config or Config()
    check_engine(engine, scheduler)  # dask missing, a scheduler that does not answer: fail before any work
    timer = _Timer(on_stage)
    ledger, jurisdictions = _locate(inputs, config, timer, geocoder)
    if jurisdictions is None:
        msg = "a township boundary file is needed to plan grids (--townships)"
        raise ValueError(msg)
    if lock is not None and previous is None:
        msg = "a lock needs the previous plan (--previous)"
        raise ValueError(msg)

    def _partition(executor: Any) -> Plan:
        if previous is None and grids is None:
            return partition(ledger, jurisdictions, config, executor=executor)
        from .levers import repack_replan
        from .replan import replan

        # the lever stage of a re-plan: only the grids it re-planned (kept and locked ones stay)
        return replan(ledger, jurisdictions, config, previous=previous, lock=lock, grids=grids, executor=executor,
                      repack=repack_replan(config))

    with timer.stage("partition"), unit_executor(engine, workers=workers, scheduler=scheduler) as executor:
        plan = _partition(executor)
    base = plan
    if previous is None and grids is None:  # a re-plan ran the lever stage on its re-planned grids
        with timer.stage("levers"):
            from .levers import apply_levers

            plan = apply_levers(plan, config)  # packs for coverage gained; L1–L5 per config.levers
    with timer.stage("gaps"):
        centres = (read_service_centres(inputs.service_centres) if inputs.service_centres is not None
                   else gpd.GeoDataFrame({"name": [], "township": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326")))
        gaps = find_gaps(plan.enterprises, config, service_centres=centres if len(centres) else None)
        enterprises = plan.enterprises.copy()
        enterprises["gaps"] = gap_column(enterprises, gaps)
        plan = plan.replace(enterprises=enterprises, gaps=gaps, service_centres=centres)
    if inputs.instructors is not None:
        with timer.stage("instructors"):
            from .resources import assign_responsible

            roster = read_roster(inputs.instructors)
            plan = assign_instructors(plan, roster, config=config)
            plan = assign_responsible(plan, roster, config=config)  # W4 分片包干
    check_row_accounting(ledger.n_rows, plan.enterprises, plan.rejects, stage="plan", source=str(inputs.ledger))
    with timer.stage("measure"):
        plan = plan.replace(coverage=measure_plan(plan))
    with timer.stage("targets"):
        from .targets import what_it_takes

        plan = plan.replace(targets=what_it_takes(plan, base, config))
    if config.new_centres:
        with timer.stage("centres"):
            from .resources import site_centres_full, site_new_centres

            sites = (site_centres_full(plan, config=config) if config.new_centres == "full"
                     else site_new_centres(plan, k=int(config.new_centres), config=config))
            plan = plan.replace(new_sites=sites)
    counts = {
        "input_rows": int(ledger.n_rows),
        "accepted": int(len(plan.enterprises)),
        "rejected": int(len(plan.rejects)),
        "grids": int(len(plan.grids)),
        "joint_branches": int(len(plan.branches)),
    }
    record = {"files": inputs.fingerprints(), "counts": counts, "date": run_date()}
    if inputs.area:
        record["area"] = inputs.area
    return plan.replace(inputs=record, timings={**timer.timings})


def run_date() -> str:
    """Today's date (ISO), or the date of ``SOURCE_DATE_EPOCH`` when set (reproducible builds)."""
    import datetime as dt
    import os

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date().isoformat()
    return dt.date.today().isoformat()
