"""Where the per-unit work of the partition runs: this machine, or a Dask cluster.

Grids and branches never cross a jurisdiction unit, so the partition is one pure
function per unit (``gridcover.partition._run_unit``, ``gridcover.replan._run_replan_unit``)
mapped over an executor: anything with ``map(fn, jobs)`` that returns the results in
job order. This module makes that executor for an *engine*:

``local``
    serial (``workers == 1``) or a :class:`~concurrent.futures.ProcessPoolExecutor`.
``dask``
    a ``dask.distributed`` client: on a :class:`~distributed.LocalCluster` of
    ``workers`` processes (2 when ``workers`` is 1; one thread each) started for the
    run, or on any running cluster by its scheduler address (whose workers must be able
    to import gridcover). Each unit is one task; its data is scattered to the workers
    (no large task graph) and the results are gathered in job order, so the plan is the
    same on every engine.

Errors a user can act on (dask not installed, a scheduler that does not answer within
the connect timeout, an unknown engine) are :class:`EngineError` with one line from the
message catalogue.
"""

from __future__ import annotations

import logging
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from ._messages import msg
from .errors import GridcoverError

__all__ = ["CONNECT_TIMEOUT_S", "ENGINES", "Engine", "EngineError", "check_engine", "parse_engine",
           "unit_executor"]

logger = logging.getLogger(__name__)

Engine = Literal["local", "dask"]
ENGINES: tuple[Engine, ...] = ("local", "dask")
CONNECT_TIMEOUT_S = 10.0
"""Seconds to wait for a scheduler given by address before giving up (never hang)."""
DEFAULT_DASK_WORKERS = 2


class EngineError(GridcoverError, RuntimeError):
    """The engine cannot run: dask is not installed, or the scheduler does not answer."""


def parse_engine(value: str) -> Engine:
    """``value`` as an engine name (case and spaces ignored).

    Raises
    ------
    EngineError
        For a name that is not one of :data:`ENGINES`.
    """
    name = value.strip().lower()
    for engine in ENGINES:
        if name == engine:
            return engine
    raise EngineError(msg("err.engine", value=value, choices=", ".join(ENGINES)))


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise EngineError(msg("err.dask_missing")) from None
    return distributed


def _connect(address: str, timeout: float) -> Any:
    """A client of the scheduler at ``address``; :class:`EngineError` when it does not answer."""
    distributed = _distributed()
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        logger.info("scheduler %s: %s", address, exc)
        raise EngineError(msg("err.scheduler", address=address, timeout=f"{timeout:g}")) from None


def check_engine(engine: Engine, scheduler: str | None = None, *, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail early, before any work, when the engine cannot run.

    Parameters
    ----------
    engine
        ``"local"`` or ``"dask"``.
    scheduler
        A Dask scheduler address (``tcp://host:8786``); only with the ``dask`` engine.
        It is connected to (and disconnected from) once, within ``timeout`` seconds.

    Raises
    ------
    EngineError
        Unknown engine, a scheduler with the local engine, dask not installed, or a
        scheduler that does not answer.
    """
    parse_engine(engine)
    if engine == "local":
        if scheduler is not None:
            raise EngineError(msg("err.scheduler_needs_dask"))
        return
    _distributed()
    if scheduler is not None:
        _connect(scheduler, timeout).close()


class _DaskExecutor:
    """``map`` over a dask.distributed client: one task per job, results in job order."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> Iterator[Any]:
        jobs = list(zip(*iterables, strict=True))
        if not jobs:
            return iter(())
        # the units' data go to the workers once (hash=False: no tokenising of frames)
        data = self.client.scatter([list(job) for job in jobs], hash=False)
        run = uuid.uuid4().hex
        keys = [f"gridcover-unit-{i}-{run}" for i in range(len(jobs))]
        futures = self.client.map(_apply, [fn] * len(jobs), data, key=keys, pure=False)
        try:
            return iter(self.client.gather(futures))
        finally:
            self.client.cancel(futures + data)


def _apply(fn: Callable[..., Any], args: list[Any]) -> Any:
    return fn(*args)


@contextmanager
def unit_executor(engine: Engine = "local", *, workers: int = 1, scheduler: str | None = None,
                  timeout: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """The executor that maps the per-unit function for ``engine`` (closed on exit).

    Parameters
    ----------
    engine
        ``"local"``: serial when ``workers`` is 1 (yields ``None``), else a process
        pool of ``workers``. ``"dask"``: a dask.distributed client.
    workers
        Processes of the local pool, or of the LocalCluster the dask engine starts
        (2 when 1 is given); ignored with ``scheduler``.
    scheduler
        Address of a running Dask scheduler (dask engine only); ``None`` starts a
        LocalCluster for the run and closes it afterwards.
    timeout
        Seconds to wait for ``scheduler`` to answer.

    Yields
    ------
    Executor or None
        Something with ``map(fn, jobs)`` returning results in job order, or ``None``
        for the serial local engine.

    Raises
    ------
    EngineError
        See :func:`check_engine`.
    """
    check_engine(engine, scheduler if engine == "local" else None)
    if engine == "local":
        if workers <= 1:
            yield None
            return
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield pool
        return
    if scheduler is not None:
        client = _connect(scheduler, timeout)
        try:
            logger.info("partition on the dask scheduler %s (%d workers)", scheduler,
                        len(client.scheduler_info().get("workers", {})))
            yield _DaskExecutor(client)
        finally:
            client.close()
        return
    distributed = _distributed()
    n = workers if workers > 1 else DEFAULT_DASK_WORKERS
    quiet = logging.getLogger().getEffectiveLevel() > logging.INFO
    with warnings.catch_warnings():  # a second cluster on this machine moves its HTTP port: not the user's concern
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                           silence_logs=logging.ERROR if quiet else logging.WARNING)
    try:
        client = distributed.Client(cluster, set_as_default=False)
        try:
            logger.info("partition on a dask LocalCluster of %d workers at %s", n, cluster.scheduler_address)
            yield _DaskExecutor(client)
        finally:
            client.close()
    finally:
        cluster.close()
