"""One reader of input tables at the edge: files in, cells as text out.

Private helpers shared by the ledger (:mod:`gridcover.ledger`), the gazetteer
(:func:`gridcover.geocode.read_gazetteer`), the instructor roster and the service-centre
file (:mod:`gridcover.resources`). Each of those is a thin spec on top: which header
names map to which field, which fields are required, and what a bad row means.

What is done here, once:

- the path must name a regular file (``/dev/zero``, FIFOs and folders are refused
  before anything is opened, so nothing blocks or reads forever);
- the format is recognised from the bytes (XLSX zip, legacy OLE/CFB, SQLite), and an
  encrypted (password-protected) workbook is named as such;
- text is decoded from a byte-order mark, strict UTF-8 or GB18030, and a GB18030
  decoding that gives implausible Chinese (a Big5 file) is refused;
- CSV records are accounted for line by line: a quoted cell may span lines, but a quote
  that never closes (within ``csv_max_cell_lines``) makes only its own line a broken
  record (:class:`BrokenRecord`), and the lines after it are read normally; a bare
  carriage return inside a line is read as a space, so it never splits a record;
- an XLSX zip directory is checked (declared sizes, ratios, and the real inflated size
  of every part) before python-calamine or openpyxl sees the file;
- the header row is found among the first rows, title rows above it skipped.

Examples
--------
>>> table = csv_table("t.csv", b'a,b\\n1,"x\\n2,y\\n3,z\\n', None, ValueError, max_cell_lines=50)
>>> table.cells.values.tolist(), table.rows.tolist()
([['a', 'b'], ['2', 'y'], ['3', 'z']], [1, 3, 4])
>>> [(b.line, b.code) for b in table.broken]
[(2, 'unbalanced_quote')]
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import logging
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from ._normalize import cell_text

__all__ = [
    "BrokenRecord",
    "Table",
    "csv_table",
    "decode_text",
    "find_header",
    "check_regular_file",
    "read_input_bytes",
    "read_table",
    "sniff_format",
    "xlsx_table",
]

logger = logging.getLogger(__name__)

ErrorType = Callable[[str], Exception]
Format = Literal["csv", "xlsx", "xls", "gpkg", "geojson"]

#: Spreadsheet readers tried in order: python-calamine (fast, optional), then openpyxl.
XLSX_ENGINES: tuple[str, ...] = ("calamine", "openpyxl")
#: Parts of an XLSX smaller than this are never refused for their packing ratio.
RATIO_MIN_BYTES: Final = 1 << 20
#: Largest inflate ratio DEFLATE can reach (258-byte matches in 2-bit codes), so a part
#: of ``n`` packed bytes can never unpack to more than about ``n * DEFLATE_MAX_RATIO``.
DEFLATE_MAX_RATIO: Final = 1032

_XLSX_MAGIC: Final = b"PK\x03\x04"
_CFB_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_ENCRYPTED_STREAMS: Final = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))
#: Share of CJK characters of a GB18030 decoding that must be common (GB2312) characters.
_PLAUSIBLE_CJK_SHARE: Final = 0.75
_PLAUSIBILITY_MIN_CJK: Final = 12


@dataclass(frozen=True)
class BrokenRecord:
    """A CSV line that could not be split into cells.

    Attributes
    ----------
    line
        Its line number in a text editor (1-based).
    text
        The line as written.
    code
        Stable English code of the problem (``unbalanced_quote``).
    """

    line: int
    text: str
    code: str = "unbalanced_quote"


@dataclass(frozen=True)
class Table:
    """Cells of a sheet as text (str dtype, "" when empty) and each row's source number.

    Attributes
    ----------
    cells
        One row per record (CSV) or sheet row (XLSX), columns 0..n-1.
    rows
        The row number a person sees for each row of ``cells`` (CSV: the line the
        record starts on; XLSX: the Excel row; GeoJSON: the feature number, header 0).
    encoding
        The text encoding a CSV was read with ("" otherwise).
    header_at
        Position of the header row when it is known (GeoJSON), else ``None``.
    broken
        CSV lines that could not be split into cells (not in ``cells``).
    """

    cells: pd.DataFrame
    rows: np.ndarray
    encoding: str = ""
    header_at: int | None = None
    broken: tuple[BrokenRecord, ...] = field(default=())


# --- files and formats ------------------------------------------------------------------

def check_regular_file(path: Path, what: str, error: ErrorType) -> None:
    """Refuse a path that is missing or not a regular file, without opening it.

    The file's type is checked with ``stat``, so a FIFO, a device such as ``/dev/zero``
    or a folder is refused at once instead of blocking or being read forever.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        msg = f"cannot read {what} {path}: no such file"
        raise error(msg) from None
    except OSError as exc:
        msg = f"cannot read {what} {path}: {exc.strerror or exc}"
        raise error(msg) from None
    if stat.S_ISDIR(info.st_mode):
        msg = f"{what} {path} is a folder, not a file"
        raise error(msg)
    if not stat.S_ISREG(info.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(info.st_mode) else
                "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else
                "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
        msg = f"{what} {path} is {kind}, not a regular file"
        raise error(msg)


def read_input_bytes(path: Path, what: str, error: ErrorType) -> bytes:
    """The bytes of an input file, refusing anything but a non-empty regular file
    (see :func:`check_regular_file`)."""
    check_regular_file(path, what, error)
    try:
        with path.open("rb") as fh:
            data = fh.read()
    except OSError as exc:
        msg = f"cannot read {what} {path}: {exc.strerror or exc}"
        raise error(msg) from None
    if not data.strip():
        msg = f"{what} {path} is empty"
        raise error(msg)
    return data


def sniff_format(path: Path, data: bytes, what: str, error: ErrorType, *, geo: bool = False) -> Format:
    """The format of a file from its bytes, then its suffix.

    ``geo`` allows GeoJSON and GeoPackage (the ledger); other tables are CSV or XLSX.
    """
    suffix = path.suffix.lower()
    if data.startswith(_XLSX_MAGIC):
        return "xlsx"
    if data.startswith(_CFB_MAGIC):
        if any(name in data for name in _ENCRYPTED_STREAMS):
            msg = (f"{what} {path} is a password-protected (encrypted) workbook: open it in Excel, "
                   "remove the password (File > Info > Protect Workbook) and save it as .xlsx")
            raise error(msg)
        return "xls"
    if data.startswith(_SQLITE_MAGIC):
        if geo:
            return "gpkg"
        msg = f"{what} {path} is a database (GeoPackage/SQLite), not a CSV or XLSX table"
        raise error(msg)
    if suffix in (".xlsx", ".xlsm", ".xls"):
        msg = f"{what} {path} is not a readable Excel workbook (its content is not XLSX)"
        raise error(msg)
    if geo:
        if suffix in (".geojson", ".json") or data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
            return "geojson"
        if suffix == ".gpkg":
            msg = f"{what} {path} is not a readable GeoPackage"
            raise error(msg)
    return "csv"


# --- text -------------------------------------------------------------------------------

def _gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _implausible_chinese(text: str) -> bool:
    """True when a GB18030 decoding looks like another encoding read wrongly.

    Real GBK ledgers use common characters: of their CJK characters nearly all are in
    GB2312 (the rare ones are a few name characters such as 喆 or 堃). Big5 bytes read
    as GB18030 give mostly rare characters, kana, Greek and private-use code points.
    """
    sample = text[:200_000]
    cjk = [c for c in sample if ord(c) >= 0x2E80 and not 0xFF00 <= ord(c) <= 0xFFEF]
    if len(cjk) < _PLAUSIBILITY_MIN_CJK:
        return False
    distinct = set(cjk)
    common = {c for c in distinct if _gb2312(c)}
    share = sum(1 for c in cjk if c in common) / len(cjk)
    return share < _PLAUSIBLE_CJK_SHARE


def decode_text(label: str, data: bytes, encoding: str | None, error: ErrorType) -> tuple[str, str]:
    """Text of a file and the encoding used: the override, a byte-order mark, strict
    UTF-8, then GB18030 (GBK) when its Chinese is plausible.

    A file that decodes as GB18030 into implausible Chinese (rare characters, kana,
    private-use code points) is refused, naming Big5 when the bytes are valid Big5:
    a wrong guess would put garbled names in the plan.
    """
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            msg = f"unknown text encoding {encoding!r}"
            raise error(msg) from None
        except UnicodeDecodeError as exc:
            msg = f"{label} is not valid {encoding} text (byte {exc.start})"
            raise error(msg) from None
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(name), name
            except UnicodeDecodeError as exc:
                msg = f"{label} starts with a {name} byte-order mark but is not valid {name} (byte {exc.start})"
                raise error(msg) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        if not _implausible_chinese(text):
            return text, "gb18030"
        try:
            data.decode("big5")
        except UnicodeDecodeError:
            msg = (f"{label} is not UTF-8 and reads as garbled Chinese in GBK/GB18030; "
                   "save it as UTF-8 (or pass its encoding)")
        else:
            msg = (f"{label} looks like Big5 (traditional Chinese) text, not GBK/GB18030: "
                   "save it as UTF-8 (Excel: CSV UTF-8) and read it again")
        raise error(msg)
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        msg = f"{label} is not text in a known encoding (tried UTF-8, GB18030); pass its encoding"
        raise error(msg)
    return str(best), str(best.encoding)


# --- CSV --------------------------------------------------------------------------------

def _one_line_end(text: str) -> str:
    """The text with ``\n`` as its only line end: ``\n`` or ``\r\n`` ends a line (``\r``
    only in a file without any ``\n``); a bare ``\r`` inside a line is read as a space."""
    if "\n" in text:
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", " ")
        return text
    return text.replace("\r", "\n")


def _physical_lines(text: str) -> list[str]:
    """Lines as a text editor shows them, of a text with ``\n`` line ends only."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _ends_inside_quotes(line: str, delimiter: str) -> bool:
    """Whether a line ends inside a quoted field, read as spreadsheet programs (and the
    lenient csv module) read it: a quote opens a field only at the field's start, and a
    quote after a closing quote is literal text."""
    start, plain, quoted, closing = 0, 1, 2, 3
    state = start
    for ch in line:
        if state == start:
            state = quoted if ch == '"' else start if ch == delimiter else plain
        elif state == plain:
            if ch == delimiter:
                state = start
        elif state == quoted:
            if ch == '"':
                state = closing
        else:  # closing
            state = quoted if ch == '"' else start if ch == delimiter else plain
    return state == quoted


def _opens_quote(line: str, delimiter: str) -> bool:
    try:
        next(csv.reader([line], delimiter=delimiter, strict=True))
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            return True
        return _ends_inside_quotes(line, delimiter)
    except StopIteration:
        return False
    return False


def _one_record(text: str, delimiter: str) -> bool:
    """Whether ``text`` (lines joined with ``\\n``) is exactly one well-formed record."""
    try:
        records = list(csv.reader([text], delimiter=delimiter, strict=True))
    except csv.Error:
        return False
    return len(records) == 1


def _record_spans(lines: Sequence[str], delimiter: str, max_cell_lines: int,
                  quoted: Iterable[int] | None = None) -> tuple[dict[int, int], list[int]]:
    """({first line: last line} of records spanning lines, [lines with an unbalanced quote]).

    ``quoted``: the positions of the lines holding a quote, in order, when already known.
    """
    spans: dict[int, int] = {}
    broken: list[int] = []
    n = len(lines)
    covered = -1
    if quoted is None:
        quoted = (i for i, line in enumerate(lines) if '"' in line)
    for i in quoted:
        if i <= covered or not _opens_quote(lines[i], delimiter):
            continue
        closed_at = None
        for j in range(i + 1, min(i + max_cell_lines, n)):
            joined = "\n".join(lines[i:j + 1])
            if not _ends_inside_quotes(joined, delimiter):
                closed_at = j if _one_record(joined, delimiter) else None
                break
        if closed_at is None:
            broken.append(i)
        else:
            spans[i] = closed_at
            covered = closed_at
    return spans, broken


def _first_lines(text: str, n: int) -> list[str]:
    """``_physical_lines(text)[:n]`` without splitting (or copying) the rest of the text."""
    end = -1
    for _ in range(n):
        end = text.find("\n", end + 1)
        if end < 0:
            return _physical_lines(text)
    return text[:end].split("\n")


def _delimiter(lines: Sequence[str]) -> str:
    sample = [line for line in lines[:50] if line.strip()]
    return max((",", "\t", ";", "|"), key=lambda d: sum(line.count(d) for line in sample))


# --- CSV through pyarrow ----------------------------------------------------------------

#: Whether :func:`csv_table` may take a fast path (pyarrow, else pandas' C parser); off,
#: every file is read by the exact reader (tests compare the two).
CSV_FAST: bool = True
#: The characters ``str.strip()`` removes (``str.isspace``), for the vectorised strip.
WHITESPACE: Final = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                     "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


@functools.cache
def arrow_strings() -> bool:
    """Whether pyarrow is installed and pandas' ``str`` dtype is stored in it (pandas 3):
    then text columns built from pyarrow arrays are the ones the rest of the code gets."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.compute  # noqa: F401
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return False
    return getattr(pd.Series([""], dtype="str").dtype, "storage", None) == "pyarrow"


def arrow_series(values: Any) -> pd.Series:
    """A pyarrow string array (or chunked array) as a pandas ``str`` Series."""
    import pyarrow as pa

    if not isinstance(values, pa.ChunkedArray):
        values = pa.chunked_array([values], type=values.type)
    out = values.to_pandas(use_threads=False)
    return out if out.dtype == "str" else out.astype("str")


def strip_arrow(values: Any) -> Any:
    """``str.strip()`` of every string of a pyarrow array, vectorised (the same characters)."""
    import pyarrow.compute as pc

    return pc.utf8_trim(values, characters=WHITESPACE)


_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[ord(c) for c in WHITESPACE if ord(c) < 0x80]] = True
_WIDE_SPACES = tuple(c.encode("utf-8") for c in WHITESPACE if ord(c) >= 0x80)


_WIDE_LEAD = np.zeros(256, dtype=bool)
_WIDE_LEAD[[w[0] for w in _WIDE_SPACES]] = True
_WIDE_LAST = np.zeros(256, dtype=bool)
_WIDE_LAST[[w[-1] for w in _WIDE_SPACES]] = True


def _edge_space(raw: np.ndarray, newlines: np.ndarray, at: np.ndarray, delimiter: str) -> bool:
    """Whether a cell of a UTF-8 buffer without quotes starts or ends with a character
    ``str.strip()`` removes; cells end at the delimiters ``at`` and the line ends
    ``newlines``, so only the bytes next to those (and the buffer's ends) are read."""
    size = len(raw)
    if size == 0:
        return False
    space = _ASCII_SPACE.copy()
    space[[10, ord(delimiter)]] = False  # they end cells, they are not in one
    for cuts in (at, newlines, np.array([-1, size], dtype=np.int64)):
        heads = cuts + 1  # first byte of the cell after each cut
        heads = heads[(heads >= 0) & (heads < size)]
        tails = cuts - 1  # last byte of the cell before each cut
        tails = tails[(tails >= 0) & (tails < size)]
        first, last = raw[heads], raw[tails]
        if space[first].any() or space[last].any():
            return True
        # 2- and 3-byte spaces: the few cells whose first byte is a lead byte or whose
        # last byte can end one, then the exact byte sequences
        candidates = [(heads[_WIDE_LEAD[first]], 0)]
        ending = tails[_WIDE_LAST[last]]
        for m in (2, 3):
            back = ending[ending >= m - 1] - (m - 1)
            candidates.append((back[_WIDE_LEAD[raw[back]]], m))
        for where, length in candidates:
            for wide in _WIDE_SPACES:
                if length and len(wide) != length:
                    continue
                fits = where[where + len(wide) <= size]
                hit = np.ones(len(fits), dtype=bool)
                for t, value in enumerate(wide):
                    hit &= raw[fits + t] == value
                if hit.any():
                    return True
    return False


class _ByteLines(Sequence[str]):
    """The physical lines of a UTF-8 buffer, decoded when asked for (by position or slice)."""

    def __init__(self, buf: bytes, starts: np.ndarray, ends: np.ndarray) -> None:
        self._buf, self._starts, self._ends = buf, starts, ends

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self._buf[int(self._starts[i]):int(self._ends[i])].decode("utf-8")


def _arrow_csv(label: str, text: str, used: str, delimiter: str, max_cell_lines: int,
               buf: bytes | None = None) -> Table | None:
    """:func:`csv_table` with pyarrow splitting the plain lines; ``None`` when it cannot.

    A line is plain when it is not empty, holds no quote, lies inside no quoted cell and
    has the most common number of delimiters: split on its delimiters by pyarrow, it
    gives exactly the cells the csv module gives. Every other line goes through the
    exact reader's steps (:func:`_record_spans`, the csv module), found from a byte scan
    (UTF-8 never uses an ASCII byte inside a multi-byte character). ``buf``: the text's
    UTF-8 bytes when the caller has them.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if buf is None:
        buf = text.encode("utf-8")
    del text
    raw = np.frombuffer(buf, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    ends = newlines if buf.endswith(b"\n") else np.append(newlines, len(buf))
    n = len(ends)
    if n == 0:
        return None
    starts = np.concatenate([np.zeros(1, dtype=np.int64), newlines + 1])[:n]
    quotes = np.flatnonzero(raw == 34)
    quoted = np.searchsorted(quotes, ends) > np.searchsorted(quotes, starts)
    del quotes
    at = np.flatnonzero(raw == ord(delimiter))
    delimiters = np.searchsorted(at, ends) - np.searchsorted(at, starts)
    trim = _edge_space(raw, newlines, at, delimiter)  # else no plain cell needs stripping
    del at, raw
    candidate = ~quoted & (ends > starts)
    if not candidate.any():
        return None
    k = int(np.bincount(delimiters[candidate]).argmax())  # delimiters of a plain line
    lines = _ByteLines(buf, starts, ends)
    spans, broken = _record_spans(lines, delimiter, max_cell_lines, quoted=np.flatnonzero(quoted).tolist())
    inside = np.zeros(n, dtype=bool)
    for i, last in spans.items():
        inside[i + 1:last + 1] = True
    plain = candidate & (delimiters == k) & ~inside
    dropped = np.zeros(n, dtype=bool)
    dropped[broken] = True
    special = np.flatnonzero(~plain & ~inside & ~dropped)
    records: list[list[str]] = []
    for i in special.tolist():
        last = spans.get(i, i)
        record = "\n".join(lines[i:last + 1]) if last > i else lines[i]
        records.append(next(csv.reader([record], delimiter=delimiter), []) if record else [])
    broken_records = tuple(BrokenRecord(line=i + 1, text=lines[i]) for i in broken)
    _log_broken(label, broken_records)

    first_plain = np.flatnonzero(plain)
    columns: list[pa.ChunkedArray] = []
    if len(first_plain):
        if len(first_plain) == n:
            payload: Any = buf
        else:  # runs of consecutive plain lines, each closed by a line end
            edges = np.flatnonzero(np.diff(np.concatenate([[0], plain.view(np.int8), [0]])))
            view = memoryview(buf)
            payload = b"".join(part for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)
                               for part in (view[starts[a]:ends[b - 1]], b"\n"))
        names = [f"f{j}" for j in range(k + 1)]
        try:
            parsed = pcsv.read_csv(
                pa.py_buffer(payload),
                # one thread: no pyarrow thread pool is left to tear down at exit (a pool
                # alive then can abort the process: apache/arrow#34314), and 2 cores are shared
                read_options=pcsv.ReadOptions(column_names=names, use_threads=False),
                parse_options=pcsv.ParseOptions(delimiter=delimiter, quote_char=False, double_quote=False,
                                                escape_char=False, newlines_in_values=False,
                                                ignore_empty_lines=False),
                convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.large_string()),
                                                    strings_can_be_null=False, quoted_strings_can_be_null=False))
        except (pa.ArrowInvalid, ValueError) as exc:
            logger.info("%s: pyarrow could not split the plain lines (%s); reading line by line", label, exc)
            return None
        del payload
        if parsed.num_rows != len(first_plain):
            return None
        columns = [parsed.column(j) for j in range(k + 1)]
        del parsed
    del buf
    width = max([len(columns), *map(len, records)])
    n_plain, n_special = len(first_plain), len(records)
    if n_special:
        positions = np.concatenate([first_plain, special])
        order = np.argsort(positions, kind="stable")
        sorted_order = bool((order == np.arange(len(order))).all())
    out: dict[int, pd.Series] = {}
    for j in range(width):
        chunks = list(columns[j].chunks) if j < len(columns) else [pa.array([""] * n_plain, type=pa.large_string())]
        if trim:
            chunks = [strip_arrow(c) for c in chunks]
        if n_special:
            chunks.append(pa.array([r[j].strip() if j < len(r) else "" for r in records], type=pa.large_string()))
        column = pa.chunked_array(chunks, type=pa.large_string())
        if n_special and not sorted_order:
            column = column.take(pa.array(order))
        out[j] = arrow_series(column)
    rows = (np.sort(np.concatenate([first_plain, special])) if n_special else first_plain) + 1
    return Table(cells=pd.DataFrame(out, index=pd.RangeIndex(len(rows))), rows=rows.astype(np.int64),
                 encoding=used, broken=broken_records)


def csv_table(label: str, data: bytes, encoding: str | None, error: ErrorType, *,
              max_cell_lines: int, exact: bool = False) -> Table:
    """Every record of a CSV as text cells, with the line each starts on.

    Every physical line ends up in exactly one record or in ``Table.broken``: a quoted
    cell may hold line breaks (up to ``max_cell_lines`` lines), a quote still open
    after that makes its own line a broken record, and reading goes on with the next
    line. The delimiter (``,``, tab, ``;`` or ``|``) is the one most used in the first
    50 lines.

    With pyarrow (and pandas' pyarrow-backed ``str`` dtype), the plain lines — no quote,
    the most common number of delimiters — are split by pyarrow's CSV reader and every
    other line by the exact reader (the csv module, record by record), which ``exact``
    forces for the whole file. Both give the same cells, rows and broken records.
    """
    text, used = decode_text(label, data, encoding, error)
    if "\x00" in text:
        msg = f"{label} is binary, not a CSV text file"
        raise error(msg)
    text = _one_line_end(text)
    exact = exact or not CSV_FAST
    if not exact and arrow_strings():
        delimiter = _delimiter(_first_lines(text, 50))
        same = used in ("utf-8", "utf-8-sig") and b"\r" not in data  # the bytes are the text's UTF-8
        buf = (data[3:] if used == "utf-8-sig" else data) if same else None
        fast = _arrow_csv(label, text, used, delimiter, max_cell_lines, buf)
        del buf
        if fast is not None:
            return fast
        exact = True
    lines = _physical_lines(text)
    delimiter = _delimiter(lines)
    if exact:
        del text
        return _exact_csv(label, lines, used, delimiter, max_cell_lines)
    # fast path: pandas' C parser, trusted only when it finds one record per line (an
    # unbalanced quote makes it run lines together, a quoted line break too)
    width = max((line.count(delimiter) for line in lines), default=0) + 1
    try:
        cells = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, names=range(width), dtype=str,
                            keep_default_na=False, na_filter=False, skip_blank_lines=False, engine="c",
                            lineterminator="\n")
    except (pd.errors.ParserError, ValueError):
        cells = None
    del text
    if cells is not None and len(cells) == len(lines):
        numbers = np.arange(1, len(cells) + 1, dtype=np.int64)
        return Table(cells=_stripped(cells), rows=numbers, encoding=used)
    del cells
    return _exact_csv(label, lines, used, delimiter, max_cell_lines)


def _log_broken(label: str, broken: Sequence[BrokenRecord]) -> None:
    if broken:
        logger.info("%s: %d line(s) with an unbalanced quote: %s", label, len(broken),
                    ", ".join(str(b.line) for b in broken[:10]))


def _exact_csv(label: str, lines: Sequence[str], used: str, delimiter: str, max_cell_lines: int) -> Table:
    """The exact reader: every record split by the csv module, line by line."""
    spans, broken = _record_spans(lines, delimiter, max_cell_lines)
    broken_records = tuple(BrokenRecord(line=i + 1, text=lines[i]) for i in broken)
    _log_broken(label, broken_records)
    records: list[list[str]] = []
    starts: list[int] = []
    dropped = set(broken)
    i = 0
    n = len(lines)
    while i < n:
        if i in dropped:
            i += 1
            continue
        last = spans.get(i, i)
        record = "\n".join(lines[i:last + 1]) if last > i else lines[i]
        parsed = next(csv.reader([record], delimiter=delimiter), []) if record else []
        records.append(parsed)
        starts.append(i + 1)
        i = last + 1
    return Table(cells=as_text(grid(records)), rows=np.asarray(starts, dtype=np.int64), encoding=used,
                 broken=broken_records)


# --- cells ------------------------------------------------------------------------------

def grid(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
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


def rows_text(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Ragged rows of cells of any type as stripped text, column by column: the same as
    ``as_text(grid(rows))``, without building an object DataFrame first.

    With pyarrow, a column of strings (and empty cells) is converted and stripped in
    one vectorised step; other columns are read one distinct value at a time."""
    if not rows:
        return pd.DataFrame()
    n = len(rows)
    out: dict[int, pd.Series] = {}
    for j, column in enumerate(itertools.zip_longest(*rows, fillvalue=None)):
        out[j] = _column_text(column)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def _column_text(column: Sequence[Any]) -> pd.Series:
    if arrow_strings():
        import pyarrow as pa

        try:
            arrow = pa.array(column, type=pa.large_string(), from_pandas=False)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            pass
        else:
            return arrow_series(strip_arrow(arrow.fill_null("")))
    values = np.empty(len(column), dtype=object)
    values[:] = column
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = np.asarray([cell_text(u).strip() for u in uniques.tolist()] + [""], dtype=object)
    return pd.Series(texts[codes], dtype="str")


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells of any type as the stripped text a person reads (str dtype, "" when empty)."""
    out = {}
    for i, c in enumerate(frame.columns):
        codes, uniques = pd.factorize(frame[c], use_na_sentinel=True)
        texts = np.asarray([cell_text(u).strip() for u in uniques.tolist()] + [""], dtype=object)
        out[i] = pd.Series(texts[codes], dtype="str")
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame))) if out else pd.DataFrame(index=pd.RangeIndex(len(frame)))


# --- XLSX -------------------------------------------------------------------------------

def _inflated_size(data: bytes, info: zipfile.ZipInfo, stop_at: int) -> int:
    """Bytes a zip part really inflates to (streamed 4 MiB at a time, stopping past
    ``stop_at``), whatever its directory entry declares."""
    header = data[info.header_offset:info.header_offset + 30]
    if len(header) < 30 or header[:4] != _XLSX_MAGIC:
        return info.file_size
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    start = info.header_offset + 30 + name_len + extra_len
    packed = memoryview(data)[start:start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        return len(packed)
    if info.compress_type != zipfile.ZIP_DEFLATED:
        return info.file_size
    inflater = zlib.decompressobj(-15)
    total = 0
    step_in, step_out = 1 << 12, 1 << 22  # small input steps keep the unconsumed tail (re-copied) short
    try:
        for pos in range(0, len(packed), step_in):
            total += len(inflater.decompress(packed[pos:pos + step_in], step_out))
            while inflater.unconsumed_tail and total <= stop_at:
                total += len(inflater.decompress(inflater.unconsumed_tail, step_out))
            if total > stop_at:
                return total
    except zlib.error:
        return info.file_size  # the reader reports the damaged part
    return total


def check_xlsx_zip(label: str, data: bytes, error: ErrorType, *, max_unpacked_mb: float, max_ratio: float) -> None:
    """Refuse a workbook whose zip would unpack to more than the limits allow.

    Checked before any spreadsheet reader sees the file: the total declared unpacked
    size, the packing ratio of every part over 1 MiB, and — when the packed size alone
    cannot rule it out — the size the parts really inflate to (a zip directory can
    declare less than its data holds).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        msg = f"{label} is not a readable XLSX workbook: {exc}"
        raise error(msg) from None
    limit = int(max_unpacked_mb * (1 << 20))
    declared = sum(i.file_size for i in infos)
    advice = ("it may be a zip bomb; if it is a real ledger, raise xlsx_max_unpacked_mb / xlsx_max_ratio "
              "in the config or save it as CSV")
    if declared > limit:
        msg = (f"{label} would unpack to {declared / (1 << 20):,.0f} MiB, more than the "
               f"{max_unpacked_mb:,.0f} MiB allowed: {advice}")
        raise error(msg)
    for info in infos:
        if info.file_size > RATIO_MIN_BYTES and info.file_size > max_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            msg = (f"{label}: part {info.filename} unpacks {ratio:,.0f} times its packed size "
                   f"(limit {max_ratio:,.0f}): {advice}")
            raise error(msg)
    packed = sum(i.compress_size for i in infos)
    if packed * DEFLATE_MAX_RATIO <= limit:
        return  # cannot physically exceed the limit
    total = 0
    for info in infos:
        total += _inflated_size(data, info, limit - total)
        if total > limit:
            msg = (f"{label} unpacks to more than the {max_unpacked_mb:,.0f} MiB allowed "
                   f"(its zip directory declares {declared / (1 << 20):,.0f} MiB): {advice}")
            raise error(msg)


def _pick_sheet(label: str, names: Sequence[str], sheet: str | int | None, error: ErrorType) -> int:
    if not names:
        msg = f"workbook {label} has no worksheet"
        raise error(msg)
    if sheet is None:
        return 0
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if 0 <= sheet < len(names):
            return sheet
        msg = f"workbook {label} has {len(names)} sheet(s); sheet index {sheet} does not exist (sheets: {', '.join(names)})"
        raise error(msg)
    if isinstance(sheet, str) and sheet in names:
        return list(names).index(sheet)
    msg = f"workbook {label} has no sheet {sheet!r}; sheets: {', '.join(names)}"
    raise error(msg)


def pick_sheet(label: str, names: Sequence[str], sheet: str | int | None, error: ErrorType) -> int:
    """Position of the requested sheet/layer (name or 0-based index; default the first)."""
    return _pick_sheet(label, names, sheet, error)


def _openpyxl_rows(label: str, data: bytes, sheet: str | int | None, error: ErrorType) -> Sequence[Sequence[Any]]:
    import warnings

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    with warnings.catch_warnings():
        # e.g. "Workbook contains no default style": irrelevant to the values read
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
            msg = f"{label} is not a readable XLSX workbook: {exc}"
            raise error(msg) from None
        try:
            worksheets = book.worksheets
            ws = worksheets[_pick_sheet(label, [w.title for w in worksheets], sheet, error)]
            # read-only iteration starts at row 1 and yields empty rows too, so the
            # position of a row is its Excel row number - 1
            return list(ws.iter_rows(values_only=True))
        finally:
            book.close()


def _calamine_rows(label: str, data: bytes, sheet: str | int | None, error: ErrorType) -> Sequence[Sequence[Any]]:
    """Rows of a sheet read by python-calamine; ``skip_empty_area=False`` keeps the empty
    rows and columns at the top left, so a row's position is its Excel row number - 1."""
    from python_calamine import CalamineWorkbook  # type: ignore[import-not-found]

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = list(book.sheet_names)
    except Exception as exc:  # calamine raises its own error types for bad files
        msg = f"{label} is not a readable workbook: {exc}"
        raise error(msg) from None
    index = _pick_sheet(label, names, sheet, error)
    try:
        rows: Sequence[Sequence[Any]] = book.get_sheet_by_index(index).to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises its own error types for bad files
        msg = f"{label} is not a readable workbook: {exc}"
        raise error(msg) from None
    return rows  # empty cells are "" (cell_text reads them as blank)


def xlsx_table(label: str, data: bytes, sheet: str | int | None, error: ErrorType, *, legacy: bool,
               max_unpacked_mb: float, max_ratio: float, engines: Sequence[str] = XLSX_ENGINES) -> Table:
    """The cells of one sheet of an XLSX (or legacy XLS) workbook, after the zip checks.

    ``engines``: the readers to try, in order (``calamine``, ``openpyxl``).
    """
    if not legacy:
        check_xlsx_zip(label, data, error, max_unpacked_mb=max_unpacked_mb, max_ratio=max_ratio)
    engines = [e for e in engines if e != "openpyxl" or not legacy]
    rows: Sequence[Sequence[Any]]
    for engine in engines:
        if engine == "calamine":
            try:
                import python_calamine  # noqa: F401
            except ImportError:
                continue
            rows = _calamine_rows(label, data, sheet, error)
        else:
            rows = _openpyxl_rows(label, data, sheet, error)
        n = len(rows)
        cells = rows_text(rows)
        del rows
        return Table(cells=cells, rows=np.arange(1, n + 1, dtype=np.int64))
    msg = (f"{label} is a legacy .xls workbook: save it as .xlsx "
           "(or pip install python-calamine to read .xls)")
    raise error(msg)


def read_table(path: Path, what: str, error: ErrorType, *, sheet: str | int | None = None,
               encoding: str | None = None, max_cell_lines: int = 50, max_unpacked_mb: float = 1536.0,
               max_ratio: float = 200.0) -> tuple[Table, str]:
    """A CSV or XLSX file's cells (and the file's SHA-256-free format name).

    Returns
    -------
    (Table, format)
        The cells and ``"csv"``, ``"xlsx"`` or ``"xls"``.
    """
    data = read_input_bytes(path, what, error)
    kind = sniff_format(path, data, what, error)
    label = f"{what} {path}"
    if kind == "csv":
        return csv_table(label, data, encoding, error, max_cell_lines=max_cell_lines), kind
    return xlsx_table(label, data, sheet, error, legacy=kind == "xls", max_unpacked_mb=max_unpacked_mb,
                      max_ratio=max_ratio), kind


# --- coordinates ------------------------------------------------------------------------

def degrees_problem(bounds: Sequence[float]) -> str | None:
    """What is wrong when ``(xmin, ymin, xmax, ymax)`` cannot be longitude/latitude degrees.

    A projected file (EPSG:3857 metres, a Gauss-Krüger zone) read without its CRS has
    coordinates in the hundreds of thousands or millions.

    >>> degrees_problem((118.0, 30.0, 119.0, 31.0)) is None
    True
    >>> degrees_problem((13135699.9, 3503549.8, 13247019.4, 3632749.1))
    'coordinates run from x 13135700 to 13247019 and y 3503550 to 3632749, which are not longitude/latitude degrees'
    """
    x0, y0, x1, y1 = (float(v) for v in bounds)
    if all(np.isfinite([x0, y0, x1, y1])) and (-180 <= x0 <= x1 <= 180) and (-90 <= y0 <= y1 <= 90):
        return None
    return (f"coordinates run from x {x0:.0f} to {x1:.0f} and y {y0:.0f} to {y1:.0f}, "
            "which are not longitude/latitude degrees")


# --- headers ----------------------------------------------------------------------------

def find_header(cells: pd.DataFrame, field_of: Callable[[str], str | None], *, scan_rows: int,
                two_rows: bool = True, fixed: bool = False) -> tuple[int, int, dict[Any, str]] | None:
    """(position of the first header row, number of header rows, {column: field}), or
    ``None`` when no row among the first ``scan_rows`` names a field.

    The header is the row naming the most distinct fields (earliest on a tie); with
    ``two_rows``, a second header row below it (正式党员/预备党员 under a merged
    党员情况: mostly field names, each under a blank or unmatched cell) is merged in.
    ``fixed`` takes the first row as the header (GeoJSON fields).
    """
    scan = cells.iloc[: 1 if fixed else scan_rows]
    columns = list(scan.columns)
    matched = [[field_of(v) if v.strip() else None for v in scan.iloc[r].tolist()] for r in range(len(scan))]
    best: tuple[tuple[int, int, int], int, int, dict[Any, str]] | None = None
    for r, row in enumerate(matched):
        single = {columns[j]: f for j, f in enumerate(row) if f}
        candidates = [(single, 1)]
        if two_rows and not fixed and r + 1 < len(matched):
            below = matched[r + 1]
            filled = [j for j, v in enumerate(scan.iloc[r + 1].tolist()) if v.strip()]
            hits = [j for j in filled if below[j]]
            if hits and 2 * len(hits) >= len(filled) and not any(row[j] for j in hits):
                merged = dict(single)
                merged.update({columns[j]: below[j] for j in hits})  # type: ignore[misc]
                candidates.append((merged, 2))
        for mapping, height in candidates:
            key = (len(set(mapping.values())), -height, -r)
            if best is None or key > best[0]:
                best = (key, r, height, mapping)
    if best is None or best[0][0] == 0:
        return None
    _, r, height, mapping = best
    return r, height, mapping


def alias_lookup(aliases: dict[str, tuple[str, ...]], normalize: Callable[[str], str]) -> Callable[[str], str | None]:
    """A header matcher: the field whose alias (or own name) equals the normalised cell."""
    index: dict[str, str] = {}
    for name, names in aliases.items():
        for alias in (*names, name):
            index.setdefault(normalize(alias), name)

    def field_of(text: str) -> str | None:
        return index.get(normalize(text))

    return field_of


def header_table(table: Table, field_of: Callable[[str], str | None], *, scan_rows: int,
                 required: str) -> tuple[pd.DataFrame, np.ndarray, int] | None:
    """The body of a one-header-row table with columns renamed to their fields.

    The header is the row among the first ``scan_rows`` naming the most fields, and it
    must name ``required``; when several columns name one field, the first is used.
    Fully blank body rows are dropped; returns the body (every field of the header
    present), each body row's source number and the header's, or ``None`` without
    such a header.
    """
    found = find_header(table.cells, field_of, scan_rows=scan_rows, two_rows=False)
    if found is None or required not in found[2].values():
        return None
    start, _, mapping = found
    columns: dict[Any, str] = {}
    for col, name in mapping.items():
        if name not in columns.values():
            columns[col] = name
    body = table.cells.iloc[start + 1:][list(columns)]
    body.columns = list(columns.values())
    nonempty = body.ne("").any(axis=1).to_numpy()
    rows = table.rows[start + 1:][nonempty].astype(np.int64)
    return body.loc[nonempty].reset_index(drop=True), rows, int(table.rows[start])


def first_row_text(cells: pd.DataFrame, scan_rows: int) -> str:
    """The first non-blank row among the first rows, joined (for messages)."""
    for r in range(min(scan_rows, len(cells))):
        row = [v.strip() for v in cells.iloc[r].tolist() if v.strip()]
        if row:
            return ", ".join(row)[:200]
    return ""

