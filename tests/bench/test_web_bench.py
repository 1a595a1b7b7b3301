"""``focusd bench --web``: a watched viewfinder against none. Its figures are wall-clock and so not
checked here (tests/web/test_watched.py checks the frame counts, deterministically); what is
checked is that a run measures every phase, with the web process and its clients really there."""

from __future__ import annotations

import json
import math

import pytest

from focusd import cli
from focusd.bench.web import PHASES, Phase, format_report


def test_the_command_measures_each_phase_with_real_clients(tmp_path, capsys):
    out = tmp_path / "web.json"
    assert cli.main(["bench", "--web", "--af-presses", "1", "--presses", "2", "--no-progress",
                     "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("a watched viewfinder: the daemon on the simulated camera in real time")
    phases = json.loads(out.read_text())["phases"]
    assert [p["name"] for p in phases] == [name for name, _, _ in PHASES]
    for phase in phases:
        assert len(phase["af_frames"]) == 1 and phase["af_results"][0] in ("FOCUSED", "FAILED")
        assert phase["fps"] > 0 and not math.isnan(phase["shutter_median_ms"])
        assert len(phase["preview_fps"]) == phase["clients"]  # each client reported
    assert all(fps > 0 for fps in phases[1]["preview_fps"]) and phases[1]["preview_latency_median_ms"] > 0
    for name in (name for name, _, _ in PHASES):
        assert name in text


def test_ratios_are_against_the_no_client_phase():
    base = Phase("no clients", 0, 0, af_frames=[20], delays_ms=[10.0], fps=50.0)
    watched = Phase("3 clients", 3, 0, af_frames=[20], delays_ms=[12.0], fps=40.0,
                    previews=[{"fps": 15.0, "latencies_ms": [30.0]}] * 3)
    report = format_report([base, watched], {"profile": "imx708", "fps": 56.0, "seed": 0, "af_trials": 1,
                                             "presses": 1, "start_dioptres": 5.0, "preview_fps_limit": 15})
    row = next(line for line in report.splitlines() if line.startswith("3 clients"))
    assert " 1.00 " in row and " 1.20 " in row and " 0.80 " in row and "15/15/15, 30/30 ms" in row


@pytest.mark.parametrize("argv, message", [
    (["--web", "--presses", "0"], "--presses 0: need at least 1"),
    (["--web", "--af-presses", "0"], "--af-presses 0: need at least 1"),
    (["--web", "--shutter"], "--shutter and --web are separate runs"),
])
def test_bad_arguments_are_refused_before_the_run(argv, message, capsys):
    assert cli.main(["bench", *argv]) == 2
    assert message in capsys.readouterr().err
