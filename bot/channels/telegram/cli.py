"""``memnun telegram``: run the Telegram connector, or inspect its journal."""

from __future__ import annotations

import argparse
import json


def _cmd_telegram(args: argparse.Namespace) -> int:
    if args.action == "status":
        from bot.channels.telegram import updates

        print(json.dumps(updates.status_counts(), sort_keys=True))
        return 0
    from bot.channels.telegram.connector import run

    return run(args.mode)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "telegram",
        help="run the Telegram connector (TELEGRAM_TOKEN; long polling by default)",
        description="Connects the Telegram bot to Rasa. `status` prints how many journaled updates are "
        "in each state (received/forwarded = pending, replied, failed).",
    )
    parser.add_argument("action", nargs="?", choices=("run", "status"), default="run")
    parser.add_argument(
        "--mode",
        choices=("polling", "webhook"),
        default=None,
        help="long polling (default, no public URL needed) or webhook (TELEGRAM_WEBHOOK_URL and "
        "TELEGRAM_WEBHOOK_SECRET required); default: TELEGRAM_MODE",
    )
    parser.set_defaults(func=_cmd_telegram)
