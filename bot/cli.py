"""`python -m bot.cli <command>` — what `./memnun` runs inside the application environment.

Core commands live here (run, test, train, eval, bench, shell, rasa); each area of the product adds its
own sub-commands through a `register(subparsers)` function in `bot/<area>/cli.py`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import subprocess
import sys
from collections.abc import Sequence

from bot.settings import PROJECT_ROOT, get_settings

AREA_CLI_MODULES = (
    "bot.db.cli",
    "bot.services.cli",
    "bot.channels.telegram.cli",
    "bot.channels.webchat.cli",
    "bot.scheduler.cli",
    "bot.console.cli",
)


def _cmd_run(args: argparse.Namespace) -> int:
    from bot.runner import run_everything

    return run_everything(with_telegram=args.telegram, train=not args.no_train, seed=not args.no_seed)


def _cmd_train(args: argparse.Namespace) -> int:
    from bot.engine import train_model

    path = train_model(get_settings(), force=args.force)
    print(path.relative_to(PROJECT_ROOT))
    return 0


def _cmd_test(args: argparse.Namespace) -> int:
    """Every test: pytest over tests/ (actions, services, channels, scheduler, console, engine, e2e)."""
    command = [sys.executable, "-m", "pytest", "tests", "-p", "no:cacheprovider", *args.pytest_args]
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(PROJECT_ROOT))
    return subprocess.call(command, cwd=PROJECT_ROOT, env=env)


def _cmd_eval(args: argparse.Namespace) -> int:
    from bot.evaluation import run_evaluation

    return run_evaluation(out_dir=args.out, folds=args.folds, per_intent=args.per_intent, skip_cv=args.skip_cv)


def _cmd_bench(args: argparse.Namespace) -> int:
    from bench.run import main as bench_main

    return bench_main(args.bench_args)


def _cmd_rasa(args: argparse.Namespace) -> int:
    from bot.engine import engine_environment, rasa_executable

    command = [str(rasa_executable()), *args.rasa_args]
    return subprocess.call(command, cwd=PROJECT_ROOT, env=engine_environment(get_settings()))


def _cmd_shell(args: argparse.Namespace) -> int:
    """Chat with the assistant in the terminal (needs the action server: `./memnun run` in another shell)."""
    from bot.engine import engine_environment, latest_model, rasa_executable, train_model

    settings = get_settings()
    model = latest_model() or train_model(settings)
    command = [str(rasa_executable()), "shell", "--model", str(model), "--endpoints", "endpoints.yml"]
    return subprocess.call(command, cwd=PROJECT_ROOT, env=engine_environment(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memnun", description="Memnun customer-experience assistant")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start everything on the configured profile (SQLite by default)")
    run.add_argument(
        "--telegram",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start the Telegram connector (default: when TELEGRAM_TOKEN is set)",
    )
    run.add_argument("--no-train", action="store_true", help="use the newest model in models/ as it is")
    run.add_argument("--no-seed", action="store_true", help="do not create demo data on first start")
    run.set_defaults(func=_cmd_run)

    train = sub.add_parser("train", help="train the assistant if config/domain/data changed")
    train.add_argument("--force", action="store_true")
    train.set_defaults(func=_cmd_train)

    test = sub.add_parser("test", help="run every test (extra arguments go to pytest)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(func=_cmd_test)

    evaluate = sub.add_parser("eval", help="NLU cross-validation and third-party evaluation report")
    evaluate.add_argument("--out", default=str(PROJECT_ROOT / "reports" / "eval"))
    evaluate.add_argument("--folds", type=int, default=3)
    evaluate.add_argument(
        "--per-intent", type=int, default=150, help="cap of third-party utterances per intent and language"
    )
    evaluate.add_argument("--skip-cv", action="store_true", help="only the third-party evaluation")
    evaluate.set_defaults(func=_cmd_eval)

    bench = sub.add_parser("bench", help="benchmarks (writes reports/bench/)")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=_cmd_bench)

    shell = sub.add_parser("shell", help="talk to the assistant in this terminal")
    shell.set_defaults(func=_cmd_shell)

    rasa = sub.add_parser("rasa", help="run the engine's `rasa` with our endpoints environment")
    rasa.add_argument("rasa_args", nargs=argparse.REMAINDER)
    rasa.set_defaults(func=_cmd_rasa)

    for module_name in AREA_CLI_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that area has no CLI (yet)
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=get_settings().log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    # Pass-through commands: everything after the command name belongs to pytest / the bench / rasa,
    # including options such as `-q` that argparse would otherwise try to interpret.
    passthrough = {"test": ("pytest_args", _cmd_test), "bench": ("bench_args", _cmd_bench),
                   "rasa": ("rasa_args", _cmd_rasa)}
    if argv and argv[0] in passthrough:
        field_name, func = passthrough[argv[0]]
        return int(func(argparse.Namespace(**{field_name: argv[1:]})) or 0)
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
