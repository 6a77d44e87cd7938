"""Runs inside the engine venv: tokenizes sample sentences with MemnunTokenizer, prints JSON."""

import json
import sys

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.language import MESSAGE_LANGUAGE_KEY
from bot.nlu.tokenizer import MemnunTokenizer

tokenizer = MemnunTokenizer(MemnunTokenizer.get_default_config())
result = []
for line in sys.stdin.read().splitlines():
    lang, _, text = line.partition("\t")
    message = Message(data={"text": text, MESSAGE_LANGUAGE_KEY: lang})
    tokens = tokenizer.tokenize(message, "text")
    result.append([{"text": t.text, "start": t.start, "end": t.end, "lemma": t.lemma} for t in tokens])
print(json.dumps(result, ensure_ascii=False))
