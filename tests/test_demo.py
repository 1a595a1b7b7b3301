"""``focusd demo`` (what ``make run`` and ``make interactive`` run) through the real command line,
and the button-script format it plays (focusd.demo.script)."""

from __future__ import annotations

import dataclasses
import json
import os
import pty
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from focusd import cli
from focusd.commands import demo
from focusd.config import loader
from focusd.config.settings import default_config, load_config
from focusd.errors import ScriptError
from focusd.signals import ButtonId
from focusd.demo.script import Step, load_script, parse_script

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "systemd" / "focusd.toml"
DEMO = [sys.executable, "-m", "focusd.cli", "demo", "--config", str(SHIPPED)]

# The shipped script (focusd/demo/default.buttons) with the shipped configuration (burst at 5 fps,
# no limit reached): the tap at 0.56 s during the scan gives 1; the shutter held from 1.50 to
# 2.20 s gives the press and bursts 0.2, 0.4 and 0.6 s after it (the release comes 0.1 s before
# the next one is due: no race) = 4; the tap at 3.10 s after AF-ON is let go gives 1.
DEMO_CAPTURES = 6


def test_make_run_demo_writes_every_capture_and_its_journal_line(tmp_path):
    shutter = load_config(SHIPPED).shutter
    assert (shutter.burst, shutter.burst_fps, shutter.burst_limit) == (True, 5.0, 20), "DEMO_CAPTURES assumes these"
    assert len(load_script("default")) == 9, "DEMO_CAPTURES was counted on the shipped script"
    captures = tmp_path / "captures"

    result = subprocess.run([*DEMO, "--captures", str(captures)], cwd=REPO, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120)

    assert result.returncode == 0, result.stderr
    assert f"{DEMO_CAPTURES} captures written" in result.stdout and "0 failed" in result.stdout
    images = sorted(p.name for p in captures.glob("*.jpg"))
    assert len(images) == DEMO_CAPTURES
    # nothing else: no temporary file (.focusd-*.tmp) left behind
    assert sorted(p.name for p in captures.iterdir()) == sorted([*images, "captures.jsonl"])
    journal = [json.loads(line) for line in (captures / "captures.jsonl").read_text().splitlines()]
    assert len(journal) == DEMO_CAPTURES
    assert sorted(entry["file"] for entry in journal) == images
    assert all(entry["error"] is None for entry in journal)
    first = min(journal, key=lambda entry: entry["counter"])
    # the shutter pressed during the scan fired at once, without waiting for focus
    assert first["af_state"] == "SCANNING" and first["reason"] == "shutter priority release" and first["burst_index"] == 0


def test_demo_summary_without_af_on_shows_no_lens_and_one_press_in_the_singular(tmp_path):
    script = tmp_path / "tap.buttons"
    script.write_text("0.30  shutter  press\n0.36  shutter  release\n0.80  end\n")
    result = subprocess.run([*DEMO, "--captures", str(tmp_path / "captures"), "--script", str(script)], cwd=REPO,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert ", 1 shutter press, 1 capture written to " in line, line
    assert line.endswith(", 0 failed, 0 focus locks, final lens -"), line  # never "nan D"


def test_demo_outside_the_repository_runs_on_its_packaged_settings(tmp_path, monkeypatch):
    # what `focusd demo` reads from any folder: the rule's built-in defaults (nothing installed,
    # see tests/conftest.py) with the packaged demo.toml over them; --captures and --set over that
    monkeypatch.chdir(tmp_path)
    parser = cli.build_parser()
    args = parser.parse_args(["demo"])
    config = loader.load(args, demo.demo_keys(args.captures))
    # demo.toml's ./captures and --captures are taken from the current folder (the key is absolute)
    assert (config.camera.backend, config.capture.directory) == ("sim", str(tmp_path / "captures"))
    assert config.source is None and config.af == default_config().af
    # the remote's half press on a pin of its own, for demo/remote.buttons; every other pin as shipped
    assert config.pins == dataclasses.replace(default_config().pins, remote_focus=24, af_assist=25, recall=6)
    assert config.recall.state_file == str(tmp_path / "focusd-state" / "recall.json")  # taken from here too
    args = parser.parse_args(["demo", "--captures", "shots", "--set", "capture.directory=/srv/elsewhere"])
    assert loader.load(args, demo.demo_keys(args.captures)).capture.directory == "/srv/elsewhere"
    args = parser.parse_args(["demo", "--captures", "shots"])
    assert loader.load(args, demo.demo_keys(args.captures)).capture.directory == str(tmp_path / "shots")


@pytest.mark.skipif(os.path.exists(loader.SYSTEM_CONFIG), reason="an installed configuration would be read")
def test_demo_runs_from_another_folder(tmp_path):
    script = tmp_path / "tap.buttons"
    script.write_text("0.30  shutter  press\n0.36  shutter  release\n0.80  end\n")
    result = subprocess.run([sys.executable, "-m", "focusd.cli", "demo", "--script", str(script)], cwd=tmp_path,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"1 capture written to {tmp_path / 'captures'}" in result.stdout
    assert len(list((tmp_path / "captures").glob("*.jpg"))) == 1


def test_demo_summary_words():
    from focusd.commands.demo import summary
    from focusd.service.stats import DaemonStats

    stats = DaemonStats(frames=1, presses=2, captures_written=2, af_locks=1, lens_position=1.234)
    assert summary(stats, "c") == ("1 frame, 2 shutter presses, 2 captures written to c, 0 failed, 1 focus lock, "
                                   "final lens 1.23D")


def test_interactive_without_a_terminal_exits_2_at_once(tmp_path):
    captures = tmp_path / "captures"
    result = subprocess.run([*DEMO, "--captures", str(captures), "--interactive"], cwd=REPO, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "--interactive" in result.stderr and "terminal" in result.stderr
    assert "Traceback" not in result.stderr
    assert not captures.exists()  # the daemon never started


def test_interactive_on_a_terminal_quits_on_q_and_restores_the_terminal(tmp_path):
    controller, terminal = pty.openpty()
    process = None
    try:
        before = termios.tcgetattr(terminal)
        process = subprocess.Popen([*DEMO, "--captures", str(tmp_path / "captures"), "--interactive"], cwd=REPO,
                                   stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # the key help is printed once the terminal is in cbreak mode: a key sent earlier is flushed
        watchdog = threading.Timer(60, process.kill)  # a hung demo ends the readline below
        watchdog.start()
        seen = []
        try:
            while not (seen and seen[-1].startswith("keys:")):
                line = process.stderr.readline()
                assert line, f"the demo ended before showing the keys: {''.join(seen)}"
                seen.append(line)
        finally:
            watchdog.cancel()
        assert not termios.tcgetattr(terminal)[3] & termios.ICANON  # keys come at once
        os.write(controller, b"q")
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "0 captures written" in out and "Traceback" not in err
        assert termios.tcgetattr(terminal) == before  # cbreak undone
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
        os.close(terminal)


# ------------------------------------------------------------------------------ the script format


def test_a_script_parses_with_comments_blank_lines_and_end():
    text = "# a comment\n\n0 af_on press\n0.5  shutter  press   # during the scan\n0.5 shutter release\n" \
           "1.25 remote press\n2 end\n"
    assert parse_script(text) == [
        Step(0.0, ButtonId.AF_ON, True), Step(0.5, ButtonId.SHUTTER, True), Step(0.5, ButtonId.SHUTTER, False),
        Step(1.25, ButtonId.REMOTE, True), Step(2.0, None),
    ]


BAD_SCRIPTS = [
    ("time not a number", "0 af_on press\nsoon shutter press\n", 2, "'soon'"),
    ("negative time", "-1 af_on press\n", 1, "0 or more"),
    ("time not finite", "0 af_on press\n\ninf af_on release\n", 3, "'inf'"),
    ("time NaN", "nan af_on press\n", 1, "'nan'"),
    ("out of order", "1 af_on press\n# comment\n0.5 af_on release\n", 3, "before the previous step"),
    ("unknown button", "0 thumb press\n", 1, "'thumb'"),
    ("unknown action", "0 af_on push\n", 1, "'push'"),
    ("missing action", "0 af_on press\n1 shutter\n", 2, "TIME BUTTON"),
    ("extra word", "0 af_on press now\n", 1, "TIME BUTTON"),
    ("time alone", "0\n", 1, "TIME BUTTON"),
    ("step after the end", "0 af_on press\n1 end\n2 af_on release\n", 3, "after the end"),
]


@pytest.mark.parametrize("text, line, words", [case[1:] for case in BAD_SCRIPTS], ids=[c[0] for c in BAD_SCRIPTS])
def test_a_bad_line_is_a_script_error_naming_its_line(text, line, words):
    with pytest.raises(ScriptError) as caught:
        parse_script(text, "my.buttons")
    assert str(caught.value).startswith(f"my.buttons:{line}: ")
    assert words in str(caught.value)


def test_an_empty_script_and_a_missing_file_are_script_errors(tmp_path):
    with pytest.raises(ScriptError, match="no steps"):
        parse_script("# only a comment\n\n", "empty.buttons")
    with pytest.raises(ScriptError, match="cannot read"):
        load_script(tmp_path / "absent.buttons")


def test_demo_with_a_bad_script_exits_2_naming_the_line(tmp_path):
    script = tmp_path / "bad.buttons"
    script.write_text("0 af_on press\n0.1 shutter presss\n")
    result = subprocess.run([*DEMO, "--captures", str(tmp_path / "captures"), "--script", str(script)], cwd=REPO,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert result.returncode == 2
    assert f"{script}:2:" in result.stderr and "Traceback" not in result.stderr


def test_the_shipped_scripts_parse_and_the_remote_one_presses_both_stages():
    from focusd.demo.script import shipped_scripts

    assert {"default", "remote"} <= set(shipped_scripts())
    steps = load_script("remote")
    pressed = {step.button for step in steps if step.button is not None and step.pressed}
    assert {ButtonId.REMOTE_FOCUS, ButtonId.REMOTE} <= pressed


def test_a_script_naming_an_unknown_button_lists_the_real_ones(tmp_path):
    script = tmp_path / "x.buttons"
    script.write_text("0.1 thumb press\n")
    with pytest.raises(ScriptError, match="remote_focus"):
        load_script(script)


def test_the_recall_demo_stores_the_start_position_and_recalls_it_after_focusing(tmp_path):
    """`focusd demo --script recall`: the journal shows a capture at the subject, then one at the
    stored spot with the recalled lock; the stored position is in the demo's state file."""
    result = subprocess.run([*DEMO, "--script", "recall"], cwd=tmp_path, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == 0, result.stderr
    stored = json.loads((tmp_path / "focusd-state" / "recall.json").read_text())["position"]
    rows = [json.loads(line) for line in (tmp_path / "captures" / "captures.jsonl").read_text().splitlines()]
    assert [row["af_state"] for row in rows] == ["IDLE", "RECALLED"]
    at_subject, recalled = (row["lens_exposed"] for row in rows)
    assert abs(recalled - stored) < 0.01 and abs(at_subject - stored) > 0.1


def test_the_bracket_demo_shoots_a_series_into_its_folder_and_stops_the_second_at_af_on(tmp_path):
    """demo/bracket.buttons: a lock, a shutter double-press (a photo, then a series of 5 towards
    near, demo.toml), a second double-press whose series AF-ON stops."""
    captures = tmp_path / "captures"
    result = subprocess.run([*DEMO, "--captures", str(captures), "--script", "bracket"], cwd=REPO,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == 0, result.stderr
    assert ", 2 shutter presses, " in result.stdout and "0 failed" in result.stdout
    journal = [json.loads(line) for line in (captures / "captures.jsonl").read_text().splitlines()]
    photos = [entry for entry in journal if entry["series"] is None]
    assert [entry["press_id"] for entry in photos] == [1, 2]  # each double-press's first tap
    first = [entry for entry in journal if entry["series"] == "BRACKET_0001"]
    second = [entry for entry in journal if entry["series"] == "BRACKET_0002"]
    assert [entry["file"] for entry in first] == [f"BRACKET_0001/BRACKET_0001_{i:03d}.jpg" for i in range(1, 6)]
    assert sorted(p.name for p in (captures / "BRACKET_0001").iterdir()) == [Path(e["file"]).name for e in first]
    assert 1 <= len(second) < 5  # stopped by AF-ON
    planes = [entry["series_plane"] for entry in first]
    assert planes == sorted(planes) and planes[0] == pytest.approx(second[0]["series_plane"])  # near; same lock
    for entry in first + second:
        assert entry["error"] is None and entry["reason"] == "bracket"
        assert entry["lens_moving"] is False and entry["extra"]["SimLensMoving"] is False
        assert entry["extra"]["SimLensActual"] == pytest.approx(entry["series_plane"], abs=1e-3)
    # locked: one exposure (to the microsecond's thousandth: the hold passes it through seconds and back)
    assert len({(round(e["exposure_time_us"], 3), round(e["analogue_gain"], 6)) for e in first}) == 1
