"""`LanguageDetector`: decides per message whether the customer wrote Turkish or English.

Why a trained detector and not a word list: customers write Turkish without its letters ("siparisim
nerde") and mix in English words ("kargo tracking"), so letters alone are weak evidence. The detector
learns character n-gram statistics from our own training data, where every intent block is labelled
with `metadata: {lang: tr|en}`, and adds strong Turkish signals (ı ş ğ ...) on top.

It adds `memnun_language` (and `memnun_language_confidence`) to the parse result only when it is
confident, so a bare "ok", "👍" or an order number keeps the conversation's current language. The
`language` slot is filled from it by a custom slot mapping action (`action_detect_language`). It is
deliberately not an entity: `rasa test` would count it as a wrong entity on every test-story turn.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.text import turkish_lower

logger = logging.getLogger(__name__)

MESSAGE_LANGUAGE_KEY = "memnun_language"
_TURKISH_LETTERS = set("ıİşŞğĞçÇöÖüÜ")
_FILE_NAME = "language_detector.pkl"


def _message_language_label(message: Message) -> Optional[str]:
    metadata = message.get("metadata") or {}
    if not isinstance(metadata, dict):
        return None
    for key in ("example", "intent"):
        part = metadata.get(key)
        if isinstance(part, dict) and part.get("lang") in ("tr", "en"):
            return str(part["lang"])
    return None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True
)
class LanguageDetector(GraphComponent):
    """Character n-gram naive Bayes language identification trained on our labelled NLU data."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "threshold": 0.85,  # minimum probability before we switch the conversation's language
            "min_letters": 6,  # shorter texts ("ok", "👍", "SP1234567") carry no language signal
            "min_words": 2,
            "default_language": "tr",
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        pipeline: Any = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._pipeline = pipeline

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LanguageDetector":
        return cls(config, model_storage, resource)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    # -- training --------------------------------------------------------------------
    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.naive_bayes import MultinomialNB
        from sklearn.pipeline import make_pipeline

        texts: List[str] = []
        labels: List[str] = []
        for example in training_data.training_examples:
            label = _message_language_label(example)
            text = example.get(TEXT)
            if label and text:
                texts.append(turkish_lower(text))
                labels.append(label)
        if len(set(labels)) < 2:
            logger.warning("LanguageDetector: no `metadata: {lang: ...}` labels for both languages; disabled")
            self._pipeline = None
        else:
            pipeline = make_pipeline(
                TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2),
                MultinomialNB(alpha=0.1),
            )
            pipeline.fit(texts, labels)
            self._pipeline = pipeline
        with self._model_storage.write_to(self._resource) as directory:
            (directory / _FILE_NAME).write_bytes(pickle.dumps(self._pipeline))
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "LanguageDetector":
        pipeline = None
        try:
            with model_storage.read_from(resource) as directory:
                # The file was written by our own training run into the model archive.
                pipeline = pickle.loads((directory / _FILE_NAME).read_bytes())  # noqa: S301
        except (ValueError, FileNotFoundError):
            logger.warning("LanguageDetector: no trained model found; language detection disabled")
        return cls(config, model_storage, resource, pipeline)

    # -- inference ----------------------------------------------------------------------
    def detect(self, text: str) -> tuple[Optional[str], float]:
        """Return (language, probability), or (None, p) when the text carries too little signal."""
        letters = sum(ch.isalpha() for ch in text)
        if any(ch in _TURKISH_LETTERS for ch in text):
            return "tr", 0.99
        words = [w for w in text.split() if any(ch.isalpha() for ch in w)]
        # One short word ("hmm", "ok", "skip", "tmm") carries no reliable language signal: flipping the
        # conversation's language on it made confirmations come back in the wrong language.
        if self._pipeline is None or letters < self._config["min_letters"] or len(words) < self._config["min_words"]:
            return None, 0.0
        probabilities = self._pipeline.predict_proba([turkish_lower(text)])[0]
        best = int(probabilities.argmax())
        language = str(self._pipeline.classes_[best])
        probability = float(probabilities[best])
        if probability < self._config["threshold"]:
            return None, probability
        return language, probability

    def _annotate(self, message: Message) -> None:
        text = message.get(TEXT)
        if not isinstance(text, str) or not text.strip() or text.startswith("/"):
            # Button payloads ("/affirm") are language-neutral.
            return
        language, probability = self.detect(text)
        if language is None:
            return
        message.set(MESSAGE_LANGUAGE_KEY, language, add_to_output=True)
        message.set(MESSAGE_LANGUAGE_KEY + "_confidence", round(probability, 4), add_to_output=True)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._annotate(message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Training examples carry their language label: tokenizers downstream use it directly.
        for example in training_data.training_examples:
            label = _message_language_label(example)
            if label:
                example.set(MESSAGE_LANGUAGE_KEY, label)
        return training_data
