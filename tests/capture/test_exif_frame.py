"""The EXIF exposure tags of a written capture equal its frame's metadata (read back with Pillow)."""

from __future__ import annotations

import pytest
from PIL import Image

from daemon_harness import DaemonHarness, test_config as make_config


def test_exif_exposure_equals_the_frames_metadata(tmp_path):
    config = make_config(tmp_path, shutter={"burst": False}, capture={"format": "jpeg"})
    with DaemonHarness(config, seed=2, light="indoor") as rig:
        rig.shoot()
        assert rig.wait(lambda s: s.captures_written == 1)
        record = rig.journal()[0]
        image = rig.images()[0]
    exif = Image.open(image).getexif().get_ifd(0x8769)
    assert float(exif[0x829A]) == pytest.approx(record["exposure_time_us"] / 1e6, abs=1e-6)
    assert exif[0x8827] == round(record["analogue_gain"] * 100)
    assert float(exif[0x829D]) == pytest.approx(record["f_number"], abs=0.01)
    assert float(exif[0x920A]) == pytest.approx(record["focal_length_mm"], abs=0.01)


def test_manual_exposure_reaches_the_exif_from_the_frames_metadata(tmp_path):
    config = make_config(tmp_path, shutter={"burst": False},
                         exposure={"auto": False, "shutter_us": 4000.0, "iso": 400.0})
    with DaemonHarness(config, seed=2, light="indoor") as rig:
        rig.shoot()
        assert rig.wait(lambda s: s.captures_written == 1)
        record = rig.journal()[0]
        image = rig.images()[0]
    assert (record["exposure_time_us"], record["analogue_gain"]) == (4000.0, 4.0)
    assert record["extra"]["ExposureTime"] == 4000  # the frame's metadata said so, not the settings
    exif = Image.open(image).getexif().get_ifd(0x8769)
    assert float(exif[0x829A]) == pytest.approx(1 / 250)
    assert exif[0x8827] == 400
