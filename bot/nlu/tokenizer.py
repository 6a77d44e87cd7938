"""`MemnunTokenizer`: spaCy tokenization and lookup lemmas for Turkish and English, plus what spaCy lacks.

spaCy 3.4 (the engine's version) gives us rule-based tokenizers and lookup lemmatizers for `tr` and `en`
(tables from spacy-lookups-data) without any trained pipeline, which is all that is available offline.
On top of it this component:

* picks the language per message from `LanguageDetector` (Turkish when unsure),
* splits Turkish case suffixes written after an apostrophe (siparişim'in → siparişim + 'in) so the stem
  and an order number such as SP1234567'nin are separate tokens for features and entity extraction,
* lowercases with Turkish I/İ rules and folds diacritics in the *lemma*, so "ŞİKAYET", "şikayet" and
  "sikayet" share features (Rasa's featurizers read the lemma; the token text and offsets stay original),
* looks lemmas up in a diacritic-folded copy of the table too, so "puanlarimi" finds "puan" like
  "puanlarımı" does.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import spacy
from spacy.lookups import load_lookups

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.language import MESSAGE_LANGUAGE_KEY
from bot.nlu.text import _FOLD as _FOLD_TABLE
from bot.nlu.text import fold, split_apostrophe_suffix, turkish_lower

SUPPORTED_LANGUAGES = ("tr", "en")


def _quick_fold(text: str) -> str:
    # The lemma tables hold only letters, so translate + lower is enough (and 3x faster than fold()).
    return turkish_lower(text).translate(_FOLD_TABLE)


def _folded_lemma_table(lang: str) -> Dict[str, str]:
    """form → lemma with both sides diacritic-folded, only where they differ ("puanlarimi" → "puan").

    Built once from spacy-lookups-data (1.3 M Turkish forms, ~6 s) and cached as a pickle next to our
    other caches, so a Rasa process loads it in about a second.
    """
    import spacy_lookups_data

    source = Path(spacy_lookups_data.__file__).parent / "data" / f"{lang}_lemma_lookup.json.gz"
    if not source.exists():
        return {}
    cache_dir = Path(os.environ.get("MEMNUN_CACHE", Path.home() / ".cache" / "memnun")) / "lemmas"
    cache = cache_dir / f"{lang}-{spacy_lookups_data.__version__}-{source.stat().st_size}.pkl"
    if cache.exists():
        with cache.open("rb") as handle:
            return pickle.load(handle)  # noqa: S301 - a file we wrote ourselves
    with gzip.open(source, "rt", encoding="utf8") as handle:
        raw: Dict[str, str] = json.load(handle)
    folded: Dict[str, str] = {}
    for form, lemma in raw.items():
        folded_form, folded_lemma = _quick_fold(form), _quick_fold(lemma)
        if folded_form != folded_lemma and folded_form not in folded:
            folded[folded_form] = folded_lemma
    del raw
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = cache.with_suffix(f".{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        pickle.dump(folded, handle, protocol=pickle.HIGHEST_PROTOCOL)
    temporary.replace(cache)  # atomic: parallel trainings never read a half-written file
    return folded


class _LanguageResources:
    """A blank spaCy tokenizer, spaCy's lookup lemma table, and its diacritic-folded twin."""

    def __init__(self, lang: str) -> None:
        self.nlp = spacy.blank(lang)
        lookups = load_lookups(lang, ["lemma_lookup"], strict=False)
        self.exact = lookups.get_table("lemma_lookup") if lookups.has_table("lemma_lookup") else {}
        self.folded = _folded_lemma_table(lang)

    def lemma(self, word: str, lang: str) -> str:
        lowered = turkish_lower(word) if lang == "tr" else word.lower()
        hit = self.exact.get(lowered)
        if isinstance(hit, str):
            return fold(hit)
        folded = fold(lowered)
        return self.folded.get(folded, folded)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MemnunTokenizer(Tokenizer):
    """Turkish-aware tokenizer producing original-offset tokens with folded lookup lemmas."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            "default_language": "tr",
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self.default_language = self._config.get("default_language", "tr")
        self._resources = {lang: _LanguageResources(lang) for lang in SUPPORTED_LANGUAGES}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "MemnunTokenizer":
        return cls(config)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy"]

    def _language_of(self, message: Message) -> str:
        lang = message.get(MESSAGE_LANGUAGE_KEY)
        if lang in self._resources:
            return str(lang)
        metadata = message.get("metadata") or {}
        intent_meta = metadata.get("intent") if isinstance(metadata, dict) else None
        if isinstance(intent_meta, dict) and intent_meta.get("lang") in self._resources:
            return str(intent_meta["lang"])
        return self.default_language

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        text = message.get(attribute) or ""
        lang = self._language_of(message)
        resources = self._resources[lang]
        tokens: List[Token] = []
        for spacy_token in resources.nlp.make_doc(text):
            word = spacy_token.text
            if not word.strip():
                continue
            start = spacy_token.idx
            head, suffix = split_apostrophe_suffix(word)
            tokens.append(Token(head, start, lemma=resources.lemma(head, lang)))
            if suffix:
                suffix_start = start + len(head)
                tokens.append(Token(suffix, suffix_start, lemma=fold(suffix.lstrip("'’‘`´"))))
        if not tokens:
            tokens = [Token(text, 0, lemma=fold(text))]
        return self._apply_token_pattern(tokens)

    def process(self, messages: List[Message]) -> List[Message]:
        return super().process(messages)

    @staticmethod
    def not_supported_languages() -> Optional[List[Text]]:
        return None
