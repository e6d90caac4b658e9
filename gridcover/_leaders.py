"""Grid-leader (网格长) ranking on arrays (O9 and the RULES.md leader order).

Order: an enterprise with its own organisation (单独建, not an empty shell) first, by
most formal members (龙头企业带建); then the investor is a member (出资人是党员); then
staff; then centrality (smallest total distance to the grid's enterprises); ties by
``uscc``. A grid without any formal member has no member leader: its leader is an
instructor post to fill (leader_status).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["LEADER_INSTRUCTOR", "LEADER_MEMBER", "leader_reason", "rank_leaders"]

#: leader_status of a grid with at least one formal member.
LEADER_MEMBER = "member"
#: leader_status of a grid without any formal member.
LEADER_INSTRUCTOR = "instructor post to fill"


def rank_leaders(xy: ArrayLike, *, own_org: ArrayLike, members: ArrayLike, investor_member: ArrayLike,
                 staff: ArrayLike, uscc: Sequence[str], top: int = 3
                 ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Rank the enterprises of one grid as leader candidates.

    Parameters
    ----------
    xy
        ``(n, 2)`` coordinates in metres.
    own_org
        Has its own (non-shell) organisation.
    members
        Formal members.
    investor_member
        The investor is a party member.
    staff
        Staff.
    uscc
        Identifiers (last tie-break).
    top
        Candidates to return.

    Returns
    -------
    order, total_distance
        Positions of the best ``top`` candidates, best first, and every enterprise's
        total distance to the grid's enterprises (metres).
    """
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    n = len(pts)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    total = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1]).sum(axis=1)
    rank_uscc = np.argsort(np.asarray(list(uscc), dtype=object), kind="stable")
    tie = np.empty(n, dtype=np.int64)
    tie[rank_uscc] = np.arange(n)
    keys = (tie, np.round(total, 3), -np.asarray(staff, dtype=np.int64),
            -np.asarray(investor_member, dtype=bool).astype(np.int64),
            -np.asarray(members, dtype=np.int64), -np.asarray(own_org, dtype=bool).astype(np.int64))
    order = np.lexsort(keys)
    return order[:top], total


def leader_reason(*, own_org: bool, members: int, investor_member: bool, staff: int,
                  mean_distance_m: float, grid_has_member: bool) -> str:
    """Chinese reason text of one candidate, naming the facts the ranking used."""
    parts = []
    if own_org:
        parts.append(f"单独建有党组织，正式党员{members}名（龙头企业带建）")
    elif members > 0:
        parts.append(f"有正式党员{members}名")
    else:
        parts.append("无正式党员")
    if investor_member:
        parts.append("出资人是党员")
    parts.append(f"职工{staff}人")
    parts.append(f"距网格内其他企业平均{mean_distance_m / 1000:.1f}公里")
    text = "，".join(parts)
    if not grid_has_member:
        text = "网格内无党员，网格长为待选派的党建工作指导员；" + text + "（可作联络企业）"
    return text
