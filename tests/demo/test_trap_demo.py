"""``focusd demo --script trap``: the shipped trap script on the approaching scene, through the
real command line (real time, as a user runs it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from focusd.commands import demo
from focusd.demo.script import load_script

REPO = Path(__file__).resolve().parents[2]
DEMO = [sys.executable, "-m", "focusd.cli", "demo", "--config", str(REPO / "systemd" / "focusd.toml")]


def test_the_trap_script_needs_the_trap_and_the_approaching_scene():
    keys, scene = demo.SCRIPT_SETUPS["trap"]
    assert keys == {"shutter.trap": True} and scene == "approaching"
    subject = demo.demo_scene(scene)
    # the subject crosses 1 D (where the simulated lens starts) while the shutter is first held
    steps = load_script("trap")
    held = (steps[0].time_s, steps[1].time_s)
    crossing = (1.0 - subject.background.depth(0.0)) / subject.background.dioptres_per_s
    assert held[0] + 0.5 < crossing < held[1] - 0.8
    assert demo.demo_scene("wall") is None


def test_demo_script_trap_captures_the_pass_once_then_bursts(tmp_path):
    captures = tmp_path / "captures"
    result = subprocess.run([*DEMO, "--script", "trap", "--captures", str(captures)], cwd=REPO, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "2 shutter presses" in result.stdout and "0 failed" in result.stdout
    rows = sorted((json.loads(line) for line in (captures / "captures.jsonl").read_text().splitlines()),
                  key=lambda row: row["counter"])
    # one trap capture (the first arming; the second, with the subject going away, never fires;
    # AF-ON disarmed it), then the burst of the shutter still held, all of press 1
    assert rows[0]["reason"] == "trap" and rows[0]["trap_plane"] == 1.0 and rows[0]["press_id"] == 1
    assert rows[0]["extra"]["SimLensActual"] == 1.0  # the lens never moved while armed
    assert len(rows) >= 2 and all(row["reason"] == "burst" and row["press_id"] == 1 for row in rows[1:])
