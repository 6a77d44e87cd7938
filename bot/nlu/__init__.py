"""Rasa NLU graph components for Turkish-first, bilingual understanding.

These modules run inside the Rasa engine (Python 3.10, Rasa 3.6). `bot.nlu.text` is pure Python and is
also used by the application side; the component modules import rasa and must only be imported by the engine.
"""
