"""Instructor names are personal data: only the Excel report names them by default."""

from __future__ import annotations

import pandas as pd
import pyogrio
import pytest

import gridcover as gc


@pytest.fixture(scope="module")
def plan(sample_county_plan):
    """``gc.run(gc.sample_inputs())``, shared read-only (conftest.py)."""
    return sample_county_plan


def _names(plan) -> set[str]:
    ledger = set(plan.enterprises["instructor"].astype(str)) - {""}
    assigned = set(plan.instructors["instructor"].astype(str)) - {""}
    assert ledger and assigned, "the sample county has ledger and roster instructors"
    return ledger | assigned


def test_maps_and_gis_files_withhold_names_the_excel_report_keeps_them(plan, tmp_path):
    names = _names(plan)
    page = gc.map_html(gc.coverage_map(plan, basemap="none", date="2026-01-01"))
    assert not [n for n in names if n in page]
    gc.write_geopackage(plan, tmp_path / "p.gpkg")
    layer = pyogrio.read_dataframe(tmp_path / "p.gpkg", layer="enterprises")
    assert not names & set(layer["instructor"].astype(str))
    assert set(layer["instructor"].dropna().astype(str)) <= {"", "有"}
    gc.write_excel(plan, tmp_path / "p.xlsx")
    sheet = pd.read_excel(tmp_path / "p.xlsx", sheet_name="指导员", dtype=str, engine="calamine")
    assert names & set(sheet.stack().astype(str))


def test_names_shown_when_the_planner_asks(plan):
    shown = plan.replace(config=plan.config.replace(publish_instructor_names=True))
    page = gc.map_html(gc.coverage_map(shown, basemap="none", date="2026-01-01"))
    assert any(n in page for n in _names(plan))
