"""Focus recall's pure parts: the stored position (survives a restart, atomic writes, corrupt
files), the move back, what is stored."""

import os
from types import SimpleNamespace

from focusd.lens_estimate import ExposedLens
from focusd.service import events as ev
from focusd.service.recall import MOVE_FRAMES_LIMIT, FocusRecall, RecallMove, RecallStore


def test_nothing_stored_without_a_file(tmp_path):
    store = RecallStore(tmp_path / "recall.json")
    outcome = store.load()
    assert outcome.ok and outcome.position is None and store.position is None


def test_a_stored_position_survives_a_restart(tmp_path):
    path = tmp_path / "state" / "recall.json"
    assert RecallStore(path).store(2.75).ok
    second = RecallStore(path)  # a new daemon reads the file
    assert second.load().position == 2.75 and second.position == 2.75


def test_a_failed_write_leaves_the_old_file_and_value(tmp_path, monkeypatch):
    path = tmp_path / "recall.json"
    store = RecallStore(path)
    store.store(1.5)
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    outcome = store.store(4.0)
    assert not outcome.ok and "No space left" in outcome.problem
    assert path.read_bytes() == before and store.position == 1.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recall.json"]
    assert RecallStore(path).load().position == 1.5


def test_a_corrupt_file_is_reported_as_nothing_stored(tmp_path):
    path = tmp_path / "recall.json"
    for text in ("{not json", '{"other": 1}', '{"position": "x"}', '{"position": -1}', "[]"):
        path.write_text(text)
        outcome = RecallStore(path).load()
        assert not outcome.ok and outcome.position is None and outcome.problem, text


def test_an_unreadable_file_is_reported_not_raised(tmp_path):
    path = tmp_path / "recall.json"
    path.mkdir()  # reading a folder fails with an OSError
    outcome = RecallStore(path).load()
    assert not outcome.ok and outcome.position is None and "cannot read" in outcome.problem


# ------------------------------------------------------------------------ the move back, pure


def exposed(position, low=None, high=None):
    low, high = position if low is None else low, position if high is None else high
    return ExposedLens(position, low, high, moving=high - low > 1e-6, basis="metadata")


def test_a_move_arrives_only_on_a_frame_exposed_wholly_at_the_target():
    move = RecallMove(5.0)
    assert move.frame(3.5, exposed(2.0)).write == 5.0  # short of it: written again (the slew goes on)
    assert move.frame(5.0, exposed(5.0, 4.0, 6.0)).arrived is False  # centred on it, but mixed
    step = move.frame(5.0, exposed(5.0, 4.99, 5.0))
    assert not step.arrived and step.write is None  # the state is there: no write, the glass follows
    assert move.frame(5.0, exposed(5.0)).arrived


def test_a_move_that_never_arrives_is_given_up():
    move = RecallMove(5.0)
    steps = [move.frame(2.0, exposed(2.0)) for _ in range(MOVE_FRAMES_LIMIT + 1)]
    assert not any(s.given_up for s in steps[:-1]) and steps[-1].given_up


def test_storing_takes_the_commanded_position_over_the_metadata_mid_slew(tmp_path):
    seen = []
    recall = FocusRecall(RecallStore(tmp_path / "recall.json"), SimpleNamespace(publish=seen.append), lambda: 7)
    outcome = recall.store_from(SimpleNamespace(commanded=4.25, last_reported=3.0))
    assert outcome.ok and outcome.position == 4.25 and seen == [ev.FocusStored(4.25, True, 7, "")]
    outcome = recall.store_from(SimpleNamespace(commanded=None, last_reported=3.0))  # never commanded
    assert outcome.position == 3.0
    recall.store.position = None
    nothing = FocusRecall(RecallStore(tmp_path / "other.json"), SimpleNamespace(publish=seen.append), lambda: 8)
    assert not nothing.store_from(SimpleNamespace(commanded=None, last_reported=None)).ok
