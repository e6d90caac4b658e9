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

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from . import _tables
from ._normalize import (
    FIELD_LABELS,
    header_field,
    parse_bool,
    parse_count,
    parse_crs,
    parse_industry,
    parse_org_type,
)
from ._tables import (
    BrokenRecord,
    Table,
    as_text,
    csv_table,
    degrees_problem,
    find_header,
    first_row_text,
    pick_sheet,
    read_input_bytes,
    sniff_format,
    xlsx_table,
)
from ._uscc import ALPHABET, PATTERN, check_char, checksum_ok, compact, uscc_problem
from .config import Config
from .coords import in_china
from .errors import AccountingError, LedgerError
from .schema import LEDGER_COLUMNS, REJECT_COLUMNS

__all__ = ["Ledger", "check_row_accounting", "read_ledger"]

logger = logging.getLogger(__name__)

#: Rows at the top of a sheet searched for the header row (title rows come first).
HEADER_SCAN_ROWS: Final = 15
#: Columns of ``Ledger.warnings``.
WARNING_COLUMNS: Final = ("source_row", "uscc", "message")
#: Spreadsheet readers tried in order: python-calamine (fast, optional), then openpyxl.
XLSX_ENGINES: tuple[str, ...] = _tables.XLSX_ENGINES

_REQUIRED: Final = ("uscc", "name", "staff", "members")
_TEXT_FIELDS: Final = {"address": "address", "township": "township_declared", "village": "village",
                       "park": "park_declared", "org_name": "org_name", "org_level": "org_level",
                       "instructor": "instructor"}
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
        ``source_row, uscc, reason, reason_cn``, one line per rejected data row (the
        reason in English and in Chinese).
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
        Rule switches used here: ``uscc_checksum_reject`` and ``fix_swapped_coordinates``;
        limits: ``count_max``, ``csv_max_cell_lines``, ``xlsx_max_unpacked_mb``,
        ``xlsx_max_ratio``.
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
        The file is missing, empty, not a regular file (a folder, FIFO or device),
        unreadable, encrypted, text that decodes to implausible Chinese (Big5), an XLSX
        whose zip would unpack beyond the limits, point geometries whose coordinates
        are not degrees while no projected CRS is declared; or it has no recognisable
        header row in its first rows, or lacks a required column (uscc, name, staff,
        members, and an address or lon/lat).
    AccountingError
        accepted + rejected differs from the data rows (a defect, never bad input).

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

    Every CSV line is accounted for: a quoted cell may span lines (up to
    ``config.csv_max_cell_lines``), a quote still open after that makes only its own
    line a reject (``line has an unbalanced quote``) and the lines after it are read
    normally; a bare carriage return inside a line is read as a space. So
    ``len(enterprises) + len(rejects) == n_rows`` always, and this is checked before
    returning.

    A row is rejected, with every problem named, for: a blank or malformed USCC, a
    failed check character (GB 32100-2015; only a warning when
    ``config.uscc_checksum_reject`` is off), a USCC already used by an earlier row
    (``duplicate of row N``; the first is kept), a blank name, a blank, non-numeric,
    fractional, negative or too large (above ``config.count_max``) staff or members
    count (probationary may be blank = 0),
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
    data = read_input_bytes(p, _WHAT, LedgerError)
    digest = hashlib.sha256(data).hexdigest()
    kind = sniff_format(p, data, _WHAT, LedgerError, geo=True)
    label = f"{_WHAT} {p}"
    found: Table
    if kind == "csv":
        found = csv_table(label, data, encoding, LedgerError, max_cell_lines=config.csv_max_cell_lines)
    elif kind in ("xlsx", "xls"):
        found = xlsx_table(label, data, sheet, LedgerError, legacy=kind == "xls",
                           max_unpacked_mb=config.xlsx_max_unpacked_mb, max_ratio=config.xlsx_max_ratio,
                           engines=XLSX_ENGINES)
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
    last_header_row = int(found.rows[start + height - 1])
    used_encoding = found.encoding
    broken = [b for b in found.broken if b.line > last_header_row]
    if len(broken) < len(found.broken):
        logger.info("%s: %d line(s) above the header with an unbalanced quote ignored", p,
                    len(found.broken) - len(broken))
    raw, rows = _fields(found, start + height, mapping)
    del found  # free the cells of ignored columns before validating

    enterprises, rejects, warns = _validate(raw, rows, config)
    if broken:
        rejects = _with_broken(rejects, broken)
    n_rows = len(rows) + len(broken)
    check_row_accounting(n_rows, enterprises, rejects, stage="ingest", source=str(p))
    logger.info("ledger %s: %d rows, %d accepted, %d rejected, %d warnings", p, n_rows,
                len(enterprises), len(rejects), len(warns))
    return Ledger(
        enterprises=enterprises,
        rejects=rejects,
        n_rows=n_rows,
        source=str(path),
        sha256=digest,
        warnings=warns,
        encoding=used_encoding,
        header_row=header_row,
        ignored_columns=ignored,
    )


#: A USCC-shaped token (to name the row of a line that could not be split into cells).
_USCC_TOKEN: Final = re.compile(f"(?<![0-9A-Z])[{ALPHABET}]{{18}}(?![0-9A-Z])")
BROKEN_REASON: Final = ("line has an unbalanced quote (\"): its cells cannot be told apart; "
                        "fix the quote and read the file again")
BROKEN_REASON_CN: Final = "本行引号（\"）不成对，无法分列；请改正引号后重新读取"


def _with_broken(rejects: pd.DataFrame, broken: Sequence[BrokenRecord]) -> pd.DataFrame:
    """The rejects plus one line per CSV line that could not be split into cells."""
    found = [_USCC_TOKEN.search(b.text.upper()) for b in broken]
    extra = pd.DataFrame({
        "source_row": pd.Series([b.line for b in broken], dtype="int64"),
        "uscc": pd.Series([m.group(0) if m else "" for m in found], dtype="str"),
        "reason": pd.Series([BROKEN_REASON] * len(broken), dtype="str"),
        "reason_cn": pd.Series([BROKEN_REASON_CN] * len(broken), dtype="str"),
    })
    merged = pd.concat([rejects, extra], ignore_index=True) if len(rejects) else extra
    return merged.sort_values("source_row", kind="stable", ignore_index=True)


def check_row_accounting(n_rows: int, enterprises: pd.DataFrame, rejects: pd.DataFrame, *, stage: str,
                         source: str = "") -> None:
    """Assert that every data row is accepted or rejected exactly once.

    Parameters
    ----------
    n_rows
        Data rows of the ledger (``Ledger.n_rows``).
    enterprises, rejects
        Accepted rows and rejected rows, each with a ``source_row`` column.
    stage
        Where the check is made (for the message).
    source
        The ledger file (for the message).

    Raises
    ------
    AccountingError
        accepted + rejected differs from ``n_rows``, or a source row appears twice.
    """
    accepted, rejected = len(enterprises), len(rejects)
    seen = np.concatenate([np.asarray(enterprises["source_row"], dtype=np.int64) if "source_row" in enterprises
                           else np.zeros(0, dtype=np.int64),
                           np.asarray(rejects["source_row"], dtype=np.int64) if "source_row" in rejects
                           else np.zeros(0, dtype=np.int64)])
    ordered = np.sort(seen)  # (np.unique is ~20x slower on a million rows)
    repeated = int(np.count_nonzero(ordered[1:] == ordered[:-1]))
    if accepted + rejected != n_rows or repeated or len(seen) != accepted + rejected:
        where = f" of {source}" if source else ""
        msg = (f"row accounting failed after {stage}{where}: {accepted} accepted + {rejected} rejected "
               f"= {accepted + rejected}, but the ledger has {n_rows} data rows"
               + (f" ({repeated} source row(s) counted twice)" if repeated else ""))
        raise AccountingError(msg)


def _fields(sheet: Table, first: int, mapping: dict[Any, str]) -> tuple[dict[str, pd.Series], np.ndarray]:
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

_WHAT: Final = "ledger file"


def _geo_sheet(p: Path, layer: str | int | None) -> Table:
    import geopandas as gpd
    import pyogrio

    try:
        layers = [str(name) for name in pyogrio.list_layers(p)[:, 0]]
        chosen = layers[pick_sheet(f"{_WHAT} {p}", layers, layer, LedgerError)]
        gdf = gpd.read_file(p, layer=chosen)
    except LedgerError:
        raise
    except Exception as exc:  # pyogrio/GDAL errors
        msg = f"ledger file {p} is not a readable GeoJSON/GeoPackage: {exc}"
        raise LedgerError(msg) from None
    geometry_name = getattr(gdf, "active_geometry_name", None)  # None for a table without geometry
    attributes = pd.DataFrame(gdf.drop(columns=geometry_name) if geometry_name else gdf)
    names = [str(c) for c in attributes.columns]
    texts = as_text(attributes.astype(object))
    present = {header_field(n) for n in names}
    if geometry_name and not ({"lon", "lat"} & present):
        geoms = gdf.geometry
        if geoms.crs is None or geoms.crs.is_geographic:
            problem = degrees_problem(geoms.total_bounds) if len(geoms.dropna()) else None
            if problem:
                msg = (f"{_WHAT} {p}: {problem}, but the file declares no projected coordinate system "
                       "(GeoJSON without a crs member is read as WGS-84 longitude/latitude): "
                       "reproject it to EPSG:4326, or add lon/lat columns")
                raise LedgerError(msg)
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
        texts[len(names)] = as_text(pd.DataFrame({0: lon}).astype(object))[0]
        texts[len(names) + 1] = as_text(pd.DataFrame({0: lat}).astype(object))[0]
        names += ["lon", "lat"]
    header = pd.DataFrame([names], columns=texts.columns).astype("str")
    cells = pd.concat([header, texts], ignore_index=True) if len(texts) else header
    return Table(cells=cells, rows=np.arange(0, len(cells), dtype=np.int64), header_at=0)


# --- header -----------------------------------------------------------------------------

def _find_header(p: Path, sheet: Table) -> tuple[int, int, dict[Any, str]]:
    """(position of the first header row, number of header rows, {column: field})."""
    found = find_header(sheet.cells, header_field, scan_rows=HEADER_SCAN_ROWS, fixed=sheet.header_at is not None)
    if found is None:
        seen = first_row_text(sheet.cells, HEADER_SCAN_ROWS)
        msg = (f"ledger file {p} has no header row in its first {HEADER_SCAN_ROWS} rows naming ledger columns "
               f"(such as {FIELD_LABELS['uscc']}, {FIELD_LABELS['name']}, {FIELD_LABELS['staff']}); "
               f"first row read: {seen or '(nothing)'}")
        raise LedgerError(msg)
    return found


def _check_required(p: Path, sheet: Table, start: int, height: int, fields: set[str]) -> None:
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
        self.messages_cn: list[list[str]] = []

    def add(self, mask: np.ndarray, template: str, cn: str = "", **values: np.ndarray | pd.Series | _Shown) -> None:
        """Record ``template`` (English) and ``cn`` (the same in Chinese) for the rows in ``mask``.

        ``values`` are read at the flagged rows only (a Series by position)."""
        idx = np.flatnonzero(mask)
        if idx.size:
            picked = {k: _at(v, idx) for k, v in values.items()}
            self.positions.append(idx)
            self.messages.append([template.format(**{k: v[j] for k, v in picked.items()}) for j in range(idx.size)])
            self.messages_cn.append([cn.format(**{k: v[j] for k, v in picked.items()}) for j in range(idx.size)])

    def frame(self) -> pd.DataFrame:
        if not self.positions:
            return pd.DataFrame({"pos": pd.Series(dtype="int64"), "msg": pd.Series(dtype="str"),
                                 "msg_cn": pd.Series(dtype="str")})
        out = pd.DataFrame({"pos": np.concatenate(self.positions),
                            "msg": pd.Series([m for ms in self.messages for m in ms], dtype="str"),
                            "msg_cn": pd.Series([m for ms in self.messages_cn for m in ms], dtype="str")})
        return out.sort_values("pos", kind="stable", ignore_index=True)


class _Shown:
    """A column's text as quoted in a message, cut to 40 characters (read at flagged rows)."""

    def __init__(self, values: pd.Series) -> None:
        self.values = values


def _at(values: np.ndarray | pd.Series | _Shown, idx: np.ndarray) -> list[Any]:
    """The values at positions ``idx``, as a list."""
    if isinstance(values, _Shown):
        return [v if len(v) <= 40 else v[:37] + "..." for v in _at(values.values, idx)]
    if isinstance(values, pd.Series):
        return values.iloc[idx].tolist()
    return [values[i] for i in idx]


class _Parsed:
    """A parser's result for every row, computed once per distinct value."""

    def __init__(self, values: pd.Series, fn: Callable[[str], Any]) -> None:
        self.codes, uniques = pd.factorize(values, use_na_sentinel=False)
        self.uniques = np.empty(len(uniques), dtype=object)
        self.uniques[:] = [fn(u) for u in uniques.tolist()]

    def results(self) -> np.ndarray:
        return self.uniques[self.codes]

    def text(self, keep: np.ndarray, otherwise: str, unless: tuple[Any, ...] = (None,)) -> pd.Series:
        """The result as text (``otherwise`` where it is one of ``unless``) at rows ``keep``."""
        texts = [otherwise if any(r is u or (type(r) is str and r == u) for u in unless) else str(r)
                 for r in self.uniques.tolist()]
        return pd.Series(pd.array(texts, dtype="str").take(self.codes[keep]))

    def flags(self, keep: np.ndarray, default: bool | None, unknown: str = "unknown") -> pd.Series:
        """A yes/no result at rows ``keep``: ``default`` where blank or ``unknown`` (``None``: NA)."""
        final = [default if r is None or (type(r) is str and r == unknown) else bool(r) for r in self.uniques.tolist()]
        codes = self.codes[keep]
        if default is None:
            values = np.array([bool(v) for v in final], dtype=bool)[codes]
            missing = np.array([v is None for v in final], dtype=bool)[codes]
            return pd.Series(pd.arrays.BooleanArray(values, missing))
        return pd.Series(np.array(final, dtype=bool)[codes], dtype="bool")

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


def _blank_text(n: int) -> pd.Series:
    """``n`` empty strings as a ``str`` Series (built without a Python list when pyarrow is there)."""
    if _tables.arrow_strings():
        import pyarrow as pa

        empty = pa.LargeStringArray.from_buffers(n, pa.py_buffer(np.zeros(n + 1, dtype=np.int64)), pa.py_buffer(b""))
        return _tables.arrow_series(empty)
    return pd.Series([""] * n, dtype="str")


def _validate(raw: dict[str, pd.Series], rows: np.ndarray, config: Config) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every check of every row, column by column (one parser call per distinct value);
    values are read back only at the rows a message names."""
    n = len(rows)
    blank = _blank_text(n)

    def text(name: str) -> pd.Series:
        s = raw.get(name)
        return blank if s is None else s

    bad = _Findings()
    notes = _Findings()

    # --- identifier (GB 32100-2015) --------------------------------------------------------
    uscc_written = text("uscc")
    plain = uscc_written.str.fullmatch(PATTERN).to_numpy(dtype=bool)
    uscc = uscc_written.copy()
    if not plain.all():
        messy = uscc_written[~plain]
        uscc[~plain] = [compact(c) for c in messy]  # separators, full-width forms
    blank_code = uscc.eq("").to_numpy(dtype=bool)
    well_formed = plain.copy()
    if not plain.all():
        well_formed[~plain] = uscc[~plain].str.fullmatch(PATTERN).to_numpy(dtype=bool)
    check_ok = np.zeros(n, dtype=bool)
    if well_formed.all():
        check_ok = checksum_ok(uscc)
    elif well_formed.any():
        check_ok[well_formed] = checksum_ok(uscc[well_formed])
    malformed = ~blank_code & ~well_formed
    failed_check = well_formed & ~check_ok
    problem = np.full(n, "", dtype=object)
    problem_cn = np.full(n, "", dtype=object)
    flagged = np.flatnonzero(malformed | failed_check)
    for i, code in zip(flagged.tolist(), _at(uscc, flagged), strict=True):
        problem[i] = uscc_problem(code) or ""
        problem_cn[i] = _uscc_problem_cn(code)
    bad.add(blank_code, "uscc is blank", "统一社会信用代码为空")
    bad.add(malformed, "uscc '{code}' {problem}", "统一社会信用代码“{code}”{problem_cn}", code=uscc,
            problem=problem, problem_cn=problem_cn)
    if config.uscc_checksum_reject:
        bad.add(failed_check, "uscc '{code}' {problem}", "统一社会信用代码“{code}”{problem_cn}", code=uscc,
                problem=problem, problem_cn=problem_cn)
    else:
        notes.add(failed_check, "uscc '{code}' {problem} (kept: uscc_checksum_reject is off)",
                  code=uscc, problem=problem)
    code_of, distinct = pd.factorize(uscc, use_na_sentinel=False)
    first_at = np.full(len(distinct), n, dtype=np.int64)  # position of each code's first row
    np.minimum.at(first_at, code_of, np.arange(n, dtype=np.int64))
    repeated = first_at[code_of] != np.arange(n)
    duplicate = repeated & ~blank_code
    if duplicate.any():
        first_of = np.zeros(n, dtype=np.int64)
        first_of[duplicate] = rows[first_at[code_of[duplicate]]]
        bad.add(duplicate, "uscc '{code}' duplicate of row {first}", "统一社会信用代码“{code}”与第{first}行重复",
                code=uscc, first=first_of)

    # --- name ------------------------------------------------------------------------------
    name = text("name")
    bad.add(name.eq("").to_numpy(), "name is blank", "企业名称为空")

    # --- counts ----------------------------------------------------------------------------
    counts: dict[str, np.ndarray] = {}
    for field_name, required in (("staff", True), ("members", True), ("probationary", False)):
        written = text(field_name)
        results = _Parsed(written, parse_count)
        values, ok = results.counts()
        too_large = results.is_("too_large") | (ok & (values > config.count_max))
        ok &= ~too_large
        shown_short = _Shown(written)
        label = FIELD_LABELS[field_name]
        if required:
            bad.add(results.is_(None), f"{field_name} is blank", f"{label}为空")
        bad.add(results.is_("not_number"), f"{field_name} '{{v}}' is not a number", f"{label}“{{v}}”不是数字",
                v=shown_short)
        bad.add(results.is_("not_whole"), f"{field_name} '{{v}}' is not a whole number", f"{label}“{{v}}”不是整数",
                v=shown_short)
        bad.add(results.is_("negative"), f"{field_name} '{{v}}' is negative", f"{label}“{{v}}”为负数", v=shown_short)
        bad.add(too_large, f"{field_name} '{{v}}' is too large (above {config.count_max:,})",
                f"{label}“{{v}}”过大（超过{config.count_max}）", v=shown_short)
        counts[field_name] = np.where(ok, values, 0)
        counts[field_name + "_ok"] = ok
    over = counts["staff_ok"] & counts["members_ok"] & (counts["members"] > counts["staff"])
    bad.add(over, "formal members {m} exceed staff {s}", "正式党员数{m}超过职工人数{s}",
            m=counts["members"], s=counts["staff"])

    # --- organisation and coordinate system ----------------------------------------------------
    org_written = text("org_type")
    org = _Parsed(org_written, parse_org_type)
    bad.add(org.is_("unknown"), "org_type '{v}' is unknown (expected 单独建, 联合建, 挂靠建 or 未建)",
            "党组织组建方式“{v}”无法识别（应为单独建、联合建、挂靠建或未建）", v=org_written)

    crs_written = text("crs")
    crs_found = _Parsed(crs_written, parse_crs)
    bad.add(crs_found.is_("unknown"), "crs '{v}' is unknown (expected wgs84, gcj02 or bd09)",
            "坐标系“{v}”无法识别（应为wgs84、gcj02或bd09）", v=crs_written)

    # --- location ------------------------------------------------------------------------------
    address = text("address")
    lon_written, lat_written = text("lon"), text("lat")
    lon, lon_blank, lon_nan = _coordinate(lon_written)
    lat, lat_blank, lat_nan = _coordinate(lat_written)
    lon_shown, lat_shown = lon_written, lat_written
    bad.add(address.eq("").to_numpy() & lon_blank & lat_blank, "neither address nor coordinates (lon/lat) given",
            "既无地址也无经纬度")
    bad.add(~lon_blank & lat_blank, "only one of lon/lat given (lon '{x}', lat blank)",
            "经纬度只填了一项（经度“{x}”，纬度为空）", x=lon_shown)
    bad.add(lon_blank & ~lat_blank, "only one of lon/lat given (lon blank, lat '{y}')",
            "经纬度只填了一项（经度为空，纬度“{y}”）", y=lat_shown)
    bad.add(lon_nan, "lon '{x}' is not a number", "经度“{x}”不是数字", x=lon_shown)
    bad.add(lat_nan, "lat '{y}' is not a number", "纬度“{y}”不是数字", y=lat_shown)
    both = np.isfinite(lon) & np.isfinite(lat)
    inside = both & in_china(lon, lat)
    swapped = both & ~inside & in_china(lat, lon)
    outside = both & ~inside & ~swapped
    bad.add(outside, "coordinates lon '{x}', lat '{y}' lie outside China", "坐标（经度“{x}”，纬度“{y}”）不在中国境内",
            x=lon_shown, y=lat_shown)
    if config.fix_swapped_coordinates:
        notes.add(swapped, "lon/lat swapped: lon '{x}', lat '{y}' lie outside China; read as lon {y}, lat {x}",
                  x=lon_shown, y=lat_shown)
        lon, lat = np.where(swapped, lat, lon), np.where(swapped, lon, lat)
    else:
        bad.add(swapped, "lon '{x}', lat '{y}' look swapped (outside China, inside when swapped); "
                "swap them or set fix_swapped_coordinates",
                "经度“{x}”、纬度“{y}”疑似填反（在中国境外，互换后在境内）；请互换，或开启 fix_swapped_coordinates",
                x=lon_shown, y=lat_shown)

    # --- yes/no and industry -----------------------------------------------------------------
    flags: dict[str, tuple[_Parsed, bool | None]] = {}
    for field_name, default in (("fixed_premises", True), ("above_scale", False), ("investor_member", None)):
        written = text(field_name)
        results = _Parsed(written, parse_bool)
        unknown = results.is_("unknown")
        shown_default = {True: "yes", False: "no", None: "unknown"}[default]
        notes.add(unknown, f"{field_name} '{{v}}' is not yes/no; read as {shown_default}", v=written)
        flags[field_name] = (results, default)

    industry_written = text("industry")
    industry_found = _Parsed(industry_written, parse_industry)
    notes.add(industry_found.is_("unknown"),
              "industry '{v}' is not a GB/T 4754 section letter, code or name; left blank", v=industry_written)
    notes.add(industry_found.is_("mismatch"),
              "industry '{v}': section letter and code disagree; left blank", v=industry_written)

    # --- assemble ------------------------------------------------------------------------------
    found_bad = bad.frame()
    rejected = np.zeros(n, dtype=bool)
    rejected[found_bad["pos"].to_numpy()] = True
    keep = np.flatnonzero(~rejected)

    grouped = found_bad.groupby("pos", sort=True)
    reasons = grouped["msg"].agg("; ".join)
    reasons_cn = grouped["msg_cn"].agg("；".join)
    reject_pos = reasons.index.to_numpy(dtype=np.int64)
    rejects = pd.DataFrame({
        "source_row": pd.Series(rows[reject_pos], dtype="int64"),
        "uscc": pd.Series(_at(uscc_written, reject_pos), dtype="str"),
        "reason": pd.Series(reasons.to_numpy(dtype=object), dtype="str"),
        "reason_cn": pd.Series(reasons_cn.to_numpy(dtype=object), dtype="str"),
    })

    noted = notes.frame()
    noted = noted[~rejected[noted["pos"].to_numpy()]] if len(noted) else noted
    warns = pd.DataFrame({
        "source_row": pd.Series(rows[noted["pos"].to_numpy(dtype=np.int64)], dtype="int64"),
        "uscc": pd.Series(_at(uscc, noted["pos"].to_numpy(dtype=np.int64)), dtype="str"),
        "message": pd.Series(noted["msg"].to_numpy(dtype=object), dtype="str"),
    })

    every = len(keep) == n

    def strings(values: pd.Series) -> pd.Series:
        return values.reset_index(drop=True) if every else values.take(keep).reset_index(drop=True)

    columns: dict[str, pd.Series] = {
        "source_row": pd.Series(rows[keep], dtype="int64"),
        "name": strings(name),
        "address": strings(address),
        "lon_src": pd.Series(lon[keep], dtype="float64"),
        "lat_src": pd.Series(lat[keep], dtype="float64"),
        "crs": crs_found.text(keep, "wgs84", (None, "unknown")),
        "township_declared": strings(text("township")),
        "village": strings(text("village")),
        "park_declared": strings(text("park")),
        "industry": industry_found.text(keep, "", (None, "unknown", "mismatch")),
        "staff": pd.Series(counts["staff"][keep], dtype="int64"),
        "fixed_premises": flags["fixed_premises"][0].flags(keep, flags["fixed_premises"][1]),
        "above_scale": flags["above_scale"][0].flags(keep, flags["above_scale"][1]),
        "members": pd.Series(counts["members"][keep], dtype="int64"),
        "probationary": pd.Series(counts["probationary"][keep], dtype="int64"),
        "org_type": org.text(keep, "none", (None, "unknown")),
        "org_name": strings(text("org_name")),
        "org_level": strings(text("org_level")),
        "instructor": strings(text("instructor")),
        "investor_member": flags["investor_member"][0].flags(keep, flags["investor_member"][1]),
    }
    enterprises = pd.DataFrame({c: columns[c] for c in LEDGER_COLUMNS})
    enterprises.index = pd.Index(strings(uscc), dtype="str", name="uscc")
    return enterprises, rejects, warns


def _uscc_problem_cn(code: str) -> str:
    """Why ``code`` is not a valid USCC, in Chinese ("" when it is)."""
    if len(code) != 18:
        return f"有{len(code)}位，应为18位"
    bad = sorted({c for c in code if c not in ALPHABET})
    if bad:
        return "含有统一社会信用代码不允许的字符：" + " ".join(bad)
    if not code[2:8].isdigit():
        return f"第3至8位（登记管理机关行政区划码）应为数字，现为{code[2:8]}"
    expected = check_char(code[:17])
    return f"校验位为{code[17]}，应为{expected}" if code[17] != expected else ""


_COORD_JUNK = re.compile(r"[°º˚\s]|(?<=\d)[EeNn]$")


#: A plain decimal (``-118.5``, ``26``, ``.5``): pyarrow's cast and pandas' to_numeric read
#: it alike (both correctly rounded), so pyarrow reads these and pandas the rest.
_PLAIN_DECIMAL: Final = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$"


def _plain_decimals(written: pd.Series) -> np.ndarray | None:
    """The values of the plain decimals of a pyarrow-backed column (NaN elsewhere), or
    ``None`` when the column is not pyarrow-backed or the cast fails."""
    if getattr(written.dtype, "storage", None) != "pyarrow" or not len(written):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    arrow = pa.chunked_array(pa.array(written.array))
    plain = pc.fill_null(pc.match_substring_regex(arrow, _PLAIN_DECIMAL), False)
    try:
        numbers = pc.cast(pc.if_else(plain, arrow, pa.scalar("0", type=arrow.type)), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    values = np.asarray(numbers.to_numpy(), dtype="float64").copy()
    values[~np.asarray(plain.to_numpy(), dtype=bool)] = np.nan
    return values


def _coordinate(written: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(degrees with NaN where blank or bad, blank mask, not-a-number mask)."""
    blank = written.eq("").to_numpy(dtype=bool)
    values = _plain_decimals(written)
    if values is None:
        values = np.array(pd.to_numeric(written.where(~blank), errors="coerce"), dtype="float64")
    else:
        other = ~blank & np.isnan(values)
        if other.any():
            values[other] = np.array(pd.to_numeric(written[other], errors="coerce"), dtype="float64")
    retry = ~blank & np.isnan(values)
    if retry.any():  # full-width digits, a degree sign, a trailing E/N
        cleaned = written[retry].str.normalize("NFKC").str.replace(_COORD_JUNK, "", regex=True)
        values[retry] = pd.to_numeric(cleaned.where(cleaned.ne("")), errors="coerce").to_numpy(dtype="float64")
    values = np.where(np.isfinite(values), values, np.nan)
    return values, blank, ~blank & np.isnan(values)
