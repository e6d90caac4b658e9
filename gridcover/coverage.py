"""Coverage, measured once: M1, M2, M3, M5, the scopes and the 15311 funding estimate.

This module is the one definition of what the figures a planner reports upward mean.
:func:`measure` computes them once, after partition and instructor assignment, into a
frozen :class:`Coverage` record that the Plan carries (``plan.coverage``); the report,
the maps, the output files, the CLI and ``diff`` read that record and never recompute.

Per enterprise (``Coverage.enterprises``), with "after" counting only what exists after
the plan (RULES.md, coverage section):

* **Organisationally covered before** (M1): ``org_type`` own or joint, plus attached when
  ``config.org_coverage_counts_attached`` (default on).
* **Organisationally covered after**: in a joint branch of the plan (``branch_id`` not
  empty: new, kept or split), or ``action`` builds an own organisation (build_branch /
  build_general_branch / build_committee), or ``action`` ``keep`` of an existing own or
  joint organisation, or attached after the plan (an existing attachment kept, or
  ``action`` attach; only when the switch is on). An enterprise whose organisation the
  plan splits or revokes and that gets no new one (``action`` attach, instructor or
  not_gridded) is *not* covered by that organisation any more.
* **Work covered** (M2): organisationally covered (attachment always counts here), or a
  **named** instructor: the ledger's ``instructor`` (before and after) or, after, an
  instructor named by the roster assignment (``plan.instructors``). A planned
  instructor post with nobody named is a shortfall (``instructor_short``), never
  coverage (seed 001: "绝不能搞数据造假").
* **Backstop** (M5, 兜底): not work-covered after the plan and left, below E1 or
  unlocated (``action`` not_gridded), to the township/village organisation's backstop
  duty. Reported beside M2, never counted in it.
* ``needs_instructor``: the plan's work coverage of the enterprise rests on an
  instructor still to be named (``action`` instructor, none in the ledger);
  ``instructor_short``: of those, the ones the roster left without a name. After the
  plan every enterprise is exactly one of work-covered, short or backstop.
* **Own organisation** (M3): ``org_type`` own before; after, an own organisation kept
  (``action`` keep) or built — a revoked shell is not one.

Scopes (RULES.md): ``all`` (every accepted enterprise), ``eligible`` (E1: fixed premises
and ``staff >= eligible_min_staff``, whether located or not) and ``survey`` (``staff >=
survey_min_staff``, the national survey's 三有 scope).

Unit rows: one per park and one per township counting its enterprises *outside* parks,
so park and township rows partition the total of their scope. An unlocated enterprise
counts in the total and in the township it declares (``township``, else
``township_declared``); with none, in a township row named ``（未定位）``.

Funding (“15311”, per year): committee ``fund_committee``, general branch
``fund_general_branch``, branch (joint included) ``fund_branch``, a secretary per
organisation ``fund_secretary_monthly`` × 12, each formal member of an own or joint
organisation ``fund_member_yearly``. Before: each own organisation at the level its
size calls for (O3/O4), each distinct joint organisation (by ``org_name``) as one
branch. After: kept own organisations at their size's level, one organisation per
build action, one branch per row of ``plan.branches``, and kept joint organisations
outside any planned branch. Dissolved organisations (split joint organisations, revoked
shells) are not funded after the plan. An organisation spanning units counts in the unit
holding most of its enterprises (ties: the first unit in name order).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import pandas as pd

from .classify import size_class_labels
from .config import Config
from .gaps import _count, _flag, _text, org_levels, party_members

if TYPE_CHECKING:
    from .plan import Plan

__all__ = [
    "COVERAGE_COLUMNS",
    "FUNDING_COLUMNS",
    "SCOPES",
    "STATUSES",
    "TOTAL_LABEL",
    "UNLOCATED_LABEL",
    "Coverage",
    "coverage_by",
    "coverage_flags",
    "coverage_table",
    "enterprise_status",
    "funding",
    "measure",
    "measured",
    "targets",
]

logger = logging.getLogger(__name__)

#: Columns of ``coverage.csv`` (DESIGN.md), in order.
COVERAGE_COLUMNS: Final = ("scope", "unit_type", "unit", "enterprises", "org_rate_before",
                           "org_rate_after", "work_rate_before", "work_rate_after",
                           "backstop_rate_after", "instructors_needed", "instructors_short")
#: Unit name of the row of unlocated enterprises that declare no township.
UNLOCATED_LABEL: Final = "（未定位）"
#: Unit name of the whole-area row (``unit_type`` total).
TOTAL_LABEL: Final = "合计"
#: Group label of enterprises without an industry section.
NO_INDUSTRY_LABEL: Final = "（未填）"

Scope = Literal["all", "eligible", "survey"]
#: Reporting scopes, in ``coverage.csv`` order.
SCOPES: Final = ("all", "eligible", "survey")
SCOPE_LABELS: Final = {"all": "全部企业", "eligible": "网格范围（E1）", "survey": "调查口径（三有）"}

BUILD_ACTIONS: Final = ("build_branch", "build_general_branch", "build_committee")
#: The action that leaves an enterprise's existing organisation as it is.
KEEP_ACTIONS: Final = ("keep",)

#: Coverage status of an enterprise after the plan (the map's colours), in precedence order.
STATUSES: Final = ("own", "joint", "attached", "instructor", "not_gridded", "uncovered")

By = Literal["unit", "park", "township", "industry", "size_class", "total"]
BY_CHOICES: Final = ("unit", "park", "township", "industry", "size_class", "total")

_FLAG_COLUMNS: Final = ("org_before", "org_after", "work_before", "work_after", "backstop_after",
                        "needs_instructor", "instructor_short", "own_before", "own_after",
                        "above_scale", "in_eligible", "in_survey")
_SUMS: Final = ("enterprises", "org_before", "org_after", "work_before", "work_after",
                "backstop_after", "needs_instructor", "instructor_short", "above_scale",
                "above_own_before", "above_own_after")


# --- per enterprise ---------------------------------------------------------------------------
def _named_assignments(index: pd.Index, instructors: pd.DataFrame | None) -> pd.Series:
    """Whether the roster assignment names an instructor for each enterprise."""
    out = pd.Series(False, index=index)
    if instructors is None or not len(instructors) or "uscc" not in instructors:
        return out
    named = instructors
    if "instructor" in named:
        named = named[named["instructor"].fillna("").astype(str).str.strip().ne("")]
    return pd.Series(index.astype(str).isin(set(named["uscc"].astype(str))), index=index)


def enterprise_flags(enterprises: pd.DataFrame, config: Config | None = None, *,
                     instructors: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per enterprise: covered before/after (M1, M2), backstop (M5), own (M3), scopes, status.

    Parameters
    ----------
    enterprises
        The enterprise table (indexed by ``uscc``). Without ``action``/``branch_id``
        columns (not planned yet), after = before.
    config
        Rules (``org_coverage_counts_attached``, E1 and survey thresholds).
    instructors
        The roster assignment (``uscc, instructor``), as ``plan.instructors``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``enterprises``: bool columns ``org_before, org_after, work_before,
        work_after, backstop_after, needs_instructor, instructor_short, own_before,
        own_after, above_scale, in_eligible, in_survey`` and ``status`` (:data:`STATUSES`).

    Examples
    --------
    >>> import pandas as pd
    >>> ent = pd.DataFrame({"org_type": ["own", "none", "none", "joint"],
    ...                     "instructor": ["", "王某", "", ""],
    ...                     "action": ["keep", "keep", "instructor", "not_gridded"],
    ...                     "branch_id": ["", "", "", ""]},
    ...                    index=pd.Index(list("ABCD"), name="uscc"))
    >>> f = enterprise_flags(ent)
    >>> f[["org_after", "work_after", "instructor_short", "backstop_after"]].values.tolist()
    [[True, True, False, False], [False, True, False, False], [False, False, True, False], [False, False, False, True]]
    >>> f["status"].tolist()
    ['own', 'instructor', 'uncovered', 'not_gridded']
    """
    config = config or Config()
    ent = enterprises
    planned = "action" in ent
    org = _text(ent, "org_type").replace("", "none")
    ledger_instructor = _text(ent, "instructor").ne("")
    counts_attached = config.org_coverage_counts_attached

    own_joint = org.isin(["own", "joint"])
    attached_before = org.eq("attached")
    org_before = own_joint | (attached_before & counts_attached)  # M1 before
    work_before = own_joint | attached_before | ledger_instructor  # M2 before

    if planned:
        action = _text(ent, "action").replace("", "keep")
        branch = _text(ent, "branch_id")
    else:
        action = pd.Series("keep", index=ent.index, dtype="str")
        branch = pd.Series("", index=ent.index, dtype="str")
    kept = action.isin(KEEP_ACTIONS)
    built = action.isin(BUILD_ACTIONS)
    in_branch = branch.ne("")
    own_after = built | (kept & org.eq("own"))  # M3: own organisations that exist after
    joint_after = in_branch | (kept & org.eq("joint"))
    attached_after = (kept & attached_before) | action.eq("attach")
    org_core_after = own_after | joint_after
    org_after = org_core_after | (attached_after & counts_attached)  # M1 after
    assigned = _named_assignments(ent.index, instructors)
    named = ledger_instructor | assigned
    work_after = org_core_after | attached_after | named  # M2 after: named resources only
    needs = action.eq("instructor") & ~ledger_instructor
    short = needs & ~work_after
    backstop = action.eq("not_gridded") & ~work_after  # M5, beside M2, never in it

    staff = _count(ent, "staff")
    fixed = (ent["fixed_premises"].astype(object).where(ent["fixed_premises"].notna(), True).astype(bool)
             if "fixed_premises" in ent else pd.Series(True, index=ent.index))
    status = np.select(
        [own_after.to_numpy(), joint_after.to_numpy(), attached_after.to_numpy(),
         (named & work_after).to_numpy(), backstop.to_numpy()],
        ["own", "joint", "attached", "instructor", "not_gridded"], default="uncovered")
    out = pd.DataFrame({
        "org_before": org_before, "org_after": org_after,
        "work_before": work_before, "work_after": work_after,
        "backstop_after": backstop, "needs_instructor": needs, "instructor_short": short,
        "own_before": org.eq("own"), "own_after": own_after,
        "above_scale": _flag(ent, "above_scale"),
        "in_eligible": fixed & (staff >= config.eligible_min_staff),
        "in_survey": staff >= config.survey_min_staff,
    }, index=ent.index).astype(bool)
    out["status"] = pd.Series(status, index=ent.index, dtype="str")
    return out


# --- grouping keys ------------------------------------------------------------------------------
def unit_keys(enterprises: pd.DataFrame) -> pd.DataFrame:
    """``unit_type, unit`` of each enterprise for the unit rows (parks, townships outside parks)."""
    ent = enterprises
    unit = _text(ent, "unit")
    park = _text(ent, "park")
    unit_type = _text(ent, "unit_type")
    unit_type = unit_type.where(unit_type.ne(""), np.where(park.ne(""), "park", "township"))
    declared = _text(ent, "township").where(_text(ent, "township").ne(""), _text(ent, "township_declared"))
    unlocated = unit.eq("")
    fallback = declared.where(declared.ne(""), UNLOCATED_LABEL)
    return pd.DataFrame({
        "unit_type": unit_type.where(~unlocated, "township"),
        "unit": unit.where(~unlocated, fallback),
    }, index=ent.index)


_unit_keys = unit_keys  # the name other modules used


def _township_keys(ent: pd.DataFrame) -> pd.Series:
    township = _text(ent, "township")
    township = township.where(township.ne(""), _text(ent, "township_declared"))
    return township.where(township.ne(""), UNLOCATED_LABEL).rename("township")


def _size_classes(ent: pd.DataFrame, config: Config) -> pd.Series:
    if "size_class" in ent:
        return _text(ent, "size_class").rename("size_class")
    labels = np.array(size_class_labels(config), dtype=object)
    staff = _count(ent, "staff").to_numpy()
    idx = np.searchsorted(np.asarray(config.size_class_bounds), staff, side="right")
    return pd.Series(labels[idx], index=ent.index, dtype="str", name="size_class")


def _keys(ent: pd.DataFrame, by: str, config: Config,
          units: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.Series, list[tuple[str, ...]]]:
    """Group keys, the rows that belong to the grouping, and the names of empty groups to show."""
    units = units if units is not None else pd.DataFrame()
    rows = pd.Series(True, index=ent.index)
    empty: list[tuple[str, ...]] = []
    if by == "unit":
        keys = unit_keys(ent)
        if {"unit", "unit_type"} <= set(units.columns):
            empty = list(units[["unit_type", "unit"]].astype(str).itertuples(index=False, name=None))
    elif by == "total":
        keys = pd.DataFrame({"unit_type": "total", "unit": TOTAL_LABEL}, index=ent.index)
        empty = [("total", TOTAL_LABEL)]
    elif by == "park":
        park = _text(ent, "park")
        rows = park.ne("")
        keys = park.to_frame("park")
        if {"unit", "unit_type"} <= set(units.columns):
            empty = [(u,) for u in units.loc[units["unit_type"].astype(str).eq("park"), "unit"].astype(str)]
    elif by == "township":
        keys = _township_keys(ent).to_frame()
        if "township" in units.columns:
            empty = [(t,) for t in units["township"].astype(str) if t]
    elif by == "industry":
        ind = _text(ent, "industry")
        keys = ind.where(ind.ne(""), NO_INDUSTRY_LABEL).to_frame("industry")
    else:
        keys = _size_classes(ent, config).to_frame()
    return keys, rows, empty


def _table(flags: pd.DataFrame, keys: pd.DataFrame, empty: list[tuple[str, ...]], by: str,
           config: Config) -> pd.DataFrame:
    key_cols = list(keys.columns)
    df = pd.concat([keys, flags[list(_FLAG_COLUMNS)].astype("int64")], axis=1)
    df["above_own_before"] = df["own_before"] * df["above_scale"]
    df["above_own_after"] = df["own_after"] * df["above_scale"]
    df["enterprises"] = 1
    sums = df.groupby(key_cols, sort=False, dropna=False)[list(_SUMS)].sum().reset_index()
    have = set(map(tuple, sums[key_cols].astype(str).itertuples(index=False, name=None)))
    missing = [k for k in dict.fromkeys(empty) if k not in have]
    if missing:
        extra = pd.DataFrame(missing, columns=key_cols)
        for c in _SUMS:
            extra[c] = 0
        sums = pd.concat([sums, extra], ignore_index=True) if len(sums) else extra
    n = sums["enterprises"].astype("float64").replace(0, np.nan)
    a = sums["above_scale"].astype("float64").replace(0, np.nan)
    out = sums[key_cols].copy()
    out["enterprises"] = sums["enterprises"].astype("int64")
    for m in ("org", "work"):
        for phase in ("before", "after"):
            out[f"{m}_covered_{phase}"] = sums[f"{m}_{phase}"].astype("int64")
            out[f"{m}_rate_{phase}"] = sums[f"{m}_{phase}"] / n
    out["backstop_after"] = sums["backstop_after"].astype("int64")
    out["backstop_rate_after"] = sums["backstop_after"] / n
    out["instructors_needed"] = sums["needs_instructor"].astype("int64")
    out["instructors_short"] = sums["instructor_short"].astype("int64")
    out["above_scale"] = sums["above_scale"].astype("int64")
    for phase in ("before", "after"):
        out[f"above_scale_own_{phase}"] = sums[f"above_own_{phase}"].astype("int64")
        out[f"m3_rate_{phase}"] = sums[f"above_own_{phase}"] / a
    return _sort_keys(out, by, config).reset_index(drop=True)


def _sort_keys(table: pd.DataFrame, by: str, config: Config) -> pd.DataFrame:
    if by == "unit":
        order = table["unit_type"].map({"park": 0, "township": 1}).fillna(2)
        last = table["unit"].eq(UNLOCATED_LABEL).astype(int)
        return (table.assign(_o=order, _l=last).sort_values(["_o", "_l", "unit"], kind="stable")
                .drop(columns=["_o", "_l"]))
    if by == "size_class":
        rank = {lab: i for i, lab in enumerate(size_class_labels(config))}
        return (table.assign(_o=table["size_class"].map(rank).fillna(len(rank)))
                .sort_values(["_o", "size_class"], kind="stable").drop(columns="_o"))
    if by == "total":
        return table
    col = by
    last = table[col].isin([UNLOCATED_LABEL, NO_INDUSTRY_LABEL]).astype(int)
    return table.assign(_l=last).sort_values(["_l", col], kind="stable").drop(columns="_l")


# --- funding (15311) -------------------------------------------------------------------------
_KINDS: Final = ("committees", "general_branches", "branches", "joint_branches")
_PHASE_COLUMNS: Final = (*_KINDS, "secretaries", "formal_members", "amount_organisations",
                         "amount_secretaries", "amount_members", "amount_total")
#: Columns of the funding table, in order.
FUNDING_COLUMNS: Final = ("unit_type", "unit",
                          *(f"{c}_before" for c in _PHASE_COLUMNS),
                          *(f"{c}_after" for c in _PHASE_COLUMNS),
                          "amount_change")
UNNAMED_JOINT: Final = "（未填名称）"
_LEVEL_RANK: Final = {"branches": 0, "general_branches": 1, "committees": 2}
_NAME_LEVEL: Final = {"branch": "branches", "general_branch": "general_branches", "committee": "committees"}


def _own_levels(ent: pd.DataFrame, config: Config) -> pd.Series:
    """O3/O4: the level an own organisation of this size calls for, or the higher level its
    name already shows (an existing 党委 stays a committee)."""
    big = party_members(ent, config)
    due = pd.Series(np.select(
        [big >= config.primary_committee_members, big > config.general_branch_members],
        ["committees", "general_branches"], default="branches"), index=ent.index, dtype="str")
    shown = org_levels(ent).map(_NAME_LEVEL).fillna("branches")
    higher = shown.map(_LEVEL_RANK) > due.map(_LEVEL_RANK)
    return due.where(~higher, shown)


def _joint_orgs(names: pd.Series, keys: pd.DataFrame) -> pd.DataFrame:
    """One row per joint organisation: unit_type, unit (where most of its units are)."""
    if names.empty:
        return pd.DataFrame({"unit_type": pd.Series(dtype="str"), "unit": pd.Series(dtype="str")})
    df = keys.loc[names.index].assign(org=names.to_numpy())
    unnamed = df["org"].eq("")
    df.loc[unnamed, "org"] = UNNAMED_JOINT + df.loc[unnamed, "unit"]
    counts = df.groupby(["org", "unit_type", "unit"], sort=True).size().rename("n").reset_index()
    counts = counts.sort_values(["org", "n", "unit"], ascending=[True, False, True], kind="stable")
    return counts.drop_duplicates("org")[["unit_type", "unit"]]


def _branch_units(branches: pd.DataFrame | None, keys: pd.DataFrame) -> pd.DataFrame:
    """Unit of each planned joint branch: its ``unit`` column, else its first enterprise's unit."""
    if branches is None or branches.empty:
        return pd.DataFrame({"unit_type": pd.Series(dtype="str"), "unit": pd.Series(dtype="str")})
    first = (branches["uscc"].astype(str).str.split(";").str[0] if "uscc" in branches
             else pd.Series("", index=branches.index))
    key_by_uscc = keys.set_axis(keys.index.astype(str))
    unit = first.map(key_by_uscc["unit"])
    unit_type = first.map(key_by_uscc["unit_type"])
    if "unit" in branches:
        given = branches["unit"].fillna("").astype(str)
        unit = given.where(given.ne(""), unit)
        by_name = dict(zip(key_by_uscc["unit"], key_by_uscc["unit_type"], strict=False))
        unit_type = unit.map(by_name).fillna(unit_type)
    return pd.DataFrame({"unit_type": unit_type.fillna("township").astype(str),
                         "unit": unit.fillna(UNLOCATED_LABEL).astype(str)})


def _funding_phase(ent: pd.DataFrame, branches: pd.DataFrame | None, keys: pd.DataFrame,
                   config: Config, phase: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    org = _text(ent, "org_type").replace("", "none")
    org_name = _text(ent, "org_name")
    formal = _count(ent, "members")
    levels = _own_levels(ent, config)
    orgs: list[pd.DataFrame] = []
    if phase == "before" or "action" not in ent:
        own = org.eq("own")
        joint = org.eq("joint")
        orgs.append(keys[own].assign(kind=levels[own]))
        orgs.append(_joint_orgs(org_name[joint], keys).assign(kind="joint_branches"))
        funded = own | joint
    else:
        action = _text(ent, "action").replace("", "keep")
        branch = _text(ent, "branch_id")
        kept = action.isin(KEEP_ACTIONS)
        kept_own = kept & org.eq("own")
        orgs.append(keys[kept_own].assign(kind=levels[kept_own]))
        built = action.isin(BUILD_ACTIONS)
        built_kind = action.map({"build_committee": "committees", "build_general_branch": "general_branches",
                                 "build_branch": "branches"})
        orgs.append(keys[built].assign(kind=built_kind[built]))
        kept_joint = kept & org.eq("joint") & branch.eq("")
        orgs.append(_joint_orgs(org_name[kept_joint], keys).assign(kind="joint_branches"))
        orgs.append(_branch_units(branches, keys).assign(kind="joint_branches"))
        funded = kept_own | built | kept_joint | branch.ne("")
    members = keys[funded].assign(formal_members=formal[funded])
    frames = [o for o in orgs if len(o)]
    org_rows = (pd.concat(frames, ignore_index=True) if frames else
                pd.DataFrame({"unit_type": pd.Series(dtype="str"), "unit": pd.Series(dtype="str"),
                              "kind": pd.Series(dtype="str")}))
    return org_rows, members


def funding_table(enterprises: pd.DataFrame, config: Config | None = None, *,
                  branches: pd.DataFrame | None = None) -> pd.DataFrame:
    """Annual funding under the “15311” policy, per unit and total, before and after.

    Parameters
    ----------
    enterprises
        The enterprise table (without ``action``, after = before).
    config
        Amounts (``fund_*``) and the O3/O4 thresholds.
    branches
        The plan's joint branches (``uscc`` ``;``-joined, ``unit``).

    Returns
    -------
    pandas.DataFrame
        :data:`FUNDING_COLUMNS`: one row per unit (parks, then townships, as in
        ``coverage.csv``) and a total row (``unit_type`` total, unit ``合计``).

    Examples
    --------
    >>> import pandas as pd
    >>> ent = pd.DataFrame({"org_type": ["own", "own", "joint", "joint"], "members": [120, 5, 1, 2],
    ...                     "org_name": ["", "", "联合一", "联合一"], "unit": ["镇甲"] * 4,
    ...                     "unit_type": ["township"] * 4}, index=pd.Index(list("ABCD"), name="uscc"))
    >>> total = funding_table(ent).iloc[-1]
    >>> int(total.committees_before), int(total.branches_before), int(total.joint_branches_before)
    (1, 1, 1)
    >>> int(total.amount_total_before)  # 10000 + 2×3000 + 3×1200 + 128×100
    32400
    """
    config = config or Config()
    ent = enterprises
    keys = unit_keys(ent)
    parts = []
    for phase in ("before", "after"):
        orgs, members = _funding_phase(ent, branches, keys, config, phase)
        counts = orgs.groupby(["unit_type", "unit", "kind"], sort=True).size().unstack("kind")
        counts = counts.reindex(columns=list(_KINDS)).fillna(0)
        m = members.groupby(["unit_type", "unit"], sort=True)["formal_members"].sum()
        table = counts.join(m.rename("formal_members"), how="outer").fillna(0)
        table.columns = [f"{c}_{phase}" for c in table.columns]
        parts.append(table)
    all_keys = keys.drop_duplicates().set_index(["unit_type", "unit"]).index
    table = parts[0].join(parts[1], how="outer")
    table = table.reindex(table.index.union(all_keys)).fillna(0).reset_index()
    order = table["unit_type"].map({"park": 0, "township": 1}).fillna(2)
    table = (table.assign(_o=order, _l=table["unit"].eq(UNLOCATED_LABEL).astype(int))
             .sort_values(["_o", "_l", "unit"], kind="stable").drop(columns=["_o", "_l"]))
    total = table.drop(columns=["unit_type", "unit"]).sum().to_frame().T
    total.insert(0, "unit", TOTAL_LABEL)
    total.insert(0, "unit_type", "total")
    table = pd.concat([table, total], ignore_index=True) if len(table) else total
    for phase in ("before", "after"):
        for c in (*_KINDS, "formal_members"):
            table[f"{c}_{phase}"] = table[f"{c}_{phase}"].astype("int64")
        table[f"secretaries_{phase}"] = sum(table[f"{k}_{phase}"] for k in _KINDS).astype("int64")
        table[f"amount_organisations_{phase}"] = (
            table[f"committees_{phase}"] * config.fund_committee
            + table[f"general_branches_{phase}"] * config.fund_general_branch
            + (table[f"branches_{phase}"] + table[f"joint_branches_{phase}"]) * config.fund_branch)
        table[f"amount_secretaries_{phase}"] = table[f"secretaries_{phase}"] * config.fund_secretary_monthly * 12
        table[f"amount_members_{phase}"] = table[f"formal_members_{phase}"] * config.fund_member_yearly
        table[f"amount_total_{phase}"] = (table[f"amount_organisations_{phase}"]
                                          + table[f"amount_secretaries_{phase}"]
                                          + table[f"amount_members_{phase}"])
    table["amount_change"] = table["amount_total_after"] - table["amount_total_before"]
    out = table[list(FUNDING_COLUMNS)].reset_index(drop=True)
    for c in out.columns:
        if c.startswith("amount_"):
            out[c] = out[c].astype("float64")
    out["unit_type"] = out["unit_type"].astype("str")
    out["unit"] = out["unit"].astype("str")
    return out


# --- the record -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Coverage:
    """Every coverage figure of one plan, measured once (see the module docstring).

    Attributes
    ----------
    enterprises
        Per enterprise: the flags of :func:`enterprise_flags` and ``status``.
    tables
        ``(scope, by)`` → the metrics table of that grouping on that scope (columns as
        :meth:`by` documents).
    funding
        The 15311 estimate per unit and total (:data:`FUNDING_COLUMNS`).
    config
        The rules the figures were measured with.
    """

    enterprises: pd.DataFrame
    tables: Mapping[tuple[str, str], pd.DataFrame]
    funding: pd.DataFrame
    config: Config = field(default_factory=Config)

    def by(self, by: By = "unit", scope: Scope = "all") -> pd.DataFrame:
        """Metrics grouped one way, on one scope.

        ``by``: ``unit`` (parks, then townships outside parks; rows partition the total),
        ``park``, ``township`` (each township with all its enterprises), ``industry``
        (GB/T 4754 section, ``（未填）`` when missing), ``size_class`` (S1) or ``total``.
        Columns: the key column(s), ``enterprises``, ``org_covered_before/after``,
        ``org_rate_before/after``, ``work_covered_before/after``,
        ``work_rate_before/after``, ``backstop_after``, ``backstop_rate_after``,
        ``instructors_needed``, ``instructors_short``, ``above_scale``,
        ``above_scale_own_before/after``, ``m3_rate_before/after``. Rates are fractions
        0–1, NaN where the denominator is 0.
        """
        if by not in BY_CHOICES:
            msg = f"unknown grouping by={by!r}; valid: {', '.join(BY_CHOICES)}"
            raise ValueError(msg)
        if scope not in SCOPES:
            msg = f"unknown scope={scope!r}; valid: {', '.join(SCOPES)}"
            raise ValueError(msg)
        return self.tables[(scope, by)].copy()

    def total(self, scope: Scope = "all") -> pd.Series:
        """The whole-area row of a scope."""
        return self.tables[(scope, "total")].iloc[0]

    def table(self) -> pd.DataFrame:
        """``coverage.csv``: per scope, the park rows, the township rows, then the total."""
        parts = []
        for scope in SCOPES:
            t = pd.concat([self.tables[(scope, "unit")], self.tables[(scope, "total")]], ignore_index=True)
            parts.append(t.assign(scope=scope))
        return pd.concat(parts, ignore_index=True)[list(COVERAGE_COLUMNS)]

    def targets(self, scope: Scope = "all") -> pd.DataFrame:
        """M4: whether each unit and the total meet the targets, before and after.

        ``unit_type, unit, enterprises``, the rates, and nullable booleans
        ``org_target_met_before/after`` (≥ ``org_coverage_target``),
        ``org_full_met_before/after`` (≥ ``org_coverage_full_target``),
        ``work_target_met_before/after`` (≥ ``work_coverage_target``, named resources
        only); NA for a unit without enterprises.
        """
        config = self.config
        table = pd.concat([self.tables[(scope, "unit")], self.tables[(scope, "total")]], ignore_index=True)
        out = table[["unit_type", "unit", "enterprises", "org_rate_before", "org_rate_after",
                     "work_rate_before", "work_rate_after"]].copy()
        n = table["enterprises"]
        goals = (("org_target_met", "org_covered", config.org_coverage_target),
                 ("org_full_met", "org_covered", config.org_coverage_full_target),
                 ("work_target_met", "work_covered", config.work_coverage_target))
        for name, covered, goal in goals:
            for phase in ("before", "after"):
                # compare counts, not rounded rates: covered ≥ goal × n (tolerant to float error)
                met = (table[f"{covered}_{phase}"] >= goal * n - 1e-9).astype("boolean")
                out[f"{name}_{phase}"] = met.mask(n.eq(0))
        return out

    def shortfall(self, scope: Scope = "all") -> list[str]:
        """The honest caveats of the after-plan figures, in Chinese, one sentence each.

        Names the instructor shortfall (enterprises whose work coverage rests on an
        instructor nobody is named for, and the people that takes at W1's capacity)
        and the backstop share (M5), which M2 does not count.
        """
        t = self.total(scope)
        n = int(t["enterprises"])
        out: list[str] = []
        short = int(t["instructors_short"])
        if short:
            people = -(-short // max(1, self.config.instructor_capacity))
            out.append(f"规划需选派党建工作指导员的企业{int(t['instructors_needed'])}家，"
                       f"名册不足，其中{short}家尚无指导员（按每人联系{self.config.instructor_capacity}家计，"
                       f"约缺{people}名），未计入工作覆盖")
        backstop = int(t["backstop_after"])
        if backstop and n:
            out.append(f"{backstop}家小微或未定位企业（占{backstop / n:.1%}）仅由乡镇（街道）、村（社区）"
                       f"党组织属地兜底（M5），未计入工作覆盖")
        return out


def measure(enterprises: pd.DataFrame, config: Config | None = None, *,
            branches: pd.DataFrame | None = None, instructors: pd.DataFrame | None = None,
            units: pd.DataFrame | None = None, by: tuple[str, ...] = BY_CHOICES,
            funding: bool = True) -> Coverage:
    """The measure stage: every coverage figure of a plan, once.

    Parameters
    ----------
    enterprises
        The enterprise table after partition (``action``, ``branch_id``); without
        them, after = before.
    config
        Rules; defaults per RULES.md.
    branches
        The plan's joint branches (for funding).
    instructors
        The roster assignment (``uscc, instructor``; an empty name is a shortfall).
    units
        Jurisdiction units (``unit, unit_type, township``): units without enterprises
        appear with 0 enterprises.
    by, funding
        Only these tables, and the funding table or not (an empty frame): the targets'
        lever variants need the unit and total rates only.

    Returns
    -------
    Coverage

    Examples
    --------
    >>> import pandas as pd
    >>> ent = pd.DataFrame({"org_type": ["own", "none"], "action": ["keep", "instructor"],
    ...                     "branch_id": ["", ""], "instructor": ["", ""], "staff": [30, 8],
    ...                     "unit": ["镇甲", "镇甲"], "unit_type": ["township"] * 2},
    ...                    index=pd.Index(["A", "B"], name="uscc"))
    >>> cov = measure(ent)
    >>> t = cov.total()
    >>> float(t.work_rate_after), int(t.instructors_needed), int(t.instructors_short)
    (0.5, 1, 1)
    """
    config = config or Config()
    flags = enterprise_flags(enterprises, config, instructors=instructors)
    tables: dict[tuple[str, str], pd.DataFrame] = {}
    for choice in by:
        keys, rows, empty = _keys(enterprises, choice, config, units)
        for scope in SCOPES:
            inside = rows if scope == "all" else rows & flags[f"in_{scope}"]
            mask = inside.to_numpy()
            tables[(scope, choice)] = _table(flags.loc[mask], keys.loc[mask], empty, choice, config)
    fund = funding_table(enterprises, config, branches=branches) if funding else pd.DataFrame(columns=list(FUNDING_COLUMNS))
    total = tables[("all", "total")].iloc[0]
    logger.info("measure: organisational coverage %.4f → %.4f, work %.4f → %.4f, %d short",
                total["org_rate_before"], total["org_rate_after"], total["work_rate_before"],
                total["work_rate_after"], total["instructors_short"])
    return Coverage(enterprises=flags, tables=tables, funding=fund, config=config)


def measure_plan(plan: Plan, *, by: tuple[str, ...] = BY_CHOICES, funding: bool = True) -> Coverage:
    """:func:`measure` on a Plan's tables (``by``, ``funding``: as there)."""
    return measure(plan.enterprises, plan.config, branches=plan.branches,
                   instructors=plan.instructors, units=plan.units, by=by, funding=funding)


def measured(plan: Plan) -> Coverage:
    """The plan's coverage record: ``plan.coverage`` when the pipeline measured it, else
    measured now (for a Plan built by hand)."""
    cov = plan.coverage
    return cov if cov is not None else measure_plan(plan)


# --- convenience over a Plan (read the record) -----------------------------------------------
def coverage_flags(plan: Plan) -> pd.DataFrame:
    """Per enterprise, whether it is covered before and after the plan (see :func:`enterprise_flags`).

    Examples
    --------
    >>> import pandas as pd
    >>> from gridcover import Plan
    >>> ent = pd.DataFrame({"org_type": ["own", "none", "none"], "instructor": ["", "王某", ""],
    ...                     "action": ["keep", "keep", "not_gridded"], "branch_id": ["", "", ""]},
    ...                    index=pd.Index(["A", "B", "C"], name="uscc"))
    >>> coverage_flags(Plan(enterprises=ent))[["org_after", "work_before", "work_after"]].values.tolist()
    [[True, True, True], [False, True, True], [False, False, False]]
    """
    return measured(plan).enterprises.copy()


def enterprise_status(plan: Plan) -> pd.Series:
    """Each enterprise's coverage status after the plan (:data:`STATUSES`; the map's colours).

    ``own`` (an own organisation kept or built), ``joint`` (in a joint branch of the
    plan, or an existing joint organisation kept), ``attached`` (挂靠建, kept or
    proposed), ``instructor`` (only a named instructor), ``not_gridded`` (backstop only,
    M5) and ``uncovered`` (no party link, including a planned instructor post with
    nobody named).
    """
    return measured(plan).enterprises["status"].rename("status")


def coverage_by(plan: Plan, by: By = "unit", scope: Scope = "all") -> pd.DataFrame:
    """Coverage metrics grouped one way on one scope (see :meth:`Coverage.by`).

    Examples
    --------
    >>> import pandas as pd
    >>> from gridcover import Plan
    >>> ent = pd.DataFrame({"org_type": ["own", "none", "joint", "none"],
    ...                     "above_scale": [True, True, False, False],
    ...                     "unit": ["园区甲", "园区甲", "镇乙", "镇乙"],
    ...                     "unit_type": ["park", "park", "township", "township"],
    ...                     "park": ["园区甲", "园区甲", "", ""]},
    ...                    index=pd.Index(list("ABCD"), name="uscc"))
    >>> coverage_by(Plan(enterprises=ent), "unit")[["unit", "enterprises", "org_rate_before", "m3_rate_before"]]
        unit  enterprises  org_rate_before  m3_rate_before
    0    园区甲            2              0.5             0.5
    1     镇乙            2              0.5             NaN
    """
    return measured(plan).by(by, scope)


def coverage_table(plan: Plan) -> pd.DataFrame:
    """``coverage.csv`` (:data:`COVERAGE_COLUMNS`): per scope, park rows, township rows
    (enterprises outside parks; unlocated ones in their declared township, else in
    ``（未定位）``), each sorted by name, then the total row (unit ``合计``).

    Examples
    --------
    >>> import pandas as pd
    >>> from gridcover import Plan
    >>> ent = pd.DataFrame({"org_type": ["own", "none"], "instructor": ["", "李某"],
    ...                     "unit": ["镇甲", ""], "unit_type": ["township", ""],
    ...                     "township": ["镇甲", ""], "township_declared": ["", "镇乙"]},
    ...                    index=pd.Index(["A", "B"], name="uscc"))
    >>> coverage_table(Plan(enterprises=ent)).query("scope == 'all'")[["unit", "enterprises", "work_rate_before"]]
      unit  enterprises  work_rate_before
    0   镇乙            1               1.0
    1   镇甲            1               1.0
    2   合计            2               1.0
    """
    return measured(plan).table()


def targets(plan: Plan, scope: Scope = "all") -> pd.DataFrame:
    """M4 targets met before and after, per unit and total (see :meth:`Coverage.targets`).

    Examples
    --------
    >>> import pandas as pd
    >>> from gridcover import Plan
    >>> ent = pd.DataFrame({"org_type": ["own"] * 9 + ["none"], "instructor": [""] * 9 + ["张某"]},
    ...                    index=pd.Index(list("ABCDEFGHIJ"), name="uscc"))
    >>> t = targets(Plan(enterprises=ent)).iloc[-1]
    >>> bool(t.org_target_met_before), bool(t.org_full_met_before), bool(t.work_target_met_before)
    (True, False, True)
    """
    return measured(plan).targets(scope)


def funding(plan: Plan) -> pd.DataFrame:
    """The 15311 funding estimate of a plan (see :func:`funding_table`)."""
    return measured(plan).funding.copy()
