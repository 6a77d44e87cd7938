"""The outreach process: APScheduler jobs (campaign runs, automatic check-in scans, bookkeeping) and the
outbox sender that delivers queued messages through Rasa to Telegram and the web chat.

``python -m bot.scheduler`` runs both; see :mod:`bot.scheduler.jobs` for the jobs and their misfire
policy, and :mod:`bot.scheduler.outbox` for the exactly-once delivery protocol.
"""
