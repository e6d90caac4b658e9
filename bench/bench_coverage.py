"""Honest numbers: a generated 20,000-row county, its reported figures, and the independent oracle.

    python bench/bench_coverage.py [--rows 20000] [--seed 11] [--out bench/out/coverage]

Generates a ledger with many existing joint organisations (kept and split), shells,
attached enterprises, committees and a roster short of what the plan needs
(tests/county_gen.py), runs the plan, and prints the totals the plan reports beside the
totals the oracle of tests/test_coverage_oracle.py recomputes from the output files.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from county_gen import make_county  # noqa: E402
from test_coverage_oracle import check_outputs  # noqa: E402

import gridcover as gc  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=Path("bench/out/coverage"))
    args = ap.parse_args()
    county = make_county(args.out / "in", args.rows, seed=args.seed, roster_share=0.35)
    t0 = time.perf_counter()
    plan = gc.run(gc.Inputs(ledger=county.ledger, townships=county.townships, parks=county.parks,
                            instructors=county.roster))
    gc.write_plan(plan, args.out / "plan", maps=False, png=False)
    seconds = time.perf_counter() - t0
    truth = check_outputs(county.ledger, county.roster, args.out / "plan", county.townships, county.parks)
    table = pd.read_csv(args.out / "plan" / "coverage.csv", encoding="utf-8-sig")
    totals = table[table["unit_type"].eq("total")].set_index("scope")
    print(totals.to_string())
    print("oracle: every coverage.csv row equal (all scopes); M3", truth["m3"], "funding", truth["funding"])
    print(f"plan + files: {seconds:.1f} s")


if __name__ == "__main__":
    main()
