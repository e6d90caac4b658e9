"""The whole pipeline on generated messy ledgers: every row accounted for, every rule kept.

Hypothesis writes ledgers mixing good rows (WGS-84, GCJ-02 and BD-09 points, address-only
rows), bad rows of several kinds, points outside the county, duplicates and empty lines,
and runs :func:`gridcover.run` on the bundled county's boundaries. Whatever the mix:

* accepted + rejected = data rows, and no row is in both;
* every grid-eligible enterprise is in exactly one grid, of its own unit; no other is;
* every joint branch has at most 5 units, at least 3 formal members, one unit, one
  grid, and pairwise distances within 3 km (O6, O7); no enterprise is in two branches;
* every enterprise has exactly one known action, and work coverage after the plan is full.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gridcover as gc
from gridcover._uscc import make_uscc
from gridcover.coords import wgs84_to_bd09, wgs84_to_gcj02
from gridcover.schema import ACTIONS

HEADER = ["统一社会信用代码", "企业名称", "地址", "经度", "纬度", "坐标系", "职工人数", "有无固定经营场所",
          "正式党员数", "党组织组建方式", "党组织名称", "行业门类"]


@pytest.fixture(scope="module")
def county():
    inputs = gc.sample_inputs()
    gaz = pd.read_csv(inputs.gazetteer, encoding="utf-8-sig")
    villages = gaz[gaz["kind"].isin(["village", "community"])]
    return inputs, villages


ROW_KINDS = ["wgs84", "gcj02", "bd09", "address", "bad_uscc", "members_gt_staff", "outside", "duplicate",
             "empty", "no_location", "joint", "shell"]


def _ledger(kinds: list[str], seed: int, villages: pd.DataFrame) -> str:
    rng = np.random.default_rng(seed)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["某县台账（测试）"])  # a title row above the header
    w.writerow(HEADER)
    seen: list[str] = []
    for i, kind in enumerate(kinds):
        v = villages.iloc[int(rng.integers(len(villages)))]
        lon = float(v["lon"] + rng.normal(0, 0.004))
        lat = float(v["lat"] + rng.normal(0, 0.004))
        code = make_uscc(rng, "350799")
        staff = int(rng.choice([3, 8, 20, 60, 150]))
        members = int(rng.choice([0, 0, 1, 2, 3, 5]))
        row = [code, f"企业{i}", "", f"{lon:.6f}", f"{lat:.6f}", "", str(staff), "是", str(min(members, staff)),
               "未建", "", "C"]
        if kind == "gcj02":
            g = wgs84_to_gcj02(lon, lat)
            row[3:6] = [f"{float(g[0]):.6f}", f"{float(g[1]):.6f}", "GCJ-02"]
        elif kind == "bd09":
            b = wgs84_to_bd09(lon, lat)
            row[3:6] = [f"{float(b[0]):.6f}", f"{float(b[1]):.6f}", "百度"]
        elif kind == "address":
            row[2:5] = [f"青岚县{v['township']}{v['name']}{i}号", "", ""]
        elif kind == "bad_uscc":
            row[0] = code[:17] + ("0" if code[17] != "0" else "1")
        elif kind == "members_gt_staff":
            row[6], row[8] = "4", "6"
        elif kind == "outside":
            row[3:5] = [f"{lon + 1.5:.6f}", f"{lat:.6f}"]  # in China, far outside the county
        elif kind == "duplicate" and seen:
            row[0] = seen[0]
        elif kind == "empty":
            row = [""] * len(HEADER)
        elif kind == "no_location":
            row[2:5] = ["", "", ""]
        elif kind == "shell":
            row[9], row[10], row[8] = "单独建", f"企业{i}党支部", str(int(rng.integers(0, 3)))
        elif kind == "joint":
            row[9], row[10], row[8] = "联合建", "测试联合党支部", "1"
        seen.append(row[0])
        w.writerow(row)
    return out.getvalue()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(kinds=st.lists(st.sampled_from(ROW_KINDS), min_size=1, max_size=60), seed=st.integers(0, 10_000))
def test_every_row_accounted_for_and_every_rule_kept(tmp_path_factory, county, kinds, seed):
    inputs, villages = county
    path = tmp_path_factory.mktemp("ledger") / "台账.csv"
    path.write_text(_ledger(kinds, seed, villages), encoding="gb18030")
    config = gc.Config()
    plan = gc.run(gc.Inputs(ledger=path, townships=inputs.townships, parks=inputs.parks,
                            gazetteer=inputs.gazetteer), config=config)
    data_rows = sum(k != "empty" for k in kinds)
    ent, rej = plan.enterprises, plan.rejects
    # every row accounted for, once
    assert len(ent) + len(rej) == data_rows == plan.inputs["counts"]["input_rows"]
    assert set(ent["source_row"]).isdisjoint(set(rej["source_row"]))
    assert len(set(ent["source_row"]) | set(rej["source_row"])) == data_rows
    # grids: eligible ⇔ exactly one grid, of the enterprise's own unit
    in_grid = ent["grid_id"].ne("")
    assert (in_grid == ent["eligible"]).all()
    grid_unit = dict(zip(plan.grids["grid_id"], plan.grids["unit"], strict=True))
    assert all(grid_unit[g] == u for g, u in zip(ent.loc[in_grid, "grid_id"], ent.loc[in_grid, "unit"],
                                                 strict=True))
    # actions; after the plan every enterprise is exactly one of: reached by an organisation or a
    # named instructor (M2), short of an instructor nobody is named for, or only backstopped (M5)
    assert ent["action"].isin(ACTIONS).all()
    flags = gc.coverage_flags(plan)
    assert (flags[["work_after", "instructor_short", "backstop_after"]].astype(int).sum(axis=1) == 1).all()
    # joint branches: O6 and O7
    members_of: dict[str, str] = {}
    for b in plan.branches.itertuples(index=False):
        units = str(b.uscc).split(";")
        assert 1 <= len(units) <= config.joint_max_units
        for u in units:
            assert u not in members_of, f"{u} in {members_of.get(u)} and {b.branch_id}"
            members_of[u] = b.branch_id
        rows = ent.loc[units]
        assert int(rows["members"].sum()) >= config.joint_min_members
        assert rows["unit"].nunique() == 1
        gridded = rows.loc[rows["grid_id"].ne(""), "grid_id"]
        assert set(gridded) <= {b.grid_id}
        located = rows.dropna(subset=["lon", "lat"])
        if len(located) > 1:
            lon, lat = located["lon"].to_numpy(), located["lat"].to_numpy()
            dx = (lon[:, None] - lon[None, :]) * 111_320 * np.cos(np.radians(lat.mean()))
            dy = (lat[:, None] - lat[None, :]) * 110_540
            assert np.hypot(dx, dy).max() <= config.joint_max_distance_m * 1.01
        assert float(b.max_distance_m) <= config.joint_max_distance_m + 1e-6
    # branch_id column agrees with the branch table
    assert {u for u, b in members_of.items()} == set(ent.index[ent["branch_id"].ne("")])
