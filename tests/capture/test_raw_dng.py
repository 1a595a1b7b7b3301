"""capture.raw: the DNG beside each image, decoded with LibRaw (rawpy) and read with Pillow's TIFF
reader: its size, CFA pattern, levels, pixels, exposure and the lens position; the pair is
published together (both files or neither) under one name."""

from __future__ import annotations

import errno
import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import rawpy
from PIL import TiffImagePlugin

import focusd.capture.files as files
from focusd.capture.dng import encode_dng
from focusd.capture.writer import CaptureRequest, CaptureWriter
from focusd.config.settings import CaptureConfig
from focusd.hw.base import RawImage
from focusd.service import events as ev
from capture.capture_helpers import Results
from daemon_harness import DaemonHarness, test_config as make_config

WALL = datetime(2024, 5, 6, 7, 8, 9, 123000)
#: rawpy's colour indices: color_desc is b"RGBG" for a Bayer DNG (0 red, 1 green, 2 blue, 3 the second green)
COLOUR_OF = {0: "R", 1: "G", 2: "B", 3: "G"}


def raw_pattern(decoded) -> str:
    """The CFA pattern LibRaw decoded, as the top-left 2x2 cell's colours row by row."""
    assert decoded.color_desc == b"RGBG"
    return "".join(COLOUR_OF[int(v)] for v in decoded.raw_pattern.flatten())


def tiff_tags(path: Path) -> TiffImagePlugin.ImageFileDirectory_v2:
    """IFD 0 of a DNG (a TIFF file), as Pillow's TIFF reader reads it."""
    with open(path, "rb") as file:
        tags = TiffImagePlugin.ImageFileDirectory_v2(file.read(8))
        tags.load(file)
    return tags


def raw_frame(seed: int, shape=(32, 48), cfa="RGGB", bit_depth=10, black=64) -> RawImage:
    pixels = np.random.default_rng(seed).integers(black, 2 ** bit_depth, size=shape).astype(np.uint16)
    return RawImage(pixels=pixels, cfa=cfa, bit_depth=bit_depth, black_level=black)


def request(seed: int, raw: RawImage | None, lens: float = 2.5, image_shape=(24, 32, 3)) -> CaptureRequest:
    image = np.random.default_rng(seed).integers(0, 256, size=image_shape, dtype=np.uint8)
    return CaptureRequest(image=image, press_id=seed, press_time_ns=seed, frame_time_ns=seed + 5, sequence=seed,
                          lens_reported=lens, lens_exposed=lens, af_state="FOCUSED", reason="shutter priority release",
                          exposure_time_us=8000.0, analogue_gain=2.0, f_number=1.8, focal_length_mm=4.74,
                          wall_time=WALL, raw=raw)


def names(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if not n.startswith(".") and n != "captures.jsonl")


def temps(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


def journal(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "captures.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------------------------- the file


@pytest.mark.parametrize("cfa", ["RGGB", "BGGR", "GRBG", "GBRG"])
@pytest.mark.parametrize("bit_depth", [10, 12, 16])
def test_libraw_decodes_every_pattern_and_depth_pixel_for_pixel(tmp_path, cfa, bit_depth):
    raw = raw_frame(bit_depth, cfa=cfa, bit_depth=bit_depth, black=4 << (bit_depth - 8))
    path = tmp_path / "frame.dng"
    path.write_bytes(encode_dng(raw, {"lens_exposed": 2.0}, {}, "imx708", WALL))
    with rawpy.imread(str(path)) as decoded:
        assert (decoded.sizes.raw_height, decoded.sizes.raw_width) == raw.pixels.shape
        assert raw_pattern(decoded) == cfa
        assert np.array_equal(decoded.raw_image, raw.pixels)
        assert decoded.white_level == 2 ** bit_depth - 1
        assert list(decoded.black_level_per_channel) == [raw.black_level] * 4
        assert decoded.postprocess().shape == (*raw.pixels.shape, 3)  # a raw developer can develop it


def test_the_dng_carries_the_lens_position_and_the_exposure_of_the_frame(tmp_path):
    metadata = {"lens_exposed": 2.5, "lens_reported": 2.7, "exposure_time_us": 8000.0, "analogue_gain": 2.0,
                "f_number": 1.8, "focal_length_mm": 4.74, "af_state": "FOCUSED"}
    path = tmp_path / "frame.dng"
    path.write_bytes(encode_dng(raw_frame(1), metadata, {"ColourGains": [2.0, 1.5]}, "imx708", WALL))
    with rawpy.imread(str(path)) as decoded:  # what LibRaw reads of the exposure
        assert decoded.other.shutter_speed == pytest.approx(0.008)
        assert decoded.other.aperture == pytest.approx(1.8)
        assert decoded.other.focal_length == pytest.approx(4.74)
        assert decoded.other.timestamp.replace(tzinfo=None) == WALL.replace(microsecond=0)
    tags = tiff_tags(path)
    assert json.loads(tags[270]) == metadata  # ImageDescription: the JPEG's metadata JSON
    assert float(tags[37382]) == pytest.approx(1 / 2.5)  # SubjectDistance, metres, from lens_exposed
    assert tags[34855] == 200  # PhotographicSensitivity (ISO) = 100 x analogue gain
    assert [float(v) for v in tags[50728]] == pytest.approx([0.5, 1.0, 1 / 1.5], abs=1e-4)  # AsShotNeutral
    assert (tags[271], tags[272]) == ("focusd", "imx708")


def test_a_frame_dng_cannot_hold_is_refused(tmp_path):
    with pytest.raises(files.CaptureError, match="bit depth 9"):
        encode_dng(raw_frame(1, bit_depth=9), {}, {}, "x", WALL)
    with pytest.raises(files.CaptureError, match="multiple of 4"):
        encode_dng(raw_frame(1, shape=(32, 46)), {}, {}, "x", WALL)


# ------------------------------------------------------------------------------- the pair


def writer_for(folder: Path, results: Results, **config) -> CaptureWriter:
    writer = CaptureWriter(CaptureConfig(directory=str(folder), raw=True, **config), results, camera_name="imx708")
    writer.start()
    return writer


def test_the_dng_has_the_image_s_name_and_the_journal_names_it(tmp_path):
    folder, results = tmp_path / "captures", Results()
    writer = writer_for(folder, results)
    writer.submit(request(1, raw_frame(1)))
    writer.submit(request(2, None))  # a frame without raw: the image alone
    first, second = results.wait(2)
    writer.close()
    assert first.raw_path == first.path.with_suffix(".dng") and second.raw_path is None
    assert names(folder) == sorted([first.path.name, first.raw_path.name, second.path.name])
    lines = journal(folder)
    assert lines[0]["raw"] == first.raw_path.name and lines[0]["raw_bytes"] == first.raw_path.stat().st_size
    assert lines[1]["raw"] is None
    with rawpy.imread(str(first.raw_path)) as decoded:
        assert np.array_equal(decoded.raw_image, raw_frame(1).pixels)


def test_a_taken_dng_name_moves_both_files_to_the_next_counter(tmp_path):
    folder, results = tmp_path / "captures", Results()
    folder.mkdir()
    pattern = files.FilenamePattern(CaptureConfig().filename, ".jpg")
    taken = folder / pattern.name(WALL, 1, 1)[:-4]
    taken.with_suffix(".dng").write_bytes(b"someone else's")
    writer = writer_for(folder, results)
    writer.submit(request(1, raw_frame(1)))
    (result,) = results.wait(1)
    writer.close()
    assert result.path.name == pattern.name(WALL, 2, 1)  # counter 2 for both: 1's DNG name is taken
    assert result.raw_path.name == result.path.with_suffix(".dng").name
    assert taken.with_suffix(".dng").read_bytes() == b"someone else's"
    assert not taken.with_suffix(".jpg").exists()


def test_when_the_image_cannot_be_linked_the_dng_goes_too(tmp_path, monkeypatch):
    folder, results = tmp_path / "captures", Results()
    real_link = files.link_no_replace

    def failing_link(source, target):
        if target.suffix == ".jpg":
            raise OSError(errno.EIO, "I/O error", str(target))
        real_link(source, target)

    monkeypatch.setattr(files, "link_no_replace", failing_link)
    writer = writer_for(folder, results)
    writer.submit(request(1, raw_frame(1)))
    (result,) = results.wait(1)
    writer.close()
    assert result.path is None and result.error.startswith("write failed: I/O error")
    assert names(folder) == [] and temps(folder) == []  # neither file, no leftovers
    assert journal(folder)[0]["file"] is None and journal(folder)[0]["raw"] is None


RLIMIT_CHILD = r'''
import json, resource, signal, sys, threading
import numpy as np
from focusd.capture.writer import CaptureRequest, CaptureWriter
from focusd.config.settings import CaptureConfig
from focusd.hw.base import RawImage
from focusd.service import events as ev

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed by the signal
folder = sys.argv[1]
results, arrived = [], threading.Semaphore(0)

def on_done(result):
    results.append({"error": result.error, "file": result.path.name if result.path else None,
                    "raw": result.raw_path.name if result.raw_path else None})
    arrived.release()

def capture(press_id, image_size, raw_size):
    rng = np.random.default_rng(press_id)
    image = rng.integers(0, 256, size=(*image_size, 3), dtype=np.uint8)  # noise: JPEG cannot shrink it
    raw = RawImage(rng.integers(64, 1024, size=raw_size).astype(np.uint16), "RGGB", 10, 64)
    writer.submit(CaptureRequest(image=image, press_id=press_id, press_time_ns=0, frame_time_ns=0, sequence=press_id,
                                 lens_reported=2.0, af_state="FOCUSED", reason="shutter priority release", raw=raw))
    assert arrived.acquire(timeout=10)

writer = CaptureWriter(CaptureConfig(directory=folder, raw=True), on_done)
writer.start()
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (15_000, hard))
capture(1, (8, 8), (200, 240))     # the DNG (61 kB) does not fit; the image (1.3 kB) would
capture(2, (120, 160), (16, 16))   # the DNG (1.3 kB) fits; the image (20 kB of noise) does not
capture(3, (8, 8), (16, 16))       # both fit
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space returns
capture(4, (120, 160), (200, 240))
writer.close()
print(json.dumps(results))
'''


def test_a_full_disk_leaves_neither_file_whichever_of_the_two_does_not_fit(tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse writes past a size with EFBIG (the writer's "disk
    full"), on any machine: a DNG refused part-way, or an image refused after its DNG was written."""
    import subprocess
    import sys

    script = tmp_path / "child.py"
    script.write_text(RLIMIT_CHILD)
    folder = tmp_path / "captures"
    done = subprocess.run([sys.executable, str(script), str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    dng_refused, image_refused, both, after = json.loads(done.stdout)
    for failed in (dng_refused, image_refused):
        assert failed["file"] is None and failed["raw"] is None
        assert failed["error"].startswith("disk full: File too large")
    assert both["error"] is None and after["error"] is None
    assert names(folder) == sorted([both["file"], both["raw"], after["file"], after["raw"]])
    assert temps(folder) == []  # the DNG's temporary file went with the refused image's
    with rawpy.imread(str(folder / after["raw"])) as decoded:
        assert decoded.raw_image.shape == (200, 240)


# ------------------------------------------------------------------------------ the daemon


def test_the_daemon_writes_the_simulator_s_bayer_frame_as_a_dng_with_its_lens_position(tmp_path):
    config = make_config(tmp_path, shutter={"burst": False}, capture={"raw": True})
    with DaemonHarness(config, seed=3, light="indoor") as rig:
        stream = rig.daemon.events.subscribe("test", depth=10_000)
        rig.shoot()
        seen = []

        def written_out(_stats) -> bool:  # the event follows the count: wait for it on the stream
            seen.extend(stream.drain())
            return any(isinstance(e, ev.CaptureWritten) for e in seen)

        assert rig.wait(written_out)
        record = rig.journal()[0]
        image = rig.images()[0]
        (written,) = [e for e in seen if isinstance(e, ev.CaptureWritten)]
    folder = image.parent
    assert record["raw"] == image.with_suffix(".dng").name and record["raw_error"] is None
    assert (Path(written.path), Path(written.raw_path)) == (image, folder / record["raw"])  # on the event stream
    dng = folder / record["raw"]
    with rawpy.imread(str(dng)) as decoded:
        assert (decoded.sizes.raw_width, decoded.sizes.raw_height) == (1536, 864)  # the simulator's main stream (focusd.sim.raw)
        assert raw_pattern(decoded) == "RGGB"
        assert decoded.white_level == 1023 and list(decoded.black_level_per_channel) == [64] * 4
        assert decoded.other.shutter_speed == pytest.approx(record["exposure_time_us"] / 1e6, abs=1e-6)  # whole us
        # the pattern is the data's: red photosites collect about half of green's light (focusd.sim.raw)
        light = decoded.raw_image.astype(float) - 64
        colours = decoded.raw_colors
        ratio = light[colours == 0].mean() / light[(colours == 1) | (colours == 3)].mean()
        assert ratio == pytest.approx(0.52, abs=0.03)
    tags = tiff_tags(dng)
    inside = json.loads(tags[270])
    assert inside["lens_exposed"] == record["lens_exposed"] and inside["press_id"] == record["press_id"]
    assert float(tags[37382]) == pytest.approx(1 / record["lens_exposed"], abs=1e-3)
    assert tags[34855] == round(record["analogue_gain"] * 100)


def test_without_capture_raw_no_dng_and_the_journal_says_null(tmp_path):
    config = make_config(tmp_path, shutter={"burst": False})
    with DaemonHarness(config, seed=3) as rig:
        rig.shoot()
        assert rig.wait(lambda s: s.captures_written == 1)
        record = rig.journal()[0]
        folder = rig.images()[0].parent
    assert record["raw"] is None and record["raw_error"] is None
    assert not list(folder.glob("*.dng"))


def test_the_demo_with_capture_raw_on_writes_the_dng_pairs(tmp_path):
    """``focusd demo --set capture.raw=true`` (``make run`` with raw on): the simulated camera in
    real time, a shutter tap, the JPEG and its DNG."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    script = tmp_path / "tap.buttons"
    script.write_text("0.30  shutter  press\n0.36  shutter  release\n0.80  end\n")
    captures = tmp_path / "captures"
    result = subprocess.run([sys.executable, "-m", "focusd.cli", "demo", "--config", str(repo / "systemd" / "focusd.toml"),
                             "--captures", str(captures), "--script", str(script), "--set", "capture.raw=true"],
                            cwd=repo, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == 0, result.stderr
    (record,) = journal(captures)
    assert names(captures) == sorted([record["file"], record["raw"]])
    assert record["raw"] == Path(record["file"]).with_suffix(".dng").name
    with rawpy.imread(str(captures / record["raw"])) as decoded:
        assert raw_pattern(decoded) == "RGGB" and decoded.raw_image.shape == (864, 1536)


def test_a_restart_journals_nothing_twice_and_tells_of_a_dng_left_alone(tmp_path, caplog):
    folder, results = tmp_path / "captures", Results()
    writer = writer_for(folder, results)
    writer.submit(request(1, raw_frame(1)))
    (first,) = results.wait(1)
    writer.close()
    caplog.set_level("WARNING", logger="focusd.capture")
    again = writer_for(folder, Results())  # the newest pair is journaled: nothing to rebuild or report
    again.close()
    assert len(journal(folder)) == 1 and not caplog.records
    first.path.unlink()  # as a crash between the DNG's link and the image's leaves it
    later = Results()
    writer = writer_for(folder, later)
    writer.submit(request(2, raw_frame(2)))
    (second,) = later.wait(1)
    writer.close()
    assert "has no image beside it" in caplog.text and first.raw_path.exists()
    assert len(journal(folder)) == 2  # no line rebuilt for the lone DNG
    pattern = files.FilenamePattern(CaptureConfig().filename, ".jpg")
    assert pattern.counter_of(second.path.name) == pattern.counter_of(first.raw_path.name) + 1  # its counter is taken
