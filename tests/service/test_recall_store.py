"""The recall button's stored position: survives a restart, atomic writes, corrupt files."""

import os

from focusd.service.recall import RecallStore


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
