"""Memnun's custom actions for Rasa, served by ``python -m rasa_sdk --actions actions``.

One module per domain (identity, loyalty, rewards, complaints, orders, feedback, surveys, privacy,
language, handover, fallback, session) on top of shared helpers (common, forms, i18n, formatting).
Actions only call ``bot.services`` (never the database directly) and never import Rasa itself. The
SDK discovers every non-abstract ``Action`` subclass in these modules, which are imported here.
"""

from actions import (  # noqa: F401 - imported so the action server registers their actions
    complaints,
    fallback,
    feedback,
    handover,
    identity,
    language,
    loyalty,
    orders,
    privacy,
    rewards,
    session,
    surveys,
)
