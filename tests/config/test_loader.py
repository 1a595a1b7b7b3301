"""focusd.config.loader: the one rule by which every command finds its configuration.

The behaviour table runs through the real command line (focusd.cli.main) for every command that
reads a configuration, so a command that reads its file some other way fails here. The loader is
wrapped so that a command stops as soon as it has its configuration (no daemon, no recording).
"""

from __future__ import annotations

import dataclasses

import pytest

from focusd import cli
from focusd.config import loader
from focusd.config.settings import default_config
from focusd.errors import EX_CONFIG

#: the commands that read no configuration (the bench runs its own simulated suite)
WITHOUT_CONFIGURATION = {"bench"}
CONFIGURED = [name for name in cli.COMMANDS if name not in WITHOUT_CONFIGURATION]


class Loaded(Exception):
    """Raised by the wrapped loader with the configuration the command would run with."""

    def __init__(self, config):
        super().__init__("loaded")
        self.config = config


@pytest.fixture
def stop_when_loaded(monkeypatch):
    real = loader.load

    def load_then_stop(args, command_keys=None):
        raise Loaded(real(args, command_keys))

    monkeypatch.setattr(loader, "load", load_then_stop)


@pytest.fixture
def system_config(tmp_path, monkeypatch):
    """Where the rule looks for the installed file: a path in tmp_path (absent until written)."""
    path = tmp_path / "etc" / "focusd.toml"
    path.parent.mkdir()
    monkeypatch.setattr(loader, "SYSTEM_CONFIG", str(path))
    return path


def argv(command: str, tmp_path, config: str | None = None, *sets: str) -> list[str]:
    """The command line of ``command`` with its required arguments, ``--config`` (check-config: its
    PATH) and each ``--set``."""
    words = [command]
    if config is not None:
        words += [config] if command == "check-config" else ["--config", config]
    if command == "record-sweep":
        words += ["--out", str(tmp_path / "sweep")]
    for pair in sets:
        words += ["--set", pair]
    return words


def loaded(words: list[str]):
    with pytest.raises(Loaded) as caught:
        cli.main(words)
    return caught.value.config


def test_every_command_but_the_bench_reads_a_configuration(capsys):
    # a new command lands in the table below unless it is named here
    assert WITHOUT_CONFIGURATION <= set(cli.COMMANDS)
    with pytest.raises(SystemExit) as caught:
        cli.main(["bench", "--config", "focusd.toml"])
    assert caught.value.code == 2 and "unrecognized arguments: --config" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the table: results


@pytest.mark.parametrize("command", CONFIGURED)
def test_config_given_is_that_file_with_the_overrides_on_top(command, tmp_path, system_config, stop_when_loaded):
    system_config.write_text('[af]\nmode = "continuous"\n')  # present, and not read
    path = tmp_path / "mine.toml"
    path.write_text('[af]\nmode = "single"\nrange = "full"\n')
    config = loaded(argv(command, tmp_path, str(path), "af.range=macro"))
    assert config.source == str(path)
    assert (config.af.mode, config.af.range) == ("single", "macro")


@pytest.mark.parametrize("command", CONFIGURED)
def test_not_given_is_the_installed_file_when_it_exists(command, tmp_path, system_config, stop_when_loaded):
    system_config.write_text("[pins]\naf_on = 5\n")
    config = loaded(argv(command, tmp_path))
    assert config.source == str(system_config) and config.pins.af_on == 5


@pytest.mark.parametrize("command", CONFIGURED)
def test_not_given_and_nothing_installed_is_the_built_in_defaults(command, tmp_path, system_config, stop_when_loaded):
    config = loaded(argv(command, tmp_path, None, "af.mode=single"))
    defaults = default_config()
    assert config.source is None
    assert config.af == dataclasses.replace(defaults.af, mode="single")
    # the demo's packaged demo.toml gives the remote's half press a pin of its own (demo/remote.buttons)
    # and fits the AF-assist lamp (demo/assist.buttons) and the recall button (demo/recall.buttons)
    pins = dataclasses.replace(defaults.pins, remote_focus=24, af_assist=25, recall=6) if command == "demo" else defaults.pins
    assert (config.pins, config.shutter) == (pins, defaults.shutter)


# ------------------------------------------------------------------------------ the table: exit 78


def bad_file(tmp_path, text: str):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return str(path)


BAD = [
    # (case, how to build --config (None: not given), what the installed file holds (None: absent),
    #  --set pairs, the words stderr must show)
    ("given but missing", lambda tmp: str(tmp / "absent.toml"), "[af]\n", (), ["<file>", "absent.toml", "no such file"]),
    ("given with a bad key", lambda tmp: bad_file(tmp, '[af]\nmoed = "single"\n'), None, (), ["af.moed", "'mode'"]),
    ("given but not TOML", lambda tmp: bad_file(tmp, "[af\n"), None, (), ["bad.toml", "not valid TOML"]),
    ("installed with a bad value", lambda tmp: None, "[pins]\naf_on = 99\n", (), ["pins.af_on", "focusd.toml"]),
    ("a bad --set value", lambda tmp: None, None, ("af.mode=sideways",), ["af.mode", "override"]),
    ("a --set without =", lambda tmp: None, None, ("af.mode",), ["af.mode", "KEY=VALUE"]),
]


@pytest.mark.parametrize("command", CONFIGURED)
@pytest.mark.parametrize("make_config, installed, sets, words", [case[1:] for case in BAD], ids=[c[0] for c in BAD])
def test_a_bad_configuration_exits_78_naming_the_key(command, tmp_path, system_config, capsys,
                                                      make_config, installed, sets, words):
    if installed is not None:
        system_config.write_text(installed)
    assert cli.main(argv(command, tmp_path, make_config(tmp_path), *sets)) == EX_CONFIG
    err = capsys.readouterr().err
    for word in words:
        assert word in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "sweep").exists()  # record-sweep stopped before recording


# ------------------------------------------------------------------------------ the rule, shown


@pytest.mark.parametrize("command", CONFIGURED)
def test_every_commands_help_states_the_rule(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    assert " ".join(loader.RULE.split()) in " ".join(capsys.readouterr().out.split())

