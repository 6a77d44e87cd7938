"""Turkish normalisation used by the NLU components (pure Python, runs in the app environment)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.nlu.text import fold, split_apostrophe_suffix, turkish_lower


def test_turkish_lower_uses_dotted_and_dotless_i() -> None:
    assert turkish_lower("İADE") == "iade"
    assert turkish_lower("IŞIK") == "ışık"
    assert turkish_lower("SİPARİŞİM") == "siparişim"
    # str.lower() would give "i̇" (i + combining dot); we never produce it
    assert "\u0307" not in turkish_lower("İstanbul")


def test_fold_makes_typed_without_turkish_letters_equal() -> None:
    assert fold("ŞİKAYET") == fold("şikayet") == fold("sikayet") == "sikayet"
    assert fold("puanlarımı") == "puanlarimi"
    assert fold("Gümüş") == "gumus"
    assert fold("çok memnunum 😊") == "cok memnunum 😊"


def test_apostrophe_suffix_split() -> None:
    assert split_apostrophe_suffix("siparişim'in") == ("siparişim", "'in")
    assert split_apostrophe_suffix("SP1234567’nin") == ("SP1234567", "’nin")
    assert split_apostrophe_suffix("T-2026-000123'ü") == ("T-2026-000123", "'ü")
    assert split_apostrophe_suffix("merhaba") == ("merhaba", None)
    # not a suffix: long tail
    assert split_apostrophe_suffix("rock'n'rollcular") == ("rock'n'rollcular", None)


@given(st.text(max_size=40))
def test_fold_is_idempotent_and_never_has_turkish_letters(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert not set("ıİşŞğĞçÇöÖüÜ") & set(folded)


@given(st.text(alphabet="abcçdefgğhıijklmnoöprsştuüvyzABCÇDEFGĞHIİJKLMNOÖPRSŞTUÜVYZ'", max_size=30))
def test_split_keeps_the_text(word: str) -> None:
    head, suffix = split_apostrophe_suffix(word)
    assert head + (suffix or "") == word
