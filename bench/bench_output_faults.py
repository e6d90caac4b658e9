"""Reliability of the output edge: hostile names, kills, bad and full out paths, damaged plans.

Run ``python bench/bench_output_faults.py`` (about three minutes on two cores). Every case
runs ``gridcover`` in a fresh process, as a user would; the time is the wall time of
that process and the peak memory its own ``ru_maxrss`` (``os.wait4``). Prints a Markdown
table: case, outcome, seconds, peak MB.

Kills use the write phase's fault points (``GRIDCOVER_KILL_AT``: the process SIGKILLs
itself there); Ctrl-C is a real SIGINT sent when the hidden new folder appears. The
read-only and full file systems are real tmpfs mounts (root only; the cases are listed
as not measured where mounting is not permitted). A folder the user may not write to
cannot be shown as root, which ignores permissions: ``tests/test_io.py`` checks it in a
forked child that drops to ``nobody``.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from gridcover import _io, datasets  # noqa: E402
from gridcover.errors import OutputError  # noqa: E402

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
NO_EXCHANGE = ("import sys, gridcover._io as io; io._exchange = lambda a, b: False; "
               "from gridcover.cli import main; sys.argv[0] = 'gridcover'; main()")


@dataclass(frozen=True)
class Result:
    rc: int
    stderr: str
    seconds: float
    peak_mb: float


def gridcover(*args: object, kill_at: str | None = None, fallback: bool = False,
              sigint_when: Path | None = None) -> Result:
    """Run ``gridcover`` in a fresh process; its own wall time and peak RSS."""
    env = {k: v for k, v in os.environ.items() if k != "GRIDCOVER_KILL_AT"}
    env["PYTHONPATH"] = str(ROOT)
    if kill_at:
        env["GRIDCOVER_KILL_AT"] = kill_at
    cmd = [sys.executable, "-c", NO_EXCHANGE] if fallback else [sys.executable, "-m", "gridcover"]
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([*cmd, *map(str, args)], stdout=subprocess.DEVNULL, stderr=err, env=env)
        if sigint_when is not None:
            pattern = f".{sigint_when.name}.new-{proc.pid}-"
            while proc.poll() is None and not any(n.startswith(pattern) for n in os.listdir(sigint_when.parent)):
                time.sleep(0.02)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace").strip()
    return Result(proc.returncode, text, seconds, usage.ru_maxrss / 1024)


def state(folder: Path, previous: dict[str, str]) -> str:
    """What a reader finds in ``folder``."""
    try:
        record = _io.verify_folder(folder)
    except OutputError as exc:
        return f"no whole plan ({exc})"
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    extra = files - set(record["files"]) - {"run.json"}
    if extra:
        return f"whole plan plus stray files {sorted(extra)}"
    return "previous plan, whole" if record["files"] == previous else "new plan, whole"


def hidden(parent: Path) -> int:
    return sum(1 for n in os.listdir(parent) if n.startswith("."))


def line(r: Result) -> str:
    return r.stderr.splitlines()[-1].replace("gridcover: error: ", "").replace("gridcover：错误：", "") if r.stderr else ""


def mount(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)


def main() -> None:
    from test_outputs import HOSTILE_TOWN, hostile_inputs

    rows: list[tuple[str, str, float, float]] = []

    def add(case: str, outcome: str, r: Result) -> None:
        rows.append((case, outcome, r.seconds, r.peak_mb))
        print(f"{case}: {outcome} ({r.seconds:.1f} s, {r.peak_mb:.0f} MB)", file=sys.stderr)

    work = Path(tempfile.mkdtemp(prefix="gc-faults-"))
    try:
        # hostile names in the ledger and a township
        inputs = hostile_inputs(work / "county")
        county = [inputs.ledger, "--townships", inputs.townships]
        r = gridcover("plan", *county, "--out", work / "hostile", "--quiet")
        csvs = sorted((work / "hostile").rglob("*.csv"))
        cells = [c for p in csvs for row in csv.reader(open(p, encoding="utf-8-sig", newline="")) for c in row]
        bad = sum(c.startswith(DANGEROUS) for c in cells)
        neutral = sum(c.startswith("'") for c in cells)
        import openpyxl

        wb = openpyxl.load_workbook(work / "hostile" / "plan.xlsx")
        typed = [c.data_type for ws in wb.worksheets for row in ws.iter_rows() for c in row
                 if isinstance(c.value, str) and c.value.startswith(DANGEROUS)]
        wb.close()
        add("hostile names (`=HYPERLINK(…)`, `+SUM(1,2)`, `-2+3`, `@cmd`, tab, CR; township "
            f"`{HOSTILE_TOWN}`)",
            f"exit {r.rc}; {len(csvs)} CSVs, {neutral} cells prefixed `'`, {bad} starting a formula; "
            f"plan.xlsx: {len(typed)} such cells, all typed strings: {set(typed) == {'s'}}", r)
        long_town = "长" * 199 + "镇"
        inputs_long = hostile_inputs(work / "county-long")
        import geopandas as gpd

        towns = gpd.read_file(inputs_long.townships)
        towns.loc[0, "name"] = long_town
        towns.to_file(inputs_long.townships, driver="GeoJSON")
        r = gridcover("plan", inputs_long.ledger, "--townships", inputs_long.townships, "--out", work / "long",
                      "--quiet")
        names = sorted(p.name for p in (work / "long" / "maps").iterdir()) if r.rc == 0 else []
        add("200-character Chinese unit name", f"exit {r.rc}; unit map names of "
            f"{', '.join(str(len(n)) for n in names)} characters (with `.html`)", r)

        # kills during the write phase of the sample county
        out = work / "plan"
        r = gridcover("demo", "--out", out, "--quiet")
        previous = _io.verify_folder(out)["files"]
        add("sample county `demo` (the previous plan, with maps)", f"exit {r.rc}; {len(previous) + 1} files", r)
        for point in ("file:1", "file:5", "file:9", "run-json", "swap"):
            r = gridcover("demo", "--out", out, "--no-maps", "--quiet", kill_at=point)
            add(f"SIGKILL at `{point}`", f"exit {r.rc}; {state(out, previous)}; {hidden(work)} hidden leftover(s)", r)
        r = gridcover("demo", "--out", out, "--no-maps", "--quiet", sigint_when=out)
        add("Ctrl-C (SIGINT) while writing", f"exit {r.rc} `{line(r)}`; {state(out, previous)}; "
            f"{hidden(work)} hidden leftover(s)", r)
        r = gridcover("demo", "--out", out, "--no-maps", "--quiet", kill_at="mid-swap", fallback=True)
        add("SIGKILL between the two renames (fallback swap, no `renameat2`)",
            f"exit {r.rc}; {'folder missing' if not out.exists() else state(out, previous)}", r)
        r = gridcover("map", out)
        add("`gridcover map` on it", f"exit {r.rc} `{line(r)}`", r)
        r = gridcover("demo", "--out", out, "--no-maps", "--quiet", kill_at="after-swap")
        add("next run repairs it, SIGKILL right after its atomic exchange",
            f"exit {r.rc}; {state(out, previous)}; {hidden(work)} hidden leftover(s)", r)
        r = gridcover("demo", "--out", out, "--no-maps", "--quiet", kill_at="cleanup")
        add("SIGKILL while removing the replaced plan", f"exit {r.rc}; {state(out, previous)}", r)
        before = hidden(work)
        r = gridcover("demo", "--out", out, "--no-maps", "--quiet")
        add("next run", f"exit {r.rc}; {state(out, previous)}; leftovers {before} → {hidden(work)}", r)

        # damaged plan folders
        for damage in ("a file missing", "a file changed", "run.json missing"):
            copy = work / "damaged"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(out, copy)
            if damage == "a file missing":
                (copy / "branches.csv").unlink()
            elif damage == "a file changed":
                with open(copy / "gaps.csv", "a", encoding="utf-8") as f:
                    f.write("x\n")
            else:
                (copy / "run.json").unlink()
            r = gridcover("map", copy)
            add(f"`gridcover map`, {damage}", f"exit {r.rc} `{line(r)}`", r)

        # bad out paths, refused before anything is read
        a_file = work / "file.txt"
        a_file.write_text("x", encoding="utf-8")
        inside = work / "with-ledger"
        inside.mkdir()
        shutil.copy(datasets.get_path("ledger"), inside / "enterprises.xlsx")
        import pandas as pd

        pd.read_excel(datasets.get_path("ledger"), header=1, dtype=str).to_csv(
            inside / "enterprises.csv", index=False, encoding="utf-8-sig")
        mine = work / "documents"
        mine.mkdir()
        (mine / "report.docx").write_text("mine", encoding="utf-8")
        town = datasets.get_path("townships")
        for case, args in (
                ("out path is a file", ("demo", "--out", a_file)),
                ("out path under a file", ("demo", "--out", a_file / "sub")),
                ("ledger inside the out folder", ("plan", inside / "enterprises.xlsx", "--townships", town,
                                                  "--out", inside)),
                ("out folder holds other files", ("demo", "--out", mine)),
                ("`validate --out` where the ledger is `enterprises.csv`",
                 ("validate", inside / "enterprises.csv", "--out", inside))):
            r = gridcover(*args)
            add(case, f"exit {r.rc} `{line(r)}`", r)

        # real read-only and full file systems (tmpfs)
        mnt = work / "mnt"
        if mount(mnt, "64m"):
            try:
                r = gridcover("demo", "--out", mnt / "plan", "--quiet")
                prev = _io.verify_folder(mnt / "plan")["files"]
                subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
                r = gridcover("demo", "--out", mnt / "plan", "--quiet")
                add("read-only file system (tmpfs remounted `ro`)", f"exit {r.rc} `{line(r)}`; "
                    f"{state(mnt / 'plan', prev)}", r)
            finally:
                umount(mnt)
            if mount(mnt, "6m"):
                try:
                    r = gridcover("demo", "--out", mnt / "plan", "--quiet")
                    add("full disk before the run (6 MiB tmpfs)", f"exit {r.rc} `{line(r)}`", r)
                finally:
                    umount(mnt)
            if mount(mnt, "24m"):
                try:
                    r = gridcover("demo", "--out", mnt / "plan", "--quiet")
                    prev = _io.verify_folder(mnt / "plan")["files"]
                    r = gridcover("demo", "--out", mnt / "plan", "--quiet")
                    add("disk full while writing (24 MiB tmpfs holding the previous plan)",
                        f"exit {r.rc} `{line(r)}`; {state(mnt / 'plan', prev)}; {hidden(mnt)} hidden leftover(s)", r)
                finally:
                    umount(mnt)
        else:
            rows.append(("read-only / full file system", "not measured: mounting a tmpfs is not permitted here",
                         float("nan"), float("nan")))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("| case | outcome | s | peak MB |")
    print("|---|---|---:|---:|")
    for case, outcome, s, mb in rows:
        print(f"| {case} | {outcome.replace('|', '/')} | {s:.1f} | {mb:.0f} |")


if __name__ == "__main__":
    main()
