"""`EntityGuard`: keeps one, well-formed entity per span after DIET and the regex extractor have spoken.

Why: two extractors label the same ids. `RegexEntityExtractor` finds `SP1234567` exactly; DIET, which learns
from examples, finds it too and sometimes finds things that only look similar. Without a guard the parse
result carries the same order number twice, and DIET's near-misses reach the forms: a birth date "15/11/1990"
read as a survey `score` because "9/10" is one. The guard applies two rules, in this order:

1. An entity whose value does not have its type's shape is dropped (`score` must be a 0-10 number, a number
   word or "n/10"; ids must match the project's formats). A `score` that is only part of a longer
   number-like token ("15/11" of "15/11/1990") is dropped too.
2. Overlapping entities of the same type are merged into one, preferring the regex extractor's (exact by
   construction) over DIET's.

Entities without a rule (complaint_category, language ...) pass unchanged. The forms still validate every
value in the action server; the guard only keeps the NLU output honest, which `rasa test` also measures.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.entity_rules import guard_entities


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class EntityGuard(GraphComponent):
    """Drops malformed entities and duplicates from overlapping extractors (see module docstring)."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "EntityGuard":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text: Optional[str] = message.get(TEXT)
            entities = message.get(ENTITIES) or []
            if not entities or not isinstance(text, str):
                continue
            message.set(ENTITIES, guard_entities(list(entities), text), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Training annotations are the truth; the guard only filters predictions.
        return training_data
