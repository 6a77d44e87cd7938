"""mask_sensitive: valid card numbers (Luhn) and T.C. kimlik numbers (checksum) are masked, nothing else."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.masking import TC_KIMLIK_MASK, luhn_valid, mask_sensitive, tc_kimlik_valid

VISA = "4111111111111111"
MASTERCARD = "5500000000000004"
AMEX = "378282246310005"
VALID_TC = "10000000146"

TURKISH_WORDS = [
    "kartımdan",
    "iki",
    "kez",
    "ödeme",
    "çekildi",
    "lütfen",
    "iade",
    "edin",
    "siparişim",
    "gelmedi",
    "müşteri",
    "hizmetleri",
    "çok",
    "kötü",
    "numaram",
    "şu",
    "kimlik",
    "İstanbul",
    "ağustos",
    "ıslak",
    "öğrenci",
    "ve",
]


def _luhn_complete(prefix: str) -> str:
    """Append the check digit that makes ``prefix`` Luhn-valid."""
    for digit in "0123456789":
        if luhn_valid(prefix + digit):
            return prefix + digit
    raise AssertionError("unreachable")


def _tc_complete(first_nine: str) -> str:
    d = [int(c) for c in first_nine]
    tenth = ((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10
    eleventh = (sum(d) + tenth) % 10
    return f"{first_nine}{tenth}{eleventh}"


def test_checksums() -> None:
    assert luhn_valid(VISA) and luhn_valid(MASTERCARD) and luhn_valid(AMEX)
    assert not luhn_valid("4111111111111112")
    assert tc_kimlik_valid(VALID_TC)
    assert not tc_kimlik_valid("10000000147")
    assert not tc_kimlik_valid("01234567890")  # never starts with 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kartım 4111 1111 1111 1111 idi.", "Kartım **** **** **** 1111 idi."),
        ("kart:4111-1111-1111-1111,", "kart:**** **** **** 1111,"),
        ("no 4111111111111111.", "no **** **** **** 1111."),
        ("(5500-0000-0000-0004)", "(**** **** **** 0004)"),
        ("kartım4111111111111111 ile", "kartım**** **** **** 1111 ile"),
        ("4111 1111 1111 1111'den çekildi", "**** **** **** 1111'den çekildi"),
        ("amex 3782 822463 10005", "amex **** **** **** 0005"),
        ("TC 10000000146 olan", f"TC {TC_KIMLIK_MASK} olan"),
        ("T.C. no: 10000000146'dır", f"T.C. no: {TC_KIMLIK_MASK}'dır"),
    ],
)
def test_masks_valid_numbers(text: str, expected: str) -> None:
    assert mask_sensitive(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "geçersiz kart 4111111111111112",
        "telefonum 0532 123 45 67",
        "+90 532 123 45 67 numarasından",
        "sipariş SP1234567 ve T-2026-000123",
        "tarih 12.03.2024 saat 14:30, tutar 1.250,50 TL",
        "geçersiz tc 10000000147",
        "",
    ],
)
def test_leaves_other_numbers_alone(text: str) -> None:
    assert mask_sensitive(text) == text


def test_masks_several_in_one_text() -> None:
    masked = mask_sensitive(f"kart {VISA} ve {MASTERCARD}, tc {VALID_TC}")
    assert masked == f"kart **** **** **** 1111 ve **** **** **** 0004, tc {TC_KIMLIK_MASK}"


card_numbers = (
    st.integers(min_value=12, max_value=18)
    .flatmap(lambda length: st.text(alphabet="0123456789", min_size=length, max_size=length))
    .filter(lambda prefix: prefix[0] != "0")
    .map(_luhn_complete)
)
turkish_text = st.lists(st.sampled_from(TURKISH_WORDS), min_size=0, max_size=8).map(" ".join)
layouts = st.sampled_from(["plain", "spaces", "dashes"])


def _layout(number: str, layout: str) -> str:
    if layout == "plain":
        return number
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    return (" " if layout == "spaces" else "-").join(groups)


@settings(max_examples=150, deadline=None)
@given(number=card_numbers, before=turkish_text, after=turkish_text, layout=layouts)
def test_property_valid_cards_in_turkish_text_are_always_masked(
    number: str, before: str, after: str, layout: str
) -> None:
    text = " ".join(part for part in (before, _layout(number, layout), after) if part)
    masked = mask_sensitive(text)
    assert number not in masked.replace(" ", "").replace("-", "")
    assert f"**** **** **** {number[-4:]}" in masked
    assert masked.startswith(before) and masked.endswith(after)


@settings(max_examples=150, deadline=None)
@given(
    number=card_numbers.map(lambda n: n[:-1] + str((int(n[-1]) + 1) % 10)),
    before=turkish_text,
    after=turkish_text,
)
def test_property_luhn_invalid_numbers_are_untouched(number: str, before: str, after: str) -> None:
    assert not luhn_valid(number)
    text = " ".join(part for part in (before, number, after) if part)
    assert mask_sensitive(text) == text


@settings(max_examples=150, deadline=None)
@given(
    first_nine=st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda s: s[0] != "0"),
    before=turkish_text,
    after=turkish_text,
)
def test_property_tc_kimlik_valid_masked_invalid_untouched(first_nine: str, before: str, after: str) -> None:
    valid = _tc_complete(first_nine)
    text = " ".join(part for part in (before, valid, after) if part)
    assert valid not in mask_sensitive(text)
    assert TC_KIMLIK_MASK in mask_sensitive(text)
    invalid = valid[:10] + str((int(valid[10]) + 1) % 10)
    assert not tc_kimlik_valid(invalid)
    text = " ".join(part for part in (before, invalid, after) if part)
    assert mask_sensitive(text) == text


def test_random_known_cards_deterministic() -> None:
    rng = random.Random(7)
    for _ in range(50):
        number = _luhn_complete("4" + "".join(rng.choice("0123456789") for _ in range(14)))
        assert mask_sensitive(f"kart numaram {number} lütfen") == f"kart numaram **** **** **** {number[-4:]} lütfen"
