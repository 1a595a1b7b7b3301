"""``focusd bench --shutter``: the press-to-exposure figure. Its numbers are wall-clock and so not
checked here; what is checked is how they are computed and that the run reports every situation."""

from __future__ import annotations

import json
import math

from focusd import cli
from focusd.bench.shutter import SITUATIONS, Delay, percentile, summarise

MS = 1_000_000


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50 and percentile(values, 0.99) == 99 and percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))


def test_summary_per_situation_counts_the_presses_that_missed_frames():
    delays = [Delay("idle", 5 * MS, 0), Delay("idle", 9 * MS, 0), Delay("scanning", 60 * MS, 3),
              Delay("scanning", 4 * MS, 0)]
    summary = summarise(delays)
    assert list(summary) == list(SITUATIONS)
    assert summary["idle"]["n"] == 2 and summary["idle"]["median_ms"] == 5.0 and summary["idle"]["missed"] == 0
    assert summary["scanning"]["p99_ms"] == 60.0 and summary["scanning"]["missed_share"] == 0.5
    assert summary["burst"]["n"] == 0 and math.isnan(summary["burst"]["median_ms"])


def test_the_command_measures_every_situation_on_the_real_daemon(tmp_path, capsys):
    out = tmp_path / "shutter.json"
    assert cli.main(["bench", "--shutter", "--presses", "2", "--no-progress", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("press to start of exposure: the daemon on the simulated camera in real time")
    report = json.loads(out.read_text())
    for situation in ("idle", "focused", "burst"):
        assert report["summary"][situation]["n"] == 2, report["summary"]
    # never a frame exposed before the press (or the burst frame's due time)
    assert report["delays"] and all(d["delay_ns"] >= 0 for d in report["delays"])


def test_presses_must_be_positive(capsys):
    assert cli.main(["bench", "--shutter", "--presses", "0"]) == 2
    assert "--presses 0: need at least 1" in capsys.readouterr().err
