"""Partition of a synthetic county serially and with a process pool over its units.

Run ``python bench/bench_parallel.py [--sizes 10000 100000] [--workers 2]``. Uses the
synthetic counties of ``bench_partition.py``; prints a Markdown table of wall times and
whether the parallel result equals the serial one (it must: units are independent).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_partition import county  # noqa: E402

from gridcover import Ledger  # noqa: E402
from gridcover.partition import partition  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        ent, units = county(n)[:2]
        t = time.perf_counter()
        serial = partition(Ledger(ent), units=units)
        t_serial = time.perf_counter() - t
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            t = time.perf_counter()
            parallel = partition(Ledger(ent), units=units, executor=pool)
            t_parallel = time.perf_counter() - t
        same = serial.enterprises.equals(parallel.enterprises) and serial.branches.equals(parallel.branches)
        rows.append({"N": n, "units": len(units), "serial s": round(t_serial, 2),
                     f"{args.workers} processes s": round(t_parallel, 2),
                     "speed-up": round(t_serial / t_parallel, 2), "identical": same})
    table = pd.DataFrame(rows)
    print("| " + " | ".join(table.columns) + " |")
    print("|" + "---|" * len(table.columns))
    for r in table.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in r) + " |")


if __name__ == "__main__":
    main()
