"""Funding estimate of the seed county's “15311” policy, before and after the plan.

The definition lives with the other figures a planner reports, in
:mod:`gridcover.coverage` (one definition, measured once); this module keeps the
names under which it was first published.
"""

from __future__ import annotations

from .coverage import FUNDING_COLUMNS, funding, funding_table

__all__ = ["FUNDING_COLUMNS", "funding", "funding_table"]
