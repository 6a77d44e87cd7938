"""EntityGuard's rules: malformed entities and duplicates from two extractors are dropped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.nlu.entity_rules import guard_entities, is_well_formed
from bot.settings import PROJECT_ROOT


def _entity(text: str, value: str, kind: str, extractor: str = "DIETClassifier") -> dict:
    start = text.index(value)
    return {"entity": kind, "value": value, "start": start, "end": start + len(value), "extractor": extractor}


@pytest.mark.parametrize("text,value", [
    ("15/11/1990", "15/11"), ("15/11/1990", "11/1990"), ("03.07.1991", "03.07"), ("1979-11-30", "11"),
    ("15/11/1990", "15/11/1990"), ("kargo", "kargo"), ("SP1000001", "1000001"),
])
def test_score_that_is_not_a_score_is_dropped(text: str, value: str) -> None:
    assert guard_entities([_entity(text, value, "score")], text) == []


@pytest.mark.parametrize("text,value", [
    ("8", "8"), ("10/10", "10/10"), ("i'd say 6/10", "6/10"), ("sekiz", "sekiz"), ("ON", "ON"),
    ("dört yıldız", "dört"), ("ten out of ten", "ten"), ("0 honestly", "0"), ("4/5", "4/5"),
])
def test_real_scores_are_kept(text: str, value: str) -> None:
    entity = _entity(text, value, "score")
    assert guard_entities([entity], text) == [entity]


def test_duplicate_id_from_two_extractors_keeps_the_regex_one() -> None:
    text = "where is my order SP1000001"
    diet = _entity(text, "SP1000001", "order_number")
    regex = _entity(text, "SP1000001", "order_number", extractor="RegexEntityExtractor")
    assert guard_entities([diet, regex], text) == [regex]
    # DIET's partial span of the same id overlaps, so it goes too
    partial = _entity(text, "1000001", "order_number")
    assert guard_entities([partial, regex], text) == [regex]


def test_different_types_on_one_span_and_separate_ids_are_kept() -> None:
    text = "MN100001 and SP1000001"
    customer = _entity(text, "MN100001", "customer_number", extractor="RegexEntityExtractor")
    order = _entity(text, "SP1000001", "order_number")
    assert guard_entities([order, customer], text) == [customer, order]


@pytest.mark.parametrize("kind,value,ok", [
    ("order_number", "SP 1234567", True), ("order_number", "SP12345", False),
    ("ticket_id", "T-2026-000123", True), ("ticket_id", "t-2026-318", True), ("ticket_id", "T-", False),
    ("customer_number", "mn 441092", True), ("customer_number", "MN1", False),
    ("phone", "0532 123 45 67", True), ("phone", "+90 532 1234567", True), ("phone", "12345", False),
    ("email", "a.b@example.com.tr", True), ("email", "a.b@", False),
    ("complaint_category", "kargo", True),
])
def test_id_shapes(kind: str, value: str, ok: bool) -> None:
    text = f"x {value} y"
    assert is_well_formed(_entity(text, value, kind), text) is ok


_ANNOTATION = re.compile(r"\[([^\]]+)\](\(([^)]+)\)|\{([^}]*)\})")


def _annotated_examples() -> list[tuple[str, str, str, str]]:
    """(file, plain text, value, entity type) for every annotated entity in data/nlu."""
    found = []
    for path in sorted((PROJECT_ROOT / "data" / "nlu").rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in document.get("nlu", []) or []:
            if "intent" not in block:
                continue
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()[2:] if line.strip().startswith("- ") else ""
                plain = _ANNOTATION.sub(lambda m: m.group(1), line)
                for match in _ANNOTATION.finditer(line):
                    kind = match.group(3) or yaml.safe_load("{" + match.group(4) + "}")["entity"]
                    found.append((Path(path).name, plain, match.group(1), kind.split(":")[0]))
    return found


def test_every_training_annotation_passes_the_guard() -> None:
    examples = _annotated_examples()
    assert len(examples) > 300
    rejected = [(name, plain, value, kind) for name, plain, value, kind in examples
                if not guard_entities([_entity(plain, value, kind)], plain)]
    assert rejected == []
