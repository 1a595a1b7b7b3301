"""The default suite's figures, asserted: ``make bench-check`` (CI runs it after ``make test``).

The whole default suite (601 trials x 5 algorithms, plus the continuous-AF checks) takes about two
minutes on two cores, too long for ``make test``; it is seeded, so its figures are exact for the
same code, and these floors sit at or just under what it measures (README, "Autofocus"), so that a
change that makes the engine less right or slower fails here: halving a step, dropping the clean
dwell, a fit that ignores the probes. Where a floor is under the issue's target it says so.
"""

from __future__ import annotations

import argparse
import json
import os

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("FOCUSD_BENCH_CHECK") != "1",
                                reason="the whole default suite: make bench-check")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from focusd.commands import bench

    path = tmp_path_factory.mktemp("bench") / "bench.json"
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert bench.main(parser.parse_args(["--tracking", "--json", str(path), "--no-progress"])) == 0
    return json.loads(path.read_text())


def test_real_stacks(report):
    focusd, stock = report["summary"]["focusd"], report["summary"]["stock-normal"]
    real = focusd["real"]
    assert real["trials"] == stock["real"]["trials"] >= 300
    # the targets: 0.97 told right, 0.95 told a frame wrong (measured 0.991 and 0.981)
    assert real["accuracy_told_right"] >= 0.97
    assert real["accuracy_told_wrong"] >= 0.97
    assert real["failed_lit"] <= 0.02
    assert real["wrong_lock"] <= 0.02  # measured 0.012: FOCUSED at a wrong place is the worst outcome
    assert real["accuracy"] >= stock["real"]["accuracy"] + 0.1
    assert focusd["real_ratios"]["vs_stock_normal"] >= 3.0
    for block in ("real-tuning", "real-held-out"):
        assert focusd["blocks"][block]["accuracy"] >= 0.97, block


def test_synthetic_blocks(report):
    focusd = report["summary"]["focusd"]
    assert focusd["target"]["accuracy"] >= 0.99
    assert focusd["ratios"]["vs_stock_normal"] >= 3.0
    for block in ("latency-1", "latency-3", "told2-true1", "told2-true3", "dim", "instant-lens"):
        assert focusd["blocks"][block]["accuracy"] >= 0.95, block
    hard = focusd["dark_featureless"]
    assert hard["failed"] >= 0.95 and hard["wrong_lock"] <= 0.02


def test_continuous_af(report):
    tracking = report["tracking"]
    assert all(run["lock_frames"] is not None for run in tracking["static"])
    assert tracking["static_max_commands_after_lock"] == 0
    assert tracking["moving_max_mean_abs_error"] <= 0.3


def test_the_report_says_which_targets_it_misses(report):
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["real stacks: in focus, latency told a frame wrong"]["ok"]
    assert checks["x fewer frames than stock-normal (main)"]["ok"]
    assert checks["static: lens commands in 1000 frames after lock"]["ok"]
    told_right = checks["real stacks: in focus, latency told right"]
    assert told_right["ok"] and told_right["value"] >= 0.97
    assert all(check["ok"] for check in report["checks"]), [c["name"] for c in report["checks"] if not c["ok"]]
