"""The pure parts of `./memnun eval`: reading Rasa's prediction files, scoring, the fallback sweep, summary.md.

Inputs are written in the exact shape `rasa test nlu --successes` produces (rasa/nlu/test.py,
`write_intent_successes` and `_get_intent_errors`: a JSON list of `{"text", "intent", "intent_prediction":
{"name", "confidence"}}`, indent 2, non-ASCII kept), so a change in how we read them shows up here rather than
after a long evaluation run. Expected numbers are worked out by hand in the comments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.evaluation import (
    FALLBACK,
    SWEEP_THRESHOLDS,
    Prediction,
    _predictions,
    apply_threshold,
    configured_fallback,
    fallback_sweep,
    render_markdown,
    score,
    sweep_point,
)

# (text, gold, predicted, confidence) as the classifier left them; Rasa has already undone any fallback.
TR = [
    ("merhaba", "greet", "greet", 0.92),
    ("siparişim nerede", "track_order", "track_order", 0.50),
    ("görüşürüz", "goodbye", "thank", 0.40),
    ("kargom", "track_order", "track_order", 0.35),
    ("uçak bileti", "out_of_scope", "faq", 0.60),
    ("hava nasıl", "out_of_scope", "out_of_scope", 0.80),
    ("şiir yaz", "out_of_scope", "request_human", 0.42),
    ("fıkra anlat", "out_of_scope", "complain", 0.30),
]
EN = [
    ("where is my order", "track_order", "track_order", 0.97),
    ("hi", "greet", "greet", 0.88),
    ("I want a refund", "refund_return", "complain", 0.33),
    ("book a flight", "out_of_scope", "faq", 0.62),
]


def _rasa_item(text: str, gold: str, predicted: str | None, confidence: float | None) -> dict[str, Any]:
    return {"text": text, "intent": gold, "intent_prediction": {"name": predicted, "confidence": confidence}}


def _write_rasa_results(directory: Path, rows: list[tuple[str, str, str | None, float | None]]) -> None:
    """What `rasa test nlu --successes` leaves in --out: successes and errors split by gold == predicted."""
    successes = [_rasa_item(*row) for row in rows if row[1] == row[2]]
    errors = [_rasa_item(*row) for row in rows if row[1] != row[2]]
    for name, items in (("intent_successes.json", successes), ("intent_errors.json", errors)):
        if items:  # Rasa writes no file for an empty list
            (directory / name).write_text(json.dumps(items, indent=2, ensure_ascii=False), encoding="utf-8")


def _load(tmp_path: Path, name: str, rows: list[tuple[str, str, str, float]]) -> list[Prediction]:
    directory = tmp_path / name
    directory.mkdir()
    _write_rasa_results(directory, rows)
    return _predictions(directory)


def test_predictions_read_rasa_files_with_confidence(tmp_path: Path) -> None:
    predictions = _load(tmp_path, "tr", TR)

    assert len(predictions) == 8
    by_text = {p.text: p for p in predictions}
    assert by_text["şiir yaz"] == Prediction("şiir yaz", "out_of_scope", "request_human", 0.42)
    assert by_text["merhaba"] == Prediction("merhaba", "greet", "greet", 0.92)
    # successes first, then errors, as the files are read in that order
    assert [p.predicted == p.gold for p in predictions] == [True] * 4 + [False] * 4


def test_predictions_without_a_prediction_count_as_zero_confidence(tmp_path: Path) -> None:
    # Rasa replaces a missing intent with "" and leaves the confidence null; there are no successes at all.
    _write_rasa_results(tmp_path, [("???", "greet", "", None)])

    assert not (tmp_path / "intent_successes.json").exists()
    assert _predictions(tmp_path) == [Prediction("???", "greet", "None", 0.0)]


def test_apply_threshold_falls_back_strictly_below_the_threshold() -> None:
    predictions = [Prediction("a", "greet", "greet", 0.45), Prediction("b", "greet", "greet", 0.4499)]

    assert apply_threshold(predictions, 0.45) == [("a", "greet", "greet"), ("b", "greet", FALLBACK)]
    assert apply_threshold(predictions, None) == [("a", "greet", "greet"), ("b", "greet", "greet")]


def test_score_with_the_configured_threshold(tmp_path: Path) -> None:
    rows = apply_threshold(_load(tmp_path, "tr", TR), 0.45)
    # Below 0.45: görüşürüz (0.40), kargom (0.35), şiir yaz (0.42), fıkra anlat (0.30) fall back.
    result = score(rows)

    assert result["n"] == 8
    assert result["fallback_rate"] == 0.5
    assert result["in_scope_accuracy"] == 0.5  # merhaba, siparişim nerede
    assert result["out_of_scope_handled"] == 0.75  # all but "uçak bileti" (faq, 0.60)
    assert result["accuracy"] == 0.375  # 3 exact labels; a handled fallback is not the gold label
    track = result["per_intent"]["track_order"]
    assert (track["recall"], track["precision"], track["support"]) == (0.5, 1.0, 2)
    assert track["top_confusions"] == [(FALLBACK, 1)]
    assert result["per_intent"]["out_of_scope"]["top_confusions"] == [(FALLBACK, 2), ("faq", 1)]
    # macro-F1 over gold labels: greet 1.0, goodbye 0, track_order 2/3, out_of_scope 2*(1*0.25)/1.25 = 0.4
    assert result["macro_f1"] == pytest.approx((1.0 + 0.0 + 2 / 3 + 0.4) / 4, abs=1e-4)


@pytest.mark.parametrize(
    ("threshold", "in_scope", "handled", "overall", "fallback_rate"),
    [
        (0.30, 0.75, 0.25, 0.5, 0.0),  # nothing below 0.30
        (0.35, 0.75, 0.5, 0.625, 0.125),  # fıkra anlat falls back; kargom at exactly 0.35 does not
        (0.40, 0.5, 0.5, 0.5, 0.25),  # kargom (a correct answer) is lost
        (0.55, 0.25, 0.75, 0.5, 0.625),
        (0.65, 0.25, 1.0, 0.625, 0.75),  # uçak bileti (faq, 0.60) is now handled
        (0.95, 0.0, 1.0, 0.5, 1.0),  # everything falls back
    ],
)
def test_sweep_point(threshold: float, in_scope: float, handled: float, overall: float, fallback_rate: float) -> None:
    point = sweep_point([Prediction(*row) for row in TR], threshold)

    assert point["threshold"] == threshold
    assert (point["n"], point["in_scope_n"], point["out_of_scope_n"]) == (8, 4, 4)
    assert point["in_scope_accuracy"] == in_scope
    assert point["out_of_scope_handled"] == handled
    assert point["overall_accuracy"] == overall
    assert point["fallback_rate"] == fallback_rate


def test_sweep_point_without_out_of_scope_utterances() -> None:
    point = sweep_point([Prediction("hi", "greet", "greet", 0.5)], 0.6)

    assert point["out_of_scope_handled"] is None
    assert point["in_scope_accuracy"] == 0.0
    assert point["overall_accuracy"] == 0.0


def test_fallback_sweep_best_thresholds(tmp_path: Path) -> None:
    sweep = fallback_sweep({"tr": _load(tmp_path, "tr", TR), "en": _load(tmp_path, "en", EN)})

    assert sweep["thresholds"] == [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    assert sweep["thresholds"] == list(SWEEP_THRESHOLDS)
    assert sweep["ambiguity_rule_applied"] is False
    assert sweep["out_of_scope_share"] == {"tr": 0.5, "en": 0.25}
    # TR reaches 5/8 at 0.35, 0.45, 0.50 and 0.65-0.90: ties go to the lowest threshold.
    assert [p["overall_accuracy"] for p in sweep["per_language"]["tr"]] == [
        0.5, 0.625, 0.5, 0.625, 0.625, 0.5, 0.5, 0.625, 0.625, 0.625, 0.625, 0.625, 0.625, 0.5
    ]  # fmt: skip
    assert sweep["best"]["tr"] == 0.35
    # EN: "book a flight" (faq, 0.62) is handled from 0.65 on; "hi" (0.88) is lost from 0.90 on.
    assert [p["overall_accuracy"] for p in sweep["per_language"]["en"]] == [0.5] * 7 + [0.75] * 5 + [0.5] * 2
    assert sweep["best"]["en"] == 0.65
    combined = {p["threshold"]: p for p in sweep["combined"]}
    assert combined[0.35]["overall_accuracy"] == 0.5625  # (0.625 + 0.5) / 2
    assert combined[0.65]["overall_accuracy"] == 0.6875  # (0.625 + 0.75) / 2
    assert combined[0.65]["pooled_accuracy"] == 0.6667  # (5 + 3) / 12
    assert combined[0.9]["overall_accuracy"] == 0.5625
    assert sweep["best"]["combined"] == 0.65


def test_fallback_sweep_combined_weighs_languages_equally() -> None:
    # A large set that prefers the low threshold and a small one that prefers the high threshold.
    large = [Prediction(f"sure {i}", "greet", "greet", 0.9) for i in range(5)]
    large += [Prediction(f"unsure {i}", "greet", "greet", 0.5) for i in range(5)]
    large += [Prediction("oos", "out_of_scope", "faq", 0.95)]
    small = [Prediction("oos", "out_of_scope", "faq", 0.6), Prediction("hi", "greet", "greet", 0.95)]

    sweep = fallback_sweep({"en": large, "tr": small}, thresholds=(0.3, 0.7))

    combined = {p["threshold"]: p for p in sweep["combined"]}
    # Mean of languages: (10/11 + 1/2) / 2 = 0.7045 at 0.3 against (5/11 + 2/2) / 2 = 0.7273 at 0.7.
    assert combined[0.3]["overall_accuracy"] == 0.7045
    assert combined[0.7]["overall_accuracy"] == 0.7273
    # Pooled would have chosen 0.3: (10 + 1) / 13 against (5 + 2) / 13.
    assert combined[0.3]["pooled_accuracy"] == 0.8462
    assert combined[0.7]["pooled_accuracy"] == 0.5385
    assert sweep["best"] == {"en": 0.3, "tr": 0.7, "combined": 0.7}


def test_fallback_sweep_skips_empty_languages() -> None:
    sweep = fallback_sweep({"tr": [], "en": [Prediction("hi", "greet", "greet", 0.9)]}, thresholds=(0.5,))

    assert list(sweep["per_language"]) == ["en"]
    assert sweep["best"] == {"en": 0.5, "combined": 0.5}


def test_configured_fallback_reads_the_pipeline(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "recipe: default.v1\nlanguage: tr\npipeline:\n  - name: DIETClassifier\n    epochs: 80\n"
        "  - name: FallbackClassifier\n    threshold: 0.45\n    ambiguity_threshold: 0.08\npolicies: []\n",
        encoding="utf-8",
    )
    assert configured_fallback(config) == (0.45, 0.08)

    config.write_text("pipeline:\n  - name: DIETClassifier\n", encoding="utf-8")
    assert configured_fallback(config) == (None, None)


def _summary(tmp_path: Path) -> dict[str, Any]:
    tr = _load(tmp_path, "tr", TR)
    en = _load(tmp_path, "en", EN)
    return {
        "model": "memnun-test.tar.gz",
        "fallback": {"threshold": 0.45, "ambiguity_threshold": 0.08},
        "third_party": {"tr": score(apply_threshold(tr, 0.45)), "en": score(apply_threshold(en, 0.45))},
        "fallback_sweep": fallback_sweep({"tr": tr, "en": en}),
        "cross_validation": {"folds": 3, "accuracy": 0.91234, "macro_f1": 0.88, "weighted_f1": 0.9},
    }


def test_render_markdown_sweep_tables(tmp_path: Path) -> None:
    summary = _summary(tmp_path)
    markdown = render_markdown(summary)
    lines = markdown.splitlines()

    assert lines[0] == "# NLU evaluation (memnun-test.tar.gz)"
    assert "Cross-validation on our data (3 folds, before the FallbackClassifier): accuracy 0.912" in markdown
    assert "Threshold with the best overall accuracy: TR 0.35, EN 0.65, combined 0.65 (config.yml: 0.45)." in markdown
    assert "Ambiguity rule: not applied." in markdown
    assert "(out of scope: TR 0.50, EN 0.25)" in markdown
    # TR table: the best row and the configured row are marked.
    assert "| 0.35 (best) | 0.750 | 0.500 | 0.625 | 0.125 |" in lines
    assert "| 0.45 (config) | 0.500 | 0.750 | 0.625 | 0.500 |" in lines
    assert "| 0.65 (best) | 0.667 | 1.000 | 0.750 | 0.500 |" in lines  # EN: 0.33 and 0.62 fall back
    # Combined table: TR overall, EN overall, combined, pooled.
    assert "| threshold | TR overall | EN overall | combined | pooled |" in lines
    assert "| 0.65 (best) | 0.625 | 0.750 | 0.688 | 0.667 |" in lines
    assert "| 0.45 (config) | 0.625 | 0.500 | 0.562 | 0.583 |" in lines
    sweep_rows = [line for line in lines if line.startswith("| 0.") and line.count("|") == 6]
    assert len(sweep_rows) == 3 * len(SWEEP_THRESHOLDS)  # TR, EN and combined tables
    # Headline per language at the configured threshold, then the per-intent table.
    assert "in-scope accuracy 0.500 · out-of-scope handled 0.750 · fallback rate 0.500" in markdown
    assert "| out_of_scope | 1.00 | 0.25 | 0.40 | 4 | nlu_fallback (2), faq (1) |" in lines
    # The sweep comes before the per-language sections.
    assert markdown.index("## Fallback threshold sweep") < markdown.index("## Third-party set, TR")


def test_render_markdown_of_a_summary_without_sweep() -> None:
    # Summaries written before the sweep existed, and sets without out-of-scope utterances, still render.
    result = score([("hi", "greet", "greet"), ("bye", "goodbye", "greet")])
    markdown = render_markdown({"model": "m", "third_party": {"en": result}, "cross_validation": None})

    assert "Fallback threshold sweep" not in markdown
    assert "out-of-scope handled n/a" in markdown
    assert "in-scope accuracy 0.500" in markdown
    assert "| goodbye | 0.00 | 0.00 | 0.00 | 1 | greet (1) |" in markdown.splitlines()


def test_summary_is_json_serialisable(tmp_path: Path) -> None:
    summary = _summary(tmp_path)

    restored = json.loads(json.dumps(summary, ensure_ascii=False))
    assert restored["fallback_sweep"]["best"] == {"tr": 0.35, "en": 0.65, "combined": 0.65}
    assert render_markdown(restored) == render_markdown(summary)
