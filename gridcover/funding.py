"""Funding estimate of the seed county's “15311” policy, before and after the plan.

Per year: a primary committee (基层党委) 10,000 yuan, a general branch (党总支) 5,000, a
branch (党支部, a joint branch 联合党支部 included) 3,000; each organisation's
secretary 100 yuan a month; each formal member (正式党员) of an organisation 100 yuan.
The amounts are the ``fund_*`` fields of :class:`~gridcover.Config`.

Counting (documented choices):

* **Before** — each own organisation (单独建) counts at the level its size calls for
  (O3/O4: more than 50 members a general branch, 100 and more a committee; members as
  for the 50/100 thresholds), each distinct joint organisation (联合建, by ``org_name``)
  as one branch. Joint enterprises without an ``org_name`` are taken as one
  organisation per unit. An organisation spanning units counts in the unit holding
  most of its enterprises (ties: the first unit in name order).
* **After** — kept own organisations at their size's level, and one committee /
  general branch / branch for each ``build_committee`` / ``build_general_branch`` /
  ``build_branch``; one branch per row of ``plan.branches`` (new, kept or split), plus
  existing joint organisations whose enterprises are kept outside any planned branch.
* Members funded are the formal members of enterprises in an own or joint
  organisation; attached (挂靠建) enterprises' members belong to the township/village
  organisation and are not counted here.
* Units are those of :func:`gridcover.coverage.coverage_table`.
"""

from __future__ import annotations

import logging
from typing import Final

import numpy as np
import pandas as pd

from .config import Config
from .coverage import BUILD_ACTIONS, KEEP_ACTIONS, TOTAL_LABEL, UNLOCATED_LABEL, _unit_keys
from .gaps import _count, _text, party_members
from .plan import Plan

__all__ = ["FUNDING_COLUMNS", "funding"]

logger = logging.getLogger(__name__)

_KINDS: Final = ("committees", "general_branches", "branches", "joint_branches")
_PHASE_COLUMNS: Final = (*_KINDS, "secretaries", "formal_members", "amount_organisations",
                         "amount_secretaries", "amount_members", "amount_total")
#: Columns of :func:`funding`, in order.
FUNDING_COLUMNS: Final = ("unit_type", "unit",
                          *(f"{c}_before" for c in _PHASE_COLUMNS),
                          *(f"{c}_after" for c in _PHASE_COLUMNS),
                          "amount_change")
UNNAMED_JOINT: Final = "（未填名称）"


def _own_levels(big: pd.Series, config: Config) -> pd.Series:
    """O3/O4: the level an own organisation of this size should have."""
    return pd.Series(np.select(
        [big >= config.primary_committee_members, big > config.general_branch_members],
        ["committees", "general_branches"], default="branches"), index=big.index, dtype="str")


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


def _count_rows(rows: pd.DataFrame, kind: str) -> pd.DataFrame:
    return rows[["unit_type", "unit"]].assign(kind=kind)


def _phase(plan: Plan, keys: pd.DataFrame, phase: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Organisations (unit_type, unit, kind) and funded members (unit_type, unit, formal_members)."""
    config = plan.config
    ent = plan.enterprises
    org = _text(ent, "org_type").replace("", "none")
    org_name = _text(ent, "org_name")
    formal = _count(ent, "members")
    levels = _own_levels(party_members(ent, config), config)
    orgs: list[pd.DataFrame] = []
    if phase == "before":
        own = org.eq("own")
        joint = org.eq("joint")
        orgs.append(keys[own].assign(kind=levels[own]))
        orgs.append(_count_rows(_joint_orgs(org_name[joint], keys), "joint_branches"))
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
        orgs.append(_count_rows(_joint_orgs(org_name[kept_joint], keys), "joint_branches"))
        orgs.append(_count_rows(_branch_units(plan, keys), "joint_branches"))
        funded = kept_own | built | kept_joint | branch.ne("")
    members = keys[funded].assign(formal_members=formal[funded])
    org_rows = pd.concat([o for o in orgs if len(o)], ignore_index=True) if any(len(o) for o in orgs) else \
        pd.DataFrame({"unit_type": pd.Series(dtype="str"), "unit": pd.Series(dtype="str"),
                      "kind": pd.Series(dtype="str")})
    return org_rows, members


def _branch_units(plan: Plan, keys: pd.DataFrame) -> pd.DataFrame:
    """Unit of each planned joint branch: its ``unit`` column, else its first enterprise's unit."""
    branches = plan.branches
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


def funding(plan: Plan) -> pd.DataFrame:
    """Annual funding under the “15311” policy, per unit and total, before and after.

    Parameters
    ----------
    plan
        A Plan; only ``enterprises`` is needed (without ``action``/``branch_id`` columns
        and branches, after = before). Amounts from ``plan.config.fund_*``.

    Returns
    -------
    pandas.DataFrame
        One row per unit (parks, then townships, as in ``coverage.csv``) and a total
        row (``unit_type`` total, unit ``合计``). For each phase (``_before``,
        ``_after``): ``committees``, ``general_branches``, ``branches`` (own
        branches), ``joint_branches``, ``secretaries`` (one per organisation),
        ``formal_members``, ``amount_organisations``, ``amount_secretaries``,
        ``amount_members``, ``amount_total`` (yuan a year); then ``amount_change``.

    Examples
    --------
    >>> import pandas as pd
    >>> from gridcover import Plan
    >>> ent = pd.DataFrame({"org_type": ["own", "own", "joint", "joint"], "members": [120, 5, 1, 2],
    ...                     "org_name": ["", "", "联合一", "联合一"], "unit": ["镇甲"] * 4,
    ...                     "unit_type": ["township"] * 4}, index=pd.Index(list("ABCD"), name="uscc"))
    >>> total = funding(Plan(enterprises=ent)).iloc[-1]
    >>> int(total.committees_before), int(total.branches_before), int(total.joint_branches_before)
    (1, 1, 1)
    >>> int(total.amount_total_before)  # 10000 + 2×3000 + 3×1200 + 128×100
    32400
    """
    config = plan.config
    ent = plan.enterprises
    keys = _unit_keys(ent)
    parts = []
    for phase in ("before", "after"):
        orgs, members = _phase(plan, keys, phase)
        counts = orgs.groupby(["unit_type", "unit", "kind"], sort=True).size().unstack("kind")
        counts = counts.reindex(columns=list(_KINDS)).fillna(0)
        m = members.groupby(["unit_type", "unit"], sort=True)["formal_members"].sum()
        table = counts.join(m.rename("formal_members"), how="outer").fillna(0)
        table.columns = [f"{c}_{phase}" for c in table.columns]
        parts.append(table)
    all_keys = keys.drop_duplicates().set_index(["unit_type", "unit"]).index
    table = parts[0].join(parts[1], how="outer")
    table = table.reindex(table.index.union(all_keys)).fillna(0)
    table = table.reset_index()
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
    logger.info("funding: %.0f yuan before, %.0f after", out["amount_total_before"].iloc[-1],
                out["amount_total_after"].iloc[-1])
    return out
