"""Data sub-commands for ``python -m bot.cli``: migrate, seed, erase-customer, export-customer."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add this area's sub-commands to the main CLI's argparse ``subparsers``."""
    migrate = subparsers.add_parser("migrate", help="apply database migrations (alembic upgrade)")
    migrate.add_argument("--revision", default="heads", help="target revision (default: heads)")
    migrate.set_defaults(func=_migrate)

    seed = subparsers.add_parser("seed", help="insert demo data (no-op if already seeded)")
    seed.add_argument("--customers", type=int, default=50)
    seed.add_argument("--random-seed", type=int, default=42)
    seed.set_defaults(func=_seed)

    erase = subparsers.add_parser("erase-customer", help="anonymise a customer (KVKK/GDPR erasure)")
    erase.add_argument("customer", help="customer number (MN100001) or numeric id")
    erase.add_argument("--requested-via", default="cli", help="how the customer asked (email, console, chat...)")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.set_defaults(func=_erase)

    export = subparsers.add_parser("export-customer", help="export everything stored about a customer as JSON")
    export.add_argument("customer", help="customer number (MN100001) or numeric id")
    export.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    export.set_defaults(func=_export)


def _customer_id(text: str) -> int:
    from bot.services.identity import customer_id_by_number

    if text.isdigit() and len(text) != 6:
        return int(text)
    found = customer_id_by_number(text)
    if found is None:
        raise SystemExit(f"unknown customer: {text}")
    return found


def _migrate(args: argparse.Namespace) -> int:
    from bot.db.migrate import upgrade

    upgrade(args.revision)
    print("database is at", args.revision)
    return 0


def _seed(args: argparse.Namespace) -> int:
    from bot.services.seed import seed_demo_data

    report = seed_demo_data(None, customers=args.customers, random_seed=args.random_seed)
    if not report.created:
        print("demo data already present; nothing written")
    else:
        print(
            f"seeded {report.customers} customers, {report.rewards} rewards, {report.orders} orders, "
            f"{report.tickets} tickets, {report.survey_responses} survey responses"
        )
    print("demo customer:", ", ".join(f"{k}={v}" for k, v in report.demo_customer.items()))
    return 0


def _erase(args: argparse.Namespace) -> int:
    from bot.services.privacy import erase_customer

    customer_id = _customer_id(args.customer)
    if not args.yes:
        answer = input(f"Erase personal data of customer id {customer_id}? This cannot be undone. [y/N] ")
        if answer.strip().lower() not in ("y", "yes", "e", "evet"):
            print("cancelled")
            return 1
    report = erase_customer(customer_id, args.requested_via, actor="cli")
    if report.already_erased:
        print(f"customer {customer_id} was already erased at {report.erased_at.isoformat()}")
    else:
        print(
            f"customer {customer_id} erased: {report.feedback_redacted} feedback, {report.tickets_redacted} "
            f"tickets, {report.ticket_notes_redacted} notes, {report.survey_comments_redacted} survey comments "
            f"redacted; {report.channel_identities_unlinked} channel identities unlinked; "
            f"{report.conversations_forgotten} conversations forgotten"
        )
    return 0


def _export(args: argparse.Namespace) -> int:
    from bot.services.privacy import export_customer_data

    data = export_customer_data(_customer_id(args.customer), actor="cli")
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
        print(f"written to {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0
