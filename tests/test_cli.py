"""``focusd`` itself: its --help for a user, its --version, and a missing command refused."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

import focusd
from focusd import cli

REPO = Path(__file__).resolve().parents[1]


def run_cli(capsys, *words: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as caught:
        cli.main(list(words))
    captured = capsys.readouterr()
    return caught.value.code, captured.out + captured.err


def test_help_says_what_focusd_is_and_lists_each_command_on_one_line(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, text = run_cli(capsys, "--help")
    assert code == 0
    assert "back-button focus" in text and "Raspberry Pi" in text
    assert "``" not in text and "focusd.commands" not in text  # not the module's developer docstring
    lines = text.splitlines()
    for name, module_name in cli.COMMANDS.items():
        help_line = importlib.import_module(f"focusd.commands.{module_name}").HELP
        assert [line for line in lines if line.split()[:1] == [name]] == [f"  {name:<17}{help_line}"]
    assert max(map(len, lines)) <= 79
    assert "usage: focusd [-h] [--version] COMMAND ..." in text


def test_version_is_the_packages(capsys):
    code, text = run_cli(capsys, "--version")
    assert code == 0 and text == f"focusd {focusd.__version__}\n"
    assert focusd.__version__ == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_no_command_is_a_usage_error(capsys):
    code, text = run_cli(capsys)
    assert code == 2 and "COMMAND" in text and "Traceback" not in text
