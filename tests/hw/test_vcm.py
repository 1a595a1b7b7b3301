"""The I2C focus-motor drivers, against a bus stand-in that records every write.

The stand-in's methods have smbus2.SMBus's signatures (checked here against the installed
smbus2), so a driver that calls the bus wrongly fails here as it would on the Pi.
"""

from __future__ import annotations

import inspect

import pytest
import smbus2
from hypothesis import given
from hypothesis import strategies as st

from focusd.errors import LensError, ProfileError
from focusd.hw.vcm import DioptreMap, VcmLens, VcmSettings, open_lens
from focusd.config.profiles import load_profile, parse_profile


class RecordingBus:
    """Records (method, address, register, value) for every write; can be told to fail."""

    def __init__(self, bus=None, force=False):
        self.writes: list[tuple] = []
        self.fail: OSError | None = None
        self.closed = False

    def write_byte_data(self, i2c_addr, register, value, force=None):
        self._write(("byte_data", i2c_addr, register, value))

    def write_i2c_block_data(self, i2c_addr, register, data, force=None):
        self._write(("block_data", i2c_addr, register, list(data)))

    def close(self):
        self.closed = True

    def _write(self, record):
        if self.fail is not None:
            raise self.fail
        for value in record[2:3] + tuple(record[3] if isinstance(record[3], list) else [record[3]]):
            assert 0 <= value <= 0xFF, record  # SMBus carries bytes
        self.writes.append(record)


@pytest.mark.parametrize("name", ["__init__", "write_byte_data", "write_i2c_block_data", "close"])
def test_the_bus_standin_has_smbus2s_signatures(name):
    assert inspect.signature(getattr(RecordingBus, name)) == inspect.signature(getattr(smbus2.SMBus, name))


def ov5647_lens(bus):
    return open_lens(load_profile("ov5647_motorized"), bus=bus)


def test_ov5647_writes_arducams_two_byte_format():
    bus = RecordingBus()
    lens = ov5647_lens(bus)
    lens.move_to(10.0)  # the map's nearest end: code 1023
    lens.move_to(0.0)
    lens.move_to(5.0)  # half way: code 512 (rounded from 511.5)
    assert bus.writes == [
        ("byte_data", 0x0C, (1023 >> 4) & 0x3F, (1023 << 4) & 0xF0),
        ("byte_data", 0x0C, 0x00, 0x00),
        ("byte_data", 0x0C, 512 >> 4, 0x00),
    ]
    assert bus.writes[0][2:] == (0x3F, 0xF0) and lens.code == 512


@given(st.integers(min_value=0, max_value=1023))
def test_ov5647_bytes_carry_the_ten_bit_code_with_no_ramp(code):
    bus = RecordingBus()
    settings = VcmSettings(bus=10, address=0x0C, bits=10, dioptre_map=DioptreMap(((0.0, 0), (1023.0, 1023))))
    VcmLens(settings, bus, "ov5647").move_to(float(code))
    _, address, high, low = bus.writes[0]
    assert ((high << 4) | (low >> 4)) == code and low & 0x0F == 0 and address == 0x0C


GENERIC = {
    "display_name": "generic VCM", "sensor": "testcam", "lens_range": [0.0, 12.0],
    "af_ranges": {"normal": [0.0, 12.0]}, "lens_latency_frames": 2, "focal_length_mm": 4.0,
    "f_number": 2.0, "pixel_size_um": 1.4, "full_resolution": [640, 480], "focus_mode": [640, 480],
    "lores_size": [320, 240], "modes": [{"size": [640, 480], "fps": 60, "crop": [0, 0, 640, 480]}],
    "lens_driver": "i2c-dac",
    "vcm": {"bus": 1, "address": 0x0C, "bits": 10, "register": 0x03, "shift": 0,
            "dioptre_map": [[0.0, 100], [2.0, 300], [12.0, 900]]},
}


def test_generic_dac_vcm_writes_the_mapped_code_to_its_register():
    bus = RecordingBus()
    lens = open_lens(parse_profile("generic", GENERIC), bus=bus)
    assert lens.lens_range == (0.0, 12.0)
    lens.move_to(1.0)  # first segment: 100 + 200 * 0.5
    lens.move_to(7.0)  # second segment: 300 + 600 * 0.5
    assert bus.writes == [("block_data", 0x0C, 0x03, [0, 200]), ("block_data", 0x0C, 0x03, [600 >> 8, 600 & 0xFF])]


def test_generic_dac_vcm_left_aligns_by_shift():
    bus = RecordingBus()
    vcm = dict(GENERIC["vcm"], bits=12, shift=4, register=0x00, dioptre_map=[[0.0, 0], [12.0, 4095]])
    open_lens(parse_profile("generic", dict(GENERIC, vcm=vcm)), bus=bus).move_to(12.0)
    assert bus.writes == [("block_data", 0x0C, 0x00, [0xFF, 0xF0])]


def test_a_falling_map_is_allowed():
    assert DioptreMap.from_profile([[0.0, 900], [10.0, 100]], "x").code(5.0) == 500


@pytest.mark.parametrize("bad", [-0.1, 10.5, float("nan"), float("inf")])
def test_positions_outside_the_map_are_refused_and_nothing_is_written(bad):
    bus = RecordingBus()
    with pytest.raises(LensError):
        ov5647_lens(bus).move_to(bad)
    assert bus.writes == []


def test_a_failed_write_is_a_lens_error_naming_the_bus():
    bus = RecordingBus()
    bus.fail = OSError(121, "Remote I/O error")
    lens = ov5647_lens(bus)
    with pytest.raises(LensError, match="0x0c on bus 10"):
        lens.move_to(1.0)
    assert lens.code is None


def test_close_releases_the_bus_and_later_moves_fail():
    bus = RecordingBus()
    lens = ov5647_lens(bus)
    lens.close()
    lens.close()
    assert bus.closed
    with pytest.raises(LensError):
        lens.move_to(1.0)


@pytest.mark.parametrize("vcm, message", [
    ({"address": 0x0C, "bits": 10, "dioptre_map": [[0, 0], [10, 1023]]}, "missing 'bus'"),
    ({"bus": 1, "address": 0x0C, "bits": 10, "dioptre_map": [[0, 0]]}, "at least two points"),
    ({"bus": 1, "address": 0x0C, "bits": 10, "dioptre_map": [[0, 0], [10, 2000]]}, "0..1023"),
    ({"bus": 1, "address": 0x0C, "bits": 10, "dioptre_map": [[5, 0], [1, 10]]}, "strictly increase"),
    ({"bus": 1, "address": 0x0C, "bits": 10, "dioptre_map": [[0, 0], [5, 500], [10, 400]]}, "monotonic"),
    ({"bus": 1, "address": 0x1CC, "bits": 10, "dioptre_map": [[0, 0], [10, 1023]]}, "7-bit"),
])
def test_bad_vcm_tables_are_profile_errors(vcm, message):
    with pytest.raises(ProfileError, match=message):
        open_lens(parse_profile("generic", dict(GENERIC, vcm=vcm)), bus=RecordingBus())


def test_a_libcamera_profile_has_no_i2c_lens():
    with pytest.raises(ProfileError, match="not an I2C driver"):
        open_lens(load_profile("imx708"), bus=RecordingBus())


# bus_number is camera.vcm_bus: the camera's I2C bus is 10 on a Pi 4 (the profile's) and has other
# numbers on a Pi 5
@pytest.mark.parametrize("bus_number, expected", [(None, 10), (4, 4)])
def test_without_a_bus_the_device_is_opened_with_smbus2(monkeypatch, bus_number, expected):
    opened = []

    class OpeningBus(RecordingBus):
        def __init__(self, bus=None, force=False):
            super().__init__(bus, force)
            opened.append(bus)

    monkeypatch.setattr(smbus2, "SMBus", OpeningBus)
    lens = open_lens(load_profile("ov5647_motorized"), bus_number=bus_number)
    assert opened == [expected] and lens.settings.bus == expected
    lens.move_to(0.0)


@pytest.mark.parametrize("bus_number, expected", [(None, 10), (6, 6)])
def test_a_missing_i2c_device_is_a_lens_error(monkeypatch, bus_number, expected):
    def missing(bus=None, force=False):
        raise FileNotFoundError(2, "No such file or directory", f"/dev/i2c-{bus}")

    monkeypatch.setattr(smbus2, "SMBus", missing)
    with pytest.raises(LensError, match=rf"/dev/i2c-{expected}\).*camera\.vcm_bus"):
        open_lens(load_profile("ov5647_motorized"), bus_number=bus_number)
