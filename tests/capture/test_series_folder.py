"""A focus-bracketing series' folder (capture.writer, files.make_series_folder): one folder per
series, numbered after the highest on the card, files in shooting order, the journal naming them."""

from __future__ import annotations

import json

import pytest

from focusd.capture.files import make_series_folder, read_metadata
from focusd.capture.order import SeriesShot
from test_capture import Results, make_request, make_writer


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
    from PIL import Image

    with Image.open(first / "BRACKET_0008_002.jpg") as picture:
        assert float(picture.getexif().get_ifd(0x8769)[0x9206]) == pytest.approx(1 / 2.45, abs=1e-3)
    # the main counter goes on after the series: the series' files never took one
    assert lines[4]["series"] == "BRACKET_0009"


def test_make_series_folder_never_takes_an_existing_name(tmp_path):
    assert make_series_folder(tmp_path) == "BRACKET_0001"
    assert make_series_folder(tmp_path) == "BRACKET_0002"
    (tmp_path / "BRACKET_0010").mkdir()
    assert make_series_folder(tmp_path) == "BRACKET_0011"
