"""Continuous AF's watcher (focusd.af.continuous.Monitor): only a sustained change moves the lens."""

from __future__ import annotations

import numpy as np
from focusd.af.continuous import LEARN_FRAMES, Monitor
from focusd.af.tuning import AfTuning

BLOCKS = np.ones((4, 8))


def monitor(**tuning) -> Monitor:
    watcher = Monitor(AfTuning(**tuning), 1.0, BLOCKS, width=0.7)
    for _ in range(LEARN_FRAMES):
        assert watcher.update(1.0, BLOCKS) is None  # the locked level, still
    return watcher


def test_a_change_held_for_the_lock_on_delay_triggers_once_it_is_consecutive():
    watcher = monitor(retrigger_frames=6)
    results = [watcher.update(0.8, BLOCKS) for _ in range(6)]  # 20% less: a small change
    assert results[:5] == [None] * 5 and results[5] == "small"


def test_brief_changes_that_add_up_past_the_delay_but_never_last_do_not_trigger():
    """Five changed frames, one unchanged, again and again: 50 changed frames in all, never six in
    a row. Counting them up instead of in a row would refocus on every flicker."""
    watcher = monitor(retrigger_frames=6)
    for _ in range(10):
        for _ in range(5):
            assert watcher.update(0.8, BLOCKS) is None
        assert watcher.update(1.0, BLOCKS) is None


def test_a_large_fall_or_a_new_scene_is_large():
    watcher = monitor(retrigger_frames=3)
    assert [watcher.update(0.3, BLOCKS) for _ in range(3)] == [None, None, "large"]
    other = monitor(retrigger_frames=3)
    moved = BLOCKS * np.linspace(0.5, 1.5, 32).reshape(4, 8)  # the coarse pattern changed
    assert [other.update(1.0, moved) for _ in range(3)] == [None, None, "large"]
