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
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

from bot.engine import domain_argument, engine_environment, rasa_executable, train_model
from bot.settings import PROJECT_ROOT, get_settings

FALLBACK = "nlu_fallback"


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


def _predictions(results_dir: Path) -> list[tuple[str, str, str]]:
    """(text, gold, predicted) from Rasa's intent_successes.json + intent_errors.json."""
    rows: list[tuple[str, str, str]] = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = results_dir / name
        if not path.exists():
            continue
        for item in json.loads(path.read_text(encoding="utf-8")):
            predicted = (item.get("intent_prediction") or {}).get("name") or "None"
            rows.append((item["text"], item["intent"], predicted))
    return rows


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
    oos = [(g, p) for g, p in zip(gold, predicted, strict=True) if g == "out_of_scope"]
    in_scope = [(g, p) for g, p in zip(gold, predicted, strict=True) if g != "out_of_scope"]
    return {
        "n": len(rows),
        "accuracy": round(accuracy, 4),
        "macro_f1": round(macro_f1, 4),
        "fallback_rate": round(sum(p == FALLBACK for p in predicted) / len(rows), 4) if rows else 0.0,
        "out_of_scope_handled": round(sum(p in {"out_of_scope", FALLBACK} for _, p in oos) / len(oos), 4)
        if oos
        else None,
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
    summary: dict[str, Any] = {"model": model.name, "third_party": {}, "cross_validation": None}

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
        summary["third_party"][lang] = score(predictions)
        confusion_png(predictions, out / f"confusion_{lang}.png", f"Third-party set, {lang.upper()}")
        for name in ("intent_successes.json", "intent_errors.json"):
            (lang_dir / name).unlink(missing_ok=True)

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


def render_markdown(summary: dict[str, Any]) -> str:
    lines = [f"# NLU evaluation ({summary['model']})", ""]
    cv = summary.get("cross_validation")
    if cv:
        lines += [
            f"Cross-validation on our data ({cv['folds']} folds): accuracy {cv['accuracy']:.3f}, "
            f"macro-F1 {cv['macro_f1']:.3f}",
            "",
        ]
    for lang, result in summary["third_party"].items():
        lines += [
            f"## Third-party set, {lang.upper()} (n={result['n']})",
            "",
            f"accuracy {result['accuracy']:.3f} · macro-F1 {result['macro_f1']:.3f} · "
            f"in-scope accuracy {result['in_scope_accuracy']} · out-of-scope handled "
            f"{result['out_of_scope_handled']} · fallback rate {result['fallback_rate']:.3f}",
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
