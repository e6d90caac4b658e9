"""Time per stage of ``gridcover plan`` against N, and a province on Dask.

Every run is ``python -m gridcover plan`` in a fresh process on a generated city
(``bench/city_gen.py``: clustered parks, Voronoi townships, heavy-tailed staff; 8 counties
per 100,000 enterprises), timed by the stage timings of its ``run.json``: the pipeline stages, ``outputs`` (every
output file, written by the plan's forked writers), and ``other``, the rest of the wall time
(interpreter start, imports, reading the config). Memory of the whole process tree (the
driver, its forked output writers, the workers of its LocalCluster, and the workers of a
cluster this bench starts), sampled every 0.5 s: the peak of the summed resident sets (RSS,
which counts a page shared by a forked writer and the driver once per process) and the peak
of the summed proportional sets (PSS, each shared page split between the processes sharing
it: the physical memory the run takes). The config is the product's defaults;
``--reduced`` leaves the lever columns of targets.csv out (``targets_lever_max_enterprises
= 0``), as the earlier sweeps did.
Results are appended to ``bench/out/scale.jsonl`` (one line per run), so runs of several
sessions add up; each run's log is kept beside it. ``run --timeout S`` stops a run after S
seconds and records the stages it reached (from the start time of each stage in the log).

Commands::

    python bench/bench_scale.py sweep --sizes 1000 3000 10000 30000 100000 300000 1000000   # local engine
    python bench/bench_scale.py run --n 100000 --engine dask                 # LocalCluster of 2 workers
    python bench/bench_scale.py run --n 1000000 --engine dask --scheduler    # a cluster the bench starts
    python bench/bench_scale.py report                                       # table, exponents, PNG

``report`` prints the Markdown tables of bench/RESULTS.md (time per stage against N with the
least-squares exponent of each stage on log-log axes; the Dask runs, with whether their files
equal the local run of the same city byte for byte, by the SHA-256 in ``run.json``) and
writes ``bench/out/scaling.png`` (copy it to ``bench/scaling.png``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
RESULTS = OUT / "scale.jsonl"
sys.path.insert(0, str(HERE))

log = logging.getLogger("bench_scale")

#: The stages of run.json shown (in pipeline order); others are summed into "other".
STAGES = ("ingest", "jurisdictions", "geocode", "classify", "partition", "levers", "gaps", "instructors",
          "measure", "targets", "outputs")


class TreeMemory:
    """Peaks of the summed RSS and PSS of a process and all its descendants, sampled in a thread."""

    def __init__(self, root: int, interval: float = 0.5) -> None:
        self.root = root
        self.interval = interval
        self.peak = 0
        self.peak_pss = 0
        self.peak_procs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        try:
            procs = [psutil.Process(self.root)]
            procs += procs[0].children(recursive=True)
        except psutil.NoSuchProcess:
            return
        total = pss = 0
        for p in procs:
            try:
                full = p.memory_full_info()  # /proc/PID/smaps_rollup: rss and pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            total += full.rss
            pss += full.pss
        if total > self.peak:
            self.peak, self.peak_procs = total, len(procs)
        self.peak_pss = max(self.peak_pss, pss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def city(n: int, seed: int = 1) -> Path:
    """The generated city of ``n`` enterprises (written once, then reused)."""
    from city_gen import make_city

    folder = OUT / f"city-{n}-s{seed}"
    if not (folder / "instructors.csv").is_file():
        t = time.perf_counter()
        make_city(folder, n, seed=seed)
        log.info("generated %s in %.1f s", folder, time.perf_counter() - t)
    return folder


#: ``--reduced``: targets.csv's lever columns (each lever set re-packs the whole plan) off,
#: the config of the earlier sweeps (their rows in scale.jsonl carry no "config").
REDUCED = "[rules]\ntargets_lever_max_enterprises = 0\n"


def _config() -> Path:
    path = OUT / "scale.toml"
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(REDUCED, encoding="utf-8")
    return path


def _config_of(row: dict[str, Any]) -> str:
    return str(row.get("config", "reduced"))


def plan_once(n: int, *, engine: str = "local", workers: int = 1, scheduler: bool = False, maps: bool = False,
              seed: int = 1, timeout: float | None = None, reduced: bool = False) -> dict[str, Any]:
    """One ``gridcover plan`` of the city of ``n``; its timings, peak memory and file hashes."""
    folder = city(n, seed)
    tag = f"{engine}{'-scheduler' if scheduler else ''}-w{workers}"
    out = OUT / f"plan-{n}-s{seed}-{tag}"
    cmd = [sys.executable, "-m", "gridcover", "plan", str(folder / "ledger.csv"),
           "--townships", str(folder / "townships.geojson"), "--parks", str(folder / "parks.geojson"),
           "--instructors", str(folder / "instructors.csv"), "--out", str(out), "--verbose",
           "--engine", engine, "--workers", str(workers)]
    if reduced:
        cmd += ["--config", str(_config())]
    if not maps:
        cmd.append("--no-maps")
    cluster = None
    if scheduler:
        import distributed

        cluster = distributed.LocalCluster(n_workers=max(workers, 2), threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.ERROR)
        cmd += ["--scheduler", cluster.scheduler_address]
    load = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    logfile = OUT / f"{out.name}.log"
    starts: dict[str, float] = {}
    try:
        with TreeMemory(os.getpid()) as mem, logfile.open("w", encoding="utf-8") as logf:
            t = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            reader = threading.Thread(target=_follow, args=(proc, logf, starts, t), daemon=True)
            reader.start()
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                code = None
            wall = time.perf_counter() - t
            reader.join(timeout=30)
    finally:
        if cluster is not None:
            cluster.close()
    if code is None:  # stopped at the time limit: the stages it reached, by their start times
        names = sorted(starts, key=starts.__getitem__)
        timings = {a: round(starts[b] - starts[a], 2) for a, b in zip(names, names[1:], strict=False)}
        if "partition:engine-ready" in timings:
            timings["partition"] = round(timings.get("partition", 0.0) + timings.pop("partition:engine-ready"), 2)
        record = {"counts": {}, "files": {}}
        log.warning("N=%d stopped after %.0f s in stage %s", n, wall, names[-1] if names else "-")
    elif code != 0:
        msg = f"gridcover plan failed ({code}): see {logfile}"
        raise RuntimeError(msg)
    else:
        record = json.loads((out / "run.json").read_text(encoding="utf-8"))
        timings = {k: float(v) for k, v in record["timings_s"].items() if not k.startswith("write:")}
    row = {
        "n": n, "seed": seed, "engine": engine, "workers": workers, "scheduler": scheduler, "maps": maps,
        "complete": code == 0, "reached": max(starts, key=starts.__getitem__) if starts else "",
        "wall_s": round(wall, 2), "stages_s": timings,
        "engine_start_s": (round(starts["partition:engine-ready"] - starts["partition"], 2)
                           if "partition:engine-ready" in starts and "partition" in starts else None),
        "write_s": round(timings.get("outputs", 0.0), 2) if code == 0 else None,
        "other_s": round(wall - sum(timings.values()), 2) if code == 0 else None,
        "config": "reduced" if reduced else "default",
        "peak_rss_gb": round(mem.peak / 2**30, 3), "peak_pss_gb": round(mem.peak_pss / 2**30, 3),
        "procs_at_peak": mem.peak_procs,
        "load_before": [round(x, 2) for x in load], "load_after": [round(x, 2) for x in os.getloadavg()],
        "counts": record.get("counts", {}), "files": record.get("files", {}),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    log.info("N=%d %s: %.1f s, %.2f GB peak RSS, %.2f GB peak PSS, load %s", n, tag, wall, row["peak_rss_gb"],
             row["peak_pss_gb"], row["load_before"])
    return row


STAGE_LINE = re.compile(r"gridcover\.pipeline: stage (\w+)")


def _follow(proc: subprocess.Popen[str], logf: Any, starts: dict[str, float], t0: float) -> None:
    """Copy the run's log to ``logf``; note when each pipeline stage starts."""
    assert proc.stderr is not None
    for line in proc.stderr:
        logf.write(line)
        m = STAGE_LINE.search(line)
        if m:
            starts[m.group(1)] = time.perf_counter() - t0
        elif "gridcover._engine: partition on" in line:  # the cluster is up (or connected to)
            starts["partition:engine-ready"] = time.perf_counter() - t0
        elif "gridcover.report: wrote" in line or "gridcover._io: wrote" in line:
            starts.setdefault("write", time.perf_counter() - t0)


def _kill_tree(pid: int) -> None:
    """Stop the run this bench started and every process under it."""
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    procs = [*root.children(recursive=True), root]
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(procs, timeout=30)


def read_rows() -> list[dict[str, Any]]:
    if not RESULTS.is_file():
        return []
    return [json.loads(line) for line in RESULTS.read_text(encoding="utf-8").splitlines() if line.strip()]


def fit_exponent(ns: np.ndarray, ts: np.ndarray) -> float:
    """Least-squares slope of log t against log N (points with t > 0)."""
    keep = ts > 0
    if keep.sum() < 2:
        return float("nan")
    slope, _ = np.polyfit(np.log10(ns[keep]), np.log10(ts[keep]), 1)
    return float(slope)


def _columns(row: dict[str, Any]) -> dict[str, float]:
    st = {k: v for k, v in row["stages_s"].items() if not k.startswith("write:")}
    cols = {s: float(st.get(s, 0.0)) for s in STAGES}
    cols["other"] = float(row["wall_s"]) - sum(float(v) for v in st.values())
    cols["total"] = float(row["wall_s"])
    return cols


def report(png: Path, config: str = "default") -> str:
    """Markdown tables of the runs of one config and the log-log plot of the local sweep."""
    rows = [r for r in read_rows() if _config_of(r) == config]
    runs: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        if r["engine"] == "local" and not r["maps"] and r.get("complete", True):
            runs.setdefault(r["n"], []).append(r)
    # the local run of each N: the fastest (the machine is shared); its files for the Dask check
    local = {n: min(rs, key=lambda r: r["wall_s"]) for n, rs in runs.items()}
    lines: list[str] = []
    if local:
        ns = np.array(sorted(local), dtype=float)
        # each stage at its least over the repeated runs of an N (load on a shared machine only adds)
        table = [{c: min(_columns(r)[c] for r in runs[int(n)]) for c in _columns(local[int(n)])} for n in ns]
        names = [c for c in table[0] if any(t[c] > 0 for t in table)]
        lines.append("| N | " + " | ".join(names) + " | runs | peak GB RSS / PSS | load (1 min) |")
        lines.append("|---:|" + "---:|" * (len(names) + 3))
        for n, t in zip(ns, table, strict=True):
            r = local[int(n)]
            loads = "–".join(sorted({f"{x['load_before'][0]:.1f}" for x in runs[int(n)]}, key=float))
            lines.append(f"| {int(n):,} | " + " | ".join(f"{t[c]:.2f}" for c in names)
                         + f" | {len(runs[int(n)])} | {max(x['peak_rss_gb'] for x in runs[int(n)]):.2f} / "
                         + f"{_pss(runs[int(n)])} | {loads} |")
        exps = {c: fit_exponent(ns, np.array([t[c] for t in table])) for c in names}
        lines.append("| **exponent** | " + " | ".join(f"**{exps[c]:.2f}**" for c in names) + " | | | |")
        big = ns >= 10_000  # past the fixed costs (interpreter start, imports, boundaries)
        if big.sum() >= 2:
            tail = {c: fit_exponent(ns[big], np.array([t[c] for t in table])[big]) for c in names}
            lines.append("| exponent, N ≥ 10⁴ | " + " | ".join(f"{tail[c]:.2f}" for c in names) + " | | | |")
        _plot(ns, table, names, exps, png, [r for r in rows if r["engine"] == "dask" and not r["scheduler"]])
    dask_rows = [r for r in rows if r["engine"] == "dask"]
    if dask_rows:
        lines += ["", "| N | engine | wall s | partition s (of it: cluster start) | outputs s | peak GB RSS / PSS "
                  "(process tree) | processes | load before (1/5/15 min) | files equal the local run |",
                  "|---:|---|---:|---:|---:|---:|---:|---|---|"]
        for r in dask_rows:
            ref = local.get(r["n"])
            same = "—" if ref is None else ("yes" if ref["files"] == r["files"] else "**no**")
            how = "dask, scheduler address" if r["scheduler"] else f"dask, LocalCluster {max(r['workers'], 2)} workers"
            if not r.get("complete", True):
                how += f" (stopped at the time limit, in stage {r['reached']})"
                same = "—"
            write = "—" if r["write_s"] is None else f"{r['write_s']:.1f}"
            start = "" if r.get("engine_start_s") is None else f" ({r['engine_start_s']:.1f})"
            lines.append(f"| {r['n']:,} | {how} | {r['wall_s']:.1f} | {r['stages_s'].get('partition', 0):.1f}{start} "
                         f"| {write} | {r['peak_rss_gb']:.2f} / {_pss([r])} | {r['procs_at_peak']} "
                         f"| {' / '.join(f'{x:.1f}' for x in r['load_before'])} | {same} |")
    return "\n".join(lines)


def _pss(rows: list[dict[str, Any]]) -> str:
    """The largest peak PSS of some runs (GB), or — where it was not sampled."""
    got = [float(r["peak_pss_gb"]) for r in rows if r.get("peak_pss_gb")]
    return f"{max(got):.2f}" if got else "—"


def _plot(ns: np.ndarray, table: list[dict[str, float]], names: list[str], exps: dict[str, float],
          png: Path, dask_rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    for c in names:
        ts = np.array([t[c] for t in table])
        keep = ts > 0
        style = {"linewidth": 2.5, "color": "black"} if c == "total" else {"linewidth": 1.2}
        (line,) = ax.loglog(ns[keep], ts[keep], marker="o", markersize=3, label=f"{c} (N^{exps[c]:.2f})", **style)
        for r in dask_rows:  # the Dask runs: hollow markers, not in the fit
            v = r["stages_s"].get(c) if c in STAGES else (r["wall_s"] if c == "total" and r.get("complete", True)
                                                           else None)
            unfinished = not r.get("complete", True) and r["reached"].split(":")[0] == c
            if v and not unfinished:  # a stage cut by the time limit is no point
                ax.loglog([r["n"]], [v], marker="D", markersize=6, markerfacecolor="none", linestyle="none",
                          color=line.get_color())
    ax.set_xlabel("enterprises N")
    ax.set_ylabel("seconds")
    ax.set_title("gridcover plan: time per stage against N (local engine; ◇ = --engine dask, 2 workers)",
                 fontsize=9)
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sw = sub.add_parser("sweep", help="local engine over several N")
    sw.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10_000, 30_000, 100_000, 300_000,
                                                           1_000_000])
    sw.add_argument("--reduced", action="store_true", help="lever columns of targets.csv off")
    one = sub.add_parser("run", help="one plan")
    one.add_argument("--n", type=int, required=True)
    one.add_argument("--engine", default="local", choices=["local", "dask"])
    one.add_argument("--workers", type=int, default=2)
    one.add_argument("--scheduler", action="store_true", help="start a LocalCluster here and pass its address")
    one.add_argument("--maps", action="store_true")
    one.add_argument("--timeout", type=float, default=None, help="stop the run after this many seconds")
    one.add_argument("--reduced", action="store_true", help="lever columns of targets.csv off")
    rp = sub.add_parser("report", help="tables and PNG from bench/out/scale.jsonl")
    rp.add_argument("--reduced", action="store_true", help="the runs with the lever columns off")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.cmd == "sweep":
        for n in args.sizes:
            plan_once(n, reduced=args.reduced)
    elif args.cmd == "run":
        plan_once(args.n, engine=args.engine, workers=args.workers if args.engine == "dask" else 1,
                  scheduler=args.scheduler, maps=args.maps, timeout=args.timeout, reduced=args.reduced)
    else:
        print(report(OUT / "scaling.png", "reduced" if args.reduced else "default"))


if __name__ == "__main__":
    main()
