"""`./memnun eval`: how well does the assistant understand customers whose words we did not write?

Two measurements, written to one report folder (default `reports/eval/`):

1. Cross-validation of our own NLU data (`rasa test nlu --cross-validation`), which says how well the
   model generalises within our data.
2. A held-out third-party set built by `../shared/eval-data/build_eval_set.py` (customer-service utterances
   from public data sets, mapped onto our intent names; never used for training). Accuracy and macro-F1
   are reported per language and per intent, with a confusion-matrix PNG per language.

`nlu_fallback` (the FallbackClassifier's "not sure") is reported as its own label. For `out_of_scope`
utterances we also report the rate at which the assistant either classified them as out of scope or
fell back, because both lead to the same reply: "I can't help with that, here is what I can do".

`rasa test nlu` never reports `nlu_fallback`: it undoes the FallbackClassifier's prediction so that the
intent the classifier chose stays visible (`undo_fallback_prediction` in rasa/nlu/test.py). We therefore
replay the FallbackClassifier's threshold rule ourselves from each prediction's confidence: once at the
threshold in config.yml for the headline numbers, and over a sweep of thresholds so the threshold can be
chosen from measurements. The ambiguity rule cannot be replayed: Rasa's prediction files hold only the top
intent and its confidence, not the intent ranking.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.engine import domain_argument, engine_environment, rasa_executable, train_model
from bot.settings import PROJECT_ROOT, get_settings

FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
# Both replies tell the customer what we can do instead, so either one handles an out-of-scope message.
HANDLED_OUT_OF_SCOPE = frozenset({OUT_OF_SCOPE, FALLBACK})
# 0.30, 0.35, ... 0.95; rounded so that the thresholds print and compare as written.
SWEEP_THRESHOLDS: tuple[float, ...] = tuple(round(0.30 + 0.05 * i, 2) for i in range(14))


@dataclass(frozen=True)
class Prediction:
    """One evaluated utterance as the intent classifier saw it, before the FallbackClassifier.

    `confidence` is the top intent's confidence, which is all the FallbackClassifier's threshold rule needs.
    """

    text: str
    gold: str
    predicted: str
    confidence: float


def eval_data_dir() -> Path:
    return Path(os.environ.get("MEMNUN_EVAL_DATA", PROJECT_ROOT.parent / "shared" / "eval-data"))


def build_third_party_set(per_intent: int) -> list[dict[str, str]]:
    script = eval_data_dir() / "build_eval_set.py"
    if not script.exists():
        raise FileNotFoundError(f"{script} not found (set MEMNUN_EVAL_DATA)")
    completed = subprocess.run(
        [sys.executable, str(script), "--per-intent", str(per_intent)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]


def _write_nlu_file(rows: list[dict[str, str]], path: Path) -> None:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        text = " ".join(row["text"].split())
        # Rasa's YAML reader treats [..](..) as entity markup; neutralise brackets in third-party text.
        text = text.replace("[", "(").replace("]", ")")
        if text:
            by_intent[row["intent"]].append(text)
    document = {
        "version": "3.1",
        "nlu": [
            {"intent": intent, "examples": "".join(f"- {t}\n" for t in sorted(set(texts)))}
            for intent, texts in sorted(by_intent.items())
        ],
    }
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _predictions(results_dir: Path) -> list[Prediction]:
    """Predictions from Rasa's intent_successes.json (written with `--successes`) and intent_errors.json.

    Both files hold `{"text", "intent", "intent_prediction": {"name", "confidence"}}` per utterance, with the
    fallback already undone by Rasa, so `name` is the classifier's top intent and `confidence` its score.
    """
    predictions: list[Prediction] = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = results_dir / name
        if not path.exists():
            continue
        for item in json.loads(path.read_text(encoding="utf-8")):
            intent_prediction = item.get("intent_prediction") or {}
            confidence = intent_prediction.get("confidence")
            predictions.append(
                Prediction(
                    text=item["text"],
                    gold=item["intent"],
                    predicted=intent_prediction.get("name") or "None",
                    # No confidence means no prediction; the FallbackClassifier would fall back.
                    confidence=float(confidence) if confidence is not None else 0.0,
                )
            )
    return predictions


def configured_fallback(config_path: Path) -> tuple[float | None, float | None]:
    """(threshold, ambiguity_threshold) of the FallbackClassifier in config.yml; (None, None) without one."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    for component in config.get("pipeline") or []:
        if component.get("name") == "FallbackClassifier":
            threshold = component.get("threshold")
            ambiguity = component.get("ambiguity_threshold")
            return (
                float(threshold) if threshold is not None else None,
                float(ambiguity) if ambiguity is not None else None,
            )
    return None, None


def apply_threshold(predictions: list[Prediction], threshold: float | None) -> list[tuple[str, str, str]]:
    """(text, gold, predicted) with the FallbackClassifier's threshold rule applied.

    Rasa falls back when the top confidence is strictly below the threshold, so equal confidence keeps
    the intent. `None` leaves the predictions as the classifier made them.
    """
    return [
        (p.text, p.gold, FALLBACK if threshold is not None and p.confidence < threshold else p.predicted)
        for p in predictions
    ]


def _ratio(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _rounded(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def sweep_point(predictions: list[Prediction], threshold: float) -> dict[str, Any]:
    """In-scope accuracy, out-of-scope handled rate, overall accuracy and fallback rate at one threshold.

    A fallback is wrong for an in-scope utterance (the customer has to rephrase); for an out-of-scope
    utterance both `out_of_scope` and a fallback are right. Counts are kept so that languages can be pooled.
    """
    rows = apply_threshold(predictions, threshold)
    in_scope = [(g, p) for _, g, p in rows if g != OUT_OF_SCOPE]
    out_of_scope = [p for _, g, p in rows if g == OUT_OF_SCOPE]
    in_scope_correct = sum(g == p for g, p in in_scope)
    handled = sum(p in HANDLED_OUT_OF_SCOPE for p in out_of_scope)
    return {
        "threshold": threshold,
        "n": len(rows),
        "in_scope_n": len(in_scope),
        "out_of_scope_n": len(out_of_scope),
        "correct": in_scope_correct + handled,
        "in_scope_accuracy": _rounded(_ratio(in_scope_correct, len(in_scope))),
        "out_of_scope_handled": _rounded(_ratio(handled, len(out_of_scope))),
        "overall_accuracy": _rounded(_ratio(in_scope_correct + handled, len(rows))),
        "fallback_rate": _rounded(_ratio(sum(p == FALLBACK for _, _, p in rows), len(rows))),
    }


def _best_threshold(scored: list[tuple[float, float | None]]) -> float | None:
    """The threshold with the highest score; on a tie the lowest one, which asks customers to rephrase least."""
    candidates = [(value, threshold) for threshold, value in scored if value is not None]
    if not candidates:
        return None
    best = max(value for value, _ in candidates)
    return min(threshold for value, threshold in candidates if value == best)


def fallback_sweep(
    predictions_by_language: dict[str, list[Prediction]],
    thresholds: tuple[float, ...] = SWEEP_THRESHOLDS,
) -> dict[str, Any]:
    """The FallbackClassifier threshold rule replayed at each threshold, per language and combined.

    "combined" is the mean of the languages' overall accuracies, so each language counts once: pooling the
    utterances would let the larger English set choose the threshold for a Turkish-first assistant. The pooled
    accuracy is kept alongside for reference.
    """
    per_language = {
        lang: [sweep_point(predictions, t) for t in thresholds]
        for lang, predictions in predictions_by_language.items()
        if predictions
    }
    combined: list[dict[str, Any]] = []
    combined_means: list[tuple[float, float | None]] = []
    for i, threshold in enumerate(thresholds):
        points = [points[i] for points in per_language.values()]
        # Unrounded per-language accuracies, so neither the mean nor the choice of threshold suffers rounding.
        accuracies = [p["correct"] / p["n"] for p in points]
        mean = sum(accuracies) / len(accuracies) if accuracies else None
        combined_means.append((threshold, mean))
        combined.append(
            {
                "threshold": threshold,
                "overall_accuracy": _rounded(mean),
                "pooled_accuracy": _rounded(_ratio(sum(p["correct"] for p in points), sum(p["n"] for p in points))),
            }
        )
    best: dict[str, float | None] = {
        lang: _best_threshold([(p["threshold"], p["correct"] / p["n"]) for p in points])
        for lang, points in per_language.items()
    }
    best["combined"] = _best_threshold(combined_means)
    return {
        "thresholds": list(thresholds),
        "ambiguity_rule_applied": False,
        "ambiguity_note": (
            "Rasa's intent_successes.json/intent_errors.json hold only the top intent and its confidence "
            "(no intent_ranking), so the FallbackClassifier's ambiguity_threshold is not replayed. It can only "
            "add fallbacks: with it, in-scope accuracy is at most and out-of-scope handled at least the values shown."
        ),
        "out_of_scope_share": {
            lang: _rounded(points[0]["out_of_scope_n"] / points[0]["n"]) for lang, points in per_language.items()
        },
        "per_language": per_language,
        "combined": combined,
        "best": best,
    }


def score(rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Accuracy, macro-F1 over gold intents, per-intent precision/recall/F1, and out-of-scope handling."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    gold = [g for _, g, _ in rows]
    predicted = [p for _, _, p in rows]
    labels = sorted(set(gold))
    accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(rows) if rows else 0.0
    macro_f1 = float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)) if rows else 0.0
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    per_intent = {
        label: {
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
            "support": int(support[i]),
            "top_confusions": Counter(
                p for g, p in zip(gold, predicted, strict=True) if g == label and p != label
            ).most_common(3),
        }
        for i, label in enumerate(labels)
    }
    oos = [(g, p) for g, p in zip(gold, predicted, strict=True) if g == OUT_OF_SCOPE]
    in_scope = [(g, p) for g, p in zip(gold, predicted, strict=True) if g != OUT_OF_SCOPE]
    return {
        "n": len(rows),
        "accuracy": round(accuracy, 4),
        "macro_f1": round(macro_f1, 4),
        "fallback_rate": round(sum(p == FALLBACK for p in predicted) / len(rows), 4) if rows else 0.0,
        "out_of_scope_handled": round(sum(p in HANDLED_OUT_OF_SCOPE for _, p in oos) / len(oos), 4) if oos else None,
        "in_scope_accuracy": round(sum(g == p for g, p in in_scope) / len(in_scope), 4) if in_scope else None,
        "per_intent": per_intent,
    }


def confusion_png(rows: list[tuple[str, str, str]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    gold = [g for _, g, _ in rows]
    predicted = [p for _, _, p in rows]
    labels = sorted(set(gold) | set(predicted))
    matrix = confusion_matrix(gold, predicted, labels=labels)
    size = max(6.0, 0.45 * len(labels))
    fig, ax = plt.subplots(figsize=(size + 2, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=75, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(
                    j,
                    i,
                    str(matrix[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black",
                )
    fig.colorbar(image, ax=ax, fraction=0.03)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _rasa_test_nlu(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([str(rasa_executable()), "test", "nlu", *args], cwd=PROJECT_ROOT, env=env, check=True)


def run_evaluation(out_dir: str, folds: int = 3, per_intent: int = 150, skip_cv: bool = False) -> int:
    settings = get_settings()
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    env = engine_environment(settings)
    model = train_model(settings)
    threshold, ambiguity_threshold = configured_fallback(PROJECT_ROOT / "config.yml")
    summary: dict[str, Any] = {
        "model": model.name,
        "fallback": {"threshold": threshold, "ambiguity_threshold": ambiguity_threshold},
        "third_party": {},
        "fallback_sweep": None,
        "cross_validation": None,
    }
    predictions_by_language: dict[str, list[Prediction]] = {}

    rows = build_third_party_set(per_intent)
    for lang in ("tr", "en"):
        lang_rows = [r for r in rows if r["lang"] == lang]
        if not lang_rows:
            continue
        lang_dir = out / f"third_party_{lang}"
        lang_dir.mkdir()
        nlu_file = lang_dir / "test_set.yml"
        _write_nlu_file(lang_rows, nlu_file)
        _rasa_test_nlu(
            ["--model", str(model), "--nlu", str(nlu_file), "--out", str(lang_dir), "--successes", "--no-plot"], env
        )
        predictions = _predictions(lang_dir)
        nlu_file.unlink()  # the report keeps our predictions, not a copy of the third-party corpus
        predictions_by_language[lang] = predictions
        # Headline numbers as deployed: Rasa's report has the fallback undone, so replay config.yml's threshold.
        deployed = apply_threshold(predictions, threshold)
        summary["third_party"][lang] = score(deployed)
        confusion_png(deployed, out / f"confusion_{lang}.png", f"Third-party set, {lang.upper()}")
        for name in ("intent_successes.json", "intent_errors.json"):
            (lang_dir / name).unlink(missing_ok=True)
    if predictions_by_language:
        summary["fallback_sweep"] = fallback_sweep(predictions_by_language)

    if not skip_cv:
        cv_dir = out / "cross_validation"
        _rasa_test_nlu(
            [
                "--nlu",
                "data",
                "--config",
                "config.yml",
                "--domain",
                domain_argument(),
                "--cross-validation",
                "--folds",
                str(folds),
                "--out",
                str(cv_dir),
                "--no-plot",
            ],
            env,
        )
        report = cv_dir / "intent_report.json"
        if report.exists():
            data = json.loads(report.read_text())
            summary["cross_validation"] = {
                "folds": folds,
                "accuracy": data.get("accuracy"),
                "macro_f1": (data.get("macro avg") or {}).get("f1-score"),
                "weighted_f1": (data.get("weighted avg") or {}).get("f1-score"),
            }

    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    (out / "summary.md").write_text(render_markdown(summary), encoding="utf-8")
    print(render_markdown(summary))
    return 0


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def render_markdown(summary: dict[str, Any]) -> str:
    """summary.md: headline per language, the fallback-threshold sweep, then per-intent tables."""
    lines = [f"# NLU evaluation ({summary['model']})", ""]
    cv = summary.get("cross_validation")
    if cv:
        lines += [
            f"Cross-validation on our data ({cv['folds']} folds, before the FallbackClassifier): "
            f"accuracy {cv['accuracy']:.3f}, macro-F1 {cv['macro_f1']:.3f}",
            "",
        ]
    threshold = (summary.get("fallback") or {}).get("threshold")
    if threshold is not None:
        lines += [
            f"Third-party numbers below apply config.yml's FallbackClassifier threshold ({threshold:.2f}) to the "
            "confidences `rasa test nlu` reports (it undoes fallback predictions itself); the ambiguity rule is "
            "not applied, see the sweep.",
            "",
        ]
    lines += _render_sweep(summary.get("fallback_sweep"), threshold)
    for lang, result in summary["third_party"].items():
        lines += [
            f"## Third-party set, {lang.upper()} (n={result['n']})",
            "",
            f"accuracy {result['accuracy']:.3f} · macro-F1 {result['macro_f1']:.3f} · "
            f"in-scope accuracy {_fmt(result['in_scope_accuracy'])} · out-of-scope handled "
            f"{_fmt(result['out_of_scope_handled'])} · fallback rate {result['fallback_rate']:.3f}",
            "",
            "| intent | precision | recall | F1 | n | most confused with |",
            "|---|---|---|---|---|---|",
        ]
        for intent, metrics in result["per_intent"].items():
            confusions = ", ".join(f"{name} ({count})" for name, count in metrics["top_confusions"])
            lines.append(
                f"| {intent} | {metrics['precision']:.2f} | {metrics['recall']:.2f} | "
                f"{metrics['f1']:.2f} | {metrics['support']} | {confusions} |"
            )
        lines.append("")
    return "\n".join(lines)


def _render_sweep(sweep: dict[str, Any] | None, configured: float | None) -> list[str]:
    """The sweep as one table per language plus a combined table; the best row of each is marked."""
    if not sweep:
        return []
    best = sweep["best"]
    languages = list(sweep["per_language"])

    def label(threshold: float, best_threshold: float | None) -> str:
        flags = (("best", threshold == best_threshold), ("config", threshold == configured))
        marks = [name for name, hit in flags if hit]
        return f"{threshold:.2f}" + (f" ({', '.join(marks)})" if marks else "")

    best_text = ", ".join(f"{lang.upper()} {_fmt(best.get(lang), 2)}" for lang in languages)
    lines = [
        "## Fallback threshold sweep (third-party set)",
        "",
        "The FallbackClassifier's threshold rule (fall back when the top intent's confidence is below the "
        "threshold) replayed on the same predictions. In-scope accuracy counts a fallback as wrong; out-of-scope "
        "handled counts `out_of_scope` or a fallback as right; overall accuracy is both together, so it weighs "
        "them by their share of the set (out of scope: "
        + ", ".join(f"{lang.upper()} {_fmt(share, 2)}" for lang, share in sweep["out_of_scope_share"].items())
        + "). Read the in-scope column before adopting a threshold.",
        "",
        f"Threshold with the best overall accuracy: {best_text}, combined {_fmt(best.get('combined'), 2)} "
        f"(config.yml: {_fmt(configured, 2)}). Ties go to the lowest threshold.",
        "",
        f"Ambiguity rule: not applied. {sweep['ambiguity_note']}",
        "",
    ]
    for lang in languages:
        lines += [
            f"### {lang.upper()}",
            "",
            "| threshold | in-scope accuracy | out-of-scope handled | overall accuracy | fallback rate |",
            "|---|---|---|---|---|",
        ]
        for point in sweep["per_language"][lang]:
            lines.append(
                f"| {label(point['threshold'], best.get(lang))} | {_fmt(point['in_scope_accuracy'])} | "
                f"{_fmt(point['out_of_scope_handled'])} | {_fmt(point['overall_accuracy'])} | "
                f"{_fmt(point['fallback_rate'])} |"
            )
        lines.append("")
    lines += [
        "### Combined",
        "",
        "Combined accuracy is the mean of the languages' overall accuracies (each language counts once); pooled "
        "accuracy counts every utterance once, so the larger set dominates it.",
        "",
        "| threshold | " + " | ".join(f"{lang.upper()} overall" for lang in languages) + " | combined | pooled |",
        "|---|" + "---|" * len(languages) + "---|---|",
    ]
    for i, point in enumerate(sweep["combined"]):
        per_lang = " | ".join(_fmt(sweep["per_language"][lang][i]["overall_accuracy"]) for lang in languages)
        lines.append(
            f"| {label(point['threshold'], best.get('combined'))} | {per_lang} | "
            f"{_fmt(point['overall_accuracy'])} | {_fmt(point['pooled_accuracy'])} |"
        )
    lines.append("")
    return lines
