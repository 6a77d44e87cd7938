"""Memnun's business services: the only place that queries the database.

Every public function runs in one transaction and returns frozen dataclasses (never ORM objects), so callers
(Rasa actions, the scheduler, the console, channels) can pass results across threads and processes safely.
Database failures surface as :class:`bot.services.errors.ServiceUnavailable`, bad input as
:class:`bot.services.errors.InvalidInput`.
"""
