"""``memnun campaign ...`` and ``memnun scheduler ...``: marketers' campaigns and the outreach process.

Examples::

    memnun campaign create --name "Altın üyeler NPS" --type nps \\
        --tr "Merhaba {first_name}, ..." --en "Hi {first_name}, ..." \\
        --segment '{"tier_in": ["Gold", "Platinum"]}' --cron "0 11 * * 1" --ends 2027-01-01
    memnun campaign preview 3          # audience size + masked sample of 10
    memnun campaign dry-run 3 --limit 20
    memnun campaign schedule 3
    memnun campaign pause 3 | resume 3 | cancel 3
    memnun campaign show 3             # definition + results (CSAT, NPS, weekly trend)
    memnun campaign export-csv 3 -o results.csv
    memnun campaign list --status scheduled
    memnun scheduler run               # APScheduler + outbox sender (what ./memnun run starts)
    memnun scheduler drain             # send what is due now, then exit
    memnun scheduler scan              # run the automatic check-in scans once
    memnun scheduler status            # outbox counts
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.services.errors import InvalidInput, ServiceUnavailable


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if is_dataclass(value):
        return asdict(value)  # type: ignore[arg-type]
    return str(value)


def _print_json(value: Any) -> None:
    data = asdict(value) if is_dataclass(value) and not isinstance(value, type) else value
    print(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default))


def _read_json(text: str | None) -> Any:
    if not text:
        return {}
    if text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            "invalid_json", f"JSON okunamadı: {error.msg} / Could not read the JSON: {error.msg}"
        ) from None


def _actor(args: argparse.Namespace) -> str:
    return f"cli:{args.actor}" if args.actor else "cli"


def _spec_from_args(args: argparse.Namespace) -> dict[str, Any]:
    if args.spec:
        return dict(_read_json(args.spec))
    spec: dict[str, Any] = {
        "name": args.name,
        "survey_type": args.type,
        "template_tr": args.tr,
        "template_en": args.en,
        "segment": _read_json(args.segment),
        "starts_at": args.starts,
        "ends_at": args.ends,
        "timezone": args.timezone,
        "commercial": args.commercial,
        "reminder_after_hours": args.reminder_hours,
    }
    if args.cron:
        spec.update(schedule_kind="cron", cron=args.cron)
    elif args.after_ticket_resolved is not None:
        spec.update(schedule_kind="after_ticket_resolved", delay_hours=args.after_ticket_resolved)
    elif args.after_conversation is not None:
        spec.update(schedule_kind="after_conversation", delay_hours=args.after_conversation)
    else:
        spec.update(schedule_kind="once", run_at=args.at)
    return spec


def _cmd_campaign(args: argparse.Namespace) -> int:
    from bot.services import campaigns

    try:
        return _campaign_action(args, campaigns)
    except InvalidInput as error:
        print(f"error [{error.code}]: {error}", file=sys.stderr)
        return 2
    except ServiceUnavailable:
        print("error: the database is unavailable / veritabanına ulaşılamıyor", file=sys.stderr)
        return 3


def _campaign_action(args: argparse.Namespace, campaigns: Any) -> int:  # noqa: C901 - a dispatcher
    action = args.campaign_action
    if action == "create":
        info = campaigns.create_campaign(_spec_from_args(args), _actor(args))
        if args.schedule:
            info = campaigns.schedule_campaign(info.id, _actor(args))
        _print_json(info)
    elif action == "preview":
        _print_json(campaigns.preview_campaign(args.id))
    elif action == "dry-run":
        report = campaigns.dry_run(args.id, limit=args.limit)
        if args.json:
            _print_json(report)
        else:
            print(
                f"audience={report.audience_size} would_send={report.would_send} "
                f"skipped={dict(report.skipped_by_reason)}"
            )
            for entry in report.entries:
                when = entry.send_at.isoformat(timespec="minutes") if entry.send_at else "-"
                outcome = "SEND" if entry.would_send else f"SKIP:{entry.skip_reason}"
                print(
                    f"{entry.customer_number}\t{entry.masked_name}\t{entry.language}\t{entry.channel or '-'}\t"
                    f"{outcome}\t{when}\t{entry.message or ''}"
                )
    elif action in ("schedule", "pause", "resume", "cancel"):
        function = {
            "schedule": campaigns.schedule_campaign,
            "pause": campaigns.pause_campaign,
            "resume": campaigns.resume_campaign,
            "cancel": campaigns.cancel_campaign,
        }[action]
        _print_json(function(args.id, _actor(args)))
    elif action == "show":
        info = campaigns.get_campaign(args.id)
        if info is None:
            raise InvalidInput("unknown_campaign", f"Kampanya bulunamadı: {args.id} / No such campaign: {args.id}")
        _print_json({"campaign": info, "results": campaigns.campaign_results(args.id), "runs": campaigns.runs(args.id)})
    elif action == "export-csv":
        text = campaigns.export_results_csv(args.id)
        if args.output and args.output != "-":
            Path(args.output).write_text(text, encoding="utf-8")
            print(args.output)
        else:
            sys.stdout.write(text)
    elif action == "list":
        for info in campaigns.list_campaigns(args.status):
            stats = ",".join(f"{k}={v}" for k, v in sorted(info.stats.items()))
            nxt = info.next_run_at.isoformat(timespec="minutes") if info.next_run_at else "-"
            print(
                f"{info.id}\t{info.status}\t{info.survey_type}\t{info.schedule_kind}\tnext={nxt}\t{info.name}\t{stats}"
            )
    return 0


def _cmd_scheduler(args: argparse.Namespace) -> int:
    if args.scheduler_action == "scan":
        from bot.scheduler import automatic

        _print_json({kind: asdict(summary) for kind, summary in automatic.run_all().items()})
        return 0
    if args.scheduler_action == "status":
        from bot.services import outreach

        _print_json(outreach.outbox_counts())
        return 0
    if args.scheduler_action == "reconcile":
        from bot.scheduler.jobs import reconcile_job

        reconcile_job()
        return 0
    from bot.scheduler.__main__ import run_process

    if args.scheduler_action == "drain":
        args.drain = True
    return asyncio.run(run_process(args))


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    campaign = subparsers.add_parser(
        "campaign",
        help="marketers' campaigns: create, preview, dry-run, schedule, pause/resume/cancel, results",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = campaign.add_subparsers(dest="campaign_action", required=True)

    create = actions.add_parser("create", help="create a draft campaign (validated)")
    create.add_argument("--spec", help="the whole definition as JSON (or @file.json); other options are ignored")
    create.add_argument("--name")
    create.add_argument("--type", choices=("csat", "nps", "message"))
    create.add_argument("--tr", help="Turkish template; placeholders {first_name} {tier} {points}")
    create.add_argument("--en", help="English template; same placeholders")
    create.add_argument("--segment", help='segment rules as JSON or @file, e.g. \'{"tier_in": ["Gold"]}\'')
    when = create.add_mutually_exclusive_group()
    when.add_argument("--at", help="one-off send time, ISO (local time of --timezone unless an offset is given)")
    when.add_argument("--cron", help="standard 5-field crontab, e.g. '0 11 * * 1' = Mondays 11:00")
    when.add_argument("--after-ticket-resolved", type=int, metavar="HOURS")
    when.add_argument("--after-conversation", type=int, metavar="HOURS")
    create.add_argument("--starts")
    create.add_argument("--ends")
    create.add_argument("--timezone", default=None, help="default: TIMEZONE setting (Europe/Istanbul)")
    create.add_argument(
        "--commercial",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="commercial message (law 6563: needs marketing consent); default: yes for 'message'",
    )
    create.add_argument("--reminder-hours", type=int, default=None, help="one reminder after N hours without answer")
    create.add_argument("--schedule", action="store_true", help="schedule right after creating")

    for name, helptext in (
        ("preview", "audience size and a masked sample of 10"),
        ("dry-run", "who would get what, with skip reasons (nothing is sent)"),
        ("schedule", "validate and schedule"),
        ("pause", "stop firing; hold queued messages"),
        ("resume", "continue a paused campaign"),
        ("cancel", "stop for good; queued messages become skipped 'cancelled'"),
        ("show", "definition, results and runs as JSON"),
        ("export-csv", "results per recipient as CSV"),
    ):
        sub = actions.add_parser(name, help=helptext)
        sub.add_argument("id", type=int)
        if name == "dry-run":
            sub.add_argument("--limit", type=int, default=None)
            sub.add_argument("--json", action="store_true")
        if name == "export-csv":
            sub.add_argument("-o", "--output", default="-")
    listing = actions.add_parser("list", help="campaigns, newest first")
    listing.add_argument("--status", default=None)
    for sub in actions.choices.values():
        sub.add_argument("--actor", default=None, help="who is acting (recorded in the audit log)")
    campaign.set_defaults(func=_cmd_campaign)

    scheduler = subparsers.add_parser(
        "scheduler",
        help="the outreach process: APScheduler jobs + outbox sender",
        description="run: scheduler and sender (SIGTERM stops gracefully); drain: send what is due and exit; "
        "scan: automatic check-in scans once; reconcile: bookkeeping once; status: outbox counts.",
    )
    scheduler.add_argument(
        "scheduler_action", nargs="?", choices=("run", "drain", "scan", "reconcile", "status"), default="run"
    )
    from bot.scheduler.__main__ import add_run_arguments

    add_run_arguments(scheduler)
    scheduler.set_defaults(func=_cmd_scheduler)
