"""Which frame a capture takes and what it records of the lens, on the real daemon and the simulated
camera. The lens: the metadata's state (after the exposure), and the estimated position during the
exposure with whether the lens moved, checked against the simulator's truth (``SimLensActual``: the
glass over the rows' exposures)."""

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


def test_a_press_gets_the_first_frame_exposed_after_it_idle_focused_scanning_and_in_a_burst(tmp_path):
    # frames, not wall time: in stepped pacing a press lands between two frames, and the next
    # frame delivered is the first exposed after it (bench --shutter measures the time)
    config = make_config(tmp_path, shutter={"burst": True, "burst_fps": 10.0, "burst_limit": 3},
                         capture={"queue_depth": 64}, pins={"bounce_ms": 2.0})
    with DaemonHarness(config, seed=4) as rig:
        pressed_after: dict[int, int] = {}  # press id -> the last frame seen before it

        def shot(hold: int = 2) -> None:
            pressed_after[rig.stats.presses + 1] = rig.camera.last_sequence
            rig.press(SHUT)
            rig.step(hold)
            rig.release(SHUT)
            rig.step(2)

        shot()  # idle
        rig.press(AF)
        rig.step(3)
        shot()  # scanning
        assert rig.wait(lambda s: s.af_state == "FOCUSED")
        shot()  # focused
        shot(hold=int(0.35e9 // rig.sim.frame_duration_ns))  # a burst of 3 (burst_limit): the press's frame, 2 due 100 ms apart
        assert rig.wait(lambda s: s.captures_written == s.captures_requested == 6, timeout=10), rig.stats
        frame_ns = rig.sim.frame_duration_ns
    journal = sorted(rig.journal(), key=lambda e: (e["press_id"], e["burst_index"]))
    assert [e["af_state"] for e in journal[:3]] == ["IDLE", "SCANNING", "FOCUSED"]
    for entry in journal:
        if entry["burst_index"] == 0:
            assert entry["sequence"] == pressed_after[entry["press_id"]] + 1, entry
            assert 0 <= entry["frame_time_ns"] - entry["press_time_ns"] < frame_ns
        else:  # the first frame exposed at or after the moment it was due
            due = entry["press_time_ns"] + entry["burst_index"] * 100_000_000
            assert 0 <= entry["frame_time_ns"] - due < frame_ns, entry
