"""Levers L1–L5 (RULES.md): each lever's rules on small units, checked from the tables."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridcover import Config, Ledger
from gridcover.config import parse_levers
from gridcover.coverage import measure_plan
from gridcover.errors import ConfigError
from gridcover.levers import apply_levers, check_branches
from gridcover.partition import partition

UNITS = gpd.GeoDataFrame({"unit": ["甲镇"], "unit_type": ["township"], "township": ["甲镇"]},
                         geometry=[shapely.box(118.0, 24.0, 118.2, 24.2)], crs="EPSG:4326")
DEG_M = 1 / 101_000  # about a metre in longitude at 24° N


def _plan(rows: list[dict], config: Config):
    ent = pd.DataFrame(rows)
    ent.index = pd.Index([f"U{i:02d}" for i in range(len(ent))], name="uscc")
    for col, default in (("org_type", "none"), ("org_name", ""), ("industry", ""), ("staff", 20),
                         ("eligible", True), ("members", 0), ("lat", 24.1), ("instructor", "")):
        if col not in ent:
            ent[col] = default
        ent[col] = ent[col].where(ent[col].notna(), default)
    ent["unit"] = "甲镇"
    ent["unit_type"] = "township"
    ent["township"] = "甲镇"
    ent["fixed_premises"] = True
    base = partition(Ledger(ent), units=UNITS, config=config)
    return base, apply_levers(base, config)


def _row(x_m: float, members: int = 0, **kw):
    return {"lon": 118.05 + x_m * DEG_M, "members": members, **kw}


def _covered(plan) -> int:
    return int(measure_plan(plan).total()["org_covered_after"])


def _oracle(plan, config: Config) -> None:
    """O6/O7 and one grid per branch, recomputed with plain pandas from the enterprise table."""
    ent = plan.enterprises
    for bid, g in ent[ent["branch_id"].ne("")].groupby("branch_id"):
        assert 2 <= len(g) <= config.joint_max_units, bid
        assert g["members"].sum() >= config.joint_min_members, bid
        assert g["unit"].nunique() == 1, bid
        assert len(set(g["grid_id"]) - {""}) <= 1, bid
        x = (g["lon"].to_numpy() - 118.05) / DEG_M
        assert np.ptp(x) <= config.joint_max_distance_m + 1, bid
    assert check_branches(plan, config) == []
    listed = plan.branches.set_index("branch_id")["n_units"]
    assert ent[ent["branch_id"].ne("")].groupby("branch_id").size().reindex(listed.index).tolist() == listed.tolist()


def test_l1_host_takes_in_up_to_four_neighbours():
    rows = [_row(0, 4)] + [_row(100 * i) for i in range(1, 7)] + [_row(5000 + 50 * i, 1) for i in range(5)]
    cfg = Config(levers=("L1",), grid_min_size=1)
    base, plan = _plan(rows, cfg)
    _oracle(plan, cfg)
    host = plan.enterprises.loc["U00"]
    assert host["branch_id"] != "" and host["action"] in ("build_branch", "keep")
    b = plan.branches.set_index("branch_id").loc[host["branch_id"]]
    assert b["lever"] == "L1" and b["n_units"] == 5
    assert _covered(plan) == _covered(apply_levers(base, cfg.replace(levers=()))) + 4
    # without L1 the host leads nothing
    assert apply_levers(base, cfg.replace(levers=())).enterprises.loc["U00", "branch_id"] == ""


def test_l1_respects_the_distance_rule():
    rows = [_row(0, 3), _row(2500), _row(-2500), _row(100)]
    cfg = Config(levers=("L1",), grid_min_size=1)
    _, plan = _plan(rows, cfg)
    _oracle(plan, cfg)
    members = plan.enterprises[plan.enterprises["branch_id"].eq(plan.enterprises.loc["U00", "branch_id"])]
    assert not {"U01", "U02"} <= set(members.index)  # 5 km apart: never together


def test_l2_small_enterprises_form_gridless_branches():
    small = {"eligible": False, "staff": 3}
    rows = [_row(0, 2, org_type="attached", **small), _row(50, 1, org_type="attached", **small)] + \
        [_row(100 + 30 * i, **small) for i in range(3)] + [_row(9000 + i, 0) for i in range(6)]
    cfg = Config(levers=("L2",), grid_min_size=1)
    base, plan = _plan(rows, cfg)
    _oracle(plan, cfg)
    l2 = plan.branches[plan.branches["lever"].eq("L2")]
    assert len(l2) == 1 and l2["grid_id"].iloc[0] == "" and l2["unit"].iloc[0] == "甲镇"
    assert _covered(plan) - _covered(apply_levers(base, cfg.replace(levers=()))) == 3
    assert set(plan.enterprises.loc[["U02", "U03", "U04"], "action"]) == {"join_branch"}


def test_l3_attached_units_anchor_a_branch():
    rows = [_row(0, 2), _row(20, 1)] + [_row(40 + 20 * i) for i in range(6)] + \
        [_row(200, 2, org_type="attached"), _row(220, 1, org_type="attached")]
    cfg = Config(grid_min_size=1)
    base, plan0 = _plan(rows, cfg)
    assert _covered(plan0) == 7  # one base branch takes three of the six without members
    plan3 = apply_levers(base, cfg.replace(levers=("L3",)))
    _oracle(plan3, cfg)
    assert _covered(plan3) == 10
    assert "L3" in set(plan3.branches["lever"])
    assert set(plan3.enterprises.loc[["U08", "U09"], "action"]) == {"join_branch"}


def test_l4_fills_free_places_of_a_kept_joint_organisation():
    joint = {"org_type": "joint", "org_name": "甲联合支部"}
    rows = [_row(0, 2, **joint), _row(50, 1, **joint), _row(100, 0, **joint), _row(150), _row(200), _row(4000)]
    cfg = Config(grid_min_size=1)
    base, plan0 = _plan(rows, cfg)
    kept = plan0.branches[plan0.branches["status"].eq("kept")]
    assert len(kept) == 1 and kept["n_units"].iloc[0] == 3
    plan4 = apply_levers(base, cfg.replace(levers=("L4",)))
    _oracle(plan4, cfg)
    kept4 = plan4.branches[plan4.branches["status"].eq("kept")]
    assert kept4["n_units"].iloc[0] == 5 and kept4["lever"].iloc[0] == "L4"
    assert kept4["branch_id"].iloc[0] == kept["branch_id"].iloc[0]  # same organisation, same id
    assert plan4.enterprises.loc["U05", "branch_id"] == ""


def test_l5_packs_same_section_first():
    rows = [_row(0, 2, industry="C"), _row(30, 1, industry="F"), _row(60, 2, industry="F"), _row(90, 1, industry="C"),
            _row(120, 0, industry="C"), _row(150, 0, industry="F")]
    cfg = Config(grid_min_size=1)
    base, _ = _plan(rows, cfg)
    plan5 = apply_levers(base, cfg.replace(levers=("L5",)))
    _oracle(plan5, cfg)
    ent = plan5.enterprises[plan5.enterprises["branch_id"].ne("")]
    assert ent.groupby("branch_id")["industry"].nunique().eq(1).all()
    assert len(ent) == 6


def test_packer_maximises_coverage_gained_not_units_placed():
    # {2,1,1,0,0} places five but leaves a unit without members out; {2,1,0,0,0} covers
    # all six, since the left-over 1-member unit is attached and counts (M1)
    rows = [_row(0, 2), _row(20, 1), _row(40, 1), _row(60), _row(80), _row(100)]
    cfg = Config(grid_min_size=1)
    _, plan = _plan(rows, cfg)
    _oracle(plan, cfg)
    assert _covered(plan) == 6
    assert (plan.enterprises["action"] == "attach").sum() == 1


@pytest.mark.parametrize("text,expected", [("all", ("L1", "L2", "L3", "L4", "L5")), ("l3, L1", ("L1", "L3")),
                                            ("L2，L2", ("L2",))])
def test_parse_levers(text, expected):
    assert parse_levers(text) == expected


def test_unknown_lever_is_refused():
    with pytest.raises(ConfigError, match="L9"):
        parse_levers("L1,L9")
    with pytest.raises(ConfigError, match="levers"):
        Config(levers=("L6",))
    assert Config.from_dict({"rules": {"levers": ["L3", "L1"]}}).levers == ("L1", "L3")


def test_cli_refuses_an_unknown_lever_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from gridcover import datasets
    from gridcover.cli import app

    r = CliRunner().invoke(app, ["plan", str(datasets.get_path("ledger")), "--townships",
                                 str(datasets.get_path("townships")), "--out", str(tmp_path / "p"),
                                 "--levers", "L1,L7", "--no-maps"])
    assert r.exit_code == 2, r.output
    assert "L7" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("value", ["", "full", "3"])
def test_new_centres_values(value):
    assert Config(new_centres=value).new_centres == value


def test_cli_refuses_a_bad_centres_value_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from gridcover import datasets
    from gridcover.cli import app

    r = CliRunner().invoke(app, ["plan", str(datasets.get_path("ledger")), "--townships",
                                 str(datasets.get_path("townships")), "--out", str(tmp_path / "p"),
                                 "--centres", "many", "--no-maps"])
    assert r.exit_code == 2, r.output
    assert "new_centres" in r.output and "Traceback" not in r.output
    with pytest.raises(ConfigError, match="new_centres"):
        Config(new_centres="0")


def test_same_plan_whether_or_not_grid_solves_are_cached():
    from gridcover import levers

    small = {"eligible": False, "staff": 3}
    rows = [_row(0, 4)] + [_row(60 * i) for i in range(1, 9)] + [_row(100 + 40 * i, **small) for i in range(6)] + \
        [_row(300, 1, org_type="attached", **small), _row(320, 2, org_type="attached", **small)]
    cfg = Config(levers=("L1", "L2", "L3", "L4", "L5"), grid_min_size=1)
    base, first = _plan(rows, cfg)
    levers._CACHE.clear()
    again = apply_levers(base, cfg)
    assert first.branches.equals(again.branches)
    assert first.enterprises[["branch_id", "action"]].equals(again.enterprises[["branch_id", "action"]])
    _oracle(first, cfg)


@pytest.mark.parametrize("seed", range(25))
def test_grid_bound_is_above_the_exact_packing_and_the_greedy_is_legal(seed):
    # a grid kept as the partition packed it must be optimal: the bound it is compared
    # with is never below the exact MILP's gain; the quick greedy packing is legal
    from gridcover import levers

    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 12))
    cfg = Config()
    xy = rng.uniform(0, 4000, (n, 2))
    mem = rng.choice([0, 0, 0, 1, 2, 4], n)
    kinds = ["host" if m >= 3 else "cand" for m in mem]
    items = [levers._Item((i,), k, int(m == 0), int(m)) for i, (k, m) in enumerate(zip(kinds, mem, strict=True))]
    exact = levers._solve_grid_uncached(items, xy, [""] * n, cfg, frozenset({"L1"}), {}, need_one=False)
    best = sum(items[i].gain for idx in exact for i in idx)
    bound = levers._gain_bound(items, xy, cfg)
    assert bound >= best
    packing = levers._greedy_grid(items, xy, cfg)
    assert sum(items[i].gain for idx in packing for i in idx) <= best
    placed = [i for idx in packing for i in idx]
    assert len(placed) == len(set(placed))
    for idx in packing:
        rows = [r for i in idx for r in items[i].rows]
        assert levers._legal(rows, xy, mem, cfg)
        assert sum(items[i].kind == "host" for i in idx) <= 1


def test_a_replan_of_an_unchanged_plan_settles_every_grid():
    from gridcover.levers import settled_grids

    rows = [_row(100 * i, 1 if i % 3 == 0 else 0) for i in range(14)]
    cfg = Config(grid_min_size=1)
    _, plan = _plan(rows, cfg)
    grids = set(plan.enterprises["grid_id"]) - {""}
    assert settled_grids(plan, plan) == grids
    moved = plan.enterprises.copy()
    b = moved.loc[moved["branch_id"].ne(""), "branch_id"].iloc[0]
    moved.loc[moved["branch_id"].eq(b), "branch_id"] = ""  # a branch dissolved: its grid is not settled
    g = plan.enterprises.loc[plan.enterprises["branch_id"].eq(b), "grid_id"].iloc[0]
    assert g not in settled_grids(plan, plan.replace(enterprises=moved))
    assert settled_grids(plan, plan.replace(enterprises=moved), locked_grids=[g]) == grids
