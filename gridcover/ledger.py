"""Ledger (台账) ingest and validation.

Reads a ledger file (CSV in UTF-8 / UTF-8 with BOM / GBK / GB18030, XLSX, GeoJSON or
GeoPackage points), matches Chinese or canonical headers, normalises values and
validates every row. Each data row ends in exactly one of ``Ledger.enterprises`` or
``Ledger.rejects``: accepted + rejected = data rows, always.

Examples
--------
>>> import tempfile, pathlib
>>> from gridcover import read_ledger
>>> text = ("统一社会信用代码,企业名称,地址,职工人数,正式党员数\\n"
...         "91350100M000100Y43,甲公司,鼓楼区,25人,3\\n"
...         "91350100M000100Y44,乙公司,鼓楼区,８,1\\n")
>>> path = pathlib.Path(tempfile.mkdtemp()) / "ledger.csv"
>>> _ = path.write_text(text, encoding="gbk")
>>> ledger = read_ledger(path)
>>> ledger.n_rows, len(ledger.enterprises), ledger.enterprises["staff"].tolist()
(2, 1, [25])
>>> ledger.rejects["source_row"].tolist(), ledger.rejects["reason"].tolist()
([3], ["uscc '91350100M000100Y44' check character is 4, expected 3"])
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import re
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from ._normalize import (
    FIELD_LABELS,
    cell_text,
    header_field,
    parse_bool,
    parse_count,
    parse_crs,
    parse_industry,
    parse_org_type,
)
from ._uscc import PATTERN, checksum_ok, compact, uscc_problem
from .config import Config
from .coords import in_china
from .errors import LedgerError
from .schema import LEDGER_COLUMNS, REJECT_COLUMNS

__all__ = ["Ledger", "read_ledger"]

logger = logging.getLogger(__name__)

#: Rows at the top of a sheet searched for the header row (title rows come first).
HEADER_SCAN_ROWS: Final = 15
#: Columns of ``Ledger.warnings``.
WARNING_COLUMNS: Final = ("source_row", "uscc", "message")
#: Spreadsheet readers tried in order: python-calamine (fast, optional), then openpyxl.
XLSX_ENGINES: tuple[str, ...] = ("calamine", "openpyxl")

_REQUIRED: Final = ("uscc", "name", "staff", "members")
_TEXT_FIELDS: Final = {"address": "address", "township": "township_declared", "village": "village",
                       "park": "park_declared", "org_name": "org_name", "instructor": "instructor"}
_XLSX_MAGIC: Final = b"PK\x03\x04"
_XLS_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_INVISIBLE = r"[\s\u200b\u200c\u200d\u2060\ufeff]+"


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "source_row" else "str") for c in REJECT_COLUMNS})


def _empty_warnings() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "source_row" else "str") for c in WARNING_COLUMNS})


@dataclass(frozen=True)
class Ledger:
    """An ingested ledger: accepted enterprises and rejected rows.

    Attributes
    ----------
    enterprises
        Accepted rows, indexed by ``uscc``, columns per :mod:`gridcover.schema`
        (later stages return new Ledgers with more columns).
    rejects
        ``source_row, uscc, reason``, one line per rejected data row.
    n_rows
        Data rows read (fully empty rows are not data rows).
    source
        The file read, as given.
    sha256
        Hash of the file's bytes (for ``run.json``).
    conflicts
        Rows whose declared township/park disagrees with their point
        (``uscc, source_row, declared, spatial, resolution``); filled by geocoding.
    warnings
        Recoverable fixes applied to accepted rows (``source_row, uscc, message``).
    encoding
        Text encoding a CSV ledger was read with ("" for other formats).
    header_row
        Spreadsheet row of the (first) header row (0 for GeoJSON/GeoPackage).
    ignored_columns
        Headers that name no ledger field, in sheet order.
    """

    enterprises: pd.DataFrame
    rejects: pd.DataFrame = field(default_factory=_empty_rejects)
    n_rows: int = 0
    source: str = ""
    sha256: str = ""
    conflicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: pd.DataFrame = field(default_factory=_empty_warnings)
    encoding: str = ""
    header_row: int = 0
    ignored_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Sheet:
    """Cells of a sheet as text (str dtype, "" when empty) and each row's source number."""

    cells: pd.DataFrame
    rows: np.ndarray
    encoding: str = ""
    header_at: int | None = None


def read_ledger(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    config: Config | None = None,
    encoding: str | None = None,
) -> Ledger:
    """Read and validate a ledger (台账) file.

    Parameters
    ----------
    path
        A CSV (UTF-8, UTF-8 with BOM, UTF-16 with BOM, GBK/GB18030 — detected from a
        byte-order mark, else a strict UTF-8 decode, else GB18030), XLSX, GeoJSON or
        GeoPackage file. The format is recognised from the file's bytes, then its suffix.
    sheet
        XLSX sheet (name, or 0-based index; default the first sheet) or GeoPackage layer.
    config
        Rule switches used here: ``uscc_checksum_reject`` and ``fix_swapped_coordinates``.
    encoding
        Text encoding of a CSV, overriding detection.

    Returns
    -------
    Ledger
        ``enterprises`` (indexed by uscc, columns :data:`gridcover.schema.LEDGER_COLUMNS`),
        ``rejects`` (one line per rejected row, every problem of the row named in its
        reason) and ``warnings`` (recoverable fixes on accepted rows).

    Raises
    ------
    LedgerError
        The file is missing, empty or unreadable, has no recognisable header row in
        its first rows, or lacks a required column (uscc, name, staff, members, and
        an address or lon/lat).

    Notes
    -----
    Headers match a Chinese or canonical name ignoring whitespace, full-width forms,
    case and bracket style; a trailing unit such as ``（人）`` is ignored. In a sheet,
    the header row is the row among the first 15 that names the most fields (a
    second header row below it, such as 正式党员/预备党员 under a merged 党员情况,
    is merged in); title rows above it are skipped. Columns that name no field are
    ignored and logged. When two columns name one field, the first non-blank wins.

    ``source_row`` is the row a person sees: the Excel row number, or the CSV line
    number in a text editor (header line = 1); for GeoJSON/GeoPackage, the 1-based
    feature number. Fully empty rows are skipped and not counted.

    A row is rejected, with every problem named, for: a blank or malformed USCC, a
    failed check character (GB 32100-2015; only a warning when
    ``config.uscc_checksum_reject`` is off), a USCC already used by an earlier row
    (``duplicate of row N``; the first is kept), a blank name, a blank, non-numeric,
    fractional or negative staff or members count (probationary may be blank = 0),
    formal members above staff, an unknown org_type or crs, neither address nor
    coordinates, only one of lon/lat, and coordinates outside China
    (:data:`gridcover.coords.CHINA_BOX`). When a point lies outside China but the
    swapped pair lies inside, lon and lat were swapped: with
    ``config.fix_swapped_coordinates`` (default) they are swapped back, ``lon_src``/
    ``lat_src`` hold the corrected values and a warning names the values as
    written; otherwise the row is rejected. A blank or unknown industry becomes ""
    (unknown with a warning); an unrecognised yes/no value becomes the default with
    a warning. In GeoJSON/GeoPackage files without lon/lat columns the point geometry
    gives lon/lat (reprojected to EPSG:4326 when the file has another CRS); the crs
    column, if any, still applies to them.
    """
    config = config if config is not None else Config()
    p = Path(path)
    data = _read_bytes(p)
    digest = hashlib.sha256(data).hexdigest()
    kind = _format(p, data)
    if kind == "csv":
        found = _csv_sheet(p, data, encoding)
    elif kind in ("xlsx", "xls"):
        found = _xlsx_sheet(p, data, sheet, legacy=kind == "xls")
    else:
        found = _geo_sheet(p, sheet)
    del data
    logger.info("read %s as %s%s: %d rows", p, kind, f" ({found.encoding})" if found.encoding else "",
                len(found.cells))

    start, height, mapping = _find_header(p, found)
    _check_required(p, found, start, height, set(mapping.values()))
    header_cells = found.cells.iloc[start:start + height]
    ignored = tuple(
        " / ".join(v for v in header_cells[c].tolist() if v)
        for c in found.cells.columns if c not in mapping and any(header_cells[c].tolist())
    )
    if ignored:
        logger.info("ignoring columns that name no ledger field: %s", ", ".join(ignored))
    if height > 1:
        logger.info("header spans rows %d-%d", found.rows[start], found.rows[start + height - 1])
    header_row = int(found.rows[start])
    used_encoding = found.encoding
    raw, rows = _fields(found, start + height, mapping)
    del found  # free the cells of ignored columns before validating

    enterprises, rejects, warns = _validate(raw, rows, config)
    logger.info("ledger %s: %d rows, %d accepted, %d rejected, %d warnings", p, len(rows),
                len(enterprises), len(rejects), len(warns))
    return Ledger(
        enterprises=enterprises,
        rejects=rejects,
        n_rows=len(rows),
        source=str(path),
        sha256=digest,
        warnings=warns,
        encoding=used_encoding,
        header_row=header_row,
        ignored_columns=ignored,
    )


def _fields(sheet: _Sheet, first: int, mapping: dict[Any, str]) -> tuple[dict[str, pd.Series], np.ndarray]:
    """Text of each field over the non-empty data rows, and those rows' source numbers.

    Fully empty rows (every cell blank, ignored columns included) are dropped; when
    two columns name one field, the first non-blank value wins.
    """
    body = sheet.cells.iloc[first:]
    nonblank = np.zeros(len(body), dtype=bool)
    for c in body.columns:
        nonblank |= body[c].ne("").to_numpy()
    raw: dict[str, pd.Series] = {}
    for col, name in mapping.items():
        values = body[col][nonblank].reset_index(drop=True)
        raw[name] = raw[name].where(raw[name].ne(""), values) if name in raw else values
    return raw, sheet.rows[first:][nonblank].astype(np.int64)


# --- reading ----------------------------------------------------------------------------

def _read_bytes(p: Path) -> bytes:
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        msg = f"ledger file not found: {p}"
        raise LedgerError(msg) from None
    except IsADirectoryError:
        msg = f"ledger path is a folder, not a file: {p}"
        raise LedgerError(msg) from None
    except OSError as exc:
        msg = f"cannot read ledger file {p}: {exc.strerror or exc}"
        raise LedgerError(msg) from None
    if not data.strip():
        msg = f"ledger file {p} is empty"
        raise LedgerError(msg)
    return data


def _format(p: Path, data: bytes) -> str:
    if data.startswith(_XLSX_MAGIC):
        return "xlsx"
    if data.startswith(_XLS_MAGIC):
        return "xls"
    if data.startswith(_SQLITE_MAGIC):
        return "gpkg"
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        msg = f"ledger file {p} is not a readable Excel workbook (its content is not XLSX)"
        raise LedgerError(msg)
    if suffix in (".geojson", ".json") or data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return "geojson"
    if suffix == ".gpkg":
        msg = f"ledger file {p} is not a readable GeoPackage"
        raise LedgerError(msg)
    return "csv"


def _decode(p: Path, data: bytes, encoding: str | None) -> tuple[str, str]:
    """Text of a CSV and the encoding used: override, BOM, strict UTF-8, GB18030, then
    charset-normalizer's best guess."""
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            msg = f"unknown text encoding {encoding!r}"
            raise LedgerError(msg) from None
        except UnicodeDecodeError as exc:
            msg = f"ledger file {p} is not valid {encoding} text (byte {exc.start})"
            raise LedgerError(msg) from None
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(name), name
            except UnicodeDecodeError as exc:
                msg = f"ledger file {p} starts with a {name} byte-order mark but is not valid {name} (byte {exc.start})"
                raise LedgerError(msg) from None
    for name in ("utf-8", "gb18030"):
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        msg = f"ledger file {p} is not text in a known encoding (tried UTF-8, GB18030); pass encoding="
        raise LedgerError(msg)
    return str(best), str(best.encoding)


def _csv_sheet(p: Path, data: bytes, encoding: str | None) -> _Sheet:
    text, used = _decode(p, data, encoding)
    if "\x00" in text:
        msg = f"ledger file {p} is binary, not a CSV text file"
        raise LedgerError(msg)
    lines = text.split("\n") if "\n" in text else text.split("\r")
    sample = [line for line in lines[:50] if line.strip()]
    delimiter = max((",", "\t", ";", "|"), key=lambda d: sum(line.count(d) for line in sample))
    width = max(line.count(delimiter) for line in lines) + 1
    physical_lines = len(lines) - (lines[-1] == "")
    del lines
    try:
        cells = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, names=range(width), dtype=str,
                            keep_default_na=False, na_filter=False, skip_blank_lines=False, engine="c")
    except (pd.errors.ParserError, ValueError):
        cells = None
    if cells is not None and len(cells) == physical_lines:
        # one record per line, so record i is on line i + 1
        numbers = np.arange(1, len(cells) + 1, dtype=np.int64)
        return _Sheet(cells=_stripped(cells), rows=numbers, encoding=used)
    # a quoted cell holds a line break: the csv module tells the line each record starts on
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[list[str]] = []
    starts: list[int] = []
    previous = 0
    try:
        for record in reader:
            records.append(record)
            starts.append(previous + 1)
            previous = reader.line_num
    except csv.Error as exc:
        msg = f"ledger file {p} is not a readable CSV (line {reader.line_num}): {exc}"
        raise LedgerError(msg) from None
    return _Sheet(cells=_as_text(_grid(records)), rows=np.asarray(starts, dtype=np.int64), encoding=used)


def _grid(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Ragged rows of cells as an object DataFrame, short rows padded with ``None``."""
    if not rows:
        return pd.DataFrame()
    width = max(map(len, rows))
    padded = [r if len(r) == width else [*r, *([None] * (width - len(r)))] for r in rows]
    return pd.DataFrame(padded, dtype=object)


def _stripped(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells without surrounding whitespace (one strip per distinct value).
    Empties ``frame`` column by column as it goes, to bound the peak memory."""
    out = {}
    for i, c in enumerate(list(frame.columns)):
        codes, uniques = pd.factorize(frame.pop(c), use_na_sentinel=False)
        texts = np.asarray([str(u).strip() for u in uniques.tolist()], dtype=object)
        out[i] = pd.Series(texts[codes], dtype="str")
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame))) if out else pd.DataFrame(index=pd.RangeIndex(len(frame)))


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells of any type as the stripped text a person reads (str dtype, "" when empty)."""
    out = {}
    for i, c in enumerate(frame.columns):
        codes, uniques = pd.factorize(frame[c], use_na_sentinel=True)
        texts = np.asarray([cell_text(u).strip() for u in uniques.tolist()] + [""], dtype=object)
        out[i] = pd.Series(texts[codes], dtype="str")
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame))) if out else pd.DataFrame(index=pd.RangeIndex(len(frame)))


def _xlsx_sheet(p: Path, data: bytes, sheet: str | int | None, *, legacy: bool) -> _Sheet:
    engines = [e for e in XLSX_ENGINES if e != "openpyxl" or not legacy]
    rows: Sequence[Sequence[Any]]
    for engine in engines:
        if engine == "calamine":
            try:
                import python_calamine  # type: ignore[import-not-found]  # noqa: F401
            except ImportError:
                continue
            rows = _calamine_rows(p, data, sheet)
        else:
            rows = _openpyxl_rows(p, data, sheet)
        return _Sheet(cells=_as_text(_grid(rows)), rows=np.arange(1, len(rows) + 1, dtype=np.int64))
    msg = (f"ledger file {p} is a legacy .xls workbook: save it as .xlsx "
           "(or pip install python-calamine to read .xls)")
    raise LedgerError(msg)


def _pick_sheet(p: Path, names: Sequence[str], sheet: str | int | None) -> int:
    if not names:
        msg = f"workbook {p} has no worksheet"
        raise LedgerError(msg)
    if sheet is None:
        return 0
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if 0 <= sheet < len(names):
            return sheet
        msg = f"workbook {p} has {len(names)} sheet(s); sheet index {sheet} does not exist (sheets: {', '.join(names)})"
        raise LedgerError(msg)
    if isinstance(sheet, str) and sheet in names:
        return list(names).index(sheet)
    msg = f"workbook {p} has no sheet {sheet!r}; sheets: {', '.join(names)}"
    raise LedgerError(msg)


def _openpyxl_rows(p: Path, data: bytes, sheet: str | int | None) -> Sequence[Sequence[Any]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    with warnings.catch_warnings():
        # e.g. "Workbook contains no default style": irrelevant to the values read
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
            msg = f"ledger file {p} is not a readable XLSX workbook: {exc}"
            raise LedgerError(msg) from None
        try:
            worksheets = book.worksheets
            ws = worksheets[_pick_sheet(p, [w.title for w in worksheets], sheet)]
            # read-only iteration starts at row 1 and yields empty rows too, so the
            # position of a row is its Excel row number - 1
            return list(ws.iter_rows(values_only=True))
        finally:
            book.close()


def _calamine_rows(p: Path, data: bytes, sheet: str | int | None) -> Sequence[Sequence[Any]]:
    """Rows of a sheet read by python-calamine; ``skip_empty_area=False`` keeps the empty
    rows and columns at the top left, so a row's position is its Excel row number - 1."""
    from python_calamine import CalamineWorkbook  # type: ignore[import-not-found]

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        index = _pick_sheet(p, list(book.sheet_names), sheet)
        rows = book.get_sheet_by_index(index).to_python(skip_empty_area=False)
    except LedgerError:
        raise
    except Exception as exc:  # calamine raises its own error types for bad files
        msg = f"ledger file {p} is not a readable workbook: {exc}"
        raise LedgerError(msg) from None
    return rows  # empty cells are "" (cell_text reads them as blank)


def _geo_sheet(p: Path, layer: str | int | None) -> _Sheet:
    import geopandas as gpd
    import pyogrio

    try:
        layers = [str(name) for name in pyogrio.list_layers(p)[:, 0]]
        chosen = layers[_pick_sheet(p, layers, layer)]
        gdf = gpd.read_file(p, layer=chosen)
    except LedgerError:
        raise
    except Exception as exc:  # pyogrio/GDAL errors
        msg = f"ledger file {p} is not a readable GeoJSON/GeoPackage: {exc}"
        raise LedgerError(msg) from None
    geometry_name = getattr(gdf, "active_geometry_name", None)  # None for a table without geometry
    attributes = pd.DataFrame(gdf.drop(columns=geometry_name) if geometry_name else gdf)
    names = [str(c) for c in attributes.columns]
    texts = _as_text(attributes.astype(object))
    present = {header_field(n) for n in names}
    if geometry_name and not ({"lon", "lat"} & present):
        geoms = gdf.geometry
        if geoms.crs is not None and not geoms.crs.equals("EPSG:4326"):
            geoms = geoms.to_crs("EPSG:4326")
        points = (geoms.geom_type == "Point").to_numpy() & ~geoms.is_empty.to_numpy()
        others = ~points & geoms.notna().to_numpy()
        if others.any():
            logger.info("%s: %d non-point geometries give no coordinates", p, int(others.sum()))
        lon = np.full(len(geoms), np.nan)
        lat = np.full(len(geoms), np.nan)
        lon[points] = geoms[points].x.to_numpy()
        lat[points] = geoms[points].y.to_numpy()
        texts[len(names)] = _as_text(pd.DataFrame({0: lon}).astype(object))[0]
        texts[len(names) + 1] = _as_text(pd.DataFrame({0: lat}).astype(object))[0]
        names += ["lon", "lat"]
    header = pd.DataFrame([names], columns=texts.columns).astype("str")
    cells = pd.concat([header, texts], ignore_index=True) if len(texts) else header
    return _Sheet(cells=cells, rows=np.arange(0, len(cells), dtype=np.int64), header_at=0)


# --- header -----------------------------------------------------------------------------

def _find_header(p: Path, sheet: _Sheet) -> tuple[int, int, dict[Any, str]]:
    """(position of the first header row, number of header rows, {column: field})."""
    scan = sheet.cells.iloc[: HEADER_SCAN_ROWS if sheet.header_at is None else 1]
    columns = list(scan.columns)
    matched = [[header_field(v) if v.strip() else None for v in scan.iloc[r].tolist()] for r in range(len(scan))]
    best: tuple[tuple[int, int, int], int, int, dict[Any, str]] | None = None
    for r, row in enumerate(matched):
        single = {columns[j]: f for j, f in enumerate(row) if f}
        candidates = [(single, 1)]
        if r + 1 < len(matched) and sheet.header_at is None:
            below = matched[r + 1]
            filled = [j for j, v in enumerate(scan.iloc[r + 1].tolist()) if v.strip()]
            hits = [j for j in filled if below[j]]
            # a second header row (正式党员/预备党员 under a merged 党员情况): mostly
            # header names, each under a blank or unmatched cell of the row above
            if hits and 2 * len(hits) >= len(filled) and not any(row[j] for j in hits):
                merged = dict(single)
                merged.update({columns[j]: below[j] for j in hits})  # type: ignore[misc]
                candidates.append((merged, 2))
        for mapping, height in candidates:
            key = (len(set(mapping.values())), -height, -r)
            if best is None or key > best[0]:
                best = (key, r, height, mapping)
    if best is None or best[0][0] == 0:
        first: list[str] = next((row for row in (scan.iloc[r].tolist() for r in range(len(scan))) if any(v.strip() for v in row)), [])
        seen = ", ".join(v.strip() for v in first if v.strip())[:200]
        msg = (f"ledger file {p} has no header row in its first {HEADER_SCAN_ROWS} rows naming ledger columns "
               f"(such as {FIELD_LABELS['uscc']}, {FIELD_LABELS['name']}, {FIELD_LABELS['staff']}); "
               f"first row read: {seen or '(nothing)'}")
        raise LedgerError(msg)
    _, r, height, mapping = best
    return r, height, mapping


def _check_required(p: Path, sheet: _Sheet, start: int, height: int, fields: set[str]) -> None:
    missing = [f"{f} ({FIELD_LABELS[f]})" for f in _REQUIRED if f not in fields]
    if "address" not in fields and not {"lon", "lat"} <= fields:
        missing.append(f"address ({FIELD_LABELS['address']}) or lon/lat ({FIELD_LABELS['lon']}/{FIELD_LABELS['lat']})")
    if missing:
        header = sheet.cells.iloc[start:start + height]
        found = [" / ".join(v.strip() for v in header[c].tolist() if v.strip()) for c in header.columns]
        where = f"row {int(sheet.rows[start])}" if sheet.header_at is None else "fields"
        msg = (f"ledger file {p} lacks required column(s): {', '.join(missing)}; "
               f"headers found ({where}): {', '.join(h for h in found if h)}")
        raise LedgerError(msg)


# --- validation -------------------------------------------------------------------------

class _Findings:
    """Messages per row position, in the order checks are made."""

    def __init__(self) -> None:
        self.positions: list[np.ndarray] = []
        self.messages: list[list[str]] = []

    def add(self, mask: np.ndarray, template: str, **values: np.ndarray) -> None:
        idx = np.flatnonzero(mask)
        if idx.size:
            self.positions.append(idx)
            self.messages.append([template.format(**{k: v[i] for k, v in values.items()}) for i in idx])

    def frame(self) -> pd.DataFrame:
        if not self.positions:
            return pd.DataFrame({"pos": pd.Series(dtype="int64"), "msg": pd.Series(dtype="str")})
        out = pd.DataFrame({"pos": np.concatenate(self.positions),
                            "msg": pd.Series([m for ms in self.messages for m in ms], dtype="str")})
        return out.sort_values("pos", kind="stable", ignore_index=True)


class _Parsed:
    """A parser's result for every row, computed once per distinct value."""

    def __init__(self, values: pd.Series, fn: Callable[[str], Any]) -> None:
        self.codes, uniques = pd.factorize(values, use_na_sentinel=False)
        self.uniques = np.empty(len(uniques), dtype=object)
        self.uniques[:] = [fn(u) for u in uniques.tolist()]

    def results(self) -> np.ndarray:
        return self.uniques[self.codes]

    def is_(self, code: Any) -> np.ndarray:
        """Rows whose result is ``code`` (``None``, or a problem code string)."""
        hit = np.fromiter((r is None if code is None else (type(r) is str and r == code) for r in self.uniques),
                          dtype=bool, count=len(self.uniques))
        return hit[self.codes]

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(int values, 0 where not a valid count; mask of valid counts)."""
        ok = np.fromiter((type(r) is int for r in self.uniques), dtype=bool, count=len(self.uniques))
        values = np.array([r if type(r) is int else 0 for r in self.uniques], dtype=np.int64)
        return values[self.codes], ok[self.codes]


def _validate(raw: dict[str, pd.Series], rows: np.ndarray, config: Config) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    n = len(rows)

    def text(name: str) -> pd.Series:
        s = raw.get(name)
        return pd.Series([""] * n, dtype="str") if s is None else s

    bad = _Findings()
    notes = _Findings()

    # --- identifier (GB 32100-2015) --------------------------------------------------------
    uscc_written = text("uscc")
    plain = uscc_written.str.fullmatch(PATTERN).to_numpy()
    uscc = uscc_written.copy()
    if not plain.all():
        messy = uscc_written[~plain]
        uscc[~plain] = [compact(c) for c in messy]  # separators, full-width forms
    codes = uscc.to_numpy(dtype=object)
    blank_code = uscc.eq("").to_numpy()
    well_formed = plain.copy()
    if not plain.all():
        well_formed[~plain] = uscc[~plain].str.fullmatch(PATTERN).to_numpy()
    check_ok = np.zeros(n, dtype=bool)
    if well_formed.any():
        check_ok[well_formed] = checksum_ok(uscc[well_formed].to_numpy(dtype="U18"))
    malformed = ~blank_code & ~well_formed
    failed_check = well_formed & ~check_ok
    problem = np.full(n, "", dtype=object)
    for i in np.flatnonzero(malformed | failed_check):
        problem[i] = uscc_problem(codes[i]) or ""
    bad.add(blank_code, "uscc is blank")
    bad.add(malformed, "uscc '{code}' {problem}", code=codes, problem=problem)
    if config.uscc_checksum_reject:
        bad.add(failed_check, "uscc '{code}' {problem}", code=codes, problem=problem)
    else:
        notes.add(failed_check, "uscc '{code}' {problem} (kept: uscc_checksum_reject is off)",
                  code=codes, problem=problem)
    duplicate = (uscc.duplicated(keep="first") & ~uscc.eq("")).to_numpy()
    if duplicate.any():
        firsts = ~uscc.duplicated(keep="first").to_numpy()
        first_row = pd.Series(rows[firsts], index=codes[firsts])
        first_of = np.zeros(n, dtype=np.int64)
        first_of[duplicate] = first_row.reindex(codes[duplicate]).to_numpy()
        bad.add(duplicate, "uscc '{code}' duplicate of row {first}", code=codes, first=first_of)

    # --- name ------------------------------------------------------------------------------
    name = text("name")
    bad.add(name.eq("").to_numpy(), "name is blank")

    # --- counts ----------------------------------------------------------------------------
    counts: dict[str, np.ndarray] = {}
    for field_name, required in (("staff", True), ("members", True), ("probationary", False)):
        written = text(field_name)
        results = _Parsed(written, parse_count)
        values, ok = results.counts()
        shown = written.to_numpy(dtype=object)
        if required:
            bad.add(results.is_(None), f"{field_name} is blank")
        bad.add(results.is_("not_number"), f"{field_name} '{{v}}' is not a number", v=shown)
        bad.add(results.is_("not_whole"), f"{field_name} '{{v}}' is not a whole number", v=shown)
        bad.add(results.is_("negative"), f"{field_name} '{{v}}' is negative", v=shown)
        counts[field_name] = np.where(ok, values, 0)
        counts[field_name + "_ok"] = ok
    over = counts["staff_ok"] & counts["members_ok"] & (counts["members"] > counts["staff"])
    bad.add(over, "formal members {m} exceed staff {s}", m=counts["members"], s=counts["staff"])

    # --- organisation and coordinate system ----------------------------------------------------
    org_written = text("org_type")
    org = _Parsed(org_written, parse_org_type)
    bad.add(org.is_("unknown"), "org_type '{v}' is unknown (expected 单独建, 联合建, 挂靠建 or 未建)",
            v=org_written.to_numpy(dtype=object))
    org_type = np.where(org.is_(None) | org.is_("unknown"), "none", org.results())

    crs_written = text("crs")
    crs_found = _Parsed(crs_written, parse_crs)
    bad.add(crs_found.is_("unknown"), "crs '{v}' is unknown (expected wgs84, gcj02 or bd09)",
            v=crs_written.to_numpy(dtype=object))
    crs = np.where(crs_found.is_(None) | crs_found.is_("unknown"), "wgs84", crs_found.results())

    # --- location ------------------------------------------------------------------------------
    address = text("address")
    lon_written, lat_written = text("lon"), text("lat")
    lon, lon_blank, lon_nan = _coordinate(lon_written)
    lat, lat_blank, lat_nan = _coordinate(lat_written)
    lon_shown, lat_shown = lon_written.to_numpy(dtype=object), lat_written.to_numpy(dtype=object)
    bad.add(address.eq("").to_numpy() & lon_blank & lat_blank, "neither address nor coordinates (lon/lat) given")
    bad.add(~lon_blank & lat_blank, "only one of lon/lat given (lon '{x}', lat blank)", x=lon_shown)
    bad.add(lon_blank & ~lat_blank, "only one of lon/lat given (lon blank, lat '{y}')", y=lat_shown)
    bad.add(lon_nan, "lon '{x}' is not a number", x=lon_shown)
    bad.add(lat_nan, "lat '{y}' is not a number", y=lat_shown)
    both = np.isfinite(lon) & np.isfinite(lat)
    inside = both & in_china(lon, lat)
    swapped = both & ~inside & in_china(lat, lon)
    outside = both & ~inside & ~swapped
    bad.add(outside, "coordinates lon '{x}', lat '{y}' lie outside China", x=lon_shown, y=lat_shown)
    if config.fix_swapped_coordinates:
        notes.add(swapped, "lon/lat swapped: lon '{x}', lat '{y}' lie outside China; read as lon {y}, lat {x}",
                  x=lon_shown, y=lat_shown)
        lon, lat = np.where(swapped, lat, lon), np.where(swapped, lon, lat)
    else:
        bad.add(swapped, "lon '{x}', lat '{y}' look swapped (outside China, inside when swapped); "
                "swap them or set fix_swapped_coordinates", x=lon_shown, y=lat_shown)

    # --- yes/no and industry -----------------------------------------------------------------
    flags: dict[str, np.ndarray] = {}
    for field_name, default in (("fixed_premises", True), ("above_scale", False), ("investor_member", None)):
        written = text(field_name)
        results = _Parsed(written, parse_bool)
        unknown = results.is_("unknown")
        shown_default = {True: "yes", False: "no", None: "unknown"}[default]
        notes.add(unknown, f"{field_name} '{{v}}' is not yes/no; read as {shown_default}",
                  v=written.to_numpy(dtype=object))
        values = results.results()  # a new array (fancy indexing)
        values[results.is_(None) | unknown] = default
        flags[field_name] = values

    industry_written = text("industry")
    industry_found = _Parsed(industry_written, parse_industry)
    notes.add(industry_found.is_("unknown"),
              "industry '{v}' is not a GB/T 4754 section letter, code or name; left blank",
              v=industry_written.to_numpy(dtype=object))
    notes.add(industry_found.is_("mismatch"),
              "industry '{v}': section letter and code disagree; left blank",
              v=industry_written.to_numpy(dtype=object))
    industry = np.where(industry_found.is_(None) | industry_found.is_("unknown") | industry_found.is_("mismatch"),
                        "", industry_found.results())

    # --- assemble ------------------------------------------------------------------------------
    found_bad = bad.frame()
    rejected = np.zeros(n, dtype=bool)
    rejected[found_bad["pos"].to_numpy()] = True
    keep = np.flatnonzero(~rejected)

    reasons = found_bad.groupby("pos", sort=True)["msg"].agg("; ".join)
    reject_pos = reasons.index.to_numpy(dtype=np.int64)
    rejects = pd.DataFrame({
        "source_row": pd.Series(rows[reject_pos], dtype="int64"),
        "uscc": pd.Series(uscc_written.to_numpy(dtype=object)[reject_pos], dtype="str"),
        "reason": pd.Series(reasons.to_numpy(dtype=object), dtype="str"),
    })

    noted = notes.frame()
    noted = noted[~rejected[noted["pos"].to_numpy()]] if len(noted) else noted
    warns = pd.DataFrame({
        "source_row": pd.Series(rows[noted["pos"].to_numpy(dtype=np.int64)], dtype="int64"),
        "uscc": pd.Series(codes[noted["pos"].to_numpy(dtype=np.int64)], dtype="str"),
        "message": pd.Series(noted["msg"].to_numpy(dtype=object), dtype="str"),
    })

    def strings(values: pd.Series | np.ndarray) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=object)[keep], dtype="str")

    columns: dict[str, pd.Series] = {
        "source_row": pd.Series(rows[keep], dtype="int64"),
        "name": strings(name),
        "address": strings(address),
        "lon_src": pd.Series(lon[keep], dtype="float64"),
        "lat_src": pd.Series(lat[keep], dtype="float64"),
        "crs": strings(crs),
        "township_declared": strings(text("township")),
        "village": strings(text("village")),
        "park_declared": strings(text("park")),
        "industry": strings(industry),
        "staff": pd.Series(counts["staff"][keep], dtype="int64"),
        "fixed_premises": pd.Series(flags["fixed_premises"][keep].astype(bool), dtype="bool"),
        "above_scale": pd.Series(flags["above_scale"][keep].astype(bool), dtype="bool"),
        "members": pd.Series(counts["members"][keep], dtype="int64"),
        "probationary": pd.Series(counts["probationary"][keep], dtype="int64"),
        "org_type": strings(org_type),
        "org_name": strings(text("org_name")),
        "instructor": strings(text("instructor")),
        "investor_member": pd.Series(pd.array(list(flags["investor_member"][keep]), dtype="boolean")),
    }
    enterprises = pd.DataFrame({c: columns[c] for c in LEDGER_COLUMNS})
    enterprises.index = pd.Index(codes[keep], dtype="str", name="uscc")
    return enterprises, rejects, warns


_COORD_JUNK = re.compile(r"[°º˚\s]|(?<=\d)[EeNn]$")


def _coordinate(written: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(degrees with NaN where blank or bad, blank mask, not-a-number mask)."""
    blank = written.eq("").to_numpy()
    values = np.array(pd.to_numeric(written.where(~blank), errors="coerce"), dtype="float64")
    retry = ~blank & np.isnan(values)
    if retry.any():  # full-width digits, a degree sign, a trailing E/N
        cleaned = written[retry].str.normalize("NFKC").str.replace(_COORD_JUNK, "", regex=True)
        values[retry] = pd.to_numeric(cleaned.where(cleaned.ne("")), errors="coerce").to_numpy(dtype="float64")
    values = np.where(np.isfinite(values), values, np.nan)
    return values, blank, ~blank & np.isnan(values)
