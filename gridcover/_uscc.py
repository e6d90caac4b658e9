"""统一社会信用代码 (unified social credit code) check per GB 32100-2015.

A code has 18 characters from :data:`ALPHABET` (digits and capital letters without
I, O, S, V, Z): the registering authority (1) and the entity type (2), the
administrative division code of the registering authority (3–8, six digits,
GB/T 2260), the organisation code (9–17) and the check character (18, weighted sum
modulo 31). Codes are written with spaces, hyphens and full-width characters
(``91-440101-MA5CJQ4N59``, ``９１４４…``); :func:`compact` removes them first.

Examples
--------
>>> compact(" 91-440101-MA5CJQ4N59 ")
'91440101MA5CJQ4N59'
>>> uscc_problem("9144A101MA5CJQ4N59")
'characters 3-8 must be the 6-digit division code, found 44A101'
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

__all__ = ["ALPHABET", "PATTERN", "WEIGHTS", "check_char", "checksum_ok", "compact", "make_uscc",
           "uscc_problem"]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: A well-formed code (check character not verified): GB 32100 §4.
PATTERN = f"[{ALPHABET}]{{2}}[0-9]{{6}}[{ALPHABET}]{{10}}"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_LUT = np.full(256, -1, dtype=np.int8)
_LUT[[ord(c) for c in ALPHABET]] = np.arange(len(ALPHABET), dtype=np.int8)
_WEIGHTS32 = np.asarray(WEIGHTS, dtype=np.int32)
# Separators written inside codes (after NFKC): whitespace, zero-width characters,
# hyphens and dashes of every width, the minus sign, the middle dot.
_SEPARATORS = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff\-\u2010-\u2015\u2212\u30fc\u00b7]+")


def compact(code: object) -> str:
    """The code without separators, NFKC-normalised (full-width → half-width), upper case.

    >>> compact("９１ ３５０１００ Ｍ０００１００Ｙ４３")
    '91350100M000100Y43'
    """
    if code is None or (isinstance(code, float) and code != code):
        return ""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", str(code))).upper()


def check_char(first17: str) -> str:
    """The check character C18 for the first 17 characters.

    >>> check_char("91350100M000100Y4")
    '3'
    """
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Why ``code`` (already :func:`compact`) is not a valid USCC, or ``None`` when it is.

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
    if not code[2:8].isascii() or not code[2:8].isdigit():
        return f"characters 3-8 must be the 6-digit division code, found {code[2:8]}"
    expected = check_char(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]}, expected {expected}"
    return None


def _arrow_code_points(codes: pd.Series) -> np.ndarray | None:
    """The (n, 18) bytes of a pyarrow-backed Series of 18-byte strings, read from its buffers."""
    if getattr(codes.dtype, "storage", None) != "pyarrow":
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    arrow = pa.chunked_array(pa.array(codes.array)).combine_chunks()
    if not pa.types.is_large_string(arrow.type) or arrow.null_count:
        return None
    lengths = pc.binary_length(arrow).to_numpy(zero_copy_only=False)
    if not (lengths == 18).all():
        return None
    _, offsets, data = arrow.buffers()
    first = int(np.frombuffer(offsets, dtype=np.int64)[arrow.offset])
    raw = np.frombuffer(data, dtype=np.uint8)[first:first + 18 * len(arrow)]
    return raw.reshape(len(arrow), 18)


def _code_points(codes: np.ndarray | list[str] | pd.Series) -> np.ndarray:
    """The codes as an (n, 18) array of bytes: the ASCII code points, 0 past the end of a
    shorter code and for any other character (never allowed in a code)."""
    if isinstance(codes, pd.Series):
        found = _arrow_code_points(codes)
        if found is not None:
            return found
        codes = codes.to_numpy(dtype=object)
    arr = np.asarray(codes, dtype="U18")
    points = arr.view("U1").reshape(arr.size, 18).view(np.uint32)
    return np.where(points < 128, points, 0).astype(np.uint8)


def checksum_ok(codes: np.ndarray | list[str] | pd.Series) -> np.ndarray:
    """Vectorised check of 18-character codes: True where the characters are allowed,
    characters 3–8 are digits and the check character is right."""
    if len(codes) == 0:
        return np.zeros(0, dtype=bool)
    vals = _LUT[_code_points(codes)]  # int8, -1 for a character not allowed
    ok_chars = (vals >= 0).all(axis=1) & (vals[:, 2:8] <= 9).all(axis=1)
    total = np.maximum(vals[:, :17], 0).astype(np.int32) @ _WEIGHTS32  # at most 30 * 30 * 17
    return ok_chars & (vals[:, 17] == (31 - total % 31) % 31)


def make_uscc(rng: np.random.Generator, division: str = "350100") -> str:
    """A random well-formed USCC (for synthetic data): 91 + division + 9 chars + check."""
    body = "91" + division + "".join(rng.choice(list(ALPHABET), size=9))
    return body + check_char(body)
