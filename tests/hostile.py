"""A hostile corpus of input files, made on demand (nothing large is committed).

Each ``make_*`` function writes one damaged, malicious or oversized input into a folder
and returns its path; :data:`CASES` lists the ingest cases with the outcome a user must
get (``gridcover validate`` exit code and a phrase of its one-line message). The tests
(``tests/test_hostile_ingest.py``) and the reliability bench (``bench/bench_hostile.py``)
use the same corpus.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gridcover._uscc import check_char

#: The worksheet part of a one-sheet workbook.
SHEET = "xl/worksheets/sheet1.xml"
HEADER = "统一社会信用代码,企业名称,地址,经度,纬度,职工人数,正式党员数"


def uscc(i: int) -> str:
    """A well-formed USCC with a valid check character, distinct for each ``i``."""
    body = f"91350100M{i:08d}"
    return body + check_char(body)


def row(i: int, *, name: str | None = None, staff: str = "25", members: str = "3") -> str:
    """One clean CSV data line (a point inside the sample county's box)."""
    return f"{uscc(i)},{name or f'测试企业{i}'},青岚县鼓楼路{i}号,118.{500 + i},26.55,{staff},{members}"


# --- CSV --------------------------------------------------------------------------------

def make_unbalanced_quote(folder: Path) -> Path:
    """3 data rows; the 2nd opens a quote it never closes (pandas reads 1 row, exit 0)."""
    path = folder / "unbalanced_quote.csv"
    lines = [HEADER, row(1), f'{uscc(2)},"乙公司,青岚县鼓楼路2号,118.502,26.55,8,1', row(3)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_carriage_return(folder: Path) -> Path:
    """3 data rows in a CRLF file; the 2nd name holds a bare carriage return."""
    path = folder / "carriage_return.csv"
    lines = [HEADER, row(1), row(2, name="乙\r公司"), row(3)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


def make_huge_counts(folder: Path) -> Path:
    """4 data rows: 2^63 staff (row 3) and 30 digits of members (row 4) among clean rows."""
    path = folder / "huge_counts.csv"
    lines = [HEADER, row(1), row(2, staff=str(2**63)), row(3, members="1" * 30), row(4)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_big5(folder: Path) -> Path:
    """A traditional-Chinese ledger saved as Big5 (decodes as GB18030 into garbage)."""
    path = folder / "big5.csv"
    header = "統一社會信用代碼,企業名稱,地址,經度,緯度,職工人數,正式黨員數"
    names = ["臺北興業股份有限公司", "高雄鋼鐵機械廠", "新竹電腦軟體開發", "臺中紡織實業"]
    lines = [header] + [f"{uscc(i)},{n},中正區重慶南路{i}段,118.50{i},26.55,25,3" for i, n in enumerate(names)]
    path.write_bytes(("\n".join(lines) + "\n").encode("big5"))
    return path


def make_big5_english_headers(folder: Path) -> Path:
    """Big5 names under English headers: GB18030 decodes it without error into garbage."""
    path = folder / "big5_en.csv"
    names = ["臺北興業股份有限公司", "高雄鋼鐵機械廠", "新竹電腦軟體開發"]
    lines = ["uscc,name,address,lon,lat,staff,members"]
    lines += [f"{uscc(i)},{n},Taipei,118.50{i},26.55,25,3" for i, n in enumerate(names)]
    path.write_bytes(("\n".join(lines) + "\n").encode("big5"))
    return path


def make_csv_rows(folder: Path, n: int, *, name: str = "rows.csv") -> Path:
    """A clean ledger of ``n`` data rows, written in chunks (for the 1,000,000-row run)."""
    path = folder / name
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER + "\n")
        chunk = 50_000
        for start in range(0, n, chunk):
            fh.write("".join(f"{uscc(i)},企业{i},青岚县鼓楼路{i % 977}号,{118.4 + (i % 1000) * 1e-4:.4f},"
                             f"{26.5 + (i % 997) * 1e-4:.4f},{6 + i % 300},{i % 5}\n"
                             for i in range(start, min(n, start + chunk))))
    return path


# --- XLSX -------------------------------------------------------------------------------

def _small_xlsx() -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet()
    for r, line in enumerate([HEADER, row(1), row(2)]):
        for c, value in enumerate(line.split(",")):
            sheet.write_string(r, c, value)
    book.close()
    return buf.getvalue()


def _patch_sizes(data: bytes, member: str, declared: int) -> bytes:
    """The zip with ``member``'s uncompressed size set to ``declared`` in both headers."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(member)
    struct.pack_into("<L", out, info.header_offset + 22, declared)  # local header
    name = member.encode()
    pos = 0
    while True:
        pos = out.find(b"PK\x01\x02", pos)
        if pos < 0:
            break
        name_len = struct.unpack_from("<H", out, pos + 28)[0]
        if bytes(out[pos + 46:pos + 46 + name_len]) == name:
            struct.pack_into("<L", out, pos + 24, declared)  # central directory
        pos += 4
    return bytes(out)


def make_declared_bomb(folder: Path, declared: int = 3 * 2**30) -> Path:
    """A ~6 KB workbook whose zip directory declares a 3 GiB sheet."""
    path = folder / "declared_bomb.xlsx"
    path.write_bytes(_patch_sizes(_small_xlsx(), SHEET, declared))
    return path


def _with_member(data: bytes, name: str, payload_mb: int, *, declared: int | None = None) -> bytes:
    """The workbook with its part ``name`` replaced by (or added as) ``payload_mb`` MiB of
    zeros, deflated ~1000:1, whose zip headers declare ``declared`` bytes (default: the
    true size)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = b"\0" * (1 << 20)
    packed = b"".join(comp.compress(block) for _ in range(payload_mb)) + comp.flush()
    crc = 0
    for _ in range(payload_mb):
        crc = zlib.crc32(block, crc)
    size = declared if declared is not None else payload_mb << 20
    entries = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if info.filename == name:
                continue
            raw = zf.read(info.filename)
            entries.append((info.filename, zlib.compress(raw, 6)[2:-4], zlib.crc32(raw), len(raw)))
    entries.append((name, packed, crc, size))
    out = io.BytesIO()
    central = io.BytesIO()
    for fname, body, crc_, usize in entries:
        offset = out.tell()
        encoded = fname.encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, zipfile.ZIP_DEFLATED, 0, 0x21, crc_, len(body),
                              usize, len(encoded), 0))
        out.write(encoded)
        out.write(body)
        central.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, zipfile.ZIP_DEFLATED, 0, 0x21, crc_,
                                  len(body), usize, len(encoded), 0, 0, 0, 0, 0, offset))
        central.write(encoded)
    directory = central.getvalue()
    start = out.tell()
    out.write(directory)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), start, 0))
    return out.getvalue()


def make_ratio_bomb(folder: Path, payload_mb: int = 64) -> Path:
    """A workbook whose sheet is ``payload_mb`` MiB of zeros packed ~1000:1 (honest sizes)."""
    path = folder / "ratio_bomb.xlsx"
    path.write_bytes(_with_member(_small_xlsx(), SHEET, payload_mb))
    return path


def make_lying_bomb(folder: Path, payload_mb: int = 64) -> Path:
    """A workbook whose zip directory declares 1 KiB for a sheet that inflates to ``payload_mb`` MiB."""
    path = folder / "lying_bomb.xlsx"
    path.write_bytes(_with_member(_small_xlsx(), SHEET, payload_mb, declared=1024))
    return path


def make_encrypted(folder: Path) -> Path:
    """A password-protected workbook (an OLE/CFB container holding EncryptionInfo)."""
    path = folder / "encrypted.xlsx"
    plain = _small_xlsx()
    try:
        from msoffcrypto.format.ooxml import OOXMLFile
    except ImportError:  # a minimal CFB stand-in: the magic and the two stream names
        cfb = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
        for stream in ("EncryptionInfo", "EncryptedPackage"):
            cfb += stream.encode("utf-16-le").ljust(128, b"\0")
        path.write_bytes(bytes(cfb) + b"\0" * (4096 - len(cfb)))
        return path
    out = io.BytesIO()
    OOXMLFile(io.BytesIO(plain)).encrypt("secret", out)
    path.write_bytes(out.getvalue())
    return path


def make_xlsx_rows(folder: Path, n: int, *, name: str = "rows.xlsx") -> Path:
    """A clean workbook of ``n`` data rows (xlsxwriter constant_memory)."""
    import xlsxwriter

    path = folder / name
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet()
    for c, value in enumerate(HEADER.split(",")):
        sheet.write_string(0, c, value)
    for i in range(n):
        r = i + 1
        sheet.write_string(r, 0, uscc(i))
        sheet.write_string(r, 1, f"企业{i}")
        sheet.write_string(r, 2, f"青岚县鼓楼路{i % 977}号")
        sheet.write_number(r, 3, round(118.4 + (i % 1000) * 1e-4, 4))
        sheet.write_number(r, 4, round(26.5 + (i % 997) * 1e-4, 4))
        sheet.write_number(r, 5, 6 + i % 300)
        sheet.write_number(r, 6, i % 5)
    book.close()
    return path


# --- geometry ---------------------------------------------------------------------------

def _mercator(lon: float, lat: float) -> tuple[float, float]:
    import math

    x = lon * 20037508.34 / 180
    y = math.log(math.tan((90 + lat) * math.pi / 360)) * 6378137.0
    return x, y


def make_projected_boundary(folder: Path) -> Path:
    """A township polygon in EPSG:3857 metres in a GeoJSON without a ``crs`` member."""
    path = folder / "townships_3857.geojson"
    ring = [_mercator(x, y) for x, y in ((118.0, 26.0), (119.0, 26.0), (119.0, 27.0), (118.0, 27.0), (118.0, 26.0))]
    feature = {"type": "Feature", "properties": {"name": "甲镇"},
               "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def make_projected_ledger(folder: Path) -> Path:
    """A point ledger in EPSG:3857 metres in a GeoJSON without a ``crs`` member."""
    path = folder / "ledger_3857.geojson"
    features = []
    for i in range(1, 4):
        x, y = _mercator(118.5 + i * 0.001, 26.55)
        features.append({"type": "Feature",
                         "properties": {"统一社会信用代码": uscc(i), "企业名称": f"企业{i}", "地址": "青岚县",
                                        "职工人数": 25, "正式党员数": 3},
                         "geometry": {"type": "Point", "coordinates": [x, y]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")
    return path


# --- not files --------------------------------------------------------------------------

def make_fifo(folder: Path) -> Path:
    """A named pipe with no writer (reading it would block forever)."""
    path = folder / "ledger_fifo.csv"
    os.mkfifo(path)
    return path


def make_folder(folder: Path) -> Path:
    """A folder named like a ledger."""
    path = folder / "ledger_folder.csv"
    path.mkdir()
    return path


def dev_zero(folder: Path) -> Path:  # noqa: ARG001 - same signature as the makers
    """``/dev/zero`` (endless bytes)."""
    return Path("/dev/zero")


# --- the cases ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One hostile ingest case and the outcome ``gridcover validate`` must give.

    Attributes
    ----------
    name
        Short id.
    make
        Writes the file into a folder, returns its path.
    exit_code
        Expected exit code of ``gridcover validate FILE``.
    phrase
        Words the one-line message (stderr for exit 2, stdout otherwise) contains.
    config
        Config TOML text passed with ``--config`` ("" for none).
    boundary
        The file is a township boundary (``--townships``), validated with a clean ledger.
    """

    name: str
    make: Callable[[Path], Path]
    exit_code: int
    phrase: str
    config: str = ""
    boundary: bool = False


#: A config that makes the 64 MiB bombs exceed the unpack limit (tests stay small).
SMALL_LIMIT = "[ingest]\nxlsx_max_unpacked_mb = 16.0\n"

CASES: tuple[Case, ...] = (
    Case("unbalanced_quote", make_unbalanced_quote, 1, "row 3:"),
    Case("carriage_return", make_carriage_return, 0, "accepted: 3"),
    Case("huge_counts", make_huge_counts, 1, "too large"),
    Case("big5", make_big5, 2, "Big5"),
    Case("big5_english_headers", make_big5_english_headers, 2, "Big5"),
    Case("declared_bomb", make_declared_bomb, 2, "would unpack to 3,072 MiB"),
    Case("ratio_bomb", make_ratio_bomb, 2, "times its packed size"),
    Case("lying_bomb", make_lying_bomb, 2, "unpacks to more than", config=SMALL_LIMIT),
    Case("encrypted", make_encrypted, 2, "password-protected"),
    Case("projected_ledger", make_projected_ledger, 2, "not longitude/latitude degrees"),
    Case("projected_boundary", make_projected_boundary, 2, "not longitude/latitude degrees", boundary=True),
    Case("fifo", make_fifo, 2, "named pipe"),
    Case("folder", make_folder, 2, "is a folder"),
    Case("dev_zero", dev_zero, 2, "a device"),
)


def clean_ledger(folder: Path) -> Path:
    """A clean 3-row ledger (the ledger of the boundary cases)."""
    path = folder / "clean.csv"
    path.write_text("\n".join([HEADER, row(1), row(2), row(3)]) + "\n", encoding="utf-8")
    return path
