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

COMMANDS = ("validate", "prepare", "score", "report", "run", "sweep")

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A mistake in how the command was called (missing file, bad option): reported in one line, exit 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tuner", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"tuner.commands.{name}").register(subparsers)
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
