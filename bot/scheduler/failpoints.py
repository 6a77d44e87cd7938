"""Crash injection for the outbox sender's kill tests (``MEMNUN_FAILPOINT=<name>:<n>``).

Exactly-once claims are only worth something if they hold when the process dies at the worst moment. The
sender calls :func:`hit` at every step boundary of the delivery protocol; when the environment names that
point, the ``n``-th hit kills the process with SIGKILL (no cleanup, no ``finally``: like ``kill -9`` or a
power cut). Unset (always, in production) it is a dictionary lookup and nothing else.

Points: ``claimed``, ``prepared``, ``after_rasa``, ``after_store``, ``before_send`` (part marked in
flight, channel not called yet), ``after_send`` (channel accepted, receipt not stored), ``after_record``
(receipt stored; for the last part that also completes the row), ``before_finish`` (a resumed row whose
parts were all delivered).
"""

from __future__ import annotations

import os
import signal
import threading

_lock = threading.Lock()
_counts: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    spec = os.environ.get("MEMNUN_FAILPOINT", "").strip()
    if not spec:
        return None
    name, _, count = spec.partition(":")
    try:
        return name, max(1, int(count or 1))
    except ValueError:
        return None


def hit(name: str) -> None:
    """Kill the process here if ``MEMNUN_FAILPOINT`` says so (see the module docstring)."""
    target = _target()
    if target is None or target[0] != name:
        return
    with _lock:
        _counts[name] = _counts.get(name, 0) + 1
        reached = _counts[name] >= target[1]
    if reached:
        os.kill(os.getpid(), signal.SIGKILL)
