"""The CLI's own contract: usage errors exit 2 in one line, a closed pipe is not a crash."""

from __future__ import annotations

import argparse

import pytest

from tuner import cli


def _parser_running(action: object) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.set_defaults(run=action)
    return parser


def test_a_reader_closing_the_pipe_ends_quietly_with_141(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def write_into_closed_pipe(_args: argparse.Namespace) -> int:
        raise BrokenPipeError

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_running(write_into_closed_pipe))
    assert cli.main([]) == 141
    assert "Traceback" not in capsys.readouterr().err


def test_usage_errors_are_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def misuse(_args: argparse.Namespace) -> int:
        raise cli.UsageError("no such file: x.jsonl")

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_running(misuse))
    assert cli.main([]) == 2
    assert capsys.readouterr().err == "error: no such file: x.jsonl\n"


def test_every_command_is_registered() -> None:
    parser = cli.build_parser()
    for command in cli.COMMANDS:
        with pytest.raises(SystemExit) as raised:
            parser.parse_args([command, "--help"])
        assert raised.value.code == 0
