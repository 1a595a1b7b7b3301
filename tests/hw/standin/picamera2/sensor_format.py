"""picamera2.sensor_format stand-in: SensorFormat, picamera2's parser of raw format names
("SRGGB10_CSI2P": Bayer order RGGB, 10 bits, CSI-2 packed; "BGGR_PISP_COMP1": the Pi 5's
compressed 16-bit), with picamera2's signatures and results (transform is left out: the
stand-in's sensor is never flipped)."""

import re


class SensorFormat:
    def __init__(self, fmt_string):
        pixels, _, packing = fmt_string.partition("_")
        self.packing = packing or None
        if self.packing in ("PISP_COMP1", "PISP_COMP2"):
            self.bit_depth = 16
        else:
            self.bit_depth = int(re.search(r"\d+$", pixels).group())
        self.bayer_order = re.search(r"[RGB]+", pixels).group()

    @property
    def format(self):
        return self.unpacked + ("_" + self.packing if self.packing else "")

    @property
    def unpacked(self):
        return ("" if self.mono else "S") + self.bayer_order + str(self.bit_depth)

    @property
    def mono(self):
        return self.bayer_order == "R"

    def __repr__(self):
        return self.format
