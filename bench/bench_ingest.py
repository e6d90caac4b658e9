"""Benchmark of ledger ingest: ``read_ledger`` on a generated 100,000-row ledger.

Run ``python bench/bench_ingest.py [--rows N] [--repeat R]``. Writes a messy synthetic
ledger (2 % bad rows of every kind, empty rows, a title row) as UTF-8-BOM CSV, GBK
CSV and XLSX into a temporary folder, then reads each in a fresh subprocess (so the
peak memory, ``ru_maxrss``, is that read's own) and prints a Markdown table: wall
time of ``read_ledger`` (best of R), peak resident memory of the process and the
increase over the process after imports.

``python bench/bench_ingest.py --rows 1000000 --validate [--xlsx] [--package DIR]`` runs
``python -m gridcover validate FILE`` instead, as a user runs it, in a fresh process
inside a small wrapper whose ``getrusage(RUSAGE_CHILDREN)`` gives that run's CPU time and
peak resident memory: on the messy ledger as UTF-8-BOM CSV (20 columns, 2 % bad rows),
on a clean 7-column CSV (``tests/hostile.py``, the file of the hostile-ingest bench) and,
with ``--xlsx``, on a workbook of 1,048,576 sheet rows (Excel's maximum; written with
xlsxwriter ``constant_memory``, which takes about a minute). Each file is validated
``--repeat`` times; the table gives every run's wall time and the load average before
it. ``--package`` runs the gridcover package found in another folder (an older
checkout, to compare).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent

HEADERS = [
    "统一社会信用代码", "企业名称", "地址", "经度", "纬度", "坐标系", "乡镇（街道）", "村（社区）", "所属园区",
    "行业", "职工人数", "有无固定经营场所", "是否规上企业", "正式党员数", "预备党员数", "党组织组建方式",
    "所在党组织", "党建工作指导员", "出资人是否党员", "备注",
]
_ALPHABET = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))
_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])


def _usccs(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct valid USCCs (vectorised GB 32100-2015 check character)."""
    body = np.empty((n, 17), dtype=np.int64)
    body[:, 0], body[:, 1] = 9, 1
    body[:, 2:8] = [3, 5, 0, 1, 0, 0]
    body[:, 8:] = rng.integers(0, 31, size=(n, 9))
    check = (31 - (body * _WEIGHTS).sum(axis=1) % 31) % 31
    chars = _ALPHABET[np.column_stack([body, check])]
    codes = np.array(["".join(r) for r in chars])
    _, first = np.unique(codes, return_index=True)
    keep = np.zeros(n, dtype=bool)
    keep[first] = True
    codes[~keep] = codes[keep][0][:-1] + "Z"  # vanishingly rare; becomes a bad row
    return codes


def make_ledger(n: int, seed: int = 0) -> pd.DataFrame:
    """A messy ledger of n data rows as text cells (headers in Chinese)."""
    rng = np.random.default_rng(seed)
    staff = np.minimum(rng.lognormal(2.3, 1.1, n).astype(int), 5000)
    members = np.minimum(rng.poisson(0.8, n), staff)
    df = pd.DataFrame({
        "统一社会信用代码": _usccs(rng, n),
        "企业名称": [f"示例{i}号科技有限公司" for i in range(n)],
        "地址": [f"示例县{i % 97}路{i % 1000}号" for i in range(n)],
        "经度": np.round(119.2 + rng.random(n) * 0.4, 6).astype(str),
        "纬度": np.round(25.9 + rng.random(n) * 0.4, 6).astype(str),
        "坐标系": rng.choice(["", "WGS-84", "高德", "bd09"], n),
        "乡镇（街道）": rng.choice([f"示例{k}镇" for k in range(10)], n),
        "村（社区）": rng.choice([f"示例{k}村" for k in range(60)], n),
        "所属园区": rng.choice(["", "", "", "示例工业园区"], n),
        "行业": rng.choice(["C", "C13", "制造业", "F", "批发和零售业", "I65", "E", "", "48"], n),
        "职工人数": [f"{s}人" if i % 7 == 0 else str(s) for i, s in enumerate(staff)],
        "有无固定经营场所": rng.choice(["是", "否", "Y", ""], n, p=[0.8, 0.05, 0.05, 0.1]),
        "是否规上企业": rng.choice(["是", "否", ""], n, p=[0.2, 0.7, 0.1]),
        "正式党员数": members.astype(str),
        "预备党员数": rng.choice(["", "0", "1"], n, p=[0.5, 0.4, 0.1]),
        "党组织组建方式": rng.choice(["未建", "单独建", "联合建", "挂靠建", ""], n),
        "所在党组织": "",
        "党建工作指导员": rng.choice(["", "", "张三"], n),
        "出资人是否党员": rng.choice(["是", "否", ""], n),
        "备注": "",
    })
    bad = rng.choice(n, size=n // 50, replace=False)
    kinds = [
        ("统一社会信用代码", "91350100ABC"), ("职工人数", "-3"), ("职工人数", "约二十"), ("正式党员数", ""),
        ("党组织组建方式", "乱建"), ("坐标系", "北京54"), ("经度", "12.5"), ("企业名称", ""),
    ]
    for j, i in enumerate(bad):
        column, value = kinds[j % len(kinds)]
        df.iat[i, df.columns.get_loc(column)] = value
    return df


def write_files(df: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """The ledger as UTF-8-BOM CSV, GBK CSV and XLSX (title row merged above the header)."""
    paths = {"csv utf-8-sig": folder / "ledger_utf8.csv", "csv gbk": folder / "ledger_gbk.csv",
             "xlsx": folder / "ledger.xlsx"}
    with_blank = pd.concat([df.iloc[:10], pd.DataFrame([[""] * df.shape[1]], columns=df.columns), df.iloc[10:]])
    with_blank.to_csv(paths["csv utf-8-sig"], index=False, encoding="utf-8-sig")
    with_blank.to_csv(paths["csv gbk"], index=False, encoding="gbk")
    import xlsxwriter

    book = xlsxwriter.Workbook(str(paths["xlsx"]))
    sheet = book.add_worksheet("台账")
    sheet.merge_range(0, 0, 0, df.shape[1] - 1, "示例县非公企业党建工作台账（合成数据）")
    sheet.write_row(1, 0, list(df.columns))
    numeric = {"经度", "纬度", "正式党员数"}
    for r, row in enumerate(df.itertuples(index=False), start=2):
        for c, (name, value) in enumerate(zip(df.columns, row, strict=True)):
            if name in numeric and value not in ("", "12.5"):
                sheet.write_number(r, c, float(value))
            elif value != "":
                sheet.write_string(r, c, value)
    book.close()
    return paths


def _vm(key: str) -> float:
    """A memory figure of this process from /proc/self/status, in MB (VmHWM = peak RSS;
    unlike ru_maxrss it is not inherited from the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _measure(path: str, repeat: int) -> dict[str, float]:
    """Run inside the child process: time read_ledger and report memory."""
    from gridcover.ledger import read_ledger

    base = _vm("VmHWM")
    times = []
    peak = base
    for i in range(repeat):
        t0 = time.perf_counter()
        ledger = read_ledger(path)
        times.append(time.perf_counter() - t0)
        if i == 0:
            peak = _vm("VmHWM")  # the first read's peak
        if i < repeat - 1:
            del ledger
    return {"seconds": min(times), "peak_mb": peak, "base_mb": base, "rows": ledger.n_rows,
            "accepted": len(ledger.enterprises), "rejected": len(ledger.rejects)}


def _engine_label() -> str:
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        return "openpyxl"
    return "python-calamine"


_WRAPPER = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
dt = time.perf_counter() - t0
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": r.returncode, "s": dt, "cpu": use.ru_utime + use.ru_stime, "peak_kb": use.ru_maxrss,
                  "stdout": r.stdout, "stderr": r.stderr}))
"""


def _validate_files(rows: int, folder: Path, xlsx: bool, kinds: tuple[str, ...] = ("messy", "clean")) -> dict[str, Path]:
    """The files ``--validate`` reads (written into ``folder``): ``kinds`` of CSV, and the workbook."""
    sys.path.insert(0, str(ROOT / "tests"))
    import hostile

    paths: dict[str, Path] = {}
    t0 = time.perf_counter()
    messy = folder / f"ledger_messy_{rows}.csv"
    if "messy" in kinds:
        if not messy.exists():
            make_ledger(rows).to_csv(messy, index=False, encoding="utf-8-sig")
        paths[f"messy CSV utf-8-sig, 20 columns, {rows:,} rows"] = messy
    clean = folder / f"rows_clean_{rows}.csv"
    if "clean" in kinds:
        paths[f"clean CSV, 7 columns, {rows:,} rows"] = clean if clean.exists() else hostile.make_csv_rows(
            folder, rows, name=clean.name)
    if xlsx:
        book = folder / "rows_1048576.xlsx"
        paths["XLSX, 7 columns, 1,048,576 sheet rows"] = book if book.exists() else hostile.make_xlsx_rows(
            folder, 1_048_575, name=book.name)
    print(f"generated in {time.perf_counter() - t0:.0f} s")
    return paths


def _validate_once(path: Path, package: Path) -> dict:
    cmd = [sys.executable, "-m", "gridcover", "validate", str(path)]
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(package)}, cwd=package)
    return json.loads(out.stdout)


def _validate_bench(args: argparse.Namespace) -> None:
    package = args.package.resolve()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, pandas {pd.__version__}, "
          f"{platform.system()} {platform.release()}; package: {package}")
    print(f"command: python bench/bench_ingest.py {' '.join(sys.argv[1:])}\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.files or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        paths = _validate_files(args.rows, folder, args.xlsx, tuple(args.csv))
        print("\n| file | MB | exit | rows read / accepted / rejected | validate s (each run) | CPU s | "
              "peak RSS MB | load average before each run |")
        print("|---|---:|---:|---|---|---:|---:|---|")
        for label, path in paths.items():
            runs, loads = [], []
            for _ in range(args.repeat):
                loads.append(os.getloadavg()[0])
                runs.append(_validate_once(path, package))
            counts = runs[0]["stdout"].strip().splitlines()[0] if runs[0]["stdout"].strip() else runs[0]["stderr"]
            walls = " / ".join(f"{r['s']:.1f}" for r in runs)
            load_text = " / ".join(f"{x:.1f}" for x in loads)
            print(f"| {label} | {path.stat().st_size / 2**20:.0f} | {runs[0]['rc']} | {counts} | {walls} | "
                  f"{min(r['cpu'] for r in runs):.1f} | {max(r['peak_kb'] for r in runs) / 1024:,.0f} | "
                  f"{load_text} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--validate", action="store_true",
                        help="time `python -m gridcover validate` on generated files (wall, CPU, peak RSS)")
    parser.add_argument("--xlsx", action="store_true", help="with --validate: also a 1,048,576-row workbook")
    parser.add_argument("--csv", nargs="*", default=["messy", "clean"], choices=["messy", "clean"],
                        help="with --validate: which CSV ledgers (default both)")
    parser.add_argument("--package", type=Path, default=ROOT,
                        help="with --validate: folder holding the gridcover package to run")
    parser.add_argument("--files", type=Path, default=None,
                        help="with --validate: keep the generated files in this folder (reused when there)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child, args.repeat)))
        return
    if args.validate:
        _validate_bench(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        paths = write_files(make_ledger(args.rows), Path(tmp))
        print(f"generated {args.rows:,} rows in {time.perf_counter() - t0:.1f} s "
              f"({platform.python_version()}, pandas {pd.__version__}, {os.cpu_count()} cores, "
              f"xlsx engine: {_engine_label()})\n")
        print("| file | size MB | rows | accepted | rejected | read_ledger s (best of "
              f"{args.repeat}) | rows/s | peak RSS MB | RSS increase MB |")
        print("|---|---|---|---|---|---|---|---|---|")
        for label, path in paths.items():
            out = subprocess.run([sys.executable, __file__, "--child", str(path), "--repeat", str(args.repeat)],
                                 check=True, capture_output=True, text=True)
            m = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {label} | {path.stat().st_size / 2**20:.1f} | {m['rows']:,} | {m['accepted']:,} | "
                  f"{m['rejected']:,} | {m['seconds']:.2f} | {m['rows'] / m['seconds']:,.0f} | "
                  f"{m['peak_mb']:.0f} | {m['peak_mb'] - m['base_mb']:.0f} |")


if __name__ == "__main__":
    main()
