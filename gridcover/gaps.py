"""The gap list (问题清单): every rule G1–G10 an enterprise breaks, as the ledger stands.

Each gap is one row ``uscc, rule_id, message``; the message is Chinese, quotes the
enterprise's own figures and ends with the rule it breaks, e.g.
``职工120人，未建立党组织（G2：职工100人以上的都应建立党组织）``.

Decisions where RULES.md leaves room (documented here and in the docstrings):

* G1 and G6 count 党员 as formal plus probationary members when
  ``config.large_thresholds_count_probationary`` is on (the default), else formal only.
* G2 treats an attached (挂靠建) enterprise as having a party organisation when
  ``config.org_coverage_counts_attached`` is on (the default): attachment is a form of
  organisational coverage and M1 counts it, so G2 flags exactly the enterprises M1
  counts as without an organisation. With the switch off (the published definition),
  attached ones are flagged too.
* G5 counts, per ``org_name``, the enterprises of the ledger whose ``org_type`` is
  joint; a joint enterprise without an ``org_name`` cannot be grouped and is not flagged.
* G6 flags own organisations above 50 members (general branch due) or at 100 members
  and more (committee due) unless the organisation's name already shows the level:
  ``…党委`` / ``…委员会`` without ``支部`` is a committee, ``…总支…`` a general branch.
* G9 is computed only when service centres are given; unlocated enterprises are skipped.
"""

from __future__ import annotations

import logging
from typing import Final

import numpy as np
import pandas as pd

from .config import Config
from .schema import ORG_TYPE_LABELS

__all__ = ["GAP_COLUMNS", "RULE_IDS", "RULE_TEXT", "find_gaps", "gap_column", "rule_text"]

logger = logging.getLogger(__name__)

#: Columns of the gap list (``gaps.csv``).
GAP_COLUMNS: Final = ("uscc", "rule_id", "message")

#: Gap rule ids in report order.
RULE_IDS: Final = ("G1", "G2", "G3", "G4", "G5", "G6", "G7", "G8", "G9", "G10")

# Templates of the rule texts; the numbers come from the Config.
_RULE_TEMPLATES: Final = {
    "G1": "职工{gap_member_min_staff}人以上的非公企业都有党员",
    "G2": "职工{gap_org_min_staff}人以上的都应建立党组织",
    "G3": "尚未建立党组织的都实现党的工作覆盖",
    "G4": "正式党员少于{branch_min_members}人的空壳党支部，及时替换、撤销",
    "G5": "联合党支部覆盖单位一般不超过{joint_max_units}个，划小组建单元",
    "G6": "党员超过{general_branch_members}人的应组建党总支，{primary_committee_members}人以上的应组建基层党委",
    "G7": "有{branch_min_members}名以上正式党员的应单独建立党组织",
    "G8": "规上企业应单独建立党组织",
    "G9": "距党群服务中心不超过{service_catchment_km:g}公里",
    "G10": "一名党建工作指导员联系企业一般不超过{instructor_capacity}家",
}


def rule_text(rule_id: str, config: Config | None = None) -> str:
    """The Chinese text of a gap rule with the thresholds of ``config``.

    Parameters
    ----------
    rule_id
        ``G1`` … ``G9``.
    config
        Thresholds; defaults per RULES.md.

    Returns
    -------
    str
        E.g. ``职工100人以上的都应建立党组织`` for G2.

    Examples
    --------
    >>> rule_text("G2")
    '职工100人以上的都应建立党组织'
    >>> from gridcover import Config
    >>> rule_text("G4", Config(branch_min_members=4))
    '正式党员少于4人的空壳党支部，及时替换、撤销'
    """
    if rule_id not in _RULE_TEMPLATES:
        msg = f"unknown gap rule {rule_id!r}; valid: {', '.join(RULE_IDS)}"
        raise ValueError(msg)
    config = config or Config()
    values = {f: getattr(config, f) for f in (
        "gap_member_min_staff", "gap_org_min_staff", "branch_min_members", "joint_max_units",
        "general_branch_members", "primary_committee_members", "instructor_capacity")}
    values["service_catchment_km"] = config.service_catchment_m / 1000.0
    return _RULE_TEMPLATES[rule_id].format(**values)


#: Chinese text of every gap rule at the RULES.md defaults (legends of maps and reports).
RULE_TEXT: Final[dict[str, str]] = {rid: rule_text(rid) for rid in RULE_IDS}


# --- column access with the schema's defaults ----------------------------------------------
def _text(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df:
        return pd.Series("", index=df.index, dtype="str")
    return df[name].fillna("").astype(str).str.strip()


def _count(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df:
        return pd.Series(0, index=df.index, dtype="int64")
    return pd.to_numeric(df[name], errors="coerce").fillna(0).astype("int64")


def _flag(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df:
        return pd.Series(False, index=df.index, dtype="bool")
    return df[name].fillna(False).astype(bool)


def party_members(enterprises: pd.DataFrame, config: Config | None = None) -> pd.Series:
    """党员 for the 50/100 thresholds (O3, O4, G1, G6): formal plus probationary members
    when ``config.large_thresholds_count_probationary``, else formal only."""
    config = config or Config()
    formal = _count(enterprises, "members")
    if config.large_thresholds_count_probationary:
        return formal + _count(enterprises, "probationary")
    return formal


def org_levels(enterprises: pd.DataFrame) -> pd.Series:
    """The level of each enterprise's organisation as the ledger shows it: the ``org_level``
    column (党组织类别: 党委 / 党总支 / 党支部) where filled, else what ``org_name`` shows;
    ``committee``, ``general_branch``, ``branch`` or ``""``."""
    from_name = _text(enterprises, "org_name").map(org_level)
    from_column = _text(enterprises, "org_level").map(org_level)
    return from_column.where(from_column.ne(""), from_name).astype(str)


def org_level(org_name: str) -> str:
    """The level an organisation's name shows: ``committee``, ``general_branch``,
    ``branch`` or ``""`` (name gives no level).

    Examples
    --------
    >>> org_level("中共某某科技有限公司委员会"), org_level("某某公司党委")
    ('committee', 'committee')
    >>> org_level("中共某某公司总支部委员会"), org_level("某某公司党支部"), org_level("")
    ('general_branch', 'branch', '')
    """
    name = org_name.strip()
    if name in ("支部", "党支部", "联合党支部", "支部委员会"):
        return "branch"
    if "总支" in name:
        return "general_branch"
    if "党委" in name or (name.endswith("委员会") and "支部" not in name):
        return "committee"
    if "支部" in name:
        return "branch"
    return ""


def _ordered(enterprises: pd.DataFrame, gaps: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [g for g in gaps if len(g)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in GAP_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    position = pd.Series(np.arange(len(enterprises)), index=enterprises.index)
    out["_pos"] = out["uscc"].map(position).to_numpy()
    out["_rule"] = out["rule_id"].str[1:].astype(int)
    out = out.sort_values(["_pos", "_rule"], kind="stable").drop(columns=["_pos", "_rule"])
    return out.reset_index(drop=True).astype({c: "str" for c in GAP_COLUMNS})


def _rows(mask: pd.Series, rule_id: str, messages: pd.Series) -> pd.DataFrame:
    hit = mask.to_numpy(dtype=bool)
    return pd.DataFrame({
        "uscc": mask.index[hit].astype(str),
        "rule_id": rule_id,
        "message": messages[hit].to_numpy(dtype=object),
    })


def _g9_distances(enterprises: pd.DataFrame, service_centres: pd.DataFrame) -> pd.Series:
    """Metres from each located enterprise to its nearest centre (NaN when unlocated)."""
    import geopandas as gpd
    from scipy.spatial import cKDTree

    lon = pd.to_numeric(enterprises["lon"], errors="coerce") if "lon" in enterprises else None
    lat = pd.to_numeric(enterprises["lat"], errors="coerce") if "lat" in enterprises else None
    out = pd.Series(np.nan, index=enterprises.index, dtype="float64")
    if lon is None or lat is None:
        return out
    located = lon.notna() & lat.notna()
    if "precision" in enterprises:
        located &= enterprises["precision"].astype(str).ne("unlocated")
    centres = service_centres
    if not isinstance(centres, gpd.GeoDataFrame):
        centres = gpd.GeoDataFrame(centres, geometry=gpd.points_from_xy(centres["lon"], centres["lat"]),
                                   crs="EPSG:4326")
    centres = centres[centres.geometry.notna() & ~centres.geometry.is_empty]
    if not located.any() or centres.empty:
        return out
    points = gpd.GeoSeries(gpd.points_from_xy(lon[located], lat[located]), crs="EPSG:4326")
    if centres.crs is None:
        centres = centres.set_crs("EPSG:4326")
    both = pd.concat([points, centres.geometry.to_crs("EPSG:4326")], ignore_index=True)
    utm = gpd.GeoSeries(both, crs="EPSG:4326").estimate_utm_crs()
    p = points.to_crs(utm)
    c = centres.geometry.to_crs(utm).centroid
    tree = cKDTree(np.column_stack([c.x.to_numpy(), c.y.to_numpy()]))
    dist, _ = tree.query(np.column_stack([p.x.to_numpy(), p.y.to_numpy()]))
    out.loc[located[located].index] = dist
    return out


def find_gaps(enterprises: pd.DataFrame, config: Config | None = None, *,
              service_centres: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every gap G1–G9 of every enterprise as the ledger stands (问题清单).

    Parameters
    ----------
    enterprises
        The enterprise table (indexed by ``uscc``, columns per :mod:`gridcover.schema`).
        Columns a gap needs and the table lacks count as empty/zero/false. Not modified.
    config
        Thresholds; defaults per RULES.md.
    service_centres
        Party-mass service centres (党群服务中心), a GeoDataFrame of points (or a table
        with ``lon``/``lat``). G9 is checked only when given; distances are metres in
        an estimated UTM CRS; unlocated enterprises are skipped.

    Returns
    -------
    pandas.DataFrame
        ``uscc, rule_id, message``: one row per gap, in ledger order, rules in id order
        within an enterprise.

    Notes
    -----
    G1 staff ≥ 50 and no 党员; G2 staff ≥ 100 and no organisation (attached counts as
    one while ``org_coverage_counts_attached``); G3 no organisation and no instructor;
    G4 own organisation with < 3 formal members (空壳); G5 joint organisation of more
    than 5 units; G6 own organisation above 50 members not a general branch, or of 100
    and more not a committee (level read from ``org_name`` when it shows one);
    G7 ≥ 3 formal members and no own organisation; G8 above-scale without an own
    organisation; G9 farther than the catchment from every service centre; G10 a ledger
    instructor named for more enterprises than W1's capacity.

    Examples
    --------
    >>> import pandas as pd
    >>> from gridcover.gaps import find_gaps
    >>> ent = pd.DataFrame({"staff": [120, 8], "members": [0, 4], "probationary": [0, 0],
    ...                     "org_type": ["none", "own"], "above_scale": [False, False],
    ...                     "instructor": ["", ""], "org_name": ["", "某某党支部"]},
    ...                    index=pd.Index(["A", "B"], name="uscc"))
    >>> find_gaps(ent)[["uscc", "rule_id"]].values.tolist()
    [['A', 'G1'], ['A', 'G2'], ['A', 'G3']]
    >>> find_gaps(ent)["message"].iloc[1]
    '职工120人，未建立党组织（G2：职工100人以上的都应建立党组织）'
    """
    config = config or Config()
    ent = enterprises
    staff = _count(ent, "staff")
    formal = _count(ent, "members")
    big = party_members(ent, config)
    org = _text(ent, "org_type").replace("", "none")
    org_name = _text(ent, "org_name")
    instructor = _text(ent, "instructor")
    above = _flag(ent, "above_scale")
    label = org.map(ORG_TYPE_LABELS).fillna(org)
    rt = {rid: rule_text(rid, config) for rid in RULE_IDS}
    member_word = "党员" if config.large_thresholds_count_probationary else "正式党员"
    found: list[pd.DataFrame] = []

    # G1: staff ≥ 50 and no party member (formal + probationary per the config switch).
    g1 = (staff >= config.gap_member_min_staff) & (big == 0)
    found.append(_rows(g1, "G1", "职工" + staff.astype(str) + "人，无" + member_word + "（G1：" + rt["G1"] + "）"))

    # G2: staff ≥ 100 and no party organisation; attached counts as one under M1's switch.
    no_org = org.eq("none")
    if not config.org_coverage_counts_attached:
        no_org |= org.eq("attached")
    g2 = (staff >= config.gap_org_min_staff) & no_org
    g2_what = np.where(org.eq("attached"), "仅挂靠建，未建立党组织", "未建立党组织")
    found.append(_rows(g2, "G2", "职工" + staff.astype(str) + "人，" + g2_what + "（G2：" + rt["G2"] + "）"))

    # G3: no organisation and no instructor: no work coverage.
    g3 = org.eq("none") & instructor.eq("")
    found.append(_rows(g3, "G3", pd.Series("未建立党组织，也未选派党建工作指导员（G3：" + rt["G3"] + "）",
                                           index=ent.index)))

    # G4: empty-shell own branch (< 3 formal members).
    g4 = org.eq("own") & (formal < config.branch_min_members)
    found.append(_rows(g4, "G4", "单独建党组织，正式党员仅" + formal.astype(str) + "人（G4：" + rt["G4"] + "）"))

    # G5: a joint organisation covering more than 5 units, every enterprise of it.
    joint = org.eq("joint") & org_name.ne("")
    units = org_name[joint].value_counts()
    n_units = org_name.map(units).where(joint, 0).fillna(0).astype("int64")
    g5 = joint & (n_units > config.joint_max_units)
    found.append(_rows(g5, "G5", "所在联合党组织“" + org_name + "”覆盖" + n_units.astype(str)
                       + "家单位（G5：" + rt["G5"] + "）"))

    # G6: own organisation above 50 members not upgraded to a general branch, at 100 not a committee.
    level = org_levels(ent)
    due_committee = org.eq("own") & (big >= config.primary_committee_members) & level.ne("committee")
    due_general = (org.eq("own") & (big > config.general_branch_members)
                   & (big < config.primary_committee_members) & ~level.isin(["committee", "general_branch"]))
    g6 = due_committee | due_general
    g6_what = np.where(due_committee, "应组建基层党委", "应组建党总支")
    found.append(_rows(g6, "G6", member_word + big.astype(str) + "人，" + g6_what + "（G6：" + rt["G6"] + "）"))

    # G7: ≥ 3 formal members but no own organisation (应建未建).
    g7 = (formal >= config.branch_min_members) & org.ne("own")
    found.append(_rows(g7, "G7", "正式党员" + formal.astype(str) + "人，未单独建立党组织（现为" + label
                       + "）（G7：" + rt["G7"] + "）"))

    # G8: above-scale enterprise without its own organisation.
    g8 = above & org.ne("own")
    found.append(_rows(g8, "G8", "规上企业，未单独建立党组织（现为" + label + "）（G8：" + rt["G8"] + "）"))

    # G9: farther than the catchment from every party-mass service centre.
    if service_centres is not None:
        dist = _g9_distances(ent, service_centres)
        g9 = dist.gt(config.service_catchment_m)
        found.append(_rows(g9, "G9", "距最近的党群服务中心" + dist.round().fillna(0).astype("int64").astype(str)
                           + "米（G9：" + rt["G9"] + "）"))

    # G10: a ledger instructor covers more enterprises than W1's capacity (超负荷).
    load = instructor.map(instructor[instructor.ne("")].value_counts()).fillna(0).astype("int64")
    g10 = instructor.ne("") & (load > config.instructor_capacity)
    # the message names no one: gap messages reach the maps, instructor names stay in the Excel report
    found.append(_rows(g10, "G10", "本企业的党建工作指导员在台账中联系" + load.astype(str)
                       + "家企业（G10：" + rt["G10"] + "）"))

    out = _ordered(ent, found)
    logger.info("gaps: %d rows over %d enterprises", len(out), out["uscc"].nunique())
    return out


def gap_column(enterprises: pd.DataFrame, gaps: pd.DataFrame) -> pd.Series:
    """The ``gaps`` column of the enterprise table: ``;``-joined sorted rule ids.

    Parameters
    ----------
    enterprises
        The enterprise table (indexed by ``uscc``).
    gaps
        The gap list from :func:`find_gaps`.

    Returns
    -------
    pandas.Series
        Indexed like ``enterprises``, named ``gaps``, ``""`` when an enterprise has none.

    Examples
    --------
    >>> import pandas as pd
    >>> ent = pd.DataFrame(index=pd.Index(["A", "B"], name="uscc"))
    >>> gaps = pd.DataFrame({"uscc": ["A", "A"], "rule_id": ["G8", "G2"], "message": ["", ""]})
    >>> gap_column(ent, gaps).tolist()
    ['G2;G8', '']
    """
    out = pd.Series("", index=enterprises.index, dtype="str", name="gaps")
    if gaps is None or len(gaps) == 0:
        return out
    ids = gaps[["uscc", "rule_id"]].astype(str).drop_duplicates()
    ids = ids.assign(_n=ids["rule_id"].str[1:].astype(int)).sort_values(["uscc", "_n"], kind="stable")
    joined = ids.groupby("uscc", sort=True)["rule_id"].agg(";".join)
    return out.index.to_series().astype(str).map(joined).fillna("").astype("str").rename("gaps").set_axis(
        enterprises.index)
