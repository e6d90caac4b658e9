"""A prefecture city end to end: ``gridcover plan`` on a generated 100,000-row city.

Run: ``python bench/bench_city.py [--n 100000] [--seed 1] [--work /tmp/bench_city]``

Generates the city with :mod:`city_gen` (8 counties, 72 townships, 16 parks, clustered
points, heavy-tailed staff, a roster of about a third of the instructors needed), then runs
``/usr/bin/time -v python -m gridcover plan LEDGER --townships … --parks … --instructors …
--out OUT`` (every output: CSVs, GeoJSON, plan.xlsx, plan.gpkg, coverage.png, map.html and
the unit maps) and prints, as Markdown: wall time, peak RSS, the load average before and
after, and the seconds of each stage and of each output file from ``run.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from city_gen import make_city  # noqa: E402

log = logging.getLogger(__name__)


def _rss_and_wall(stderr: str) -> tuple[float, float]:
    """Peak RSS (GB) and wall seconds from ``/usr/bin/time -v``."""
    rss = float(re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr).group(1)) / 1024**2  # type: ignore[union-attr]
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", stderr).group(1)  # type: ignore[union-attr]
    seconds = 0.0
    for part in wall.split(":"):
        seconds = seconds * 60 + float(part)
    return rss, seconds


def run(n: int, seed: int, work: Path) -> dict[str, object]:
    """Generate the city (unless already there) and plan it; the figures of the run."""
    city_dir = work / f"city{n}-s{seed}"
    if not (city_dir / "instructors.csv").is_file():
        t0 = time.perf_counter()
        make_city(city_dir, n, seed=seed)
        log.info("generated %s in %.1f s", city_dir, time.perf_counter() - t0)
    out = work / f"plan{n}-s{seed}"
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "gridcover", "plan", str(city_dir / "ledger.csv"),
           "--townships", str(city_dir / "townships.geojson"), "--parks", str(city_dir / "parks.geojson"),
           "--instructors", str(city_dir / "instructors.csv"), "--out", str(out), "-q"]
    load_before = os.getloadavg()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    load_after = os.getloadavg()
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        msg = f"gridcover plan exited with {proc.returncode}"
        raise SystemExit(msg)
    rss, wall = _rss_and_wall(proc.stderr)
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return {"n": n, "wall_s": wall, "rss_gb": rss, "load_before": load_before, "load_after": load_after,
            "timings": record["timings_s"], "files": len(record["files"]), "command": " ".join(cmd[2:])}


def markdown(r: dict[str, object]) -> str:
    """The figures of one run as Markdown."""
    timings: dict[str, float] = r["timings"]  # type: ignore[assignment]
    stages = {k: v for k, v in timings.items() if not k.startswith("write:") and k != "outputs"}
    outputs = sorted(((k, v) for k, v in timings.items() if k.startswith("write:")), key=lambda kv: -kv[1])
    lb, la = r["load_before"], r["load_after"]
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"load average before {lb[0]:.2f} / {lb[1]:.2f} / {lb[2]:.2f}, "  # type: ignore[index]
        f"after {la[0]:.2f} / {la[1]:.2f} / {la[2]:.2f}",  # type: ignore[index]
        "",
        f"`{r['command']}`",
        "",
        "| enterprises | wall (s) | peak RSS (GB) | stages (s) | outputs (s) | files |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {r['n']:,} | {r['wall_s']:.1f} | {r['rss_gb']:.2f} | {sum(stages.values()):.1f} | "
        f"{timings.get('outputs', float('nan')):.1f} | {r['files']} |",
        "",
        "| stage | s |",
        "|---|---:|",
        *(f"| {k} | {v:.1f} |" for k, v in sorted(stages.items(), key=lambda kv: -kv[1])),
        "",
        "| output (time in its own process) | s |",
        "|---|---:|",
        *(f"| {k[len('write:'):]} | {v:.1f} |" for k, v in outputs if v >= 0.05),
    ]
    return "\n".join(lines)


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_city"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.work.mkdir(parents=True, exist_ok=True)
    sys.stdout.write(markdown(run(args.n, args.seed, args.work)) + "\n")


if __name__ == "__main__":
    main()
