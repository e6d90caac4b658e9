"""Config: defaults equal RULES.md, TOML loading, refusal of unknown keys and wrong types."""

from __future__ import annotations

import pytest

from gridcover import Config, ConfigError, load_config


def test_defaults_equal_rules_md():
    c = Config()
    # E1, S1
    assert c.eligible_min_staff == 6 and c.size_class_bounds == (6, 50, 100)
    # O1–O7, O10
    assert (c.branch_min_members, c.branch_committee_members) == (3, 7)
    assert (c.general_branch_members, c.primary_committee_members) == (50, 100)
    assert (c.joint_max_units, c.joint_min_members, c.joint_max_distance_m) == (5, 3, 3000.0)
    assert (c.grid_min_size, c.grid_max_size) == (5, 15)
    # G1, G2, G9, W1, W3, M4, 15311
    assert (c.gap_member_min_staff, c.gap_org_min_staff, c.service_catchment_m) == (50, 100, 2000.0)
    assert (c.instructor_capacity, c.new_sites_k) == (3, 3)
    assert (c.org_coverage_target, c.work_coverage_target) == (0.9, 1.0)
    assert (c.fund_committee, c.fund_general_branch, c.fund_branch) == (10000, 5000, 3000)
    assert (c.fund_secretary_monthly, c.fund_member_yearly) == (100, 100)
    assert c.uscc_checksum_reject is True and c.org_coverage_counts_attached is True


def test_toml_sections_and_flat_keys(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('seed = 7\n[rules]\njoint_max_distance_m = 2500\n[partition]\ngrid_max_size = 12\n', encoding="utf-8")
    c = load_config(p)
    assert (c.seed, c.joint_max_distance_m, c.grid_max_size) == (7, 2500.0, 12)
    assert isinstance(c.joint_max_distance_m, float)


def test_round_trip_through_to_dict():
    c = Config(grid_max_size=10, basemap="amap")
    assert Config.from_dict(c.to_dict()) == c


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[rules]\njoint_max_unit = 4\n", "joint_max_unit"),
        ("gridsize = 4\n", "gridsize"),
        ("[partition]\njoint_max_units = 4\n", "joint_max_units"),  # right key, wrong section
        ("[rules]\njoint_max_units = 'five'\n", "joint_max_units"),
        ("[rules]\nuscc_checksum_reject = 1\n", "uscc_checksum_reject"),
        ("[maps]\nbasemap = 'google'\n", "basemap"),
        ("[partition]\ngrid_min_size = 20\n", "grid_min_size"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, needle):
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=needle):
        load_config(p)


def test_unreadable_and_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[rules\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_config_is_frozen_and_replace_validates():
    c = Config()
    with pytest.raises(AttributeError):
        c.grid_max_size = 3  # type: ignore[misc]
    assert c.replace(grid_max_size=9).grid_max_size == 9
    with pytest.raises(ConfigError, match="nonsense"):
        c.replace(nonsense=1)
