"""``python -m bot.scheduler``: the outreach process (APScheduler jobs + outbox sender).

Options: ``--sender-only`` (an extra sender process for throughput), ``--no-sender`` (scheduler only),
``--drain`` (send what is due now and exit). SIGTERM/SIGINT stop it gracefully: in-flight messages are
finished, the leader lease is released.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from bot.scheduler.jobs import OutreachScheduler
from bot.scheduler.outbox import SenderOptions, run_sender


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.scheduler", description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    return parser


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--sender-only", action="store_true", help="run only the outbox sender")
    mode.add_argument("--no-sender", action="store_true", help="run only the scheduler (jobs)")
    parser.add_argument("--drain", action="store_true", help="send what is due now, then exit (implies --sender-only)")
    parser.add_argument("--concurrency", type=int, default=16, help="rows delivered in parallel (default 16)")
    parser.add_argument(
        "--telegram-rate",
        type=float,
        default=30.0,
        help="Telegram messages/s for this process (Bot API: 30 per bot; split across processes)",
    )
    parser.add_argument("--worker-id", default=None, help=argparse.SUPPRESS)


async def run_process(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on the main thread
            loop.add_signal_handler(signum, stop.set)
    sender_only = args.sender_only or args.drain
    options = SenderOptions(concurrency=args.concurrency, drain=args.drain, telegram_rate=args.telegram_rate)
    if args.worker_id:
        options.worker_id = args.worker_id
    tasks = []
    if not sender_only:
        tasks.append(asyncio.create_task(OutreachScheduler().run(stop), name="scheduler"))
    if not args.no_sender:
        sender = asyncio.create_task(run_sender(options, stop), name="sender")
        if args.drain:
            stats = await sender
            print(stats.as_dict())
            return 0
        tasks.append(sender)
    await asyncio.gather(*tasks)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from bot.settings import get_settings

    logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return asyncio.run(run_process(args))


if __name__ == "__main__":
    sys.exit(main())
