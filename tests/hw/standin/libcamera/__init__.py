"""Stand-in for libcamera's Python binding (only built on a Pi): the few names picamera2's
configuration defaults and focusd's adapter use. Control ids and enum values follow
libcamera's src/libcamera/control_ids_core.yaml (see tests/hw/libcamera_control_ids.txt);
tests/hw/test_picamera2_contract.py checks this module against that list."""

from . import controls  # noqa: F401  (``from libcamera import controls``, as picamera2 does)


class Transform:
    def __init__(self, hflip: int = 0, vflip: int = 0, transpose: int = 0):
        self.hflip, self.vflip, self.transpose = hflip, vflip, transpose


class ColorSpace:
    def __init__(self, name: str):
        self.name = name

    @staticmethod
    def Sycc() -> "ColorSpace":
        return ColorSpace("sYCC")

    @staticmethod
    def Rec709() -> "ColorSpace":
        return ColorSpace("Rec709")

    @staticmethod
    def Smpte170m() -> "ColorSpace":
        return ColorSpace("SMPTE170M")
