"""Console commands: create the first admin and other users, keep the review tables in step.

python -m bot.cli create-admin --email admin@example.com            # prompts for the password twice
printf '%s\\n' "$PASSWORD" | python -m bot.cli create-admin --email admin@example.com --password-stdin
python -m bot.cli create-user --role agent --email ayse@example.com --name "Ayşe Y."
python -m bot.cli console-sync                 # fold new Rasa tracker events into the summaries once
python -m bot.cli console-rebuild-summaries    # recompute the summaries from the whole tracker store
python -m bot.cli console-expire-handovers     # run the handover expiry job once
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any


def register(subparsers: Any) -> None:
    admin = subparsers.add_parser("create-admin", help="create a console admin (the first user)")
    _user_arguments(admin)
    admin.set_defaults(func=_create_admin)

    user = subparsers.add_parser("create-user", help="create a console user (agent, marketer or admin)")
    _user_arguments(user)
    user.add_argument("--role", required=True, choices=("agent", "marketer", "admin"))
    user.set_defaults(func=_create_user)

    sync = subparsers.add_parser("console-sync", help="fold new Rasa tracker events into the console's summaries")
    sync.add_argument("--budget", type=float, default=None, help="stop after this many seconds (default: catch up)")
    sync.set_defaults(func=_sync)

    rebuild = subparsers.add_parser(
        "console-rebuild-summaries", help="recompute the console's conversation summaries from the tracker store"
    )
    rebuild.set_defaults(func=_rebuild)

    expire = subparsers.add_parser(
        "console-expire-handovers", help="expire unanswered requests for a person (ticket + customer notice)"
    )
    expire.set_defaults(func=_expire)


def _user_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email", help="login e-mail (prompted when missing)")
    parser.add_argument("--name", help="display name (default: the part of the e-mail before @)")
    parser.add_argument("--language", choices=("tr", "en"), default="tr", help="console language (default tr)")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (no prompt, no echo)",
    )


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Şifre / Password (min. 10): ")
    second = getpass.getpass("Tekrar / Again: ")
    if first != second:
        raise SystemExit("Şifreler aynı değil / passwords do not match")
    return first


def _create(args: argparse.Namespace, role: str) -> int:
    from bot.services import audit, staff
    from bot.services.errors import InvalidInput

    email = args.email or input("E-posta / E-mail: ").strip()
    password = _read_password(args)
    try:
        account = staff.create_user(email, password, role, args.name, ui_language=args.language)
    except InvalidInput as error:
        print(f"error: {error.code}", file=sys.stderr)
        return 2
    audit.record("cli", "staff_user.create", "staff_user", account.id, {"role": account.role})
    print(f"created {account.role} #{account.id} {account.email}")
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    return _create(args, "admin")


def _create_user(args: argparse.Namespace) -> int:
    return _create(args, args.role)


def _sync(args: argparse.Namespace) -> int:
    from bot.services.tracker_events import sync_summaries

    report = sync_summaries(time_budget_s=args.budget)
    print(
        f"events={report.events_read} conversations={report.conversations_touched} "
        f"flags={report.flags_created} cursor={report.cursor} caught_up={report.caught_up} "
        f"seconds={report.seconds}"
    )
    return 0


def _rebuild(_args: argparse.Namespace) -> int:
    from bot.services.tracker_events import rebuild_summaries

    report = rebuild_summaries()
    print(f"rebuilt: events={report.events_read} conversations={report.conversations_touched} seconds={report.seconds}")
    return 0


def _expire(_args: argparse.Namespace) -> int:
    from bot.console.jobs import expire_stale_handovers_job

    print(asyncio.run(expire_stale_handovers_job()))
    return 0
