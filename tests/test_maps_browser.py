"""Coverage maps in a real browser: Debian's chromium driven by Playwright, fully offline.

Every network request is blocked (only the ``file://`` page itself loads), so these
tests prove the map is self-contained. A screenshot goes to ``tests/artifacts/``.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the module is skipped below
    expect = None

from gridcover import Plan
from gridcover.maps import coverage_map, map_html

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).parent / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="the playwright Python package is not installed"),
]


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


class Page:
    """A page with the map loaded offline, recording console errors, dialogs and blocked requests."""

    def __init__(self, browser, html: str, path: Path) -> None:
        path.write_text(html, encoding="utf-8")
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.blocked: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 800})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("dialog", self._dialog)
        self.page.route("**/*", self._route)
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_function("window.gridcover && window.gridcover.ready "
                                    "&& window.gridcover.layers.enterprises.gcLoaded", timeout=60_000)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def js(self, expr: str):
        return self.page.evaluate(expr)

    def after_frames(self, expr: str):
        """``expr`` evaluated after the browser has run two more animation frames: every
        handler of an event already dispatched has run by then (no fixed wait)."""
        return self.page.evaluate(
            f"new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r({expr}))))")

    def close(self) -> None:
        self.page.close()


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


#: Whether a popup is open on the map (Leaflet keeps a closing popup's element while it fades).
POPUP_OPEN = "!!window.gridcover.map._popup && window.gridcover.map.hasLayer(window.gridcover.map._popup)"

COUNT = """(() => {
  const g = window.gridcover, out = {};
  for (const k in g.layers) {
    const l = g.layers[k];
    out[k] = {on: g.map.hasLayer(l), n: l.getLayers ? l.getLayers().length : null};
  }
  // a canvas path is drawn when it is on the map and has projected, clipped parts in view
  const drawn = (layer) => layer.getLayers().filter(p => p._map === g.map && p._parts && p._parts.length).length;
  out.unitPaths = drawn(g.layers.townships);
  out.parkPaths = drawn(g.layers.parks);
  out.gridPaths = drawn(g.layers.grids.gcPolygons);
  const e = g.layers.enterprises.gc.markers;
  out.drawn = e.filter(m => m._map === g.map).length;
  out.points = e.length;
  return out;
})()"""


def test_offline_map_loads_and_draws_every_layer(open_map, plan: Plan) -> None:
    page = open_map(map_html(coverage_map(plan, basemap="none", date="2024-06-30")))
    assert page.errors == []
    assert page.blocked == []  # nothing even tried the network
    counts = page.js(COUNT)
    assert counts["unitPaths"] == 2 and counts["parkPaths"] == 1  # two townships, one park
    located = int(plan.enterprises["lon"].notna().sum())
    assert counts["points"] == counts["drawn"] == located
    assert counts["townships"] == {"on": True, "n": 2}
    assert counts["branches"]["n"] == len(plan.branches)
    assert counts["gridPaths"] == len(plan.grids)
    assert counts["heat"]["on"] is False  # hidden at first
    assert page.js("document.querySelector('.gc-title').textContent").startswith("全域")
    # 7 layers, one per gap rule (G1, G2, G7, G8, G9) and the unit labels
    assert page.js("document.querySelectorAll('.leaflet-control-layers-overlays input').length") == 13
    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "map_offline.png"))
    assert (ARTIFACTS / "map_offline.png").stat().st_size > 20_000


def test_layer_toggle_hides_and_shows_a_layer(open_map, plan: Plan) -> None:
    page = open_map(map_html(coverage_map(plan, basemap="none", date="2024-06-30")))
    label = page.page.locator(".leaflet-control-layers-overlays label", has_text="乡镇（街道）党组织覆盖率")
    label.locator("input").click()
    counts = page.js(COUNT)
    assert counts["townships"]["on"] is False and counts["unitPaths"] == 0
    assert counts["parkPaths"] == 1  # the other layers stay
    label.locator("input").click()
    assert page.js(COUNT)["unitPaths"] == 2
    heat = page.page.locator(".leaflet-control-layers-overlays label", has_text="企业职工热力图")
    heat.locator("input").click()
    assert page.js("document.querySelectorAll('canvas.gc-heat').length") == 1
    heat.locator("input").click()
    # switching the grids back on must not put them over the enterprises (one shared canvas)
    grids = page.page.locator(".leaflet-control-layers-overlays label", has_text="网格及网格长")
    grids.locator("input").click()
    grids.locator("input").click()
    point = page.js("""(() => { const g = window.gridcover, m = g.layers.enterprises.gc.markers[3];
        g.map.setView(m.getLatLng(), 15, {animate: false});
        const p = g.map.latLngToContainerPoint(m.getLatLng()); return [p.x, p.y]; })()""")
    page.page.mouse.click(point[0], point[1])
    page.page.locator(".leaflet-popup-content .gc-name").wait_for()
    assert page.page.locator(".leaflet-popup-content .gc-name").text_content() == plan.enterprises["name"].iloc[3]
    assert page.errors == []


def test_injected_name_shows_as_text_and_runs_nothing(open_map, plan: Plan) -> None:
    from test_maps import INJECTION

    page = open_map(map_html(coverage_map(plan, basemap="none", date="2024-06-30")))
    box = page.page.locator(".gc-search input")
    box.fill("onerror")
    hit = page.page.locator(".gc-search li[data-row]")
    assert hit.count() == 1
    assert hit.first.text_content().startswith(INJECTION)
    hit.first.click()
    popup = page.page.locator(".leaflet-popup-content .gc-name")
    expect(popup).to_have_text(INJECTION)
    assert page.after_frames(POPUP_OPEN)  # the click that opened it did not close it
    assert page.page.locator(".leaflet-popup-content img").count() == 0
    assert "</script><script>alert(2)</script>" in page.page.locator(".leaflet-popup-content").text_content()
    assert page.after_frames("document.querySelectorAll('.leaflet-popup-content img').length") == 0
    assert page.dialogs == []
    assert page.errors == []


@pytest.mark.parametrize("how", ["click", "enter"])
def test_search_hit_opens_the_profile_and_keeps_it_open(open_map, plan: Plan, how: str) -> None:
    page = open_map(map_html(coverage_map(plan, basemap="none", date="2024-06-30")))
    target = str(plan.enterprises["name"].iloc[7])
    page.js("""(() => { window.gcEvents = []; const m = window.gridcover.map;
        m.on('popupopen', () => gcEvents.push('open')); m.on('popupclose', () => gcEvents.push('close'));
        return 0; })()""")
    box = page.page.locator(".gc-search input")
    box.fill(target)
    hit = page.page.locator(".gc-search li[data-row]").first
    expect(hit).to_be_visible()
    if how == "click":
        hit.click()
    else:
        box.press("Enter")
    popup = page.page.locator(".leaflet-popup-content .gc-name")
    expect(popup).to_have_text(target)
    assert page.after_frames(POPUP_OPEN)
    assert page.js("window.gcEvents") == ["open"]
    assert page.js("document.querySelectorAll('.gc-search li').length") == 0  # the hit list is closed
    assert page.errors == []


def test_click_opens_the_enterprise_profile(open_map, plan: Plan) -> None:
    page = open_map(map_html(coverage_map(plan, basemap="none", date="2024-06-30")))
    ent = plan.enterprises
    row = next(i for i, (u, g) in enumerate(zip(ent.index, ent["gaps"], strict=True)) if g == "G1;G2")
    point = page.js(f"""(() => {{ const g = window.gridcover, m = g.layers.enterprises.gc.markers[{row}];
        g.map.setView(m.getLatLng(), 15, {{animate: false}});
        const p = g.map.latLngToContainerPoint(m.getLatLng()); return [p.x, p.y]; }})()""")
    page.page.mouse.click(point[0], point[1])
    content = page.page.locator(".leaflet-popup-content")
    content.wait_for()
    text = content.text_content()
    assert ent["name"].iloc[row] in text and ent.index[row] in text
    assert "G2" in text and "职工100人以上的都应建立党组织" in text
    assert "拟采取措施" in text and "网格" in text
    assert page.errors == []


def test_measure_and_fullscreen_controls_work(open_map, plan: Plan) -> None:
    page = open_map(map_html(coverage_map(plan, basemap="none", date="2024-06-30")))
    page.page.get_by_role("button", name="测距").click()
    page.page.mouse.click(300, 400)
    page.page.mouse.click(700, 400)
    measured = page.js("GC.measured")
    expected = page.js("""(() => { const m = window.gridcover.map;
        return m.distance(m.containerPointToLatLng([300, 400]), m.containerPointToLatLng([700, 400])); })()""")
    assert measured == pytest.approx(expected, rel=0.02) and measured > 1000
    assert "公里" in page.page.locator(".gc-measure-label").text_content()
    page.page.get_by_role("button", name="结束测距").click()
    full = ("!!document.fullscreenElement || "
            "window.gridcover.map.getContainer().classList.contains('gc-pseudo-full')")
    page.page.get_by_role("button", name="全屏").click()
    page.page.wait_for_function(full)
    expect(page.page.get_by_role("button", name="退出全屏")).to_be_visible()
    page.page.get_by_role("button", name="退出全屏").click()
    page.page.wait_for_function(f"!({full})")
    assert page.errors == []


def test_aggregate_map_clusters_without_errors(open_map, plan: Plan) -> None:
    import gridcover.maps as maps

    plan = plan.replace(config=plan.config.replace(map_detail_max=10))
    page = open_map(map_html(maps.coverage_map(plan, basemap="none", date="2024-06-30")))
    assert page.js("window.gridcover.aggregate") is True
    assert page.js("document.querySelectorAll('.marker-cluster').length") > 0
    assert page.errors == []


def test_osm_tiles_blocked_offline_leave_only_tile_errors(open_map, plan: Plan) -> None:
    page = open_map(map_html(coverage_map(plan, basemap="osm", date="2024-06-30")))
    # every tile image has failed (a broken image is "complete"): its request was routed
    page.page.wait_for_function("(() => { const t = [...document.querySelectorAll('img.leaflet-tile')];"
                                " return t.length > 0 && t.every(i => i.complete); })()")
    assert page.blocked and all("tile.openstreetmap.org" in u for u in page.blocked)
    assert all("Failed to load resource" in e for e in page.errors)
    assert page.js(COUNT)["drawn"] == int(plan.enterprises["lon"].notna().sum())


def test_unit_map_in_browser(open_map, plan: Plan) -> None:
    page = open_map(map_html(coverage_map(plan, unit="高新园", basemap="amap", date="2024-06-30")))
    counts = page.js(COUNT)
    assert counts["parkPaths"] == 1 and counts["unitPaths"] == 0
    assert counts["drawn"] == int((plan.enterprises["unit"].eq("高新园") & plan.enterprises["lon"].notna()).sum())
    assert all("autonavi.com" in u for u in page.blocked)
    assert all("Failed to load resource" in e for e in page.errors)


def test_no_browser_download_is_configured() -> None:
    """The suite drives Debian's chromium; Playwright's own browsers are never fetched."""
    assert shutil.which("chromium") or CHROMIUM.exists()
