"""The ``gridcover`` command line (contract in DESIGN.md).

Exit codes: 0 success; 1 ``validate`` found rejected rows; 2 an input could not be
read or used at all (one line on stderr, no traceback); 3 an unexpected internal error
(one line; ``--verbose`` shows the traceback).
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

from .config import Basemap as BasemapName
from .config import Config, load_config
from .errors import ConfigError, GridcoverError

app = typer.Typer(
    name="gridcover",
    help="Plan party-building coverage (两个覆盖) of non-public enterprises: grids, joint branches, maps.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

EXIT_REJECTS = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print errors only.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log each step (and tracebacks of internal errors).")]
OutDir = Annotated[Path | None, typer.Option("--out", "-o", help="Output folder.")]
Townships = Annotated[Path | None, typer.Option("--townships", help="Township/street boundaries (GeoJSON, GeoPackage, Shapefile).")]
Parks = Annotated[Path | None, typer.Option("--parks", help="Park boundaries.")]
Gazetteer = Annotated[Path | None, typer.Option("--gazetteer", help="Village/community gazetteer CSV for address-only rows.")]
Sheet = Annotated[str | None, typer.Option("--sheet", help="Sheet of an XLSX ledger (name or 0-based index).")]
NameField = Annotated[str | None, typer.Option("--name-field", help="Name field of the boundary files, when not detected.")]
Encoding = Annotated[str | None, typer.Option("--encoding", help="Attribute encoding of Shapefile boundaries (e.g. GBK).")]


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
            err.print(f"gridcover: warning: {message}", markup=False)

    warnings.showwarning = show_warning


def _say(msg: str) -> None:
    if not _State.quiet:
        out.print(msg)


def _fail(msg: str, code: int) -> typer.Exit:
    err.print(f"gridcover: error: {msg}", markup=False)
    return typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn every failure into one line on stderr and an exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except (GridcoverError, FileNotFoundError, PermissionError, IsADirectoryError, UnicodeDecodeError) as exc:
        raise _fail(str(exc), EXIT_INPUT) from None
    except OSError as exc:  # the disk or file system refused (full, read-only): not a bug of ours
        raise _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), EXIT_INPUT) from None
    except ImportError as exc:
        raise _fail(str(exc), EXIT_INPUT) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
        if _State.verbose:
            err.print_exception()
        raise _fail(f"internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL) from None


@contextmanager
def _progress(stages: int) -> Iterator[Callable[[str], None] | None]:
    """A rich progress bar over pipeline stages on a terminal; nothing otherwise."""
    if _State.quiet or not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task("starting", total=stages)
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
    msg = f"--basemap {value!r} is not one of {', '.join(choices)}"
    raise ConfigError(msg)


def _geocoder(config: Config, online: bool) -> Any:
    if not online:
        return None
    from .geocode import make_online_geocoder

    return make_online_geocoder(config)


def _summary_ledger(ledger: Any) -> None:
    from collections import Counter

    _say(f"rows read: {ledger.n_rows}   accepted: {len(ledger.enterprises)}   rejected: {len(ledger.rejects)}")
    ent = ledger.enterprises
    if "precision" in ent:
        counts = Counter(ent["precision"])
        _say("located: " + ", ".join(f"{k} {counts[k]}" for k in ("exact", "village", "township", "park", "unlocated")
                                      if counts.get(k)))
    if ledger.conflicts is not None and len(ledger.conflicts):
        _say(f"declared township/park conflicts: {len(ledger.conflicts)}")
    if len(ledger.rejects) and not _State.quiet:
        _say("rejected rows:")
        rows = ledger.rejects.sort_values("source_row", kind="stable")
        for r in rows.head(50).itertuples(index=False):
            out.print(f"  row {r.source_row}: {r.uscc or '(no code)'}: {r.reason}", markup=False)
        if len(rows) > 50:
            _say(f"  … and {len(rows) - 50} more (see rejects.csv with --out)")


@app.command()
def validate(
    ledger: Annotated[Path, typer.Argument(help="Ledger file: CSV (UTF-8/GBK), XLSX, GeoJSON or GeoPackage.")],
    townships: Townships = None,
    parks: Parks = None,
    gazetteer: Gazetteer = None,
    out_dir: OutDir = None,
    sheet: Sheet = None,
    name_field: NameField = None,
    encoding: Encoding = None,
    config_file: Annotated[Path | None, typer.Option("--config", help="Config TOML.")] = None,
    online: Annotated[bool, typer.Option("--online-geocode", help="Opt in to the online geocoder of the config.")] = False,
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
                _say(f"wrote {p}")
    if len(result.rejects):
        raise typer.Exit(EXIT_REJECTS)


def _sheet(sheet: str | None) -> str | int | None:
    if sheet is None:
        return None
    return int(sheet) if sheet.isdigit() else sheet


def _run_plan(inputs: Any, config: Config, out_dir: Path, *, online: bool, maps: bool, offline: bool,
              basemap: str | None, shapefiles: bool = False, workers: int = 1) -> None:
    from .outputs import write_plan
    from .pipeline import run

    with _progress(8) as on_stage:
        plan = run(inputs, config=config, geocoder=_geocoder(config, online), on_stage=on_stage,
                   workers=workers)
        if on_stage is not None:
            on_stage("writing outputs")
        written = write_plan(plan, out_dir, maps=maps, offline=offline, basemap=_basemap(basemap),
                             shapefiles=shapefiles)
    _summary_plan(plan)
    _say(f"wrote {len(written)} files to {out_dir}")


def _summary_plan(plan: Any) -> None:
    from .coverage import measured

    counts = plan.inputs.get("counts", {})
    _say(f"rows read: {counts.get('input_rows')}   accepted: {len(plan.enterprises)}   rejected: {len(plan.rejects)}")
    _say(f"grids: {len(plan.grids)}   joint branches: {len(plan.branches)}")
    cov = measured(plan)
    t = cov.total()
    if int(t["enterprises"]):
        _say(f"organisational coverage: {t.org_rate_before:.1%} → {t.org_rate_after:.1%}   "
             f"work coverage: {t.work_rate_before:.1%} → {t.work_rate_after:.1%}   "
             f"backstop only (M5): {t.backstop_rate_after:.1%}")
        for line in cov.shortfall():
            _say(f"注意：{line}")


MapsFlag = Annotated[bool, typer.Option("--maps/--no-maps", help="Write map.html and one map per unit.")]
OfflineFlag = Annotated[bool, typer.Option("--offline/--online-assets", help="Inline every map asset (no network needed).")]
Basemap = Annotated[str | None, typer.Option("--basemap", help="osm, amap, tianditu or none.")]


@app.command()
def plan(
    ledger: Annotated[Path, typer.Argument(help="Ledger file: CSV (UTF-8/GBK), XLSX, GeoJSON or GeoPackage.")],
    townships: Annotated[Path, typer.Option("--townships", help="Township/street boundaries (required).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    parks: Parks = None,
    gazetteer: Gazetteer = None,
    service_centres: Annotated[Path | None, typer.Option("--service-centres", help="Party-mass service centres (CSV with lon/lat).")] = None,
    instructors: Annotated[Path | None, typer.Option("--instructors", help="Instructor roster (CSV/XLSX).")] = None,
    config_file: Annotated[Path | None, typer.Option("--config", help="Config TOML.")] = None,
    sheet: Sheet = None,
    name_field: NameField = None,
    encoding: Encoding = None,
    online: Annotated[bool, typer.Option("--online-geocode", help="Opt in to the online geocoder of the config.")] = False,
    maps: MapsFlag = True,
    offline: OfflineFlag = True,
    basemap: Basemap = None,
    area: Annotated[str, typer.Option("--area", help="The area's name for map titles and reports.")] = "",
    shapefiles: Annotated[bool, typer.Option("--shapefiles", help="Also write GBK Shapefiles for older GIS software.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes partitioning the units in parallel.")] = 1,
    levers: Annotated[str | None, typer.Option("--levers", help="Ways to organise beyond the base rules: all, or some of L1,L2,L3,L4,L5 (RULES.md).")] = None,
    centres: Annotated[str | None, typer.Option("--centres", help="Propose new service-centre sites: full (every gridded enterprise in a catchment) or a number K.")] = None,
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
        _check_out(out_dir, inputs, config_file, whole=True)
        config = _config(config_file)
        if levers is not None:
            from .config import parse_levers

            config = config.replace(levers=parse_levers(levers))
        if centres is not None:
            config = config.replace(new_centres=centres.strip().lower())
        _run_plan(inputs, config, out_dir, online=online, maps=maps, offline=offline, basemap=basemap,
                  shapefiles=shapefiles, workers=workers)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("maps"),
    config_file: Annotated[Path | None, typer.Option("--config", help="Config TOML.")] = None,
    maps: MapsFlag = True,
    basemap: Basemap = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Run everything on the bundled synthetic sample county (offline), writing to maps/."""
    _setup(quiet, verbose)
    from .pipeline import sample_inputs

    with _errors():
        _check_out(out_dir, sample_inputs(), config_file, whole=True)
        config = _config(config_file)
        _say(f"sample county: {sample_inputs().ledger}")
        _run_plan(sample_inputs(), config, out_dir, online=False, maps=maps, offline=True, basemap=basemap)


@app.command()
def diff(
    old_ledger: Annotated[Path, typer.Argument(help="Last quarter's ledger.")],
    new_ledger: Annotated[Path, typer.Argument(help="This quarter's ledger.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    townships: Townships = None,
    parks: Parks = None,
    gazetteer: Gazetteer = None,
    config_file: Annotated[Path | None, typer.Option("--config", help="Config TOML.")] = None,
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
                _say(f"{name}: {len(table)}")
        _say(f"wrote {len(written)} files to {out_dir}")


@app.command(name="config")
def config_(
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write the TOML here instead of printing it.")] = None,
    config_file: Annotated[Path | None, typer.Option("--config", help="Start from this config instead of the defaults.")] = None,
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
            _say(f"wrote {out_file}")


@app.command(name="map")
def map_(
    plan_dir: Annotated[Path, typer.Argument(help="A folder written by `gridcover plan` or `demo`.")],
    out_dir: OutDir = None,
    basemap: Basemap = None,
    offline: OfflineFlag = True,
    per_unit: Annotated[bool, typer.Option("--per-unit/--no-per-unit", help="Also one map per unit.")] = True,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Re-render the maps of a saved plan with other options."""
    _setup(quiet, verbose)
    from .maps import write_maps
    from .outputs import read_plan, rewrite_maps

    with _errors():
        chosen = _basemap(basemap)
        if out_dir is None or (out_dir.exists() and plan_dir.exists() and out_dir.samefile(plan_dir)):
            written = rewrite_maps(plan_dir, offline=offline, basemap=chosen, per_unit=per_unit)
        else:
            saved = read_plan(plan_dir)
            written = write_maps(saved, out_dir, offline=offline, basemap=chosen, per_unit=per_unit)
        _say(f"wrote {len(written)} maps to {out_dir or plan_dir}")


def main() -> None:
    """Entry point of the ``gridcover`` console script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
