"""Focus recall in the running daemon: the recall button on a mock pin, the stored position in its
state file across a restart, the move back on the slew-limited simulated lens, the recalled lock in
the events and the capture journal, and the command inlet."""

from __future__ import annotations

import json

from daemon_harness import DaemonHarness, test_config as make_config
from focusd.service import events as ev
from focusd.sim import scenes
from focusd.signals import ButtonId

RECALL_PIN = 6


def recall_config(tmp_path, **af):
    return make_config(tmp_path, pins={"recall": RECALL_PIN}, af={"mode": "single", **af},
                       recall={"state_file": str(tmp_path / "state" / "recall.json"), "long_press_ms": 100.0},
                       shutter={"burst": False})


def recorded(harness) -> list:
    seen: list = []
    harness.daemon.events.listen("test", seen.append)
    return seen


def of(seen, kind) -> list:
    return [e for e in list(seen) if isinstance(e, kind)]


def store_after_a_lock(tmp_path) -> float:
    """A single AF lock on a near subject (5 D; a new run's lens starts at 1 D), then a long press
    of recall: the position stored (read from the file)."""
    harness = DaemonHarness(recall_config(tmp_path), scene=scenes.texture_scene("bricks", distance_m=0.2, seed=3))
    seen = recorded(harness)
    with harness:
        harness.press(ButtonId.AF_ON)
        assert harness.wait(lambda s: s.af_locks == 1)
        harness.release(ButtonId.AF_ON)
        harness.step(2)
        locked = harness.daemon.focus.commanded
        harness.press(ButtonId.RECALL)
        assert harness.wait(lambda s: of(seen, ev.FocusStored))  # 100 ms held: stored, still held
        harness.release(ButtonId.RECALL)
        harness.step(3)
        assert harness.daemon.events_handled(5)
    (stored,) = of(seen, ev.FocusStored)
    assert stored.ok and stored.position == locked
    assert not of(seen, ev.FocusRecall)  # the long press's release recalls nothing
    return json.loads((tmp_path / "state" / "recall.json").read_text())["position"]


def test_a_long_press_stores_the_locked_position_and_a_restart_recalls_it(tmp_path):
    stored = store_after_a_lock(tmp_path)
    harness = DaemonHarness(recall_config(tmp_path))  # a new run: the lens starts elsewhere
    seen = recorded(harness)
    with harness:
        harness.step(2)
        start = harness.daemon.focus.last_reported
        assert abs(start - stored) > 3  # a long move: several slews of the IPA
        mark = len(harness.camera.lens_commands)
        harness.press(ButtonId.RECALL)
        harness.step(2)
        harness.release(ButtonId.RECALL)
        assert harness.wait(lambda s: [e for e in of(seen, ev.FocusRecall) if e.outcome == "arrived"])
        # the shortest path: every command of the move is the stored position (no scan)
        assert {target for _, target in harness.camera.lens_commands[mark:]} == {stored}
        harness.press(ButtonId.SHUTTER)
        harness.step(1)
        harness.release(ButtonId.SHUTTER)
        assert harness.wait(lambda s: s.captures_written == 1)
        assert harness.daemon.events_handled(5)
    assert [e.outcome for e in of(seen, ev.FocusRecall)] == ["moving", "arrived"]
    assert [e.state for e in of(seen, ev.FocusChanged)][-1] == "RECALLED"
    (row,) = harness.journal()
    assert row["af_state"] == "RECALLED" and row["lens_moving"] is False
    assert abs(row["lens_exposed"] - stored) < 0.01


def test_af_on_ends_the_recalled_lock_and_a_recall_with_af_on_held_does_nothing(tmp_path):
    store_after_a_lock(tmp_path)
    harness = DaemonHarness(recall_config(tmp_path))
    seen = recorded(harness)
    with harness:
        harness.daemon.inlet.recall_focus()  # the command inlet, as the button's press
        assert harness.wait(lambda s: s.af_state == "RECALLED")
        harness.press(ButtonId.AF_ON)
        assert harness.wait(lambda s: s.af_state != "RECALLED")
        harness.press(ButtonId.RECALL)
        harness.step(2)
        harness.release(ButtonId.RECALL)  # AF-ON held: AF-ON owns the lens
        harness.step(5)
        harness.release(ButtonId.AF_ON)
        harness.step(2)
        assert harness.daemon.events_handled(5)
    assert [e.outcome for e in of(seen, ev.FocusRecall)] == ["moving", "arrived"]
    assert harness.stats.af_state != "RECALLED"


def test_a_recall_with_nothing_stored_is_reported_and_moves_nothing(tmp_path):
    harness = DaemonHarness(recall_config(tmp_path))
    seen = recorded(harness)
    with harness:
        mark = len(harness.camera.lens_commands)
        harness.press(ButtonId.RECALL)
        harness.step(2)
        harness.release(ButtonId.RECALL)
        harness.step(3)
        assert harness.daemon.events_handled(5)
        assert harness.camera.lens_commands[mark:] == []
    assert [e.outcome for e in of(seen, ev.FocusRecall)] == ["nothing stored"]
    assert [e.pattern.value for e in of(seen, ev.LedChanged)][-1] == "error"


def test_the_inlet_stores_and_a_corrupt_state_file_is_nothing_stored(tmp_path):
    state = tmp_path / "state" / "recall.json"
    state.parent.mkdir(parents=True)
    state.write_text("{not json")
    harness = DaemonHarness(recall_config(tmp_path))
    seen = recorded(harness)
    with harness:
        harness.daemon.inlet.recall_focus()
        harness.step(3)
        harness.daemon.inlet.store_focus()
        assert harness.wait(lambda s: of(seen, ev.FocusStored))
        assert harness.daemon.events_handled(5)
    assert [e.outcome for e in of(seen, ev.FocusRecall)] == ["nothing stored"]
    (stored,) = of(seen, ev.FocusStored)
    assert stored.ok and json.loads(state.read_text())["position"] == stored.position
