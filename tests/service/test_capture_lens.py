"""What a capture records of the lens, on the real daemon and the simulated camera: the metadata's
lens state (after the exposure), and the estimated position during the exposure with whether the
lens moved, checked against the simulator's truth (``SimLensActual``: the glass over the rows'
exposures)."""

from __future__ import annotations

import pytest

from daemon_harness import DaemonHarness, test_config as make_config
from focusd.signals import ButtonId

AF, SHUT = ButtonId.AF_ON, ButtonId.SHUTTER


def test_captures_during_a_scan_record_where_the_lens_was_while_they_were_exposed(tmp_path):
    # a short bounce window: a press every other frame is a press
    config = make_config(tmp_path, shutter={"burst": False}, capture={"queue_depth": 64}, pins={"bounce_ms": 2.0})
    with DaemonHarness(config, seed=3) as rig:
        rig.press(AF)
        rig.step(1)
        for _ in range(24):  # a press every other frame, all through the scan
            rig.press(SHUT)
            rig.step(1)
            rig.release(SHUT)
            rig.step(1)
        assert rig.wait(lambda s: s.captures_written == s.captures_requested == 24, timeout=5), rig.stats
    journal = rig.journal()
    assert len(journal) == 24
    moving = [e for e in journal if e["lens_moving"]]
    still = [e for e in journal if e["lens_moving"] is False]
    assert moving and still, "the scan moved the lens during some captures and held it during others"
    for entry in journal:
        truth = entry["extra"]["SimLensActual"]
        low, high = entry["lens_exposed_range"]
        assert low - 1e-3 <= truth <= high + 1e-3, entry
    # until the first command shows in the metadata the estimate rests on the told latency
    assert journal[-1]["lens_estimate_basis"] == "metadata"
    for entry in still:  # held: the estimate is where the glass was
        assert entry["lens_exposed"] == pytest.approx(entry["extra"]["SimLensActual"], abs=1e-3)
    # and the metadata's state is not that: it is already the next position for some captures
    assert any(abs(e["lens_reported"] - e["extra"]["SimLensActual"]) > 0.1 for e in journal)
    assert all(e["f_number"] > 0 and e["focal_length_mm"] > 0 and e["exposure_time_us"] > 0 for e in journal)
