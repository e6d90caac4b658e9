"""The ``gridcover`` command line (contract in DESIGN.md).

Exit codes: 0 success; 1 ``validate`` found rejected rows; 2 an input could not be
read or used at all (one line on stderr, no traceback); 3 an unexpected internal error
(one line; ``--verbose`` shows the traceback).

Help and messages are in Chinese; ``GRIDCOVER_LANG=en`` switches them to English. Every
string a user reads comes from one catalogue (:mod:`gridcover._messages`).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ._messages import lang, msg
from .config import Basemap as BasemapName
from .config import Config, load_config
from .errors import AccountingError, ConfigError, GridcoverError

app = typer.Typer(
    name="gridcover",
    help=msg("app.help"),
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

EXIT_REJECTS = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help=msg("opt.quiet"))]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help=msg("opt.verbose"))]
OutDir = Annotated[Path | None, typer.Option("--out", "-o", help=msg("opt.out"))]
Townships = Annotated[Path | None, typer.Option("--townships", help=msg("opt.townships"))]
Parks = Annotated[Path | None, typer.Option("--parks", help=msg("opt.parks"))]
Gazetteer = Annotated[Path | None, typer.Option("--gazetteer", help=msg("opt.gazetteer"))]
Sheet = Annotated[str | None, typer.Option("--sheet", help=msg("opt.sheet"))]
NameField = Annotated[str | None, typer.Option("--name-field", help=msg("opt.name_field"))]
Encoding = Annotated[str | None, typer.Option("--encoding", help=msg("opt.encoding"))]
ConfigFile = Annotated[Path | None, typer.Option("--config", help=msg("opt.config"))]
Online = Annotated[bool, typer.Option("--online-geocode", help=msg("opt.online"))]
Ledger = Annotated[Path, typer.Argument(help=msg("opt.ledger"))]
Tiles = Annotated[str | None, typer.Option("--tiles", help=msg("opt.tiles"))]
Attribution = Annotated[str | None, typer.Option("--attribution", help=msg("opt.attribution"))]


class _State:
    quiet = False
    verbose = False


def _setup(quiet: bool, verbose: bool) -> None:
    _State.quiet, _State.verbose = quiet, verbose
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    if quiet:
        logging.getLogger().setLevel(logging.ERROR)

    def show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if not quiet:
            err.print(msg("warn.prefix", msg=message), markup=False)

    warnings.showwarning = show_warning


def _say(msg: str) -> None:
    if not _State.quiet:
        out.print(msg)


def _fail(text: str, code: int) -> typer.Exit:
    err.print(msg("err.prefix", msg=text), markup=False)
    return typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn every failure into one line on stderr and an exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except AccountingError as exc:  # rows lost inside gridcover: never a silent success
        raise _fail(str(exc), EXIT_INTERNAL) from None
    except (GridcoverError, FileNotFoundError, PermissionError, IsADirectoryError, UnicodeDecodeError) as exc:
        raise _fail(str(exc), EXIT_INPUT) from None
    except OSError as exc:  # the disk or file system refused (full, read-only): not a bug of ours
        raise _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), EXIT_INPUT) from None
    except ImportError as exc:
        raise _fail(str(exc), EXIT_INPUT) from None
    except KeyboardInterrupt:
        raise _fail(msg("err.interrupted"), 130) from None
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
        if _State.verbose:
            err.print_exception()
        raise _fail(msg("err.internal", kind=type(exc).__name__, msg=exc), EXIT_INTERNAL) from None


@contextmanager
def _progress(stages: int) -> Iterator[Callable[[str], None] | None]:
    """A rich progress bar over pipeline stages on a terminal; nothing otherwise."""
    if _State.quiet or not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task(msg("stage.starting"), total=stages)
        seen: list[str] = []

        def on_stage(name: str) -> None:
            if seen:
                bar.advance(task)
            seen.append(name)
            bar.update(task, description=name)

        yield on_stage
        bar.update(task, completed=stages)


def _check_out(out_dir: Path, inputs: Any, config_file: Path | None, *, whole: bool) -> None:
    """Refuse an output folder before anything is read (exit 2, one line): a file, under
    a file, not writable, on a read-only or full file system, holding an input (a plan
    folder is replaced as a whole) or holding files that are not a plan."""
    from ._io import check_out_path
    from .outputs import PLAN_NAMES, VALIDATION_NAMES

    names = ("ledger", "townships", "parks", "gazetteer", "service_centres", "instructors")
    paths = [getattr(inputs, n) for n in names if getattr(inputs, n, None) is not None]
    if config_file is not None:
        paths.append(config_file)
    check_out_path(out_dir, inputs=paths, whole=whole, writes=VALIDATION_NAMES, known=PLAN_NAMES)


def _config(path: Path | None) -> Config:
    return load_config(path)


def _basemap(value: str | None) -> BasemapName | None:
    choices: tuple[BasemapName, ...] = ("osm", "amap", "tianditu", "none")
    if value is None:
        return None
    for choice in choices:
        if value.strip().lower() == choice:
            return choice
    text = msg("err.basemap", value=value, choices=", ".join(choices))
    raise ConfigError(text)


def _check_tiles(tiles: str | None) -> None:
    """Refuse a bad --tiles URL before any work (exit 2, one line)."""
    if tiles is not None:
        from .maps import check_tile_url

        check_tile_url(tiles)


def _geocoder(config: Config, online: bool) -> Any:
    if not online:
        return None
    from .geocode import make_online_geocoder

    return make_online_geocoder(config)


def _summary_ledger(ledger: Any) -> None:
    _say(msg("run.rows", read=ledger.n_rows, accepted=len(ledger.enterprises), rejected=len(ledger.rejects)))
    ent = ledger.enterprises
    if "precision" in ent:
        counts = {str(k): int(v) for k, v in ent["precision"].astype(str).value_counts(sort=False).items()}
        from ._labels import PRECISION_LABELS

        names = PRECISION_LABELS if lang() == "zh" else {k: k for k in PRECISION_LABELS}
        _say(msg("run.located", counts=", ".join(f"{names[k]} {counts[k]}" for k in
                                                 ("exact", "village", "township", "park", "unlocated")
                                                 if counts.get(k))))
    if ledger.conflicts is not None and len(ledger.conflicts):
        _say(msg("run.conflicts", n=len(ledger.conflicts)))
    if len(ledger.rejects) and not _State.quiet:
        from ._messages import reason_cn

        _say(msg("run.rejected_rows"))
        rows = ledger.rejects.sort_values("source_row", kind="stable")
        for r in rows.head(50).itertuples(index=False):
            reason = r.reason if lang() == "en" else (getattr(r, "reason_cn", "") or reason_cn(r.reason))
            out.print(msg("run.reject_row", row=r.source_row, uscc=r.uscc or msg("run.no_code"), reason=reason),
                      markup=False)
        if len(rows) > 50:
            _say(msg("run.more_rejects", n=len(rows) - 50))


@app.command(help=msg("cmd.validate"))
def validate(
    ledger: Ledger,
    townships: Townships = None,
    parks: Parks = None,
    gazetteer: Gazetteer = None,
    out_dir: OutDir = None,
    sheet: Sheet = None,
    name_field: NameField = None,
    encoding: Encoding = None,
    config_file: ConfigFile = None,
    online: Online = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Ingest, geocode and assign jurisdictions; print counts and reasons.

    Exit 0 when no row is rejected, 1 when some are, 2 when an input cannot be read.
    """
    _setup(quiet, verbose)
    from .outputs import write_validation
    from .pipeline import Inputs, locate

    with _errors():
        inputs = Inputs(ledger=ledger, townships=townships, parks=parks, gazetteer=gazetteer,
                        sheet=_sheet(sheet), name_field=name_field, encoding=encoding)
        if out_dir is not None:
            _check_out(out_dir, inputs, config_file, whole=False)
        config = _config(config_file)
        with _progress(4) as on_stage:
            result = locate(inputs, config=config, geocoder=_geocoder(config, online), on_stage=on_stage)
        _summary_ledger(result)
        if out_dir is not None:
            for p in write_validation(result, out_dir):
                _say(msg("run.wrote", path=p))
    if len(result.rejects):
        raise typer.Exit(EXIT_REJECTS)


def _sheet(sheet: str | None) -> str | int | None:
    if sheet is None:
        return None
    return int(sheet) if sheet.isdigit() else sheet


def _run_plan(inputs: Any, config: Config, out_dir: Path, *, online: bool, maps: bool, offline: bool,
              basemap: str | None, shapefiles: bool = False, workers: int = 1, tiles: str | None = None,
              attribution: str | None = None, per_unit_books: bool = False, engine: str = "local",
              scheduler: str | None = None, **replan: Any) -> None:
    from ._engine import parse_engine
    from .outputs import write_plan
    from .pipeline import run

    with _progress(8) as on_stage:
        plan = run(inputs, config=config, geocoder=_geocoder(config, online), on_stage=on_stage,
                   workers=workers, engine=parse_engine(engine), scheduler=scheduler,
                   **{k: v for k, v in replan.items() if v is not None})
        if on_stage is not None:
            on_stage(msg("stage.writing"))
        written = write_plan(plan, out_dir, maps=maps, offline=offline, basemap=_basemap(basemap),
                             shapefiles=shapefiles, tile_url=tiles, attribution=attribution,
                             per_unit_books=per_unit_books)
    _summary_plan(plan)
    _say(msg("run.wrote_files", n=len(written), out=out_dir))


def _summary_plan(plan: Any) -> None:
    from .coverage import measured

    counts = plan.inputs.get("counts", {})
    _say(msg("run.rows", read=counts.get("input_rows"), accepted=len(plan.enterprises), rejected=len(plan.rejects)))
    _say(msg("run.grids", grids=len(plan.grids), branches=len(plan.branches)))
    cov = measured(plan)
    t = cov.total()
    if int(t["enterprises"]):
        _say(msg("run.coverage", org_b=f"{t.org_rate_before:.1%}", org_a=f"{t.org_rate_after:.1%}",
                 work_b=f"{t.work_rate_before:.1%}", work_a=f"{t.work_rate_after:.1%}",
                 backstop=f"{t.backstop_rate_after:.1%}"))
        for line in cov.shortfall():
            _say(msg("run.note", line=line))


MapsFlag = Annotated[bool, typer.Option("--maps/--no-maps", help=msg("opt.maps"))]
OfflineFlag = Annotated[bool, typer.Option("--offline/--online-assets", help=msg("opt.offline"))]
Basemap = Annotated[str | None, typer.Option("--basemap", help=msg("opt.basemap"))]
UnitBooks = Annotated[bool, typer.Option("--per-unit-books", help=msg("opt.per_unit_books"))]


@app.command(help=msg("cmd.plan"))
def plan(
    ledger: Ledger,
    townships: Annotated[Path, typer.Option("--townships", help=msg("opt.townships_required"))],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help=msg("opt.out"))],
    parks: Parks = None,
    gazetteer: Gazetteer = None,
    service_centres: Annotated[Path | None, typer.Option("--service-centres", help=msg("opt.service_centres"))] = None,
    instructors: Annotated[Path | None, typer.Option("--instructors", help=msg("opt.instructors"))] = None,
    config_file: ConfigFile = None,
    sheet: Sheet = None,
    name_field: NameField = None,
    encoding: Encoding = None,
    online: Online = False,
    maps: MapsFlag = True,
    offline: OfflineFlag = True,
    basemap: Basemap = None,
    tiles: Tiles = None,
    attribution: Attribution = None,
    area: Annotated[str, typer.Option("--area", help=msg("opt.area"))] = "",
    shapefiles: Annotated[bool, typer.Option("--shapefiles", help=msg("opt.shapefiles"))] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help=msg("opt.workers"))] = 1,
    engine: Annotated[str, typer.Option("--engine", help=msg("opt.engine"))] = "local",
    scheduler: Annotated[str | None, typer.Option("--scheduler", help=msg("opt.scheduler"))] = None,
    per_unit_books: UnitBooks = False,
    previous: Annotated[Path | None, typer.Option("--previous", help=msg("opt.previous"))] = None,
    lock: Annotated[Path | None, typer.Option("--lock", help=msg("opt.lock"))] = None,
    grids: Annotated[Path | None, typer.Option("--grids", help=msg("opt.grids"))] = None,
    levers: Annotated[str | None, typer.Option("--levers", help=msg("opt.levers"))] = None,
    centres: Annotated[str | None, typer.Option("--centres", help=msg("opt.centres"))] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """The whole pipeline on your data: grids, joint branches, leaders, coverage, reports, maps."""
    _setup(quiet, verbose)
    from .pipeline import Inputs

    with _errors():
        inputs = Inputs(ledger=ledger, townships=townships, parks=parks, gazetteer=gazetteer,
                        service_centres=service_centres, instructors=instructors, sheet=_sheet(sheet),
                        name_field=name_field, encoding=encoding, area=area)
        if lock is not None and previous is None:
            raise _fail(msg("err.lock_needs_previous"), EXIT_INPUT)
        _check_out(out_dir, inputs, config_file, whole=True)
        config = _config(config_file)
        _check_tiles(tiles)
        if levers is not None:
            from .config import parse_levers

            config = config.replace(levers=parse_levers(levers))
        if centres is not None:
            config = config.replace(new_centres=centres.strip().lower())
        _run_plan(inputs, config, out_dir, online=online, maps=maps, offline=offline, basemap=basemap,
                  shapefiles=shapefiles, workers=workers, tiles=tiles, attribution=attribution,
                  per_unit_books=per_unit_books, engine=engine, scheduler=scheduler, previous=previous, lock=lock,
                  grids=grids)


@app.command(help=msg("cmd.demo"))
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help=msg("opt.demo_out"))] = Path("maps"),
    config_file: ConfigFile = None,
    maps: MapsFlag = True,
    basemap: Basemap = None,
    tiles: Tiles = None,
    attribution: Attribution = None,
    per_unit_books: UnitBooks = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Run everything on the bundled synthetic sample county (offline), writing to maps/."""
    _setup(quiet, verbose)
    from .pipeline import sample_inputs

    with _errors():
        _check_out(out_dir, sample_inputs(), config_file, whole=True)
        config = _config(config_file)
        _check_tiles(tiles)
        _say(msg("run.sample", path=sample_inputs().ledger))
        _run_plan(sample_inputs(), config, out_dir, online=False, maps=maps, offline=True, basemap=basemap,
                  tiles=tiles, attribution=attribution, per_unit_books=per_unit_books)


@app.command(help=msg("cmd.diff"))
def diff(
    old_ledger: Annotated[Path, typer.Argument(help=msg("opt.old_ledger"))],
    new_ledger: Annotated[Path, typer.Argument(help=msg("opt.new_ledger"))],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help=msg("opt.out"))],
    townships: Townships = None,
    parks: Parks = None,
    gazetteer: Gazetteer = None,
    config_file: ConfigFile = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Quarterly update: enterprises added, closed, moved, and changed counts/organisation."""
    _setup(quiet, verbose)
    from .diff import diff_ledgers, write_diff
    from .pipeline import Inputs, locate

    with _errors():
        config = _config(config_file)
        old = locate(Inputs(ledger=old_ledger, townships=townships, parks=parks, gazetteer=gazetteer), config=config)
        new = locate(Inputs(ledger=new_ledger, townships=townships, parks=parks, gazetteer=gazetteer), config=config)
        result = diff_ledgers(old, new, config=config)
        written = write_diff(result, out_dir)
        for name in ("added", "closed", "moved", "changed"):
            table = getattr(result, name, None)
            if table is not None:
                _say(msg("run.diff_count", label=msg(f"diff.{name}"), n=len(table)))
        _say(msg("run.wrote_files", n=len(written), out=out_dir))


@app.command(name="config", help=msg("cmd.config"))
def config_(
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help=msg("opt.config_out"))] = None,
    config_file: Annotated[Path | None, typer.Option("--config", help=msg("opt.config_from"))] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Print (or write) a TOML config with every rule threshold and parameter, documented."""
    _setup(quiet, verbose)
    from .config import config_template
    from .outputs import atomic_path

    with _errors():
        text = config_template(_config(config_file))
        if out_file is None:
            out.print(text, markup=False, end="")
        else:
            with atomic_path(out_file) as tmp:
                tmp.write_text(text, encoding="utf-8")
            _say(msg("run.wrote", path=out_file))


@app.command(name="map", help=msg("cmd.map"))
def map_(
    plan_dir: Annotated[Path, typer.Argument(help=msg("opt.plan_dir"))],
    out_dir: OutDir = None,
    basemap: Basemap = None,
    offline: OfflineFlag = True,
    tiles: Tiles = None,
    attribution: Attribution = None,
    per_unit: Annotated[bool, typer.Option("--per-unit/--no-per-unit", help=msg("opt.per_unit"))] = True,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Re-render the maps of a saved plan with other options."""
    _setup(quiet, verbose)
    from .maps import write_maps
    from .outputs import read_plan, rewrite_maps

    with _errors():
        chosen = _basemap(basemap)
        _check_tiles(tiles)
        if out_dir is None or (out_dir.exists() and plan_dir.exists() and out_dir.samefile(plan_dir)):
            written = rewrite_maps(plan_dir, offline=offline, basemap=chosen, per_unit=per_unit, tile_url=tiles,
                                   attribution=attribution)
        else:
            saved = read_plan(plan_dir)
            written = write_maps(saved, out_dir, offline=offline, basemap=chosen, per_unit=per_unit, tile_url=tiles,
                                 attribution=attribution)
        _say(msg("run.wrote_maps", n=len(written), out=out_dir or plan_dir))


def main() -> None:
    """Entry point of the ``gridcover`` console script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
