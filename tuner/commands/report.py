"""``python -m tuner report RUN_DIR``: re-render report.html and report.md from RUN_DIR/report.json.

RUN_DIR is a run's folder copied from the bucket (``aws s3 cp --recursive s3://BUCKET/runs/RUN_ID/ RUN_DIR``) or
written by the local harness. Useful after a renderer improves, or to read a report offline.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from tuner.cli import EXIT_OK, UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="re-render report.html and report.md from a run folder's report.json",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="folder holding report.json")
    parser.set_defaults(run=run)


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
    from pydantic import ValidationError

    from lambdas.reporting.model import Report
    from lambdas.reporting.render import render_html, render_markdown

    source = args.run_dir / "report.json"
    if not source.is_file():
        raise UsageError(f"{source} does not exist (RUN_DIR must hold a run's report.json)")
    try:
        report = Report.model_validate_json(source.read_bytes())
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(document)"
        raise UsageError(f"{source} is not a run report: {where}: {first['msg']}") from None
    except OSError as error:
        raise UsageError(f"cannot read {source}: {error}") from None
    html_path, markdown_path = args.run_dir / "report.html", args.run_dir / "report.md"
    write_atomically(html_path, render_html(report))
    write_atomically(markdown_path, render_markdown(report))
    print(f"{report.status.value}: {report.headline}")
    print(f"wrote {html_path} and {markdown_path}")
    return EXIT_OK
