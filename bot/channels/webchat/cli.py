"""``memnun webchat``: operate the web inbox (send a test message, see what is pending, apply retention)."""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import timedelta


def _cmd_webchat(args: argparse.Namespace) -> int:
    from bot.services import web_inbox
    from bot.services.errors import InvalidInput
    from bot.services.tx import utcnow

    try:
        if args.action == "post":
            if not args.session or not args.text:
                print("post needs --session web-... and --text")
                return 2
            result = web_inbox.post_to_web(
                args.session, [{"text": args.text}], args.source, args.key or f"cli:{uuid.uuid4()}"
            )
            print(json.dumps({"ids": list(result.ids), "created": result.created}))
        elif args.action == "pending":
            if not args.session:
                print("pending needs --session web-...")
                return 2
            pending = web_inbox.pending_for(args.session)
            # Ids, sources and times only: message texts are personal data and stay out of terminals/logs.
            print(
                json.dumps([{"id": m.id, "source": m.source, "created_at": m.created_at.isoformat()} for m in pending])
            )
        else:
            removed = web_inbox.purge(delivered_before=utcnow() - timedelta(days=args.days))
            print(json.dumps({"removed": removed}))
    except InvalidInput as error:
        print(f"invalid input: {error.code}")
        return 2
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "webchat",
        help="web chat inbox: post a test message, list pending ids, purge old deliveries",
        description="`post` stores a message for a web visitor (shown on their chat page live or on the next "
        "visit); `pending` lists what the visitor has not seen yet; `purge` deletes messages delivered "
        "more than --days ago and expired undelivered ones (retention).",
    )
    parser.add_argument("action", choices=("post", "pending", "purge"))
    parser.add_argument("--session", help="the visitor's sender id, web-<uuid>")
    parser.add_argument("--text", help="message text (post)")
    parser.add_argument("--source", default="system", help="agent | checkin | campaign | system (post)")
    parser.add_argument("--key", help="idempotency key (post); default: a fresh one")
    parser.add_argument("--days", type=int, default=30, help="retention in days (purge, default 30)")
    parser.set_defaults(func=_cmd_webchat)
