"""Reliability of ingest on hostile inputs: outcome, time and peak memory of each case.

Run ``python bench/bench_hostile.py [--big] [--out bench/out/hostile]``. Every case of the
hostile corpus (``tests/hostile.py``) is run as a user would run it,
``python -m gridcover validate FILE`` in a fresh process, inside a small wrapper process
whose ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` is that one run's peak resident
memory. ``--big`` adds the full-size cases: a 1,000,000-row CSV, the same with 100
unbalanced quotes, a 1,048,576-row XLSX (header + 1,048,575 data rows, Excel's maximum,
written with xlsxwriter ``constant_memory``; takes minutes) and two 2 GiB zip bombs at
the default limits. Generated files go to ``--out`` (git-ignored ``bench/out/``). Prints
a Markdown table and the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import hostile  # noqa: E402

_WRAPPER = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": r.returncode, "s": dt, "peak_kb": peak, "stdout": r.stdout, "stderr": r.stderr}))
"""


def _measure(args: list[str], timeout: float, package: Path) -> dict:
    """One run in a wrapper process: exit code, wall seconds, peak RSS of the run."""
    try:
        out = subprocess.run([sys.executable, "-c", _WRAPPER, *args], capture_output=True, text=True,
                             timeout=timeout, env={**os.environ, "PYTHONPATH": str(package)}, cwd=package)
    except subprocess.TimeoutExpired:
        return {"rc": "timeout", "s": timeout, "peak_kb": 0, "stdout": "", "stderr": f"killed after {timeout:.0f} s"}
    return json.loads(out.stdout)


def _message(result: dict, path: Path) -> str:
    """The one-line error (path shortened to the file name), or the counts line."""
    if result["rc"] == "timeout":
        return result["stderr"]
    if result["rc"] not in (0, 1):
        lines = result["stderr"].strip().splitlines()
        text = (lines[-1] if lines else "").removeprefix("gridcover: error: ").removeprefix("gridcover：错误：")
        if str(path).startswith(str(ROOT)):
            text = text.replace(str(path), path.name)
        return text if len(text) <= 180 else text[:177] + "..."
    first = result["stdout"].strip().splitlines()
    return first[0] if first else ""


def _make_big_unbalanced(folder: Path) -> Path:
    """1,000,000 data rows; every 10,000th opens a quote it never closes."""
    path = hostile.make_csv_rows(folder, 1_000_000, name="rows_1m_quotes.csv")
    lines = path.read_text(encoding="utf-8").split("\n")
    for i in range(5_000, len(lines) - 1, 10_000):
        parts = lines[i].split(",")
        parts[1] = '"' + parts[1]
        lines[i] = ",".join(parts)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _cases(big: bool) -> list[tuple[str, Callable[[Path], Path], str, bool]]:
    """(name, maker, config TOML, boundary?) of every case run."""
    out = [(c.name, c.make, c.config, c.boundary) for c in hostile.CASES]
    if big:
        out += [
            ("ratio_bomb_2gib (defaults)", lambda f: hostile.make_ratio_bomb(f, payload_mb=2048), "", False),
            ("lying_bomb_2gib (defaults)", lambda f: hostile.make_lying_bomb(f, payload_mb=2048), "", False),
            ("csv_1,000,000_rows", lambda f: hostile.make_csv_rows(f, 1_000_000, name="rows_1m.csv"), "", False),
            ("csv_1,000,000_rows_100_bad_quotes", _make_big_unbalanced, "", False),
            ("xlsx_1,048,576_rows", lambda f: hostile.make_xlsx_rows(f, 1_048_575, name="rows_1048576.xlsx"), "",
             False),
        ]
    return out


def _machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"nproc {os.cpu_count()}, CPU {cpu or platform.processor()}{mem}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="add the 1M-row and 2 GiB cases")
    parser.add_argument("--only", nargs="*", default=None, help="run only these case names")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "hostile")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--package", type=Path, default=ROOT,
                        help="folder holding the gridcover package to run (e.g. an older checkout, to compare)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {_machine()}")
    print(f"command: python bench/bench_hostile.py {' '.join(sys.argv[1:])}".rstrip())
    print()
    print("| case | file MB | make s | exit | message (one line) | validate s | peak RSS MB | load avg |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for name, make, config, boundary in _cases(args.big):
        if args.only and name not in args.only:
            continue
        folder = args.out / name.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
        if folder.exists():
            subprocess.run(["rm", "-rf", str(folder)], check=True)
        folder.mkdir(parents=True)
        t0 = time.perf_counter()
        path = make(folder)
        made = time.perf_counter() - t0
        cmd = [sys.executable, "-m", "gridcover", "validate"]
        cmd += [str(hostile.clean_ledger(folder)), "--townships", str(path)] if boundary else [str(path)]
        if config:
            toml = folder / "config.toml"
            toml.write_text(config, encoding="utf-8")
            cmd += ["--config", str(toml)]
        size = path.stat().st_size / 1e6 if path.is_file() else 0.0
        load = os.getloadavg()[0]
        result = _measure(cmd, args.timeout, args.package)
        message = _message(result, path).replace("|", "\\|")
        print(f"| {name} | {size:,.2f} | {made:.1f} | {result['rc']} | {message} | {result['s']:.1f} | "
              f"{result['peak_kb'] / 1024:,.0f} | {load:.1f} |", flush=True)
        if path.is_file() and size > 50:
            path.unlink()  # keep bench/out small


if __name__ == "__main__":
    main()
