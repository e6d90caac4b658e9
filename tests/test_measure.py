"""The measure stage: coverage measured once, on the Plan, and what the rules say shown."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import gridcover as gc
import gridcover.coverage as coverage_module
from gridcover import Config, Ledger, Plan
from gridcover.partition import partition


@pytest.fixture(scope="module")
def sample_plan(sample_county_plan: Plan) -> Plan:
    """``gc.run(gc.sample_inputs())``, shared read-only (conftest.py)."""
    return sample_county_plan


def test_run_measures_and_write_plan_reads_the_record(sample_plan, tmp_path, monkeypatch):
    assert sample_plan.coverage is not None
    assert "measure" in sample_plan.timings
    calls = []
    real = coverage_module.measure
    monkeypatch.setattr(coverage_module, "measure", lambda *a, **k: calls.append(1) or real(*a, **k))
    gc.write_plan(sample_plan, tmp_path / "a", png=False)
    assert calls == [], "a measured plan is not measured again by any writer"
    gc.write_plan(sample_plan.replace(coverage=None), tmp_path / "b", png=False)
    assert calls == [1], "an unmeasured plan is measured exactly once for all its files"
    a = (tmp_path / "a" / "coverage.csv").read_bytes()
    assert a == (tmp_path / "b" / "coverage.csv").read_bytes()


def test_replacing_a_table_drops_the_stale_record(sample_plan):
    assert sample_plan.replace(inputs={}).coverage is sample_plan.coverage
    ent = sample_plan.enterprises.copy()
    ent["action"] = "keep"
    assert sample_plan.replace(enterprises=ent).coverage is None


def test_sample_county_states_the_shortfall(sample_plan):
    t = sample_plan.coverage.total()
    assert t["instructors_short"] > 0 and t["backstop_after"] > 0
    # named resources only: a short roster cannot give full work coverage
    assert t["work_rate_after"] < 1.0
    assert not bool(sample_plan.coverage.targets().iloc[-1]["work_target_met_after"])
    lines = sample_plan.coverage.shortfall()
    assert any("尚无指导员" in s for s in lines) and any("兜底" in s for s in lines)


def test_summary_sheet_says_unmet_and_names_the_shortfall(sample_plan, tmp_path):
    path = gc.write_excel(sample_plan, tmp_path / "p.xlsx")
    sheet = pd.read_excel(path, sheet_name="汇总", header=None, dtype=str, engine="calamine").fillna("")
    rows = {r[0]: list(r[1:]) for r in sheet.itertuples(index=False)}
    work = next(v for k, v in rows.items() if k.startswith("目标：党的工作覆盖率"))
    assert work[1] == "未达标"
    notes = [r[1] for r in sheet.itertuples(index=False) if r[0] == "注意"]
    assert any("尚无指导员" in n for n in notes)
    planned = pd.read_excel(path, sheet_name="指导员", dtype=str, engine="calamine").fillna("")
    chosen = planned[planned["来源"].eq("规划选派")]
    assert chosen["党建工作指导员"].ne("").all(), "规划选派 always names somebody"


def test_map_title_states_the_shortfall(sample_plan):
    page = gc.map_html(gc.coverage_map(sample_plan, basemap="none", date="2026-01-01"))
    assert "名册不足" in page and "兜底" in page


# --- partition: O9, existing committees, O2 advice, approximate points ------------------------
UNIT = gpd.GeoDataFrame({"unit": ["东城街道"], "unit_type": ["township"], "township": ["东城街道"]},
                        geometry=[shapely.box(118.0, 24.0, 118.2, 24.2)], crs="EPSG:4326")


def _ledger(rows: list[dict]) -> Ledger:
    base = {"lon": 118.05, "lat": 24.05, "unit": "东城街道", "unit_type": "township", "eligible": True,
            "staff": 20, "members": 0, "org_type": "none", "org_name": "", "precision": "exact"}
    df = pd.DataFrame([{**base, **r} for r in rows],
                      index=pd.Index([f"U{i:02d}" for i in range(len(rows))], name="uscc"))
    return Ledger(df)


def test_o9_attached_members_are_replanned_into_a_branch():
    # one grid: its only formal members sit in attached enterprises (1 + 1 + 1)
    rows = [{"lon": 118.05 + 0.001 * i, "members": 1 if i < 3 else 0,
             "org_type": "attached" if i < 3 else "none"} for i in range(8)]
    plan = partition(_ledger(rows), units=UNIT, config=Config(org_coverage_counts_attached=True))
    ent = plan.enterprises
    assert len(plan.grids) == 1
    assert len(plan.branches) >= 1, "O9: the grid forms a branch"
    assert set(ent.loc[["U00", "U01", "U02"], "action"]) == {"join_branch"}
    b = plan.branches.iloc[0]
    assert b["members"] >= 3 and b["n_units"] <= 5


def test_existing_committee_is_not_told_to_build_one():
    rows = [{"members": 120, "org_type": "own", "org_name": "某公司党委"},
            {"members": 120, "org_type": "own", "org_name": "某公司党支部"},
            {"members": 60, "org_type": "own", "org_name": "某公司党总支"},
            {"members": 8, "org_type": "own", "org_name": "某公司党支部"},
            {"members": 4, "org_type": "own", "org_name": "某公司党支部"}]
    ent = partition(_ledger(rows), units=UNIT).enterprises
    assert ent["action"].tolist() == ["keep", "build_committee", "keep", "keep", "keep"]
    assert ent.loc["U03", "advice"].endswith("应选举产生支部委员会（O2）")
    assert ent.loc[["U00", "U02", "U04"], "advice"].eq("").all()


def test_branches_count_their_approximate_points():
    rows = [{"lon": 118.05 + 0.001 * i, "members": 1 if i < 3 else 0,
             "precision": "village" if i in (1, 2) else "exact"} for i in range(6)]
    plan = partition(_ledger(rows), units=UNIT)
    b = plan.branches
    assert len(b)
    for _, r in b.iterrows():
        units = r["uscc"].split(";")
        assert r["approx_points"] == sum(u in ("U01", "U02") for u in units)
    assert b["lever"].eq("").all()


def test_g10_overloaded_ledger_instructor():
    ent = pd.DataFrame({"staff": 10, "members": 0, "probationary": 0, "org_type": "none",
                        "above_scale": False, "org_name": "",
                        "instructor": ["王某"] * 4 + ["李某"] * 3},
                       index=pd.Index([f"E{i}" for i in range(7)], name="uscc"))
    gaps = gc.find_gaps(ent, Config(instructor_capacity=3))
    g10 = gaps[gaps["rule_id"].eq("G10")]
    assert g10["uscc"].tolist() == ["E0", "E1", "E2", "E3"]
    assert "4家" in g10["message"].iloc[0]


def test_scopes_in_coverage_csv_partition_their_totals(sample_plan):
    table = sample_plan.coverage.table()
    for scope, grp in table.groupby("scope"):
        units = grp[grp["unit_type"].ne("total")]
        total = grp[grp["unit_type"].eq("total")].iloc[0]
        assert units["enterprises"].sum() == total["enterprises"], scope
        assert units["instructors_short"].sum() == total["instructors_short"], scope
    sizes = table[table["unit_type"].eq("total")].set_index("scope")["enterprises"]
    assert sizes["all"] > sizes["eligible"] and sizes["all"] > sizes["survey"]
    assert np.isfinite(table["backstop_rate_after"].dropna()).all()


def test_advice_csv_lists_o2(sample_plan, tmp_path):
    gc.write_plan(sample_plan, tmp_path / "p", maps=False, png=False)
    advice = pd.read_csv(tmp_path / "p" / "advice.csv", encoding="utf-8-sig", dtype=str)
    ent = pd.read_csv(tmp_path / "p" / "enterprises.csv", encoding="utf-8-sig", dtype=str).set_index("uscc")
    ledger = sample_plan.enterprises
    assert len(advice) and set(advice["rule_id"]) == {"O2"}
    assert (ledger.loc[advice["uscc"], "members"] >= 7).all()
    assert set(advice["uscc"]) <= set(ent.index)
    assert ent.loc[advice["uscc"], "action"].isin(["keep", "build_branch"]).all()


def test_level_column_shows_an_existing_committee(tmp_path):
    from county_gen import uscc

    rows = pd.DataFrame({"统一社会信用代码": [uscc(5), uscc(6)], "企业名称": ["甲公司", "乙公司"],
                         "经度": [118.51, 118.512], "纬度": [26.51, 26.511], "职工人数": [600, 600],
                         "正式党员数": [120, 120], "党组织组建方式": ["单独建", "单独建"],
                         "所在党组织": ["中共甲公司组织", "中共乙公司组织"], "党组织类别": ["党委", ""]})
    path = tmp_path / "l.csv"
    rows.to_csv(path, index=False)
    from gridcover import datasets

    plan = gc.run(gc.Inputs(ledger=path, townships=datasets.get_path("townships"),
                            parks=datasets.get_path("parks")))
    ent = plan.enterprises.set_index("name")
    assert ent.loc["甲公司", "org_level"] == "党委"
    assert ent.loc["甲公司", "action"] == "keep" and "G6" not in ent.loc["甲公司", "gaps"]
    assert ent.loc["乙公司", "action"] == "build_committee" and "G6" in ent.loc["乙公司", "gaps"]


def test_a_plan_read_back_measures_what_the_run_measured(sample_plan, tmp_path):
    gc.write_plan(sample_plan, tmp_path / "p", maps=False, png=False)
    back = gc.read_plan(tmp_path / "p")
    a, b = sample_plan.coverage.total(), coverage_module.measured(back).total()
    for col in ("work_rate_after", "instructors_needed", "instructors_short", "org_rate_after",
                "backstop_rate_after"):
        assert a[col] == pytest.approx(b[col]), col
