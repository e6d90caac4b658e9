"""Quarterly update (季度更新): what changed between two located ledgers.

:func:`diff_ledgers` compares last quarter's and this quarter's ledgers, both after
geocoding and classification, by 统一社会信用代码 (uscc): enterprises added, closed
(in the old ledger, not in the new), moved (more than ``Config.diff_move_threshold_m``
metres), and changed staff / members / organisation / instructor, with a per-unit
summary that includes the coverage change (M1/M2 as each ledger stands).
:func:`write_diff` writes the five tables as CSV files (UTF-8 with BOM, atomically);
``gridcover diff OLD NEW --out DIR`` calls both.

Examples
--------
>>> import pandas as pd
>>> from gridcover import Ledger
>>> from gridcover.diff import diff_ledgers
>>> def ledger(rows):
...     df = pd.DataFrame(rows, columns=["uscc", "name", "staff", "members", "org_type", "unit", "lon", "lat"])
...     return Ledger(enterprises=df.set_index("uscc"), n_rows=len(df))
>>> old = ledger([("A", "甲厂", 20, 1, "none", "甲镇", 119.0, 26.0), ("B", "乙厂", 8, 0, "none", "甲镇", 119.1, 26.0)])
>>> new = ledger([("A", "甲厂", 25, 1, "none", "甲镇", 119.0, 26.0), ("C", "丙厂", 9, 3, "own", "甲镇", 119.2, 26.0)])
>>> d = diff_ledgers(old, new)
>>> d.added.uscc.tolist(), d.closed.uscc.tolist(), d.changed[["uscc", "field", "old", "new"]].values.tolist()
(['C'], ['B'], [['A', 'staff', '20', '25']])
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from .config import Config
from .ledger import Ledger

__all__ = ["CHANGE_FIELDS", "MOVE_THRESHOLD_M", "LedgerDiff", "diff_ledgers", "write_diff"]

logger = logging.getLogger(__name__)

#: An enterprise whose point moved more than this many metres is reported as moved.
#: (A candidate Config field ``diff_move_threshold_m``.)
#: Default of ``Config.diff_move_threshold_m``.
MOVE_THRESHOLD_M: Final = 200.0
#: Fields whose change is reported, one row per changed field.
CHANGE_FIELDS: Final = ("staff", "members", "org_type", "org_name", "instructor")
_COUNT_FIELDS: Final = ("staff", "members")
_EARTH_RADIUS_M: Final = 6_371_008.8

ENTERPRISE_COLUMNS: Final = ("uscc", "name", "unit_type", "unit", "township", "park", "staff", "members",
                             "org_type", "lon", "lat")
MOVED_COLUMNS: Final = ("uscc", "name", "unit_type", "unit", "unit_old", "lon_old", "lat_old",
                        "lon_new", "lat_new", "distance_m", "precision_old", "precision_new")
CHANGED_COLUMNS: Final = ("uscc", "name", "unit_type", "unit", "field", "old", "new")
SUMMARY_COLUMNS: Final = ("unit_type", "unit", "enterprises_old", "enterprises_new", "added", "closed",
                          "moved", "changed", "org_rate_old", "org_rate_new", "work_rate_old",
                          "work_rate_new")


@dataclass(frozen=True)
class LedgerDiff:
    """What changed from one quarter's ledger to the next.

    Attributes
    ----------
    added
        Enterprises in the new ledger only: ``uscc, name, unit_type, unit, township,
        park, staff, members, org_type, lon, lat`` (as in the new ledger).
    closed
        Enterprises in the old ledger only (same columns, as in the old ledger).
    moved
        Enterprises located in both whose point moved more than
        ``Config.diff_move_threshold_m`` (200 m): ``uscc, name, unit_type, unit`` (new),
        ``unit_old, lon_old, lat_old, lon_new, lat_new, distance_m`` (great-circle),
        ``precision_old, precision_new`` (a move from a village-level to an exact
        point is often a better address, not a new site).
    changed
        One row per changed field of an enterprise in both: ``uscc, name,
        unit_type, unit, field`` (one of :data:`CHANGE_FIELDS`), ``old, new`` (as
        text; org_type as its code own/joint/attached/none).
    summary
        Per unit and total (unit ``合计``): ``enterprises_old, enterprises_new,
        added, closed, moved, changed`` (enterprises with at least one changed
        field) and ``org_rate_old/new, work_rate_old/new`` (M1/M2 as each ledger
        stands, from :func:`gridcover.coverage.coverage_table`). Added, moved and
        changed count in their new unit, closed in their old one.
    """

    added: pd.DataFrame
    closed: pd.DataFrame
    moved: pd.DataFrame
    changed: pd.DataFrame
    summary: pd.DataFrame


def _enterprises(x: Ledger | pd.DataFrame, label: str) -> pd.DataFrame:
    df = x.enterprises if isinstance(x, Ledger) else x
    if not isinstance(df, pd.DataFrame):
        msg = f"{label} ledger: expected a gridcover.Ledger or a DataFrame, got {type(x).__name__}"
        raise TypeError(msg)
    if df.index.has_duplicates:
        dup = sorted({str(u) for u in df.index[df.index.duplicated()]})[:5]
        msg = f"{label} ledger: uscc repeated: {', '.join(dup)}"
        raise ValueError(msg)
    out = df.copy()
    out.index = pd.Index([str(u) for u in df.index], name="uscc", dtype="str")
    return out


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df:
        return pd.Series("", index=df.index, dtype="str")
    return df[col].fillna("").astype(str).str.strip()


def _count_text(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df:
        return pd.Series("", index=df.index, dtype="str")
    num = pd.to_numeric(df[col], errors="coerce")
    txt = [str(int(v)) if pd.notna(v) and float(v).is_integer() else ("" if pd.isna(v) else str(v))
           for v in num]
    return pd.Series(txt, index=df.index, dtype="str")


def _unit_keys(ent: pd.DataFrame, unlocated_label: str) -> pd.DataFrame:
    """Unit of each enterprise as coverage.csv counts it (unlocated: declared township)."""
    unit = _text(ent, "unit")
    park = _text(ent, "park")
    unit_type = _text(ent, "unit_type")
    unit_type = unit_type.where(unit_type.ne(""), pd.Series(np.where(park.ne(""), "park", "township"),
                                                            index=ent.index, dtype="str"))
    declared = _text(ent, "township").where(_text(ent, "township").ne(""), _text(ent, "township_declared"))
    unlocated = unit.eq("")
    return pd.DataFrame({
        "unit_type": unit_type.where(~unlocated, "township"),
        "unit": unit.where(~unlocated, declared.where(declared.ne(""), unlocated_label)),
    }, index=ent.index)


def _coords(ent: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if "lon" not in ent or "lat" not in ent:
        nan = np.full(len(ent), np.nan)
        return nan, nan.copy()
    return (pd.to_numeric(ent["lon"], errors="coerce").to_numpy(dtype=float),
            pd.to_numeric(ent["lat"], errors="coerce").to_numpy(dtype=float))


def haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres (WGS-84 mean radius).

    >>> round(float(haversine_m(119.0, 26.0, 119.0, 26.001)), 1)
    111.2
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _listing(ent: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    lon, lat = _coords(ent)
    return pd.DataFrame({
        "uscc": pd.array(list(ent.index), dtype="str"),
        "name": _text(ent, "name").to_numpy(),
        "unit_type": keys["unit_type"].to_numpy(),
        "unit": keys["unit"].to_numpy(),
        "township": _text(ent, "township").to_numpy(),
        "park": _text(ent, "park").to_numpy(),
        "staff": pd.to_numeric(ent["staff"], errors="coerce").to_numpy() if "staff" in ent else np.nan,
        "members": pd.to_numeric(ent["members"], errors="coerce").to_numpy() if "members" in ent else np.nan,
        "org_type": _text(ent, "org_type").to_numpy(),
        "lon": lon,
        "lat": lat,
    }, columns=list(ENTERPRISE_COLUMNS))


def _field_values(ent: pd.DataFrame, field: str) -> pd.Series:
    if field in _COUNT_FIELDS:
        return _count_text(ent, field)
    values = _text(ent, field)
    if field == "org_type":
        values = values.replace("", "none")
    return values


def diff_ledgers(old: Ledger | pd.DataFrame, new: Ledger | pd.DataFrame, *,
                 config: Config | None = None) -> LedgerDiff:
    """Compare two quarters' located ledgers (after geocode and classify).

    Parameters
    ----------
    old, new
        Last and this quarter's :class:`~gridcover.Ledger` (or their enterprise
        tables), indexed by uscc.
    config
        Rules for the coverage rates (``org_coverage_counts_attached``); defaults.

    Returns
    -------
    LedgerDiff
        ``added, closed, moved, changed, summary`` (see :class:`LedgerDiff`). Rows
        follow the new ledger's order (closed: the old one's).
    """
    from .coverage import TOTAL_LABEL, UNLOCATED_LABEL, measure

    config = config or Config()
    a = _enterprises(old, "old")
    b = _enterprises(new, "new")
    keys_a = _unit_keys(a, UNLOCATED_LABEL)
    keys_b = _unit_keys(b, UNLOCATED_LABEL)
    in_a = b.index.isin(a.index)
    in_b = a.index.isin(b.index)
    added = _listing(b.loc[~in_a], keys_b.loc[~in_a])
    closed = _listing(a.loc[~in_b], keys_a.loc[~in_b])

    both = b.index[in_a]
    ao, bo = a.loc[both], b.loc[both]
    kb = keys_b.loc[both]
    lon0, lat0 = _coords(ao)
    lon1, lat1 = _coords(bo)
    dist = haversine_m(lon0, lat0, lon1, lat1)
    moved_mask = ~np.isnan(dist) & (dist > config.diff_move_threshold_m)
    moved = pd.DataFrame({
        "uscc": pd.array(list(both[moved_mask]), dtype="str"),
        "name": _text(bo, "name").to_numpy()[moved_mask],
        "unit_type": kb["unit_type"].to_numpy()[moved_mask],
        "unit": kb["unit"].to_numpy()[moved_mask],
        "unit_old": keys_a.loc[both, "unit"].to_numpy()[moved_mask],
        "lon_old": lon0[moved_mask], "lat_old": lat0[moved_mask],
        "lon_new": lon1[moved_mask], "lat_new": lat1[moved_mask],
        "distance_m": np.round(dist[moved_mask], 1),
        "precision_old": _text(ao, "precision").to_numpy()[moved_mask],
        "precision_new": _text(bo, "precision").to_numpy()[moved_mask],
    }, columns=list(MOVED_COLUMNS))

    frames = []
    for order, field in enumerate(CHANGE_FIELDS):
        va, vb = _field_values(ao, field), _field_values(bo, field)
        diff_mask = (va != vb).to_numpy()
        if diff_mask.any():
            frames.append(pd.DataFrame({
                "uscc": pd.array(list(both[diff_mask]), dtype="str"),
                "name": _text(bo, "name").to_numpy()[diff_mask],
                "unit_type": kb["unit_type"].to_numpy()[diff_mask],
                "unit": kb["unit"].to_numpy()[diff_mask],
                "field": field, "old": va.to_numpy()[diff_mask], "new": vb.to_numpy()[diff_mask],
                "_pos": np.flatnonzero(diff_mask), "_order": order,
            }))
    if frames:
        changed = (pd.concat(frames, ignore_index=True).sort_values(["_pos", "_order"], kind="stable")
                   .drop(columns=["_pos", "_order"]).reset_index(drop=True))
    else:
        changed = pd.DataFrame({c: pd.Series(dtype="str") for c in CHANGED_COLUMNS})
    for c in CHANGED_COLUMNS:
        changed[c] = changed[c].astype("str")

    cov_a = measure(a, config).table().query("scope == 'all'")
    cov_b = measure(b, config).table().query("scope == 'all'")
    summary = _summary(cov_a, cov_b, added, closed, moved, changed, TOTAL_LABEL, UNLOCATED_LABEL)
    logger.info("diff: %d added, %d closed, %d moved, %d field changes", len(added), len(closed),
                len(moved), len(changed))
    return LedgerDiff(added=added, closed=closed, moved=moved, changed=changed, summary=summary)


def _summary(cov_a: pd.DataFrame, cov_b: pd.DataFrame, added: pd.DataFrame, closed: pd.DataFrame,
             moved: pd.DataFrame, changed: pd.DataFrame, total_label: str, unlocated_label: str) -> pd.DataFrame:
    key = ["unit_type", "unit"]
    rates = ["enterprises", "org_rate_before", "work_rate_before"]
    old = cov_a[key + rates].rename(columns={"enterprises": "enterprises_old", "org_rate_before": "org_rate_old",
                                             "work_rate_before": "work_rate_old"})
    new = cov_b[key + rates].rename(columns={"enterprises": "enterprises_new", "org_rate_before": "org_rate_new",
                                             "work_rate_before": "work_rate_new"})
    table = old.merge(new, on=key, how="outer", sort=False)
    is_total = table["unit_type"].eq("total")
    counts = {
        "added": added.groupby(key).size(),
        "closed": closed.groupby(key).size(),
        "moved": moved.groupby(key).size(),
        "changed": changed.drop_duplicates("uscc").groupby(key).size(),
    }
    extra_keys = set()
    for s in counts.values():
        extra_keys |= set(s.index)
    have = set(zip(table["unit_type"], table["unit"], strict=True))
    missing = sorted(k for k in extra_keys if k not in have)
    if missing:
        table = pd.concat([table, pd.DataFrame(missing, columns=key)], ignore_index=True)
        is_total = table["unit_type"].eq("total")
    for name, s in counts.items():
        per = [int(s.get((t, u), 0)) for t, u in zip(table["unit_type"], table["unit"], strict=True)]
        table[name] = np.where(is_total, int(s.sum()), per).astype("int64")
    for c in ("enterprises_old", "enterprises_new"):
        table[c] = pd.to_numeric(table[c]).fillna(0).astype("int64")
    order = table["unit_type"].map({"park": 0, "township": 1, "total": 3}).fillna(2)
    last = table["unit"].eq(unlocated_label).astype(int)
    table = (table.assign(_o=order, _l=last).sort_values(["_o", "_l", "unit"], kind="stable")
             .drop(columns=["_o", "_l"]).reset_index(drop=True))
    if not table["unit_type"].eq("total").any():
        total: dict[str, Any] = {c: 0 for c in SUMMARY_COLUMNS}
        total.update(unit_type="total", unit=total_label, org_rate_old=np.nan, org_rate_new=np.nan,
                     work_rate_old=np.nan, work_rate_new=np.nan)
        table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    return table[list(SUMMARY_COLUMNS)]


def write_diff(diff: LedgerDiff, out_dir: str | Path) -> list[Path]:
    """Write ``added.csv, closed.csv, moved.csv, changed.csv, summary.csv`` into ``out_dir``.

    UTF-8 with BOM (Excel opens them as-is), each written to a temporary file in the
    folder and renamed over the target (atomic).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from .outputs import write_csv

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {"added": (diff.added, ENTERPRISE_COLUMNS), "closed": (diff.closed, ENTERPRISE_COLUMNS),
              "moved": (diff.moved, MOVED_COLUMNS), "changed": (diff.changed, CHANGED_COLUMNS),
              "summary": (diff.summary, SUMMARY_COLUMNS)}
    return [write_csv(df, out / f"{name}.csv", columns=cols) for name, (df, cols) in tables.items()]
