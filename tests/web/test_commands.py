"""``focusd web``, ``focusd web-password``, ``focusd demo --web`` refusals and the [web] section."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from focusd import cli
from focusd.config.settings import ConfigError, parse_config
from focusd.errors import EX_CONFIG
from focusd.web.auth import hash_password, read_password_file, verify_password, write_password_file


def run_cli(argv, capsys, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("section, key, value, reason", [
    ("web", "enabled", "yes", "true or false"),
    ("web", "port", 0, "between 1 and 65535"),
    ("web", "addresses", ["camera.local"], "not an IP address"),
    ("web", "addresses", [], "non-empty list"),
    ("web", "preview_fps", 60, "between 1 and 30"),
    ("web", "runtime_dir", "run/focusd", "must be a path"),
    ("web", "colour", "red", "unknown"),
])
def test_a_bad_web_value_is_refused_naming_its_key(section, key, value, reason):
    with pytest.raises(ConfigError) as raised:
        parse_config({section: {key: value}})
    assert raised.value.key == f"{section}.{key}" and reason in str(raised.value)


def test_the_web_section_is_off_by_default_and_takes_good_values():
    assert parse_config({}).web.enabled is False
    web = parse_config({"web": {"enabled": True, "addresses": ["127.0.0.1", "::1"], "port": 8443}}).web
    assert web.addresses == ("127.0.0.1", "::1") and web.port == 8443


def test_focusd_web_exits_78_while_the_page_is_off(capsys):
    status, _, err = run_cli(["web"], capsys)
    assert status == EX_CONFIG and "web.enabled" in err


def test_focusd_web_exits_78_without_a_password(tmp_path, capsys):
    missing = tmp_path / "none"
    status, _, err = run_cli(["web", "--set", "web.enabled=true", "--set", f'web.password_file="{missing}"'], capsys)
    assert status == EX_CONFIG and "web.password_file" in err and "focusd web-password" in err
    missing.write_text("plain text, not a hash\n")
    status, _, err = run_cli(["web", "--set", "web.enabled=true", "--set", f'web.password_file="{missing}"'], capsys)
    assert status == EX_CONFIG and "holds no password hash" in err


def test_focusd_web_exits_78_naming_the_port_when_it_cannot_listen(tmp_path):
    import socket
    import subprocess

    path = tmp_path / "pw"
    write_password_file(str(path), "long enough pass")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "firmware"))
    with socket.socket() as taken:  # a process of its own: `focusd web` sets up logging for good
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "focusd.cli", "web", "--set", "web.enabled=true", "--set",
             f'web.password_file="{path}"', "--set", 'web.addresses=["127.0.0.1"]', "--set", f"web.port={port}"],
            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == EX_CONFIG and "web.addresses" in result.stderr and str(port) in result.stderr
    assert "Traceback" not in result.stderr


def test_web_password_stores_a_scrypt_hash_that_verifies(tmp_path, capsys, monkeypatch):
    path = tmp_path / "web-password"
    status, out, _ = run_cli(["web-password", "--stdin", "--set", f'web.password_file="{path}"'], capsys,
                             "a good password\n", monkeypatch)
    assert status == 0 and str(path) in out
    stored = read_password_file(str(path))
    assert stored.startswith("scrypt$") and "a good password" not in stored
    assert verify_password("a good password", stored) and not verify_password("a good passwore", stored)
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert hash_password("a good password") != stored  # salted


def test_web_password_refuses_a_short_one_and_changes_nothing(tmp_path, capsys, monkeypatch):
    path = tmp_path / "web-password"
    status, _, err = run_cli(["web-password", "--stdin", "--set", f'web.password_file="{path}"'], capsys,
                             "short\n", monkeypatch)
    assert status == 2 and "at least 8" in err and not path.exists()


def test_demo_web_and_interactive_together_are_refused(capsys):
    status, _, err = run_cli(["demo", "--web", "--interactive"], capsys)
    assert status == 2 and "--web and --interactive" in err
