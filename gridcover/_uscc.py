"""统一社会信用代码 (unified social credit code) check per GB 32100-2015."""

from __future__ import annotations

import numpy as np

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def check_char(first17: str) -> str:
    """The check character C18 for the first 17 characters.

    >>> check_char("91350100M000100Y4")
    '3'
    """
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Why ``code`` is not a valid USCC, or ``None`` when it is.

    >>> uscc_problem("91440101MA5CJQ4N59") is None
    True
    >>> uscc_problem("91440101MA5CJQ4N58")
    'check character is 8, expected 9'
    """
    if len(code) != 18:
        return f"has {len(code)} characters, expected 18"
    bad = sorted({c for c in code if c not in _VALUE})
    if bad:
        return "contains characters not allowed in a USCC: " + " ".join(bad)
    expected = check_char(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]}, expected {expected}"
    return None


def checksum_ok(codes: np.ndarray | list[str]) -> np.ndarray:
    """Vectorised check of well-formed 18-character codes (True where the check passes)."""
    arr = np.asarray(codes, dtype="U18")
    if arr.size == 0:
        return np.zeros(0, dtype=bool)
    chars = arr.view("U1").reshape(arr.size, 18)
    lut = np.full(128, -1, dtype=np.int64)
    for c, v in _VALUE.items():
        lut[ord(c)] = v
    codes_int = chars.view(np.uint32).astype(np.int64)
    codes_int = np.where(codes_int < 128, codes_int, 0)
    vals = lut[codes_int]
    if (vals < 0).any():
        ok_chars = (vals >= 0).all(axis=1)
    else:
        ok_chars = np.ones(arr.size, dtype=bool)
    total = (np.where(vals[:, :17] < 0, 0, vals[:, :17]) * np.asarray(WEIGHTS)).sum(axis=1)
    return ok_chars & (vals[:, 17] == (31 - total % 31) % 31)


def make_uscc(rng: np.random.Generator, division: str = "350100") -> str:
    """A random well-formed USCC (for synthetic data): 91 + division + 9 chars + check."""
    body = "91" + division + "".join(rng.choice(list(ALPHABET), size=9))
    return body + check_char(body)
