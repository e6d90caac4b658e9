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
    ("md", """# 01 · 覆盖情况总览

本笔记本读入自带的**虚构**示例县（青岚县），列出未入库的台账行及原因，并按园区、乡镇（街道）
测算**现有台账**的党组织覆盖率（M1）和党的工作覆盖率（M2），对照目标（M4：党组织覆盖率先达
90%、再达 100%；工作覆盖率 100%）。把 `gc.sample_inputs()` 换成 `gc.Inputs(ledger=...,
townships=..., parks=..., gazetteer=...)`，即可在您自己的台账上运行。"""),
    ("code", SETUP),
    ("code", """inputs = gc.sample_inputs()
inputs"""),
    ("md", """## 读入台账、定位、划入辖区

`gc.locate` 读入台账（可有标题行、中文表头，GBK 或 UTF-8 编码），把 GCJ-02、BD-09 坐标换算为
WGS-84，按村（社区）地名表为只有地址的行定位，再把每家企业划入所在园区或乡镇（街道）。
每一行要么入库，要么写明原因列入未入库。"""),
    ("code", """ledger = gc.locate(inputs)
print(f"读入 {ledger.n_rows} 行：入库 {len(ledger.enterprises)} 行，未入库 {len(ledger.rejects)} 行")
assert len(ledger.enterprises) + len(ledger.rejects) == ledger.n_rows
ledger.rejects"""),
    ("md", "已自动修正（附提示）的行，以及台账所填乡镇与点位不一致的行："),
    ("code", """display(ledger.warnings)
ledger.conflicts"""),
    ("code", """ledger.enterprises["precision"].value_counts()"""),
    ("md", """## 规划前覆盖率：按园区、乡镇（街道）

乡镇（街道）一行只计园区**以外**的企业，因此园区行与乡镇行相加等于全域合计。"""),
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
    ("md", """## 按行业门类和企业规模

M3 即规上企业党组织组建率；示例县所模仿的原型县为 44 / 496 = 8.87%。"""),
    ("code", """by_size = gc.coverage_by(before, "size_class")
by_size"""),
    ("code", """gc.coverage_by(before, "industry").sort_values("enterprises", ascending=False).head(8)"""),
    ("code", """total = gc.coverage_by(before, "total").iloc[0]
print(f"M3 规上企业党组织组建率：{total.above_scale_own_before} / {total.above_scale} = {total.m3_rate_before:.2%}")"""),
    ("md", """## 问题清单与覆盖地图

问题清单列出每家企业的问题及其对应规则。地图显示规划前后的覆盖率（规划本身见笔记本 02），
与 `gridcover demo` 生成的地图相同，无需联网即可打开。"""),
    ("code", """plan = gc.run(inputs)
plan"""),
    ("code", """plan.gaps["rule_id"].value_counts().sort_index()"""),
    ("code", """m = gc.coverage_map(plan)
m"""),
]

NOTEBOOKS["02_propose_grids.ipynb"] = [
    ("md", """# 02 · 划分网格、组建联合党支部、推选网格长

在每个园区和每个乡镇（街道，园区以外）内，把有固定经营场所、职工 6 人以上的企业（E1）
聚成 5–15 家的紧凑网格（O10），单位条件允许时每格至少有 3 名正式党员（O9）；正式党员不足
3 名的企业组建联合党支部，每个支部不超过 5 家、相距 3 公里以内（O5–O7）。本笔记本运行
划分、查看结果，并调整规划人员可改的参数，展示其中的取舍。"""),
    ("code", SETUP),
    ("code", """inputs = gc.sample_inputs()
located = gc.locate(inputs)
jurisdictions = gc.load_jurisdictions(inputs.townships, inputs.parks)
plan = gc.partition(located, jurisdictions)
plan"""),
    ("md", "## 网格：规模、党员、网格长"),
    ("code", """plan.grids.drop(columns="geometry").head(10)"""),
    ("code", """print("grid sizes:", plan.grids.n_enterprises.min(), "to", plan.grids.n_enterprises.max())
print("grids with 3+ formal members:", (plan.grids.members >= 3).mean().round(3))
plan.grids.plot(column="unit", edgecolor="white", linewidth=0.3, figsize=(8, 7), cmap="tab20");"""),
    ("md", "## 联合党支部与网格长候选"),
    ("code", """plan.branches.head(10)"""),
    ("code", """plan.branches.status.value_counts()"""),
    ("code", """plan.leaders.head(9)"""),
    ("md", "## 每家企业一项规划措施"),
    ("code", """plan.enterprises.action.value_counts()"""),
    ("md", """## 参数试算：规划人员的取舍

每次运行都是同一个纯函数，只换一个 `Config`。对照网格规模上限、联合党支部间距（O7）和
每支部 5 家上限（O6），看规划后覆盖率和联合党支部数量如何变化。"""),
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
    ("md", """## 导出网格边界供 QGIS 使用

网格多边形铺满每个单位（无重叠、无空洞）；在 QGIS 中打开 GeoPackage 或 GeoJSON，即为拟划
网格边界。"""),
    ("code", """plan.grids.to_file(OUT / "grids_proposed.gpkg", layer="grids", driver="GPKG")
plan.grids.to_file(OUT / "grids_proposed.geojson", driver="GeoJSON")
sorted(p.name for p in OUT.glob("grids_proposed.*"))"""),
]

NOTEBOOKS["03_resources_and_reports.ipynb"] = [
    ("md", """# 03 · 指导员、党群服务中心、经费与报表

党的工作覆盖（M2）依靠党建工作指导员（W1/W2：每人联系约 3 家，就近、不跨单位）和党群服务
中心（W3/G9：服务半径 2 公里）。本笔记本按名册选派指导员、测算服务中心覆盖范围、提出新址
建议、按“15311”标准测算经费，并生成报表。"""),
    ("code", SETUP),
    ("code", """inputs = gc.sample_inputs()
plan = gc.run(inputs)          # includes the instructor assignment from the bundled roster
plan"""),
    ("md", "## 指导员：哪些企业需要、选派了谁、各单位缺额"),
    ("code", """roster = gc.read_roster(inputs.instructors)
gc.instructors_needed(plan, roster)"""),
    ("code", """assigned = plan.instructors
print(f"需选派指导员的 {len(assigned)} 家企业中，已选派 {(assigned.instructor != '').sum()} 家")
assigned.groupby("unit").distance_m.describe()[["count", "mean", "max"]].round(0)"""),
    ("md", "## 党群服务中心：现有覆盖范围，以及最优的 3 处新址（最大覆盖选址）"),
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
    ("md", """## 有具体人选的资源覆盖到哪里（M2、M5）

规划后的工作覆盖率只计有具体人选的指导员；名册不足、尚无人选的岗位计为缺额；留给乡镇（街道）、
村（社区）属地兜底的小微企业单列为 M5。每个数字都按三种口径给出：全部企业、网格范围（E1）
和全国调查口径（职工 10 人以上）。"""),
    ("code", """plan.coverage.table().query("unit_type == 'total'")"""),
    ("code", """for line in plan.coverage.shortfall():
    print(line)"""),
    ("md", "## 经费测算（“15311”标准），规划前后对比"),
    ("code", """gc.funding(plan)"""),
    ("md", """## 报表

Excel 报表（汇总、企业台账、网格、联合党支部、网格长、指导员、问题清单、经费测算、未入库，
每张表都已设置打印格式），地图（全县一张、每个单位一张，离线可用），以及命令行输出的全部
CSV、GeoJSON 文件——`gc.write_plan` 写出的内容与 `gridcover plan` 相同。"""),
    ("code", """written = gc.write_plan(plan, OUT / "plan")
sorted(p.name for p in written)[:12]"""),
    ("code", """gc.coverage_png(plan, OUT / "coverage.png")"""),
]

NOTEBOOKS["04_quarterly_update.ipynb"] = [
    ("md", """# 04 · 季度更新

台账每个季度都有变化：企业新设、注销、迁址、增减职工、发展党员或组建党组织。本笔记本把示例
台账改成“下个季度”的样子，比较前后两份台账，展示覆盖率的变化，并在上季度规划的基础上重新规划：
能保留的网格和联合党支部都保留，每一处变化都说明原因。"""),
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
    ("md", "## 各单位覆盖率的变化"),
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
    ("md", "命令行中的同一比较：`gridcover diff 旧台账 新台账 --out 文件夹`。"),
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
