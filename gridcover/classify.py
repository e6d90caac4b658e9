"""Classification of enterprises by the rules (S1 size class, E1 grid eligibility)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import Config

__all__ = ["classify", "size_class_labels"]


def size_class_labels(config: Config) -> tuple[str, str, str, str]:
    """S1 labels for the configured bounds, e.g. ``("<6", "6-49", "50-99", ">=100")``."""
    a, b, c = config.size_class_bounds
    return (f"<{a}", f"{a}-{b - 1}", f"{b}-{c - 1}", f">={c}")


def classify(enterprises: pd.DataFrame, config: Config | None = None) -> pd.DataFrame:
    """Add ``size_class`` (S1) and ``eligible`` (E1) to a located enterprise table.

    E1: grid-eligible means fixed premises, staff at or above
    ``config.eligible_min_staff`` (6) and a known location (``precision`` other than
    ``unlocated``). Below E1, enterprises are backstopped by the township/village
    organisation (E2) and never placed in a grid.

    Parameters
    ----------
    enterprises
        Table with at least ``staff`` and ``fixed_premises``; ``precision`` when
        located. It is not modified.
    config
        Thresholds; defaults per RULES.md.

    Returns
    -------
    pandas.DataFrame
        A copy with the two columns added.

    Examples
    --------
    >>> import pandas as pd
    >>> from gridcover import classify
    >>> df = pd.DataFrame({"staff": [3, 6, 120], "fixed_premises": [True, True, False],
    ...                    "precision": ["exact", "village", "exact"]})
    >>> classify(df)[["size_class", "eligible"]].values.tolist()
    [['<6', False], ['6-49', True], ['>=100', False]]
    """
    config = config or Config()
    out = enterprises.copy()
    staff = out["staff"].to_numpy(dtype="int64")
    labels = np.array(size_class_labels(config), dtype=object)
    out["size_class"] = labels[np.searchsorted(np.asarray(config.size_class_bounds), staff, side="right")]
    located = out["precision"].ne("unlocated") if "precision" in out else True
    out["eligible"] = (out["fixed_premises"].astype(bool) & (staff >= config.eligible_min_staff) & located).astype(bool)
    return out
