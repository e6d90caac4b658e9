"""The gaps a planner must see, in Debian's chromium with the network blocked.

Before/after switch of M1 and M2, permanent unit labels, one layer per gap rule with its
count per unit, the ranking panel, a legend of only what the map holds, no tile request
offline, and an intranet tile server (a local ``http.server`` on 127.0.0.1) requested.
Every wait is on page state, never on time.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from test_maps_browser import CHROMIUM, FLAGS, Page, pytestmark  # noqa: F401  (module marks)

from gridcover import Plan
from gridcover.coverage import coverage_by
from gridcover.maps import coverage_map, map_html


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def plan() -> Plan:
    from test_maps import build_plan

    return build_plan(60)


@pytest.fixture
def open_map(browser, tmp_path: Path) -> Iterator:
    pages: list[Page] = []

    def opener(html: str, name: str = "map.html") -> Page:
        page = Page(browser, html, tmp_path / name)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()


def _class(rate: float) -> int:
    """Coverage class by hand, RULES.md defaults (M4 90 %, then 100 %): < 30, 30–60, 60–90, 90–<100, 100."""
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return -1
    return sum(rate >= e for e in (0.3, 0.6, 0.9, 1.0))


COLORS = ("#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850")

UNIT_STATE = """(() => {
  const g = window.gridcover, out = {};
  for (const key of ["townships", "parks"]) {
    g.layers[key].eachLayer(l => { out[l.feature.properties.t] = l.options.fillColor; });
  }
  const labels = [...document.querySelectorAll('.gc-unit-label')].map(d => d.textContent);
  const rank = [...document.querySelectorAll('.gc-rank tr[data-unit]')].map(
      tr => [...tr.children].map(td => td.textContent));
  return {fill: out, labels: labels, rank: rank, measure: g.map.gcMeasure};
})()"""


def test_before_after_switch_recolours_units_labels_and_ranking(open_map, plan: Plan) -> None:
    page = open_map(map_html(coverage_map(plan, date="2024-06-30")))
    rates = coverage_by(plan, "unit").set_index("unit")
    names = list(rates.index)
    cases = [("党组织覆盖率·规划后", "org_rate_after", "org_covered_after", 0.9),
             ("党组织覆盖率·规划前", "org_rate_before", "org_covered_before", 0.9),
             ("工作覆盖率·规划前", "work_rate_before", "work_covered_before", 1.0),
             ("工作覆盖率·规划后", "work_rate_after", "work_covered_after", 1.0)]
    seen = set()
    for k, (label, col, covered, target) in enumerate(cases):
        if k:  # the map opens on M1 after the plan
            page.page.locator(".gc-measures label", has_text=label).locator("input").click()
        page.page.wait_for_function(f"window.gridcover.map.gcMeasure === {[1, 0, 2, 3][k]}")
        state = page.js(UNIT_STATE)
        expected = {u: COLORS[_class(float(rates.at[u, col]))] for u in names}
        assert state["fill"] == expected, label
        seen.add(tuple(sorted(expected.items())))
        # permanent labels: the unit's name and this measure's rate
        assert sorted(state["labels"]) == sorted(f"{u}{rates.at[u, col]:.1%}" for u in names)
        # ranking by the enterprises still short of the target, largest first (plain pandas)
        short = {u: max(0, math.ceil(target * int(rates.at[u, "enterprises"]) - 1e-9) - int(rates.at[u, covered]))
                 for u in names}
        assert [r[0] for r in state["rank"]][0] == max(names, key=lambda u: (short[u], -rates.at[u, col]))
        assert {r[0]: int(r[2]) for r in state["rank"]} == short
    assert len(seen) > 1  # the switch changes what the planner sees on this plan
    assert page.errors == [] and page.blocked == []


def test_unit_labels_are_visible_at_county_zoom(open_map, plan: Plan) -> None:
    page = open_map(map_html(coverage_map(plan, date="2024-06-30")))
    boxes = page.js("""[...document.querySelectorAll('.gc-unit-label')].map(d => {
        const r = d.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom, d.textContent]; })""")
    assert len(boxes) == 3
    for left, top, right, bottom, _ in boxes:  # drawn, inside the 1280 x 800 viewport, no hover needed
        assert 0 <= left < right <= 1280 and 0 <= top < bottom <= 800
    assert {b[4][:3] for b in boxes} == {"东城镇", "高新园", "西山乡"}


def test_gap_layers_hold_their_counts_per_unit(open_map, plan: Plan) -> None:
    page = open_map(map_html(coverage_map(plan, date="2024-06-30")))
    ent = plan.enterprises
    exploded = ent["gaps"].str.split(";").explode()
    for rule in ("G1", "G2", "G7", "G8", "G9"):
        per_unit = ent.loc[exploded[exploded.eq(rule)].index, "unit"].value_counts().to_dict()
        located = int(ent.loc[exploded[exploded.eq(rule)].index, "lon"].notna().sum())
        label = page.page.locator(".leaflet-control-layers-overlays label", has_text=f"问题 {rule}：")
        assert f"（{sum(per_unit.values())}家）" in label.text_content()
        assert page.js(f"window.gridcover.map.hasLayer(window.gridcover.layers.gap_{rule})") is False
        label.locator("input").click()
        page.page.wait_for_function(f"window.gridcover.map.hasLayer(window.gridcover.layers.gap_{rule})")
        badges = page.js("""[...document.querySelectorAll('.gc-gap-count')].map(b => b.textContent)""")
        assert sorted(badges) == sorted(f"{rule} {n}" for n in per_unit.values())
        rings = page.js(f"window.gridcover.layers.gap_{rule}.getLayers().length") - len(per_unit)
        assert rings == located
        label.locator("input").click()
        page.page.wait_for_function(f"!window.gridcover.map.hasLayer(window.gridcover.layers.gap_{rule})")
    assert exploded.eq("G1").sum() > 0 and exploded.eq("G2").sum() > 0  # the test plan has some
    assert page.errors == []


def test_offline_map_makes_no_request_and_says_it_is_offline(open_map, plan: Plan) -> None:
    page = open_map(map_html(coverage_map(plan, date="2024-06-30")))
    page.page.locator(".gc-offline-note").wait_for()
    assert "离线" in page.page.locator(".gc-offline-note").text_content()
    # pan and zoom: still nothing asks the network
    page.js("void window.gridcover.map.setZoom(window.gridcover.map.getZoom() + 2, {animate: false})")
    assert page.after_frames("document.querySelectorAll('img.leaflet-tile').length") == 0
    assert page.blocked == [] and page.errors == []
    ground = page.js("getComputedStyle(window.gridcover.map.getContainer()).backgroundColor")
    assert ground == "rgb(244, 241, 234)"  # a plain ground, not Leaflet's grey


def _tile_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 220, 200)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def tile_server() -> Iterator[tuple[str, list[str]]]:
    """A tile server on 127.0.0.1 (an intranet's stand-in) that records every path asked for."""
    png, hits = _tile_png(), []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_intranet_tile_server_is_requested(browser, tmp_path: Path, plan: Plan, tile_server) -> None:
    base, hits = tile_server
    page_html = map_html(coverage_map(plan, tile_url=base + "/tiles/{z}/{x}/{y}.png",
                                      attribution="某县政务外网地图", date="2024-06-30"))
    path = tmp_path / "map.html"
    path.write_text(page_html, encoding="utf-8")
    p = browser.new_page(viewport={"width": 1280, "height": 800})
    outside: list[str] = []

    def route(r) -> None:
        url = r.request.url
        if url.startswith(("file:", base + "/")):
            r.continue_()
        else:
            outside.append(url)
            r.abort()

    p.route("**/*", route)
    try:
        p.goto(path.resolve().as_uri())
        p.wait_for_function("window.gridcover && window.gridcover.ready")
        p.wait_for_function("document.querySelectorAll('img.leaflet-tile-loaded').length > 0")
        assert hits and all(h.startswith("/tiles/") and h.endswith(".png") for h in hits)
        assert outside == []
        assert "某县政务外网地图" in p.locator(".leaflet-control-attribution").text_content()
        assert p.locator(".gc-offline-note").count() == 0
    finally:
        p.close()


def test_legend_lists_only_what_the_map_holds(open_map, plan: Plan) -> None:
    bare = plan.replace(service_centres=plan.service_centres.iloc[0:0])
    page = open_map(map_html(coverage_map(bare, date="2024-06-30")), name="bare.html")
    legend = page.page.locator(".gc-legend").text_content()
    assert "党群服务中心" not in legend
    statuses = set(plan.branches["status"])
    for status, label in (("new", "新建"), ("kept", "保留"), ("split", "拆分重组")):
        assert (f"联合党支部（{label}）" in legend) == (status in statuses)
    assert "kept" not in statuses  # the plan keeps no branch: no entry for one
    assert "问题 G7" not in legend and "问题 G2" in legend
    full = open_map(map_html(coverage_map(plan, date="2024-06-30")), name="full.html")
    assert "党群服务中心" in full.page.locator(".gc-legend").text_content()
    # the colour classes are separate rows that never overlap (no colour bar ticks to collide)
    rows = full.js("""[...document.querySelectorAll('.gc-legend .gc-class')].map(e => {
        const r = e.getBoundingClientRect(); return [r.top, r.bottom, e.textContent]; })""")
    assert [r[2] for r in rows] == ["< 30%", "30%–60%", "60%–90%", "90%–<100%", "100%"]
    assert all(a[1] <= b[0] for a, b in zip(rows, rows[1:], strict=False))


def test_profile_shows_the_plan_without_scrolling(open_map, plan: Plan) -> None:
    page = open_map(map_html(coverage_map(plan, date="2024-06-30")))
    row = int(pd.Series(plan.enterprises.dropna(subset=["lon"])["branch_id"].ne("")).to_numpy().argmax())
    page.js(f"void GC.openProfile(window.gridcover.map, window.gridcover.layers.enterprises, {row})")
    page.page.locator(".leaflet-popup-content .gc-plan").wait_for()
    box = page.js("""(() => {
        const w = document.querySelector('.leaflet-popup-content-wrapper').getBoundingClientRect();
        const t = document.querySelector('.leaflet-popup-content .gc-plan').nextElementSibling.getBoundingClientRect();
        return [w.top, w.bottom, t.top, t.bottom]; })()""")
    assert box[0] <= box[2] and box[3] <= box[1]  # the whole 规划 table lies in the visible popup
    assert "联合党支部" in page.page.locator(".leaflet-popup-content .gc-plan + table").text_content()
