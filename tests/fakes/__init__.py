"""Fake external services for tests: real HTTP servers on 127.0.0.1 that speak the real protocols.

- :mod:`tests.fakes.telegram_api` — the Telegram Bot API (what python-telegram-bot calls), with recorded
  calls, injectable updates and faults (429 / 5xx / 403 / delays), and webhook delivery.
- :mod:`tests.fakes.rasa_stub` — Rasa's REST channel webhook answering from a script, which can be made
  slow, failing or unreachable.
"""
