"""Our Rasa graph components, exercised inside the real engine environment."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bot.engine import engine_environment
from bot.settings import PROJECT_ROOT, Settings


def _tokenize(engine_python: Path, samples: list[tuple[str, str]]) -> list[list[dict]]:
    stdin = "\n".join(f"{lang}\t{text}" for lang, text in samples)
    completed = subprocess.run(
        [str(engine_python), str(Path(__file__).with_name("nlu_probe.py"))],
        input=stdin, capture_output=True, text=True, cwd=PROJECT_ROOT,
        env=engine_environment(Settings()), check=True, timeout=300,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_tokenizer_splits_apostrophe_suffixes_and_folds_lemmas(engine_available: Path) -> None:
    [order, complaint, english] = _tokenize(
        engine_available,
        [
            ("tr", "SP1234567'nin durumu ne?"),
            ("tr", "ŞİKAYETİM var, puanlarimi göremiyorum"),
            ("en", "Where are my ORDERS"),
        ],
    )
    texts = [t["text"] for t in order]
    assert texts[:2] == ["SP1234567", "'nin"]
    # offsets point into the original text, so entity spans stay exact
    assert order[0]["start"] == 0 and order[0]["end"] == len("SP1234567")
    lemmas = [t["lemma"] for t in complaint]
    assert "\u0307" not in "".join(lemmas)
    assert all(not set("ıişğçöü") & set(lemma) - {"i"} for lemma in lemmas)
    assert "puan" in lemmas  # found through the folded lookup table although typed without ı
    assert [t["lemma"] for t in english][:4] == ["where", "be", "my", "order"]
