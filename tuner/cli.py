"""``python -m tuner``: the operator's command line, a thin shell over the same domain code the Lambdas run.

Exit codes: 0 success, 1 the thing checked is bad (invalid dataset, failed run), 2 usage errors.
Each command lives in its own module under ``tuner.commands`` and exposes ``register(subparsers)``; the parser
calls the function the command set with ``set_defaults(run=...)``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

COMMANDS = (
    "validate",
    "prepare",
    "score",
    "report",
    "runs",
    "compare",
    "run",
    "preflight",
    "sweep",
    "capacity",
    "models",
    "serving",  # also registers promote and rollback
)

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A mistake in how the command was called (missing file, bad option): reported in one line, exit 2."""


def version() -> str:
    """The project's version, from pyproject.toml (the repository is the installation)."""
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
    except (OSError, KeyError, ValueError):
        return "unknown"


def _plain(text: str | None) -> str | None:
    """Docstrings mark code with ``double backquotes``; help text shows it plain."""
    return text.replace("``", "") if text else text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tuner", description=_plain(__doc__.splitlines()[0]))
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"tuner.commands.{name}").register(subparsers)
    for command in subparsers.choices.values():
        command.description = _plain(command.description)
        for action in command._actions:
            action.help = _plain(action.help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse exits 2 on usage errors
    try:
        return int(args.run(args))
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`... --json | head`): not an error of ours. Point stdout at devnull so the
        # interpreter's final flush does not raise again, and exit as a broken-pipe write would.
        # (stdout may not be a real file, e.g. captured: then there is nothing left to flush)
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
