"""Writes the planner notebooks from the cell sources below (outputs cleared).

Run ``python notebooks/build_notebooks.py`` after changing a cell; CI executes the
notebooks themselves (``pytest`` collects them through nbmake).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib import font_manager

import gridcover as gc

# Chinese labels in charts: use a CJK font when one is installed (Debian: fonts-noto-cjk).
for family in ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei"):
    if any(f.name == family for f in font_manager.fontManager.ttflist):
        plt.rcParams["font.family"] = family
        break
warnings.filterwarnings("ignore", message="Glyph .* missing")
OUT = Path("output")          # what the notebooks write (git-ignored)
OUT.mkdir(exist_ok=True)
pd.set_option("display.max_columns", 30)"""

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}

NOTEBOOKS["01_coverage_overview.ipynb"] = [
    ("md", """# 01 · Coverage overview (覆盖情况总览)

This notebook loads the bundled **synthetic** sample county (青岚县, fictional), shows which
ledger rows were rejected and why, and measures organisational (M1) and work (M2) coverage
**as the ledger stands**, by park and by township, against the targets (M4: 90 %, then
100 % organisational; 100 % work). Replace `gc.sample_inputs()` with `gc.Inputs(ledger=...,
townships=..., parks=..., gazetteer=...)` to run it on your own ledger."""),
    ("code", SETUP),
    ("code", """inputs = gc.sample_inputs()
inputs"""),
    ("md", """## Ingest, geocode, assign jurisdictions

`gc.locate` reads the ledger (title rows, Chinese headers, GBK or UTF-8), converts GCJ-02 /
BD-09 coordinates to WGS-84, geocodes address-only rows against the gazetteer and puts each
enterprise in its park or township. Every row ends up accepted or rejected with a reason."""),
    ("code", """ledger = gc.locate(inputs)
print(f"rows read {ledger.n_rows}: accepted {len(ledger.enterprises)}, rejected {len(ledger.rejects)}")
assert len(ledger.enterprises) + len(ledger.rejects) == ledger.n_rows
ledger.rejects"""),
    ("md", "Rows the tool repaired (with a warning) and rows whose declared township disagrees with their point:"),
    ("code", """display(ledger.warnings)
ledger.conflicts"""),
    ("code", """ledger.enterprises["precision"].value_counts()"""),
    ("md", """## Coverage before the plan, by park and township

A township row counts its enterprises **outside** parks, so park and township rows add up
to the total."""),
    ("code", """jurisdictions = gc.load_jurisdictions(inputs.townships, inputs.parks)
before = gc.Plan(enterprises=ledger.enterprises, units=jurisdictions.units())
cov = gc.coverage_table(before).query("scope == 'all'")[["unit_type", "unit", "enterprises", "org_rate_before", "work_rate_before"]]
(cov.style
    .format({"org_rate_before": "{:.1%}", "work_rate_before": "{:.1%}"})
    .bar(subset=["org_rate_before", "work_rate_before"], vmin=0, vmax=1, color="#9ecae1")
    .hide(axis="index"))"""),
    ("code", """units = cov[cov.unit_type != "total"].sort_values("org_rate_before")
fig, ax = plt.subplots(figsize=(9, 5))
y = range(len(units))
ax.barh([i + 0.2 for i in y], units.org_rate_before, height=0.4, label="党组织覆盖率 M1")
ax.barh([i - 0.2 for i in y], units.work_rate_before, height=0.4, label="党的工作覆盖率 M2")
ax.set_yticks(list(y), units.unit)
for target, style in ((0.9, "--"), (1.0, "-")):
    ax.axvline(target, color="crimson", linestyle=style, linewidth=1)
ax.set_xlim(0, 1.05)
ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
ax.set_title("Coverage before the plan against the 90% / 100% targets (M4)")
ax.legend(loc="lower right")
plt.tight_layout()"""),
    ("md", """## By industry section and size class

M3, the above-scale formation rate (规上企业党组织组建率), is 44 / 496 = 8.87 % in the
seed county the sample imitates."""),
    ("code", """by_size = gc.coverage_by(before, "size_class")
by_size"""),
    ("code", """gc.coverage_by(before, "industry").sort_values("enterprises", ascending=False).head(8)"""),
    ("code", """total = gc.coverage_by(before, "total").iloc[0]
print(f"M3 above-scale formation rate: {total.above_scale_own_before} / {total.above_scale} = {total.m3_rate_before:.2%}")"""),
    ("md", """## The gap list and the coverage map

The gap list (问题清单) gives every enterprise's gaps with the rule they break. The map
shows coverage after the plan (the plan itself is the subject of notebook 02); it is the
same map `gridcover demo` writes, and it works with no network."""),
    ("code", """plan = gc.run(inputs)
plan"""),
    ("code", """plan.gaps["rule_id"].value_counts().sort_index()"""),
    ("code", """m = gc.coverage_map(plan)
m"""),
]

NOTEBOOKS["02_propose_grids.ipynb"] = [
    ("md", """# 02 · Propose grids, joint branches and grid leaders (网格、联合党支部、网格长)

Inside each park and each township (outside parks) the enterprises with fixed premises
and 6+ staff (E1) are clustered into compact grids of 5–15 (O10) that each hold 3+ formal
members where the unit allows (O9); enterprises with fewer than 3 formal members are
grouped into joint branches of at most 5 units within 3 km (O5–O7). This notebook runs
the partition, inspects the result, and sweeps the parameters a planner may change to
show the trade-off."""),
    ("code", SETUP),
    ("code", """inputs = gc.sample_inputs()
located = gc.locate(inputs)
jurisdictions = gc.load_jurisdictions(inputs.townships, inputs.parks)
plan = gc.partition(located, jurisdictions)
plan"""),
    ("md", "## Grids: size, members, leader"),
    ("code", """plan.grids.drop(columns="geometry").head(10)"""),
    ("code", """print("grid sizes:", plan.grids.n_enterprises.min(), "to", plan.grids.n_enterprises.max())
print("grids with 3+ formal members:", (plan.grids.members >= 3).mean().round(3))
plan.grids.plot(column="unit", edgecolor="white", linewidth=0.3, figsize=(8, 7), cmap="tab20");"""),
    ("md", "## Joint branches (联合党支部) and grid leader candidates (网格长)"),
    ("code", """plan.branches.head(10)"""),
    ("code", """plan.branches.status.value_counts()"""),
    ("code", """plan.leaders.head(9)"""),
    ("md", "## One action per enterprise"),
    ("code", """plan.enterprises.action.value_counts()"""),
    ("md", """## Parameter sweep: what a planner trades

Each run is the same pure function with another `Config`. Coverage after the plan and the
number of joint branches, against the grid size bound, the joint-branch distance (O7) and
the 5-unit cap (O6)."""),
    ("code", """def measure(config):
    p = gc.partition(located, jurisdictions, config)
    total = gc.coverage_table(p).query("scope == 'all' and unit_type == 'total'").iloc[0]
    return {"org_rate_after": total.org_rate_after, "branches": len(p.branches), "grids": len(p.grids)}

sweeps = {
    "grid_max_size": [8, 10, 15, 20],
    "joint_max_distance_m": [1000.0, 2000.0, 3000.0, 5000.0],
    "joint_max_units": [3, 4, 5, 6],
}
results = {name: pd.DataFrame([{name: v, **measure(gc.Config().replace(**{name: v}))} for v in values])
           for name, values in sweeps.items()}
results["joint_max_distance_m"]"""),
    ("code", """fig, axes = plt.subplots(1, 3, figsize=(14, 4))
for ax, (name, df) in zip(axes, results.items(), strict=True):
    ax.plot(df[name], df.org_rate_after, marker="o", color="tab:blue")
    ax.set_xlabel(name)
    ax.set_ylabel("org coverage after (M1)", color="tab:blue")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    twin = ax.twinx()
    twin.plot(df[name], df.branches, marker="s", color="tab:orange")
    twin.set_ylabel("joint branches", color="tab:orange")
plt.tight_layout()"""),
    ("md", """## Export the proposed boundaries for QGIS

The grid polygons tile each unit (no overlaps, no holes); open the GeoPackage or GeoJSON
in QGIS as the proposed grid boundaries."""),
    ("code", """plan.grids.to_file(OUT / "grids_proposed.gpkg", layer="grids", driver="GPKG")
plan.grids.to_file(OUT / "grids_proposed.geojson", driver="GeoJSON")
sorted(p.name for p in OUT.glob("grids_proposed.*"))"""),
]

NOTEBOOKS["03_resources_and_reports.ipynb"] = [
    ("md", """# 03 · Instructors, service centres, funding and reports

Work coverage (M2) rests on instructors (党建工作指导员, W1/W2: about 3 enterprises each,
nearest first, inside the unit) and on party-mass service centres (党群服务中心, W3/G9:
2 km catchment). This notebook assigns the roster, measures the centres' catchment,
proposes new sites, estimates funding by the "15311" policy and writes the reports."""),
    ("code", SETUP),
    ("code", """inputs = gc.sample_inputs()
plan = gc.run(inputs)          # includes the instructor assignment from the bundled roster
plan"""),
    ("md", "## Instructors: who needs one, who is assigned, the shortfall per unit"),
    ("code", """roster = gc.read_roster(inputs.instructors)
gc.instructors_needed(plan, roster)"""),
    ("code", """assigned = plan.instructors
print(f"{(assigned.instructor != '').sum()} of {len(assigned)} enterprises needing an instructor are assigned")
assigned.groupby("unit").distance_m.describe()[["count", "mean", "max"]].round(0)"""),
    ("md", "## Service centres: catchment now, and the best 3 new sites (maximal covering location)"),
    ("code", """centres = gc.read_service_centres(inputs.service_centres)
gc.catchment(plan, centres)"""),
    ("code", """sites = gc.site_new_centres(plan, centres=centres)
exact = gc.site_new_centres_exact(plan, centres=centres)
print("heuristic staff covered:", sites.new_staff_covered.sum(), " exact optimum:", exact.new_staff_covered.sum())
sites.drop(columns="geometry")"""),
    ("code", """import folium


def catchment_map(centres, new_sites=None):
    lat, lon = plan.enterprises.lat.mean(), plan.enterprises.lon.mean()
    m = folium.Map(location=[lat, lon], zoom_start=10, tiles=None)
    radius = plan.config.service_catchment_m
    for _, c in centres.iterrows():
        folium.Circle([c.geometry.y, c.geometry.x], radius=radius, color="#2b8cbe", fill=True,
                      fill_opacity=0.15, tooltip=c["name"]).add_to(m)
    for _, s in (new_sites if new_sites is not None else centres.iloc[:0]).iterrows():
        folium.Circle([s.lat, s.lon], radius=radius, color="#e34a33", fill=True, fill_opacity=0.15,
                      tooltip=f"new site {s['rank']}").add_to(m)
    located = plan.enterprises.dropna(subset=["lat"])
    for row in located.itertuples():
        folium.CircleMarker([row.lat, row.lon], radius=1, color="#555").add_to(m)
    return m


catchment_map(centres, sites)"""),
    ("md", """## What the named resources reach (M2, M5)

Work coverage after the plan counts only instructors somebody is named for; a planned post
the roster cannot fill is a shortfall, and small enterprises left to the township/village
backstop are the separate M5 share. Every figure on three scopes: all enterprises, the grid
scope (E1) and the national survey scope (10+ staff)."""),
    ("code", """plan.coverage.table().query("unit_type == 'total'")"""),
    ("code", """for line in plan.coverage.shortfall():
    print(line)"""),
    ("md", "## Funding estimate (经费测算, the “15311” policy), before and after the plan"),
    ("code", """gc.funding(plan)"""),
    ("md", """## Reports

The Excel report (汇总, 企业台账, 网格, 联合党支部, 网格长, 指导员, 问题清单, 经费测算, 未入库),
the maps (one for the county and one per unit, offline), and all the CSV / GeoJSON files
of the command line — `gc.write_plan` writes what `gridcover plan` writes."""),
    ("code", """written = gc.write_plan(plan, OUT / "plan")
sorted(p.name for p in written)[:12]"""),
    ("code", """gc.coverage_png(plan, OUT / "coverage.png")"""),
]

NOTEBOOKS["04_quarterly_update.ipynb"] = [
    ("md", """# 04 · Quarterly update (季度更新)

Each quarter the ledger changes: enterprises open and close, move, hire, gain members or
form organisations. This notebook makes a modified copy of the sample ledger (as next
quarter's ledger would be), compares the two, shows how coverage moved, and re-plans from
last quarter's plan: the plan keeps what it can, and every change is explained."""),
    ("code", SETUP),
    ("code", """import unicodedata

import numpy as np

from gridcover._uscc import make_uscc

inputs = gc.sample_inputs()
# the sample ledger: a title row, then the Chinese header row
old_table = pd.read_excel(inputs.ledger, header=1, dtype=str, engine="calamine")
rng = np.random.default_rng(7)
new_table = old_table.copy()
closed = rng.choice(len(new_table), size=25, replace=False)            # 25 closed
new_table = new_table.drop(index=new_table.index[closed])
grow = new_table.sample(40, random_state=1).index                      # 40 hired staff


def count(values):  # ledger counts are messy: "25人", full-width "２５"
    text = values.astype(str).map(lambda v: unicodedata.normalize("NFKC", v))
    return pd.to_numeric(text.str.extract(r"(\\d+)")[0], errors="coerce")
new_table.loc[grow, "职工人数"] = (count(new_table.loc[grow, "职工人数"]) + 30).astype("Int64").astype(str)
organised = new_table[new_table["党组织组建方式"].isin(["未建", "无"]) &
                      (count(new_table["正式党员数"]) >= 3)].head(15).index
new_table.loc[organised, "党组织组建方式"] = "单独建"                     # 15 built their own branch
movers = new_table[new_table["经度"].notna()].sample(10, random_state=2).index
new_table.loc[movers, "经度"] = (pd.to_numeric(new_table.loc[movers, "经度"]) + 0.01).round(6).astype(str)
added = old_table.sample(12, random_state=3).copy()                     # 12 new enterprises
added["统一社会信用代码"] = [make_uscc(rng, "350799") for _ in range(len(added))]
added["企业名称"] = [f"新设企业{i + 1}有限公司" for i in range(len(added))]
new_table = pd.concat([new_table, added], ignore_index=True)
new_path = OUT / "ledger_next_quarter.csv"
new_table.to_csv(new_path, index=False, encoding="utf-8-sig")
len(old_table), len(new_table)"""),
    ("code", """common = dict(townships=inputs.townships, parks=inputs.parks, gazetteer=inputs.gazetteer)
old = gc.locate(gc.Inputs(ledger=inputs.ledger, **common))
new = gc.locate(gc.Inputs(ledger=new_path, **common))
change = gc.diff_ledgers(old, new)
{name: len(getattr(change, name)) for name in ("added", "closed", "moved", "changed")}"""),
    ("code", """change.changed.field.value_counts()"""),
    ("code", """change.moved.head()"""),
    ("md", "## How coverage moved, per unit"),
    ("code", """s = change.summary
(s.style
   .format({c: "{:.1%}" for c in s.columns if "rate" in c})
   .hide(axis="index"))"""),
    ("code", """units = s[s.unit != "合计"]
fig, ax = plt.subplots(figsize=(9, 4))
x = np.arange(len(units))
ax.bar(x - 0.2, units.org_rate_old, width=0.4, label="last quarter")
ax.bar(x + 0.2, units.org_rate_new, width=0.4, label="this quarter")
ax.set_xticks(x, units.unit, rotation=45, ha="right")
ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
ax.set_title("Organisational coverage (M1) by unit")
ax.legend()
plt.tight_layout()"""),
    ("md", "The same comparison from the command line: `gridcover diff OLD NEW --out DIR`."),
    ("code", """written = gc.write_diff(change, OUT / "diff")
sorted(p.name for p in written)"""),
    ("md", """## Re-plan: keep what still obeys the rules (在上期规划基础上调整)

Last quarter's grids and joint branches now have leaders and instructors. Re-planning from
last quarter's plan keeps every grid and joint branch that still obeys the rules, with its
id; new enterprises join the grid whose area holds them where it has room; only what broke
(a grid too small, a branch short of members, an enterprise closed or moved away) is
re-planned. `plan.changes` says what changed and why (on the command line:
`gridcover plan … --previous LAST_PLAN_DIR`, which writes `changes.csv` and the 变更 sheet)."""),
    ("code", """last = gc.run(gc.Inputs(ledger=inputs.ledger, **common))
this = gc.run(gc.Inputs(ledger=new_path, **common), previous=last)
fresh = gc.run(gc.Inputs(ledger=new_path, **common))          # planned from scratch, for comparison
this.changes.groupby(["object", "change"]).size().unstack(fill_value=0)"""),
    ("code", """def kept(before, after):
    # share of the enterprises gridded in both plans that keep their grid and branch
    both = before.enterprises.index.intersection(after.enterprises.index)
    b, a = before.enterprises.loc[both], after.enterprises.loc[both]
    gridded = (b.grid_id != "") & (a.grid_id != "")
    same = (b.grid_id == a.grid_id) & (b.branch_id == a.branch_id)
    return f"{same[gridded].mean():.1%} of {int(gridded.sum())}"


{"re-plan from last quarter": kept(last, this), "plan from scratch": kept(last, fresh)}"""),
    ("md", "Why grids and branches changed, and why enterprises moved:"),
    ("code", """this.changes.query("object != 'enterprise' and change != 'kept'").head(12)"""),
    ("code", """this.changes.query("object == 'enterprise' and change == 'moved'").head(12)"""),
    ("md", """### Locks (锁定)

A grid or branch the township has already set up can be locked: it is kept exactly, even
where it now breaks a rule — the break is reported in `changes`, not repaired
(`--lock FILE`, a CSV with a `grid_id` or `branch_id` column)."""),
    ("code", """locks = list(last.grids.grid_id[:2]) + list(last.branches.branch_id[:2])
locked = gc.run(gc.Inputs(ledger=new_path, **common), previous=last, lock=locks)
locked.changes[locked.changes.id.isin(locks)]"""),
    ("code", """written = gc.write_plan(this, OUT / "replan", maps=False, png=False)
pd.read_csv(OUT / "replan" / "changes.csv").head()"""),
]


def build() -> list[Path]:
    written = []
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{Path(name).stem[:2]}-{i:02d}"
        path = HERE / name
        nbformat.write(nb, path)
        written.append(path)
    return written


if __name__ == "__main__":
    for p in build():
        print(p.name)
