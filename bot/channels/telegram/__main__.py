"""``python -m bot.channels.telegram [--mode polling|webhook]``: run the Telegram connector."""

from __future__ import annotations

import argparse
import logging
import sys

from bot.channels.telegram.connector import run
from bot.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.channels.telegram", description=__doc__)
    parser.add_argument("--mode", choices=("polling", "webhook"), default=None, help="default: TELEGRAM_MODE (polling)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=get_settings().log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run(args.mode)


if __name__ == "__main__":
    sys.exit(main())
