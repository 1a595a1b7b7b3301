"""The capture writer on a real folder: names, metadata round trips, the queue, start-up repairs.

Results are awaited on a threading.Event set by ``on_done``, never on a sleep. Images are small and
seeded. The fault cases (disk full, SIGKILL) are in test_capture_faults.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from focusd.capture.writer import CaptureRequest, CaptureResult, CaptureWriter
from focusd.service import controller
from focusd.capture.files import EXIF_INFINITY, make_series_folder, read_metadata, rename_no_replace
from focusd.capture.order import SeriesShot
from focusd.config.settings import CaptureConfig
from focusd.errors import ConfigError

TIMEOUT_S = 10.0
WALL = datetime(2026, 11, 25, 21, 30, 15, 250000)


class Results:
    """Collects on_done results; ``wait(n)`` blocks until n have come (with a timeout)."""

    def __init__(self) -> None:
        self.items: list[CaptureResult] = []
        self.threads: list[str] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def __call__(self, result: CaptureResult) -> None:
        with self._changed:
            self.items.append(result)
            self.threads.append(threading.current_thread().name)
            self._changed.notify_all()

    def wait(self, count: int) -> list[CaptureResult]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.items) >= count, TIMEOUT_S), \
                f"only {len(self.items)} of {count} results came"
            return list(self.items)


def make_image(seed: int, shape=(48, 64, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def make_request(seed: int = 0, *, image=None, lens_reported: float = 2.0, press_id: int | None = None,
                 sequence: int | None = None, wall_time=WALL, **changes) -> CaptureRequest:
    fields = dict(
        image=make_image(seed) if image is None else image,
        press_id=seed + 1 if press_id is None else press_id,
        press_time_ns=1_000_000_000 + seed,
        frame_time_ns=1_008_000_000 + seed,
        sequence=100 + seed if sequence is None else sequence,
        lens_reported=lens_reported,
        af_state="FOCUSED",
        reason="shutter priority release",
        wall_time=wall_time,
        exposure_time_us=8000.0,
        analogue_gain=1.5,
        f_number=1.8,
        focal_length_mm=4.74,
        extra={"ExposureTime": 8000, "AnalogueGain": 1.5},
    )
    fields.update(changes)
    return CaptureRequest(**fields)


def make_writer(folder: Path, results: Results, **config) -> CaptureWriter:
    return CaptureWriter(CaptureConfig(directory=str(folder), **config), results, camera_name="imx708-test")


def journal(folder: Path, name: str = "captures.jsonl") -> list[dict]:
    return [json.loads(line) for line in (folder / name).read_text().splitlines()]


def images(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".jpg", ".png"))


def test_jpeg_carries_lens_af_state_and_press_in_exif_and_journal(tmp_path):
    folder = tmp_path / "a" / "b"  # the last folder is made (never its parents: see below)
    folder.parent.mkdir()
    results = Results()
    writer = make_writer(folder, results, jpeg_quality=90)
    writer.start()
    request = make_request(3, lens_reported=2.5, af_state="SCANNING", reason="focus: timeout", burst_index=2,
                           lens_exposed=2.0, lens_exposed_range=(1.5, 2.5), lens_moving=True,
                           lens_estimate_basis="metadata", input="remote")
    assert writer.submit(request)
    (result,) = results.wait(1)
    writer.close()

    assert result.error is None and result.request is request
    assert result.path == folder / "IMG_20261125_213015_00001.jpg"
    assert results.threads == ["focusd-capture"]
    with Image.open(result.path) as picture:
        picture.load()  # decodes completely
        assert picture.format == "JPEG" and picture.size == (64, 48) and picture.mode == "RGB"
        exif = picture.getexif()
    assert exif[0x010F] == "focusd" and exif[0x0110] == "imx708-test"
    exif_ifd = exif.get_ifd(0x8769)
    assert exif_ifd[0x9003] == "2026:11:25 21:30:15"
    assert exif_ifd[0x9291] == "250"
    # from the lens during the exposure (2.0 D), not the metadata's state after it (2.5 D)
    assert float(exif_ifd[0x9206]) == pytest.approx(0.5)
    assert float(exif_ifd[0x829A]) == pytest.approx(0.008)  # ExposureTime, seconds
    assert exif_ifd[0x8827] == 150  # ISO: 100 x the analogue gain
    assert float(exif_ifd[0x829D]) == pytest.approx(1.8) and float(exif_ifd[0x920A]) == pytest.approx(4.74)
    embedded = json.loads(exif[0x010E])
    assert embedded == {"press_id": 4, "press_time_ns": 1_000_000_003, "frame_time_ns": 1_008_000_003,
                        "sequence": 103, "lens_reported": 2.5, "lens_exposed": 2.0, "lens_exposed_range": [1.5, 2.5],
                        "lens_moving": True, "lens_estimate_basis": "metadata", "exposure_time_us": 8000.0,
                        "analogue_gain": 1.5, "f_number": 1.8, "focal_length_mm": 4.74, "af_state": "SCANNING",
                        "reason": "focus: timeout", "burst_index": 2, "input": "remote", "af_assist_lit": False,
                        "trap_plane": None, "trap_rise": None,
                        "series": None, "series_index": None, "series_plane": None}
    assert read_metadata(result.path) == embedded
    (line,) = journal(folder)
    assert {key: line[key] for key in embedded} == embedded
    assert line["file"] == result.path.name and line["error"] is None and line["counter"] == 1
    assert line["extra"] == {"ExposureTime": 8000, "AnalogueGain": 1.5}
    assert line["camera"] == "imx708-test" and line["bytes"] == result.path.stat().st_size
    assert line["wall_time"] == "2026-11-25T21:30:15.250"
    assert writer.written == 1 and writer.failed == 0 and writer.pending == 0


def test_exif_leaves_out_what_is_not_known(tmp_path):
    # a camera without the profile's optics or the frame's exposure: no made-up tags
    results = Results()
    writer = make_writer(tmp_path, results)
    writer.start()
    writer.submit(make_request(exposure_time_us=None, analogue_gain=None, f_number=None, focal_length_mm=None))
    (result,) = results.wait(1)
    writer.close()
    with Image.open(result.path) as picture:
        exif_ifd = picture.getexif().get_ifd(0x8769)
    assert not {0x829A, 0x8827, 0x829D, 0x920A} & set(exif_ifd)
    assert float(exif_ifd[0x9206]) == pytest.approx(0.5)  # no estimate: the metadata's 2.0 D


def test_lens_at_infinity_is_exif_infinity(tmp_path):
    results = Results()
    writer = make_writer(tmp_path, results)
    writer.start()
    writer.submit(make_request(lens_reported=0.0))
    (result,) = results.wait(1)
    writer.close()
    with Image.open(result.path) as picture:
        distance = picture.getexif().get_ifd(0x8769)[0x9206]
    assert distance.numerator == EXIF_INFINITY and distance.denominator == 1


@pytest.mark.parametrize("shape", [(48, 64, 3), (48, 64)])
def test_png_is_lossless_with_metadata_text(tmp_path, shape):
    results = Results()
    writer = make_writer(tmp_path, results, format="png", filename="{sequence:06d}_{counter}")
    writer.start()
    image = make_image(7, shape)
    writer.submit(make_request(7, image=image, lens_reported=1.25))
    (result,) = results.wait(1)
    writer.close()
    assert result.path.name == "000107_1.png"
    with Image.open(result.path) as picture:
        assert np.array_equal(np.asarray(picture), image)
        assert picture.mode == ("RGB" if len(shape) == 3 else "L")
        embedded = json.loads(picture.info["focusd"])
        assert picture.info["Creation Time"] == "2026-11-25T21:30:15.250"
    assert embedded["lens_reported"] == 1.25 and embedded["sequence"] == 107 and embedded["af_state"] == "FOCUSED"
    assert journal(tmp_path)[0]["format"] == "png"


def test_queue_is_bounded_and_every_refusal_is_reported_and_journaled(tmp_path):
    results = Results()
    writer = make_writer(tmp_path, results, queue_depth=3)
    # not started yet: nothing drains the queue, so its bound is what decides
    assert [writer.submit(make_request(i)) for i in range(3)] == [True, True, True]
    assert writer.pending == 3
    assert writer.submit(make_request(3)) is False
    (refused,) = results.wait(1)  # reported at once, on the submitting thread
    assert refused.error == "queue full" and refused.path is None and refused.request.press_id == 4
    writer.start()
    writer.close()
    done = results.wait(4)
    assert [r.error for r in done[1:]] == [None, None, None]
    assert writer.written == 3 and writer.failed == 1 and writer.pending == 0
    lines = journal(tmp_path)
    assert sorted(line["press_id"] for line in lines) == [1, 2, 3, 4]
    (failure,) = [line for line in lines if line["error"]]
    assert failure == {**failure, "press_id": 4, "file": None, "error": "queue full"}


def test_close_writes_everything_queued_then_refuses(tmp_path):
    gate, entered = threading.Event(), threading.Event()
    results = Results()

    def on_done(result: CaptureResult) -> None:
        results(result)
        if len(results.items) == 1:  # hold the writer thread inside the first callback
            entered.set()
            assert gate.wait(TIMEOUT_S)

    writer = CaptureWriter(CaptureConfig(directory=str(tmp_path), queue_depth=32), on_done)
    writer.start()
    writer.submit(make_request(0))
    assert entered.wait(TIMEOUT_S)
    for seed in range(1, 11):
        assert writer.submit(make_request(seed))
    assert writer.pending == 10
    closer = threading.Thread(target=writer.close)
    closer.start()
    gate.set()
    closer.join(TIMEOUT_S)
    assert not closer.is_alive()
    assert writer.pending == 0 and writer.written == 11
    assert [r.request.press_id for r in results.items] == list(range(1, 12))
    assert len(images(tmp_path)) == 11
    assert writer.submit(make_request(99)) is False
    assert results.items[-1].error == "writer closed"


def test_counter_continues_after_highest_in_folder(tmp_path):
    for name in ("IMG_20200101_000000_00041.jpg", "IMG_20200101_000000_00007.png", "notes_99999.txt",
                 "IMG_x_y_00500.txt"):
        (tmp_path / name).write_bytes(b"x")
    results = Results()
    writer = make_writer(tmp_path, results)
    writer.start()
    writer.submit(make_request(0))
    writer.submit(make_request(1))
    first, second = results.wait(2)
    writer.close()
    assert first.path.name == "IMG_20261125_213015_00042.jpg"
    assert second.path.name == "IMG_20261125_213015_00043.jpg"


def test_existing_file_is_never_overwritten(tmp_path):
    results = Results()
    writer = make_writer(tmp_path, results)
    writer.start()
    # appears after the start-up scan, under exactly the name the next capture would take
    precious = tmp_path / "IMG_20261125_213015_00001.jpg"
    precious.write_bytes(b"someone else's photo")
    writer.submit(make_request(0))
    (result,) = results.wait(1)
    writer.close()
    assert precious.read_bytes() == b"someone else's photo"
    assert result.path.name == "IMG_20261125_213015_00002.jpg"
    assert journal(tmp_path)[0]["counter"] == 2


def test_pattern_without_counter_gets_a_suffix_instead_of_overwriting(tmp_path):
    results = Results()
    writer = make_writer(tmp_path, results, filename="shot_{sequence}")
    writer.start()
    for press in range(3):
        writer.submit(make_request(press, sequence=5))
    done = results.wait(3)
    writer.close()
    assert [r.path.name for r in done] == ["shot_5.jpg", "shot_5-2.jpg", "shot_5-3.jpg"]
    assert [read_metadata(r.path)["press_id"] for r in done] == [1, 2, 3]


def test_start_removes_stale_temps_and_torn_journal_tail(tmp_path, caplog):
    (tmp_path / ".focusd-4242-7.tmp").write_bytes(b"\xff\xd8 half a jpeg")
    (tmp_path / ".someone-elses.tmp").write_bytes(b"keep")
    whole = json.dumps({"file": None, "error": "queue full", "press_id": 9}) + "\n"
    (tmp_path / "captures.jsonl").write_text(whole + '{"file": "IMG_2026')
    caplog.set_level(logging.INFO, logger="focusd.capture")
    results = Results()
    writer = make_writer(tmp_path, results)
    writer.start()
    assert not (tmp_path / ".focusd-4242-7.tmp").exists()
    assert (tmp_path / ".someone-elses.tmp").read_bytes() == b"keep"
    assert (tmp_path / "captures.jsonl").read_text() == whole
    messages = [r.getMessage() for r in caplog.records if r.name == "focusd.capture"]
    assert any(".focusd-4242-7.tmp" in m for m in messages)
    assert any("torn" in m for m in messages)
    writer.submit(make_request(0))
    results.wait(1)
    writer.close()
    assert [line["press_id"] for line in journal(tmp_path)] == [9, 1]


def test_image_published_but_not_journaled_gets_its_line_rebuilt_at_start(tmp_path):
    results = Results()
    writer = make_writer(tmp_path, results)
    writer.start()
    writer.submit(make_request(0))
    writer.submit(make_request(1, lens_reported=4.0))
    results.wait(2)
    writer.close()
    # as if killed between publishing the second image and appending its line
    lines = (tmp_path / "captures.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "captures.jsonl").write_text(lines[0])
    restarted = make_writer(tmp_path, Results())
    restarted.start()
    restarted.close()
    first, rebuilt = journal(tmp_path)
    assert first["file"] == "IMG_20261125_213015_00001.jpg"
    assert rebuilt["recovered"] is True and rebuilt["file"] == "IMG_20261125_213015_00002.jpg"
    assert rebuilt["press_id"] == 2 and rebuilt["lens_reported"] == 4.0 and rebuilt["format"] == "jpeg"
    restarted_again = make_writer(tmp_path, Results())
    restarted_again.start()  # already journaled: no second line
    restarted_again.close()
    assert len(journal(tmp_path)) == 2


def test_bad_image_fails_that_capture_only(tmp_path):
    results = Results()
    writer = make_writer(tmp_path, results)
    writer.start()
    writer.submit(make_request(0, image=np.zeros((48, 64), np.float32)))
    writer.submit(make_request(1, image=np.zeros((48, 64, 4), np.uint8)))
    writer.submit(make_request(2))
    bad_dtype, bad_shape, good = results.wait(3)
    writer.close()
    assert bad_dtype.error.startswith("bad image") and "float32" in bad_dtype.error
    assert bad_shape.error.startswith("bad image") and "(48, 64, 4)" in bad_shape.error
    assert good.error is None and good.path.name.endswith("_00001.jpg")
    assert [line["error"] is None for line in journal(tmp_path)] == [False, False, True]
    assert list(tmp_path.glob(".*.tmp")) == []


def test_folder_that_cannot_be_made_fails_captures_until_it_can(tmp_path, caplog):
    blocker = tmp_path / "card"
    blocker.write_bytes(b"a file where the folder's parent should be")
    results = Results()
    writer = make_writer(blocker / "captures", results)
    writer.start()  # logs, does not raise: focusing goes on without a card
    writer.submit(make_request(0))
    (failed,) = results.wait(1)
    assert failed.error.startswith("write failed") and failed.path is None
    blocker.unlink()
    blocker.mkdir()  # the card is back: its folder is made
    writer.submit(make_request(1))
    _, written = results.wait(2)
    writer.close()
    assert written.error is None and written.path.parent == blocker / "captures"
    assert any("not ready" in r.getMessage() for r in caplog.records)


def test_a_missing_parent_folder_is_never_made(tmp_path):
    """A card that is not mounted (or a mistyped path) leaves no folders behind on the root file
    system: only the capture folder itself is made."""
    results = Results()
    writer = make_writer(tmp_path / "media" / "card" / "captures", results)
    writer.start()
    writer.submit(make_request(0))
    (failed,) = results.wait(1)
    writer.close()
    assert failed.error.startswith("write failed") and not (tmp_path / "media").exists()


@pytest.mark.parametrize("key, changes", [
    ("capture.filename", {"filename": "IMG_{counter}_{lens}"}),
    ("capture.filename", {"filename": "sub/{counter}"}),
    ("capture.filename", {"filename": ".hidden_{counter}"}),
    ("capture.filename", {"filename": "IMG_{counter"}),
    ("capture.format", {"format": "tiff"}),
    ("capture.queue_depth", {"queue_depth": 0}),
    ("capture.jpeg_quality", {"jpeg_quality": 101}),
    ("capture.journal", {"journal": "../escape.jsonl"}),
])
def test_bad_capture_config_names_the_key(tmp_path, key, changes):
    with pytest.raises(ConfigError) as caught:
        make_writer(tmp_path, Results(), **changes)
    assert caught.value.key == key and key in str(caught.value)


def test_one_log_line_per_capture_and_per_failure(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="focusd.capture")
    results = Results()
    writer = make_writer(tmp_path, results, queue_depth=1)
    writer.submit(make_request(0))
    writer.submit(make_request(1))  # refused: queue full
    writer.start()
    writer.close()
    results.wait(2)
    lines = [r for r in caplog.records if r.name == "focusd.capture"]
    assert len(lines) == 2
    assert lines[0].levelno == logging.ERROR and "press 2" in lines[0].getMessage()
    assert "queue full" in lines[0].getMessage()
    assert lines[1].levelno == logging.INFO and "IMG_20261125_213015_00001.jpg" in lines[1].getMessage()
    assert os.path.exists(tmp_path / "IMG_20261125_213015_00001.jpg")


def test_no_replace_rename_used_where_hard_links_are_missing_refuses_an_existing_name(tmp_path):
    # the FAT/exFAT path (no hard links there), exercised here through the same real syscall
    source, target = tmp_path / ".focusd-1-1.tmp", tmp_path / "IMG_00001.jpg"
    source.write_bytes(b"new")
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        rename_no_replace(source, target)
    assert target.read_bytes() == b"old" and source.exists()
    target.unlink()
    rename_no_replace(source, target)
    assert target.read_bytes() == b"new" and not source.exists()


class DiskCalls:
    """Records, on the capture folder, each os.write / os.fsync (by the path its descriptor was
    opened on) and os.link, in order: what a crash-safe publish must do, and in what order."""

    def __init__(self, folder: Path, monkeypatch):
        self.folder = folder
        self.calls: list[tuple[str, str]] = []
        self._paths: dict[int, str] = {}
        real_open, real_write, real_fsync, real_link = os.open, os.write, os.fsync, os.link

        def opened(path, flags, *args, **kwargs):
            descriptor = real_open(path, flags, *args, **kwargs)
            self._paths[descriptor] = self._name(path)
            return descriptor

        def write(descriptor, data):
            self._note("write", self._paths.get(descriptor))
            return real_write(descriptor, data)

        def fsync(descriptor):
            self._note("fsync", self._paths.get(descriptor))
            return real_fsync(descriptor)

        def link(source, target, *args, **kwargs):
            real_link(source, target, *args, **kwargs)
            self._note("link", f"{self._name(source)} -> {self._name(target)}")

        for name, function in (("open", opened), ("write", write), ("fsync", fsync), ("link", link)):
            monkeypatch.setattr(os, name, function)

    def _name(self, path) -> str:
        path = Path(os.fsdecode(path))
        return "<folder>" if path == self.folder else path.name if path.parent == self.folder else str(path)

    def _note(self, call: str, target: str | None) -> None:
        if target is not None and not target.startswith("/"):  # only what is in the capture folder
            self.calls.append((call, target))


def test_an_image_is_written_fsynced_linked_then_its_folder_fsynced(tmp_path, monkeypatch):
    """The order that keeps a final name complete across a crash (focusd.capture.files): the data,
    the file's fsync, the link to the final name, the folder's fsync (which makes the name durable),
    and only then the journal line that announces it."""
    folder = tmp_path / "captures"
    results = Results()
    writer = make_writer(folder, results, format="png")
    writer.start()
    disk = DiskCalls(folder, monkeypatch)
    writer.submit(make_request(1))
    (result,) = results.wait(1)
    writer.close()
    monkeypatch.undo()
    assert result.error is None
    temp = next(target for call, target in disk.calls if call == "write" and target.endswith(".tmp"))
    image_calls = [(call, target) for call, target in disk.calls
                   if target in (temp, "<folder>") or target.startswith(temp + " ->")]
    writes = [(call, target) for call, target in image_calls if call == "write"]
    assert writes and image_calls[:len(writes)] == writes  # the data first, all of it
    assert image_calls[len(writes):] == [("fsync", temp), ("link", f"{temp} -> {result.path.name}"),
                                         ("fsync", "<folder>")]
    folder_synced = disk.calls.index(("fsync", "<folder>"))
    journal_writes = [i for i, (call, target) in enumerate(disk.calls) if target == "captures.jsonl" and call == "write"]
    assert journal_writes and min(journal_writes) > folder_synced  # announced once durable
    assert ("fsync", "captures.jsonl") in disk.calls[max(journal_writes):]


# ------------------------------------------------ the journal's fields, documented in the README

README = Path(__file__).resolve().parents[2] / "README.md"


def journal_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## The capture journal")
    return text[start:text.index("\n## ", start + 1)]


def documented_fields() -> set[str]:
    fields = set()
    for row in re.findall(r"^\| (`[^|]+`) \|", journal_section(), flags=re.MULTILINE):
        fields.update(re.findall(r"`([a-z_]+)`", row))
    return fields


def test_every_journal_field_is_documented(tmp_path):
    results = Results()
    writer = make_writer(tmp_path, results, queue_depth=1)
    writer.start()
    writer.submit(make_request(0))
    results.wait(1)
    writer.close()
    (written,) = journal(tmp_path)
    failed = writer._record(make_request(1), WALL, None, "queue full")  # a failure line's fields
    keys = set(written) | set(failed) | {"recovered"}
    assert keys - documented_fields() == set()


def test_every_capture_reason_is_documented():
    section = journal_section()
    reasons = {controller.RELEASE_PRIORITY_REASON, "burst"}
    source = Path(controller.__file__).read_text(encoding="utf-8")
    reasons |= set(re.findall(r'"(focus: [A-Za-z -]+)"', source))
    assert reasons > {"burst"} and all(f"`{reason}`" in section for reason in reasons), reasons


# ------------------------------------------------------------------ a focus-bracketing series' folder


def shot(number: int, index: int, plane: float) -> dict:
    return {"series_shot": SeriesShot(number, index, plane, 3), "series_index": index, "series_plane": plane,
            "press_id": 0, "reason": "bracket"}


def test_each_series_gets_the_next_folder_and_its_shots_are_numbered_in_order(tmp_path):
    folder = tmp_path / "captures"
    folder.mkdir()
    (folder / "BRACKET_0007").mkdir()  # an earlier run's
    (folder / "BRACKET_notes").mkdir()  # not one of ours: ignored
    results = Results()
    writer = make_writer(folder, results)
    writer.start()
    try:
        writer.submit(make_request(0))  # an ordinary capture between the series
        for index, plane in enumerate((2.0, 2.45, 2.9), 1):
            writer.submit(make_request(index, lens_reported=plane, lens_exposed=plane, **shot(1, index, plane)))
        writer.submit(make_request(9, **shot(2, 1, 1.0)))
        done = results.wait(5)
    finally:
        writer.close()
    assert all(r.error is None for r in done)
    first = folder / "BRACKET_0008"
    assert sorted(p.name for p in first.iterdir()) == [f"BRACKET_0008_{i:03d}.jpg" for i in (1, 2, 3)]
    assert [p.name for p in (folder / "BRACKET_0009").iterdir()] == ["BRACKET_0009_001.jpg"]
    lines = [json.loads(line) for line in (folder / "captures.jsonl").read_text().splitlines()]
    assert lines[0]["series"] is None and lines[0]["file"].startswith("IMG_") and lines[0]["counter"] == 1
    series = lines[1:4]
    assert [line["file"] for line in series] == [f"BRACKET_0008/BRACKET_0008_{i:03d}.jpg" for i in (1, 2, 3)]
    assert [(line["series"], line["series_index"], line["series_plane"]) for line in series] == [
        ("BRACKET_0008", 1, 2.0), ("BRACKET_0008", 2, 2.45), ("BRACKET_0008", 3, 2.9)]
    assert all("counter" not in line for line in series)
    # the lens position is in each file: the metadata, and EXIF SubjectDistance from it
    embedded = read_metadata(first / "BRACKET_0008_002.jpg")
    assert embedded["series"] == "BRACKET_0008" and embedded["series_plane"] == 2.45
    assert embedded["lens_exposed"] == 2.45
    with Image.open(first / "BRACKET_0008_002.jpg") as picture:
        assert float(picture.getexif().get_ifd(0x8769)[0x9206]) == pytest.approx(1 / 2.45, abs=1e-3)
    # the main counter goes on after the series: the series' files never took one
    assert lines[4]["series"] == "BRACKET_0009"


def test_make_series_folder_never_takes_an_existing_name(tmp_path):
    assert make_series_folder(tmp_path) == "BRACKET_0001"
    assert make_series_folder(tmp_path) == "BRACKET_0002"
    (tmp_path / "BRACKET_0010").mkdir()
    assert make_series_folder(tmp_path) == "BRACKET_0011"
