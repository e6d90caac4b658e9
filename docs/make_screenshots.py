"""Screenshots of the maps of the bundled county for the README (offline, Debian's chromium).

Usage: ``gridcover demo --out maps && python docs/make_screenshots.py maps``. Writes
``docs/map_overview.png`` and ``docs/map_unit.png``; no network request is let through.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HERE = Path(__file__).parent


def shoot(page, html: Path, png: Path) -> None:
    from PIL import Image

    page.goto(html.resolve().as_uri())
    page.wait_for_function("window.gridcover && window.gridcover.ready && window.gridcover.layers.enterprises.gcLoaded")
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.screenshot(path=str(png), type="png")
    Image.open(png).convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(png, optimize=True)


def main(plan_dir: str) -> None:
    folder = Path(plan_dir)
    unit = sorted((folder / "maps").glob("*.html"))[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 820})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        shoot(page, folder / "map.html", HERE / "map_overview.png")
        shoot(page, unit, HERE / "map_unit.png")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "maps")
