"""The vectorised ingest gives what the exact reader gives.

A CSV is read by pyarrow where its lines are plain and by the csv module, record by
record, elsewhere (``gridcover._tables._arrow_csv``); ``csv_table(..., exact=True)`` and
``_tables.CSV_FAST = False`` read the whole file the exact way. Generated files mix
proper rows (``csv.writer``: quotes, delimiters, CR and LF inside cells), damaged rows
(a quote never closed), ragged and empty rows, Unicode whitespace around cells, three
line-end styles and three encodings; both ways must give the same cells, row numbers
and broken records, and ``read_ledger`` the same accepted table, rejects and warnings.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from unittest import mock

import hostile
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridcover import _tables
from gridcover.errors import LedgerError
from gridcover.ledger import read_ledger

pytestmark = pytest.mark.skipif(not _tables.arrow_strings(), reason="needs pyarrow-backed pandas strings")

_CELL = st.text(alphabet=st.sampled_from(list('ab甲乙 ,;|\t"\r\n1.-\u3000\xa0')), max_size=6)
_PLAIN = st.text(alphabet=st.sampled_from(list("ab甲乙 1.-\u3000")), max_size=6)


@st.composite
def _csv_files(draw: st.DrawFn) -> bytes:
    """Mostly regular rows (so that pyarrow has plain lines to read), with every kind of
    trouble sprinkled in."""
    delimiter = draw(st.sampled_from([",", ",", "\t", ";", "|"]))
    width = draw(st.integers(1, 5))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    out = []
    for _ in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(["plain"] * 6 + ["writer", "damaged", "ragged", "empty", "raw"]))
        if kind == "plain":
            out.append(delimiter.join(draw(_PLAIN) for _ in range(width)) + end)
        elif kind == "writer":
            buf = io.StringIO()
            csv.writer(buf, delimiter=delimiter, lineterminator=end).writerow(
                [draw(_CELL) for _ in range(draw(st.integers(1, width + 1)))])
            out.append(buf.getvalue())
        elif kind == "damaged":
            out.append(delimiter.join(["x", '"' + draw(_PLAIN), "y"]) + end)
        elif kind == "ragged":
            out.append(delimiter.join(draw(_PLAIN) for _ in range(draw(st.integers(1, width + 2)))) + end)
        elif kind == "empty":
            out.append(end)
        else:  # anything, quotes and bare CR included
            out.append(draw(_CELL) + end)
    text = "".join(out)
    if draw(st.booleans()):
        text = text.removesuffix(end)  # no line end after the last line
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
    return text.encode(encoding)


def _read(data: bytes, *, exact: bool, max_cell_lines: int) -> _tables.Table | str:
    try:
        return _tables.csv_table("t.csv", data, None, LedgerError, max_cell_lines=max_cell_lines, exact=exact)
    except LedgerError as exc:
        return str(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_csv_files(), st.sampled_from([2, 3, 50]))
def test_fast_and_exact_csv_readers_agree(data: bytes, max_cell_lines: int) -> None:
    fast = _read(data, exact=False, max_cell_lines=max_cell_lines)
    exact = _read(data, exact=True, max_cell_lines=max_cell_lines)
    if isinstance(exact, str) or isinstance(fast, str):
        assert fast == exact
        return
    assert fast.rows.tolist() == exact.rows.tolist()
    assert fast.broken == exact.broken
    assert fast.encoding == exact.encoding
    assert fast.cells.shape == exact.cells.shape
    assert list(fast.cells.columns) == list(exact.cells.columns)
    assert (fast.cells.dtypes == exact.cells.dtypes).all()
    pd.testing.assert_frame_equal(fast.cells, exact.cells)


def test_fast_reader_is_used_and_splices_the_exact_lines() -> None:
    """A file with a multi-line cell, a damaged line, a ragged line and an empty line:
    pyarrow reads the plain lines, the others keep their line numbers."""
    text = ("a,b,c\n1,2,3\n" '4,"x\ny",6\n' '7,"open,9\n' "10,11\n\n12,13,14 \n")
    with mock.patch.object(_tables, "_exact_csv", side_effect=AssertionError("exact path used")):
        table = _tables.csv_table("t.csv", text.encode(), None, LedgerError, max_cell_lines=50)
    assert table.rows.tolist() == [1, 2, 3, 6, 7, 8]
    assert table.cells.values.tolist() == [["a", "b", "c"], ["1", "2", "3"], ["4", "x\ny", "6"], ["10", "11", ""],
                                           ["", "", ""], ["12", "13", "14"]]
    assert [(b.line, b.text) for b in table.broken] == [(5, '7,"open,9')]


def test_strip_removes_what_str_strip_removes() -> None:
    assert _tables.WHITESPACE == "".join(c for c in map(chr, range(0x110000)) if c.isspace())


# ------------------------------------------------------------------ ledger level

_LEDGER_CELL = st.text(alphabet=st.sampled_from(list('ab甲乙 ,"\r\n1')), max_size=6)


@st.composite
def _ledgers(draw: st.DrawFn) -> bytes:
    rows = []
    for i in range(draw(st.integers(1, 15))):
        cells = [hostile.uscc(i % draw(st.integers(1, 20))), "x" + draw(_LEDGER_CELL), draw(_LEDGER_CELL),
                 draw(st.sampled_from(["118.5", "", "x", "26.5"])), draw(st.sampled_from(["26.55", "", "118.5"])),
                 draw(st.sampled_from(["8", "x", "-1", "", "25人", "８"])), draw(st.sampled_from(["1", "0", "9"]))]
        if draw(st.integers(0, 9)) == 0:
            rows.append(",".join([cells[0], '"y' + draw(st.text(alphabet="ab ,1", max_size=5)), *cells[2:]]) + "\n")
        else:
            buf = io.StringIO()
            csv.writer(buf, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerow(cells)
            rows.append(buf.getvalue())
    title = draw(st.sampled_from(["", "某县台账\n"]))
    return (title + hostile.HEADER + "\n" + "".join(rows)).encode(draw(st.sampled_from(["utf-8", "gb18030"])))


def _ledger(path: Path, fast: bool) -> object:
    with mock.patch.object(_tables, "CSV_FAST", fast):
        try:
            return read_ledger(path)
        except LedgerError as exc:
            return str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ledgers())
def test_fast_and_exact_ledgers_agree(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.csv"
        path.write_bytes(data)
        fast, exact = _ledger(path, True), _ledger(path, False)
    if isinstance(exact, str) or isinstance(fast, str):
        assert fast == exact
        return
    pd.testing.assert_frame_equal(fast.enterprises, exact.enterprises)  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(fast.rejects, exact.rejects)  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(fast.warnings, exact.warnings)  # type: ignore[attr-defined]
    assert fast.n_rows == exact.n_rows == len(fast.enterprises) + len(fast.rejects)  # type: ignore[attr-defined]
    assert np.array_equal(np.sort(fast.rejects["source_row"]), np.sort(exact.rejects["source_row"]))  # type: ignore[attr-defined]


# ------------------------------------------------------------------ sheets and names

_SHEET_CELL = st.one_of(
    st.none(), st.text(alphabet=st.sampled_from(list("ab甲 \t\u3000\xa01.")), max_size=5),
    st.floats(allow_nan=True, allow_infinity=False, width=64), st.integers(-10**6, 10**6), st.booleans(),
    st.dates(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_SHEET_CELL, max_size=5), min_size=1, max_size=12),
       st.sampled_from(["strings", "mixed"]))
def test_sheet_rows_to_text_agrees_with_the_cell_by_cell_reading(rows: list[list[object]], kind: str) -> None:
    """What a workbook reader returns (ragged rows of str, float, int, bool, date, None)
    becomes the same text column by column as cell by cell."""
    if kind == "strings":
        rows = [[v if isinstance(v, str) or v is None else str(v) for v in r] for r in rows]
    fast = _tables.rows_text(rows)
    slow = _tables.as_text(_tables.grid(rows))
    if slow.shape[1] == 0:
        assert fast.shape[1] == 0
        return
    pd.testing.assert_frame_equal(fast, slow)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(list("ab甲 \t\u3000\xa0Ａ１é\u0301ﬁ①㎡")),
                                             max_size=6)), max_size=30))
def test_clean_names_is_clean_name_of_every_value(values: list[str | None]) -> None:
    from gridcover.jurisdictions import clean_name, clean_names

    expected = [clean_name(v) for v in values]
    assert clean_names(pd.Series(values, dtype="str")) == [clean_name(v) for v in pd.Series(values, dtype="str")]
    assert clean_names(values) == expected
    assert clean_names(pd.Series(values, dtype="str"), then=str.upper) == [
        clean_name(v).upper() for v in pd.Series(values, dtype="str")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("0123456789.-+eE °Ｎ１N x")), max_size=24), max_size=30))
def test_coordinates_read_by_pyarrow_are_what_pandas_reads(values: list[str]) -> None:
    """Plain decimals are cast by pyarrow, the rest by pandas: the degrees are those of
    pandas' to_numeric (with the full-width/degree-sign retry) on every cell."""
    from gridcover.ledger import _COORD_JUNK, _coordinate

    written = pd.Series(values, dtype="str")
    blank = written.eq("").to_numpy()
    expected = np.array(pd.to_numeric(written.where(~blank), errors="coerce"), dtype="float64")
    retry = ~blank & np.isnan(expected)
    if retry.any():
        cleaned = written[retry].str.normalize("NFKC").str.replace(_COORD_JUNK, "", regex=True)
        expected[retry] = pd.to_numeric(cleaned.where(cleaned.ne("")), errors="coerce").to_numpy(dtype="float64")
    expected = np.where(np.isfinite(expected), expected, np.nan)
    got, got_blank, got_nan = _coordinate(written)
    assert np.array_equal(got, expected, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(expected))
    assert got_blank.tolist() == blank.tolist()
    assert got_nan.tolist() == (~blank & np.isnan(expected)).tolist()


def test_without_pyarrow_strings_the_ledger_is_the_same(tmp_path: Path) -> None:
    """The readers without pyarrow (pandas' C parser, the exact reader, cell by cell) give
    the ledger the pyarrow path gives: a title row, a quoted comma, a multi-line cell, an
    unbalanced quote, a blank row, padded cells, a duplicate and bad counts."""
    rows = [hostile.row(1), hostile.row(2, name='"企业2,分厂"'), hostile.row(3, name='"企业\n3"'),
            hostile.row(4, name='"企业4'), hostile.row(5, name=" 企业5\u3000"), hostile.row(6, staff="x", members="-1"),
            hostile.row(8), hostile.row(8)]
    text = "某县台账\n" + hostile.HEADER + "\n" + "\n".join(rows[:5]) + "\n,,,,,,\n" + "\n".join(rows[5:]) + "\n"
    path = tmp_path / "ledger.csv"
    path.write_text(text, encoding="utf-8")
    fast = read_ledger(path)
    with mock.patch.object(_tables, "arrow_strings", lambda: False):
        slow = read_ledger(path)
    pd.testing.assert_frame_equal(fast.enterprises, slow.enterprises)
    pd.testing.assert_frame_equal(fast.rejects, slow.rejects)
    pd.testing.assert_frame_equal(fast.warnings, slow.warnings)
    assert fast.n_rows == slow.n_rows == 8
    assert "unbalanced quote" in " ".join(fast.rejects["reason"])
    assert fast.enterprises["name"].str.contains("企业5").any()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab甲,\t\n") + list(_tables.WHITESPACE.replace("\n", ""))), max_size=12),
       st.sampled_from([",", "\t"]))
def test_edge_space_scan_finds_exactly_the_cells_to_strip(text: str, delimiter: str) -> None:
    """The byte scan that lets plain cells skip the strip says yes exactly when a cell
    (split at the delimiter and at line ends) differs from its ``str.strip()``."""
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    found = _tables._edge_space(raw, np.flatnonzero(raw == 10), np.flatnonzero(raw == ord(delimiter)), delimiter)
    cells = [c for line in text.split("\n") for c in line.split(delimiter)]
    assert found == any(c != c.strip() for c in cells)
