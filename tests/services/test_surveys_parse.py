"""parse_score / split_score_comment: the rules in bot.services.surveys' docstring."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.errors import InvalidInput
from bot.services.surveys import (
    CSAT_PHRASES,
    ENGLISH_NUMBER_WORDS,
    SCORE_RANGE,
    TURKISH_NUMBER_WORDS,
    parse_score,
    split_score_comment,
)

TURKISH_SPELLING = {
    0: "sıfır",
    1: "bir",
    2: "iki",
    3: "üç",
    4: "dört",
    5: "beş",
    6: "altı",
    7: "yedi",
    8: "sekiz",
    9: "dokuz",
    10: "on",
}


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("8", "nps", 8),
        (" 0 ", "nps", 0),
        ("sekiz", "nps", 8),
        ("Sekiz", "nps", 8),
        ("10/10", "nps", 10),
        ("4/5", "csat", 4),
        ("on", "nps", 10),
        ("ON", "nps", 10),
        ("on puan", "nps", 10),
        ("8 puan", "nps", 8),
        ("benden 10", "nps", 10),
        ("puanım 7", "nps", 7),
        ("dokuz", "nps", 9),
        ("sifir", "nps", 0),
        ("dört", "csat", 4),
        ("dort", "csat", 4),
        ("ten", "nps", 10),
        ("I would give it 9", "nps", 9),
        ("8 out of 10", "nps", 8),
        ("10 üzerinden 8", "nps", 8),
        ("5 yıldız", "csat", 5),
        ("⭐⭐⭐⭐", "csat", 4),
        ("⭐⭐⭐⭐⭐ harika", "csat", 5),
        ("8️⃣", "nps", 8),
        ("çok memnunum", "csat", 5),
        ("Cok memnunum!", "csat", 5),
        ("harika", "csat", 5),
        ("very satisfied", "csat", 5),
        ("memnunum", "csat", 4),
        ("idare eder", "csat", 3),
        ("fena değil", "csat", 3),
        ("fena degil", "csat", 3),
        ("okay", "csat", 3),
        ("memnun değilim", "csat", 2),
        ("hiç memnun değilim", "csat", 1),
        ("hic memnun degilim", "csat", 1),
        ("berbat", "csat", 1),
        ("terrible", "csat", 1),
    ],
)
def test_parses(text: str, kind: str, expected: int) -> None:
    assert parse_score(text, kind) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("on time", "nps"),  # English "on" is not ten
        ("on it", "nps"),  # "on" with English filler is not ten
        ("3 gün gecikti", "csat"),  # a number inside a sentence is not a score
        ("7 veya 8", "nps"),  # two different numbers
        ("3-4", "csat"),
        ("11", "nps"),
        ("0", "csat"),
        ("6", "csat"),
        ("8.5", "nps"),
        ("8,5", "nps"),
        ("-1", "nps"),
        ("8/10", "csat"),  # wrong scale
        ("harika", "nps"),  # phrases are CSAT-only
        ("⭐⭐⭐⭐⭐⭐", "csat"),
        ("⭐⭐ çok memnunum", "csat"),  # stars and phrase disagree
        ("3. kez yazıyorum", "csat"),
        ("merhaba", "csat"),
        ("", "nps"),
        ("on bir", "nps"),
    ],
)
def test_rejects_ambiguous_or_out_of_range(text: str, kind: str) -> None:
    assert parse_score(text, kind) is None  # type: ignore[arg-type]


def test_leading_score_with_comment() -> None:
    assert split_score_comment("8, kargo biraz gecikti", "nps") == (8, "kargo biraz gecikti")
    assert split_score_comment("2 - Ürün kırık geldi", "csat") == (2, "Ürün kırık geldi")
    assert split_score_comment("9/10: güzel hizmet", "nps") == (9, "güzel hizmet")
    assert split_score_comment("4", "csat") == (4, None)
    assert split_score_comment("3 gün gecikti", "csat") == (None, None)
    assert split_score_comment("12, çok iyi", "nps") == (None, None)


def test_unknown_kind_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as error:
        parse_score("5", "ces")  # type: ignore[arg-type]
    assert error.value.code == "invalid_kind"


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60), kind=st.sampled_from(["csat", "nps"]))
def test_property_never_out_of_range(text: str, kind: str) -> None:
    score = parse_score(text, kind)  # type: ignore[arg-type]
    low, high = SCORE_RANGE[kind]
    assert score is None or low <= score <= high


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(
        st.sampled_from(["8", "sekiz", "puan", "on", "⭐", "10/10", "çok", "memnunum", "abc", "-", ","]), max_size=6
    ).map(" ".join),
    kind=st.sampled_from(["csat", "nps"]),
)
def test_property_never_out_of_range_for_scorey_text(text: str, kind: str) -> None:
    score = parse_score(text, kind)  # type: ignore[arg-type]
    low, high = SCORE_RANGE[kind]
    assert score is None or low <= score <= high


@pytest.mark.parametrize("kind", ["csat", "nps"])
def test_round_trips_every_digit_and_word(kind: str) -> None:
    low, high = SCORE_RANGE[kind]
    for value in range(0, 11):
        expected = value if low <= value <= high else None
        assert parse_score(str(value), kind) == expected  # type: ignore[arg-type]
        assert parse_score(TURKISH_SPELLING[value], kind) == expected  # type: ignore[arg-type]
        ascii_word = next(word for word, number in TURKISH_NUMBER_WORDS.items() if number == value)
        assert parse_score(ascii_word, kind) == expected  # type: ignore[arg-type]
        english = next(word for word, number in ENGLISH_NUMBER_WORDS.items() if number == value)
        assert parse_score(english, kind) == expected  # type: ignore[arg-type]
        assert parse_score(english.upper(), kind) == expected  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(value=st.integers(min_value=0, max_value=10), filler=st.sampled_from(["", " puan", " puanım", " points"]))
def test_property_digits_with_filler_round_trip(value: int, filler: str) -> None:
    assert parse_score(f"{value}{filler}", "nps") == value
    assert parse_score(f"{value}/10", "nps") == value


def test_every_csat_phrase_in_range() -> None:
    for phrase, score in CSAT_PHRASES.items():
        assert 1 <= score <= 5
        assert parse_score(phrase, "csat") == score
        assert parse_score(phrase, "nps") is None
