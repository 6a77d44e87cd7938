"""Memnun's Telegram channel: a python-telegram-bot connector between Telegram chats and Rasa.

- :mod:`.connector` — the long-running process (long polling or webhook) that forwards customer messages,
  contact shares and button presses to Rasa and delivers Rasa's answers, exactly once per update.
- :mod:`.sender` — :class:`~.sender.TelegramSender`, the one way anything (connector, scheduler, console)
  sends Rasa-style messages to a Telegram chat, with rate limits, retries and blocked-user handling.
- :mod:`.rendering` — Rasa bot messages -> Telegram messages (escaping, splitting, keyboards).
- :mod:`.updates` — the durable journal that makes update handling once-only across restarts.

Run it with ``python -m bot.channels.telegram`` or ``python -m bot.cli telegram``.
"""
