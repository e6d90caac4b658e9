"""USCC (统一社会信用代码) per GB 32100-2015, checked against python-stdnum's ``cn.uscc``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gridcover._uscc import ALPHABET, check_char, checksum_ok, compact, uscc_problem

_LETTERS = [c for c in ALPHABET if not c.isdigit()]


def random_codes(n: int, seed: int) -> list[str]:
    """Codes that are valid, or wrong in one way a ledger shows: a letter in the division
    code, a character outside the alphabet, a wrong check character, a wrong length,
    lower case, hyphens and spaces. The first two characters are digits (GB 32100 allows
    letters there that stdnum refuses)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        chars = [str(d) for d in rng.integers(0, 10, 8)] + list(rng.choice(list(ALPHABET), 9))
        if rng.random() < 0.25:
            chars[int(rng.integers(2, 8))] = str(rng.choice(_LETTERS))
        if rng.random() < 0.05:
            chars[int(rng.integers(8, 17))] = str(rng.choice(list("IOSVZ")))
        body = "".join(chars)
        good = all(c in ALPHABET for c in body)
        last = check_char(body) if good and rng.random() < 0.7 else str(rng.choice(list(ALPHABET)))
        code = body + last
        if rng.random() < 0.03:
            code = code[:-1] if rng.random() < 0.5 else code + "0"
        if rng.random() < 0.1:
            code = code.lower()
        if rng.random() < 0.2:
            sep = str(rng.choice(["-", " ", " - "]))
            code = code[:2] + sep + code[2:8] + sep + code[8:]
        out.append(code)
    return out


def ours(code: str) -> bool:
    return uscc_problem(compact(code)) is None


def test_agrees_with_stdnum_on_random_codes() -> None:
    uscc = pytest.importorskip("stdnum.cn.uscc")
    codes = random_codes(20_000, seed=14)
    mine = np.array([ours(c) for c in codes])
    theirs = np.array([uscc.is_valid(c) for c in codes])
    disagree = [c for c, a, b in zip(codes, mine, theirs, strict=True) if a != b]
    assert disagree == []
    # the sample holds both kinds in numbers, and the division-code trap in particular
    assert 0.2 < mine.mean() < 0.8
    letter_division = [c for c in codes if any(ch.isalpha() for ch in compact(c)[2:8])]
    assert len(letter_division) > 2000 and not any(ours(c) for c in letter_division)


def test_vectorised_check_agrees_with_the_scalar_one() -> None:
    codes = [compact(c) for c in random_codes(5000, seed=3)]
    full = [c for c in codes if len(c) == 18]
    assert checksum_ok(full).tolist() == [uscc_problem(c) is None for c in full]


@pytest.mark.parametrize("written", ["91-440101-MA5CJQ4N59", "91 440101 MA5CJQ4N59", "９１４４０１０１ＭＡ５ＣＪＱ４Ｎ５９",
                                     "91－440101－MA5CJQ4N59", "91440101ma5cjq4n59", "91–440101–MA5CJQ4N59"])
def test_separators_and_full_width_forms_are_removed(written: str) -> None:
    assert compact(written) == "91440101MA5CJQ4N59"
    assert uscc_problem(compact(written)) is None


def test_a_letter_in_the_division_code_is_refused() -> None:
    body = "9144A101MA5CJQ4N5"
    code = body + check_char(body)  # the check character itself is right
    assert uscc_problem(code) == "characters 3-8 must be the 6-digit division code, found 44A101"
    assert not checksum_ok([code])[0]


def test_letters_in_the_first_two_characters_stay_allowed() -> None:
    body = "Y1440101MA5CJQ4N5"  # GB 32100: registering authority Y (other)
    assert uscc_problem(body + check_char(body)) is None


def test_ledger_accepts_a_hyphenated_code_under_its_compact_form(tmp_path: Path) -> None:
    from gridcover.ledger import read_ledger

    body = "9144A101MA5CJQ4N5"
    letter = body + check_char(body)
    text = ("统一社会信用代码,企业名称,地址,经度,纬度,从业人数,正式党员数\n"
            "91-440101-MA5CJQ4N59,甲公司,示例路1号,119.30,26.08,10,0\n"
            f"{letter},乙公司,示例路2号,119.30,26.08,10,0\n")
    path = tmp_path / "ledger.csv"
    path.write_text(text, encoding="utf-8")
    ledger = read_ledger(path)
    assert ledger.enterprises.index.tolist() == ["91440101MA5CJQ4N59"]
    assert ledger.rejects["source_row"].tolist() == [3]
    assert "6-digit division code" in ledger.rejects["reason"].iloc[0]
