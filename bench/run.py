"""Entry point of `./memnun bench <chat|campaign|console|all> [options]`.

Each benchmark lives in its own module with its own options; this module only dispatches, so that a
benchmark another team owns (campaign, console) is imported only when it is asked for, and a missing one
is reported instead of breaking the others.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

#: sub-command -> module with ``main(argv) -> int``.
BENCHMARKS: dict[str, str] = {
    "chat": "bench.chat_bench",
    "campaign": "bench.campaign_bench",
    "console": "bench.console_bench",
}

USAGE = """usage: memnun bench {chat,campaign,console,all} [options]

  chat      simultaneous conversations against our stack (REST, Telegram) and a bare `rasa init` baseline
  campaign  100,000-customer campaign: select + queue + send rate through the real sender
  console   web console under load
  all       every benchmark above with its default options (options are not passed on)

`memnun bench <name> --help` lists a benchmark's options. Reports go to reports/bench/.
"""


def _load(name: str) -> Callable[[list[str]], int] | None:
    module_name = BENCHMARKS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # a real import error inside the benchmark must not be hidden
        return None
    return module.main  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], list(argv[1:])
    if command == "all":
        worst = 0
        for name in BENCHMARKS:
            runner = _load(name)
            if runner is None:
                print(f"[bench] {name}: not available in this checkout ({BENCHMARKS[name]} missing), skipped")
                continue
            print(f"[bench] === {name} ===", flush=True)
            worst = max(worst, runner([]))
        return worst
    if command not in BENCHMARKS:
        print(f"unknown benchmark {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    runner = _load(command)
    if runner is None:
        print(f"[bench] {command}: {BENCHMARKS[command]} is not in this checkout", file=sys.stderr)
        return 2
    return runner(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
