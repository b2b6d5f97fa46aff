"""``python -m tuner report RUN``: re-render report.html and report.md from a run's report.json.

RUN is a run's folder (or its report.json), copied from the bucket (``aws s3 cp --recursive
s3://BUCKET/runs/RUN_ID/ RUN_DIR``) or written by the local harness. Useful after a renderer improves, or to read
a report offline.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from tuner.cli import EXIT_OK, UsageError

if TYPE_CHECKING:
    from lambdas.reporting.model import Report


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="re-render report.html and report.md from a run folder's report.json",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN", help="a run's folder, or its report.json")
    parser.set_defaults(run=run)


def report_path(path: Path) -> Path:
    """A run's report.json from the run's folder or the file itself."""
    return path if path.suffix == ".json" or path.is_file() else path / "report.json"


def load_report(path: Path) -> Report:
    """A run's report from its folder or its report.json; any problem is a one-line usage error."""
    from pydantic import ValidationError

    from lambdas.reporting.model import Report

    source = report_path(path)
    if not source.is_file():
        raise UsageError(f"{source} does not exist (give a run's folder or its report.json)")
    try:
        return Report.model_validate_json(source.read_bytes())
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(document)"
        raise UsageError(f"{source} is not a run report: {where}: {first['msg']}") from None
    except OSError as error:
        raise UsageError(f"cannot read {source}: {error}") from None


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target and rename, so a reader never sees half a report."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> int:
    from lambdas.reporting.render import render_html, render_markdown

    report = load_report(args.run_dir)
    folder = report_path(args.run_dir).parent
    html_path, markdown_path = folder / "report.html", folder / "report.md"
    write_atomically(html_path, render_html(report))
    write_atomically(markdown_path, render_markdown(report))
    print(f"{report.status.value}: {report.headline}")
    print(f"wrote {html_path} and {markdown_path}")
    return EXIT_OK
