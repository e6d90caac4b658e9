"""Coverage metrics M1–M4, before (as the ledger stands) and after (with the plan).

M1 organisational coverage (党组织覆盖率), M2 work coverage (党的工作覆盖率), M3
above-scale formation rate (规上企业党组织组建率) and M4 targets, by jurisdiction unit,
park, township, industry section and size class, and for the whole area.

Semantics (shared by every module; see the Plan contract):

* **Organisationally covered before** (M1): ``org_type`` own or joint, plus attached
  when ``config.org_coverage_counts_attached`` (default on).
* **Organisationally covered after**: in a joint branch of the plan (``branch_id``
  not empty), or ``action`` builds an own organisation (build_branch /
  build_general_branch / build_committee), or an existing own/joint organisation is
  kept (``action`` keep — or not_gridded, which leaves the existing organisation as it
  is), or attached (``org_type`` attached or ``action`` attach; only when the switch is on).
* **Work covered** (M2): organisationally covered (attached always counts here), or an
  instructor (the ledger's ``instructor`` before; after also ``action`` instructor or an
  assignment in ``plan.instructors``), or — after only — ``action`` not_gridded (below
  E1 or unlocated: backstopped, 兜底, by the township/village organisation).
* **Own organisation** (M3): ``org_type`` own before; after, own and kept, or built.

A Plan without ``action``/``branch_id`` columns (not partitioned yet) has after = before.

Rows of the unit breakdown: one per park and one per township counting its
enterprises *outside* parks, so park and township rows partition the total. An
unlocated enterprise counts in the total and in the township it declares (the
``township`` column, else ``township_declared``); with none, in a township row named
``（未定位）``.
"""

from __future__ import annotations

import logging
from typing import Final, Literal

import numpy as np
import pandas as pd

from .classify import size_class_labels
from .config import Config
from .gaps import _count, _flag, _text
from .plan import Plan

__all__ = [
    "COVERAGE_COLUMNS",
    "TOTAL_LABEL",
    "UNLOCATED_LABEL",
    "coverage_by",
    "coverage_flags",
    "coverage_table",
    "targets",
]

logger = logging.getLogger(__name__)

#: Columns of ``coverage.csv`` (DESIGN.md), in order.
COVERAGE_COLUMNS: Final = ("unit_type", "unit", "enterprises", "org_rate_before", "org_rate_after",
                           "work_rate_before", "work_rate_after")
#: Unit name of the row of unlocated enterprises that declare no township.
UNLOCATED_LABEL: Final = "（未定位）"
#: Unit name of the whole-area row (``unit_type`` total).
TOTAL_LABEL: Final = "合计"
#: Group label of enterprises without an industry section.
NO_INDUSTRY_LABEL: Final = "（未填）"

BUILD_ACTIONS: Final = ("build_branch", "build_general_branch", "build_committee")
#: Actions that leave an enterprise's existing organisation as it is.
KEEP_ACTIONS: Final = ("keep", "not_gridded")

By = Literal["unit", "park", "township", "industry", "size_class", "total"]
BY_CHOICES: Final = ("unit", "park", "township", "industry", "size_class", "total")

_FLAG_COLUMNS: Final = ("org_before", "org_after", "work_before", "work_after",
                        "own_before", "own_after", "above_scale")


def coverage_flags(plan: Plan) -> pd.DataFrame:
    """Per enterprise, whether it is covered before and after the plan.

    Parameters
    ----------
    plan
        A Plan; only ``enterprises`` is needed (``instructors`` is read when filled).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``plan.enterprises``, bool columns ``org_before, org_after``
        (M1), ``work_before, work_after`` (M2), ``own_before, own_after`` (M3's own
        organisation) and ``above_scale``.

    Examples
    --------
    >>> import pandas as pd
    >>> from gridcover import Plan
    >>> ent = pd.DataFrame({"org_type": ["own", "none", "none"], "instructor": ["", "王某", ""],
    ...                     "action": ["keep", "keep", "not_gridded"], "branch_id": ["", "", ""]},
    ...                    index=pd.Index(["A", "B", "C"], name="uscc"))
    >>> coverage_flags(Plan(enterprises=ent))[["org_after", "work_before", "work_after"]].values.tolist()
    [[True, True, True], [False, True, True], [False, False, True]]
    """
    config = plan.config
    ent = plan.enterprises
    org = _text(ent, "org_type").replace("", "none")
    action = _text(ent, "action").replace("", "keep")
    branch = _text(ent, "branch_id")
    instructor = _text(ent, "instructor").ne("")
    attached_counts = config.org_coverage_counts_attached

    own_joint = org.isin(["own", "joint"])
    attached_before = org.eq("attached")
    org_before = own_joint | (attached_before & attached_counts)  # M1 before
    work_before = own_joint | attached_before | instructor  # M2 before

    built = action.isin(BUILD_ACTIONS)
    kept = action.isin(KEEP_ACTIONS)
    in_branch = branch.ne("")
    attached_after = org.eq("attached") | action.eq("attach")
    org_core_after = in_branch | built | (kept & own_joint)
    org_after = org_core_after | (attached_after & attached_counts)  # M1 after
    assigned = pd.Series(False, index=ent.index)
    if plan.instructors is not None and "uscc" in plan.instructors and len(plan.instructors):
        named = plan.instructors
        if "instructor" in named:
            named = named[named["instructor"].fillna("").astype(str).ne("")]
        assigned = ent.index.to_series().astype(str).isin(set(named["uscc"].astype(str)))
        assigned.index = ent.index
    work_after = (org_core_after | attached_after | instructor | action.eq("instructor")
                  | assigned | action.eq("not_gridded"))  # M2 after, with E2 backstop

    own_before = org.eq("own")
    own_after = built | (kept & own_before)  # M3
    out = pd.DataFrame({
        "org_before": org_before, "org_after": org_after,
        "work_before": work_before, "work_after": work_after,
        "own_before": own_before, "own_after": own_after,
        "above_scale": _flag(ent, "above_scale"),
    }, index=ent.index)
    return out.astype(bool)


def _unit_keys(ent: pd.DataFrame) -> pd.DataFrame:
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


def _aggregate(flags: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    key_cols = list(keys.columns)
    df = pd.concat([keys, flags.astype("int64")], axis=1)
    df["above_own_before"] = df["own_before"] * df["above_scale"]
    df["above_own_after"] = df["own_after"] * df["above_scale"]
    df["enterprises"] = 1
    sums = df.groupby(key_cols, sort=False, dropna=False)[
        ["enterprises", "org_before", "org_after", "work_before", "work_after", "above_scale",
         "above_own_before", "above_own_after"]].sum()
    return sums.reset_index()


def _finish(table: pd.DataFrame, key_cols: list[str]) -> pd.DataFrame:
    n = table["enterprises"].astype("float64").replace(0, np.nan)
    a = table["above_scale"].astype("float64").replace(0, np.nan)
    out = table[key_cols].copy()
    out["enterprises"] = table["enterprises"].astype("int64")
    for phase in ("before", "after"):
        out[f"org_covered_{phase}"] = table[f"org_{phase}"].astype("int64")
    for phase in ("before", "after"):
        out[f"org_rate_{phase}"] = table[f"org_{phase}"] / n
    for phase in ("before", "after"):
        out[f"work_covered_{phase}"] = table[f"work_{phase}"].astype("int64")
    for phase in ("before", "after"):
        out[f"work_rate_{phase}"] = table[f"work_{phase}"] / n
    out["above_scale"] = table["above_scale"].astype("int64")
    for phase in ("before", "after"):
        out[f"above_scale_own_{phase}"] = table[f"above_own_{phase}"].astype("int64")
    for phase in ("before", "after"):
        out[f"m3_rate_{phase}"] = table[f"above_own_{phase}"] / a
    return out.reset_index(drop=True)


def _with_empty_units(table: pd.DataFrame, names: list[tuple[str, ...]], key_cols: list[str]) -> pd.DataFrame:
    have = set(map(tuple, table[key_cols].astype(str).itertuples(index=False, name=None)))
    missing = [k for k in dict.fromkeys(names) if k not in have]
    if not missing:
        return table
    extra = pd.DataFrame(missing, columns=key_cols)
    for c in table.columns:
        if c not in key_cols:
            extra[c] = 0
    return pd.concat([table, extra[table.columns]], ignore_index=True) if len(table) else extra[table.columns]


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


def coverage_by(plan: Plan, by: By = "unit") -> pd.DataFrame:
    """Coverage metrics M1–M3, before and after, grouped one way.

    Parameters
    ----------
    plan
        A Plan; only ``enterprises`` is needed.
    by
        ``unit`` (parks, then townships outside parks; rows partition the total),
        ``park`` (parks only), ``township`` (each township with all its enterprises,
        park ones included), ``industry`` (GB/T 4754 section, ``（未填）`` when
        missing), ``size_class`` (S1) or ``total`` (one row).

    Returns
    -------
    pandas.DataFrame
        Key column(s) — ``unit_type, unit`` for ``unit`` and ``total`` (the total row
        has ``unit_type`` total and unit ``合计``), else the column named by ``by`` —
        then ``enterprises``, ``org_covered_before/after``, ``org_rate_before/after``,
        ``work_covered_before/after``, ``work_rate_before/after``, ``above_scale``,
        ``above_scale_own_before/after``, ``m3_rate_before/after``. Rates are
        fractions 0–1, NaN where the denominator is 0. Units of ``plan.units``
        without enterprises appear with 0 enterprises.

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
    if by not in BY_CHOICES:
        msg = f"unknown grouping by={by!r}; valid: {', '.join(BY_CHOICES)}"
        raise ValueError(msg)
    config = plan.config
    ent = plan.enterprises
    flags = coverage_flags(plan)
    units = plan.units if plan.units is not None else pd.DataFrame()
    empty_names: list[tuple[str, ...]] = []
    if by == "unit":
        keys = _unit_keys(ent)
        if {"unit", "unit_type"} <= set(units.columns):
            empty_names = list(units[["unit_type", "unit"]].astype(str).itertuples(index=False, name=None))
    elif by == "total":
        keys = pd.DataFrame({"unit_type": "total", "unit": TOTAL_LABEL}, index=ent.index)
        if not len(ent):
            empty_names = [("total", TOTAL_LABEL)]
    elif by == "park":
        park = _text(ent, "park")
        keys = park[park.ne("")].to_frame("park")
        flags = flags.loc[park.ne("").to_numpy()]
        if {"unit", "unit_type"} <= set(units.columns):
            empty_names = [(u,) for u in units.loc[units["unit_type"].astype(str).eq("park"), "unit"].astype(str)]
    elif by == "township":
        keys = _township_keys(ent).to_frame()
        if "township" in units.columns:
            empty_names = [(t,) for t in units["township"].astype(str) if t]
    elif by == "industry":
        ind = _text(ent, "industry")
        keys = ind.where(ind.ne(""), NO_INDUSTRY_LABEL).to_frame("industry")
    else:
        keys = _size_classes(ent, config).to_frame()
    key_cols = list(keys.columns)
    sums = _aggregate(flags, keys)
    if empty_names:
        sums = _with_empty_units(sums, empty_names, key_cols)
    table = _finish(sums, key_cols)
    return _sort_keys(table, by, config).reset_index(drop=True)


def coverage_table(plan: Plan) -> pd.DataFrame:
    """``coverage.csv``: M1 and M2 before and after, per unit and for the total.

    Parameters
    ----------
    plan
        A Plan; only ``enterprises`` is needed (without ``action``/``branch_id``
        columns, after = before).

    Returns
    -------
    pandas.DataFrame
        ``unit_type`` (park/township/total), ``unit``, ``enterprises``,
        ``org_rate_before``, ``org_rate_after``, ``work_rate_before``,
        ``work_rate_after`` (fractions 0–1). Park rows first, then township rows
        (enterprises outside parks; unlocated ones in their declared township, else in
        ``（未定位）``), each sorted by name (code-point order), then the total row
        (unit ``合计``). Park and township rows partition the total.

    Examples
    --------
    >>> import pandas as pd
    >>> from gridcover import Plan
    >>> ent = pd.DataFrame({"org_type": ["own", "none"], "instructor": ["", "李某"],
    ...                     "unit": ["镇甲", ""], "unit_type": ["township", ""],
    ...                     "township": ["镇甲", ""], "township_declared": ["", "镇乙"]},
    ...                    index=pd.Index(["A", "B"], name="uscc"))
    >>> coverage_table(Plan(enterprises=ent))[["unit_type", "unit", "enterprises", "work_rate_before"]]
      unit_type unit  enterprises  work_rate_before
    0  township   镇乙            1               1.0
    1  township   镇甲            1               1.0
    2     total   合计            2               1.0
    """
    units = coverage_by(plan, "unit")
    total = coverage_by(plan, "total")
    out = pd.concat([units, total], ignore_index=True)
    return out[list(COVERAGE_COLUMNS)]


def targets(plan: Plan) -> pd.DataFrame:
    """M4: whether each unit and the total meet the coverage targets, before and after.

    Parameters
    ----------
    plan
        A Plan; targets come from ``plan.config`` (organisational coverage ≥ 90 %, then
        100 %; work coverage 100 %).

    Returns
    -------
    pandas.DataFrame
        ``unit_type, unit, enterprises``, the four rates, and nullable booleans
        ``org_target_met_before/after`` (≥ ``org_coverage_target``),
        ``org_full_met_before/after`` (≥ ``org_coverage_full_target``),
        ``work_target_met_before/after`` (≥ ``work_coverage_target``); NA for a unit
        without enterprises.

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
    config = plan.config
    table = pd.concat([coverage_by(plan, "unit"), coverage_by(plan, "total")], ignore_index=True)
    out = table[list(COVERAGE_COLUMNS)].copy()
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
