"""Service centres to full coverage: set cover against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from gridcover.resources import set_cover


def _brute(a: np.ndarray) -> int:
    rows = a.any(axis=1)
    for k in range(0, a.shape[1] + 1):
        for cols in itertools.combinations(range(a.shape[1]), k):
            if (a[:, list(cols)].any(axis=1) >= rows).all():
                return k
    raise AssertionError


@pytest.mark.parametrize("seed", range(15))
def test_set_cover_exact_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    a = rng.random((int(rng.integers(5, 14)), int(rng.integers(3, 10)))) < 0.3
    chosen, bound, optimal = set_cover(sp.csr_array(a))
    assert optimal and len(chosen) == _brute(a) and bound <= len(chosen)
    assert (a[:, chosen].any(axis=1) >= a.any(axis=1)).all()


@pytest.mark.parametrize("seed", range(8))
def test_set_cover_greedy_covers_within_its_bound(seed):
    rng = np.random.default_rng(100 + seed)
    a = rng.random((12, 8)) < 0.35
    chosen, bound, optimal = set_cover(sp.csr_array(a), exact=False)
    assert not optimal
    assert (a[:, chosen].any(axis=1) >= a.any(axis=1)).all()
    d = int(a.sum(axis=0).max())
    harmonic = sum(1 / i for i in range(1, d + 1))
    assert bound <= _brute(a) <= len(chosen) <= harmonic * _brute(a) + 1e-9


# --- the whole pipeline on the sample county with every lever and --centres full -------------------
@pytest.fixture(scope="module")
def lever_plan(tmp_path_factory):
    import gridcover as gc

    out = tmp_path_factory.mktemp("levers") / "plan"
    plan = gc.run(gc.sample_inputs(), config=gc.Config(levers=gc.config.LEVERS, new_centres="full"))
    gc.write_plan(plan, out, maps=True, png=False)
    return plan, out


def _read(path):
    import pandas as pd

    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def test_every_lever_reaches_95_percent_with_legal_branches(lever_plan):
    import pandas as pd

    plan, out = lever_plan
    cov = _read(out / "coverage.csv")
    total = cov[(cov["scope"] == "all") & (cov["unit_type"] == "total")].iloc[0]
    assert float(total["org_rate_after"]) >= 0.95
    ent = _read(out / "enterprises.csv").set_index("uscc")
    br = _read(out / "branches.csv")
    assert set(br["lever"]) >= {"L1", "L2", "L3", "L4"}
    lat0 = np.deg2rad(26.5)
    for _, b in br.iterrows():  # O6/O7 and one grid, from the files alone
        units = b["uscc"].split(";")
        sub = ent.loc[units]
        assert 2 <= len(units) <= 5 and (ent["branch_id"] == b["branch_id"]).sum() == len(units)
        assert int(b["members"]) >= 3
        assert sub["unit"].nunique() == 1
        assert len(set(sub["grid_id"]) - {""}) <= 1
        xy = np.c_[sub["lon"].astype(float) * 111_320 * np.cos(lat0), sub["lat"].astype(float) * 110_574]
        assert np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)).max() <= 3000 * 1.01
        if b["lever"] == "L2" and b["grid_id"] == "":
            assert (sub["grid_id"] == "").all()
    raw = pd.read_csv(out / "branches.csv", encoding="utf-8-sig")
    assert list(raw.columns)[-1] == "lever" and {"branch_id", "grid_id", "status", "uscc"} <= set(raw.columns)


def test_targets_and_members_needed_files(lever_plan):
    plan, out = lever_plan
    t = _read(out / "targets.csv")
    assert list(t.columns) == ["scope", "unit_type", "unit", "org_rate_now", "org_rate_plan", "ceiling_base",
                               "L1", "L2", "L3", "L4", "L5", "target", "gap_after_levers", "members_needed"]
    assert set(t["scope"]) == {"all", "eligible", "survey"} and set(t["target"].astype(float)) == {0.9, 1.0}
    rates = t[["ceiling_base", "L1", "L2", "L3", "L4", "L5"]].astype(float).to_numpy()
    assert (np.diff(rates, axis=1) >= -1e-12).all(), "cumulative levers never lower the rate"
    cov = _read(out / "coverage.csv")
    merged = t.merge(cov, on=["scope", "unit_type", "unit"])
    assert np.allclose(merged["org_rate_now"].astype(float), merged["org_rate_before"].astype(float))
    assert np.allclose(merged["org_rate_plan"].astype(float), merged["org_rate_after"].astype(float))
    m = _read(out / "members_needed.csv")
    assert list(m.columns) == ["uscc", "grid_id", "new_members", "reason"]
    last = t[(t["scope"] == "all") & (t["unit_type"] == "total") & (t["target"].astype(float) == 1.0)].iloc[0]
    assert int(m["new_members"].astype(int).sum()) == int(last["members_needed"])
    gap = float(last["gap_after_levers"])
    assert (gap > 0) == (len(m) > 0)
    ent = _read(out / "enterprises.csv").set_index("uscc")
    assert set(m["uscc"]) <= set(ent.index) and (ent.loc[m["uscc"], "branch_id"] == "").all()


def test_centres_full_puts_every_gridded_enterprise_in_a_catchment(lever_plan):
    import pandas as pd

    from gridcover import datasets

    plan, out = lever_plan
    sites = _read(out / "new_centres.csv")
    assert list(sites.columns) == ["rank", "name", "lon", "lat", "source", "new_enterprises_covered",
                                   "new_staff_covered"]
    old = pd.read_csv(datasets.get_path("service_centres"))
    lon_c = np.r_[sites["lon"].astype(float), old["lon"].astype(float)]
    lat_c = np.r_[sites["lat"].astype(float), old["lat"].astype(float)]
    ent = _read(out / "enterprises.csv")
    ent = ent[ent["grid_id"] != ""]
    lat0 = np.deg2rad(26.5)
    ex = np.c_[ent["lon"].astype(float) * 111_320 * np.cos(lat0), ent["lat"].astype(float) * 110_574]
    cx = np.c_[lon_c * 111_320 * np.cos(lat0), lat_c * 110_574]
    d = np.hypot(*(ex[:, None] - cx[None]).transpose(2, 0, 1)).min(axis=1)
    assert (d <= 2000 * 1.01).all()
    assert plan.new_sites.attrs["optimal"] and plan.new_sites.attrs["lower_bound"] == len(sites)
    assert "拟新建服务中心 1" in (out / "map.html").read_text(encoding="utf-8")  # the sites layer


def test_sheets_and_w4_responsibility(lever_plan):
    import openpyxl

    plan, out = lever_plan
    book = openpyxl.load_workbook(out / "plan.xlsx", read_only=True)
    try:
        assert {"达标路径", "发展党员", "服务中心选址", "分片包干"} <= set(book.sheetnames)
    finally:
        book.close()
    r = _read(out / "responsibility.csv")
    assert list(r.columns) == ["object", "id", "unit", "instructor", "distance_m"]
    grids = _read(out / "enterprises.csv")["grid_id"]
    assert set(r.loc[r["object"] == "grid", "id"]) == set(grids[grids != ""])
    assert set(r.loc[r["object"] == "branch", "id"]) == set(_read(out / "branches.csv")["branch_id"])
    named = r[r["instructor"] != ""]
    roster = _read(__import__("gridcover").datasets.get_path("instructors"))
    assert set(named["instructor"]) <= set(roster["name"])
    # W1: duties, enterprise assignments and the ledger's own load stay within each person's capacity
    ins = plan.instructors["instructor"]
    ledger_load = plan.enterprises["instructor"][plan.enterprises["instructor"] != ""].value_counts()
    load = named["instructor"].value_counts().add(ins[ins != ""].value_counts(), fill_value=0).add(
        ledger_load, fill_value=0)
    cap = roster.set_index("name")["capacity"].astype(int)
    load = load[load.index.isin(cap.index)]
    assert (load <= cap.reindex(load.index)).all()
    # where the roster runs short, the shortfall shows, never a made-up name
    assert (r["instructor"] == "").sum() + len(named) == len(r)
