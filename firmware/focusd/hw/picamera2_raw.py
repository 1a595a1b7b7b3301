"""The raw (Bayer) stream for the picamera2 adapter (``capture.raw``): which format to ask for,
whether the one granted can be used, and a frame's raw buffer as a :class:`RawImage`.

Why the unpacked format: picamera2's default raw format is the sensor's native one
(``Picamera2.sensor_format``, e.g. ``SRGGB10_CSI2P``: four 10-bit pixels in five bytes). A Pi 5
(PiSP) cannot write packed CSI-2 data and substitutes its lossy ``PISP_COMP1`` compression; both
a Pi 4 and a Pi 5 honour the unpacked format (``SensorFormat(...).unpacked``, e.g. ``SRGGB10``:
one pixel per little-endian 16-bit word; on a Pi 5 ``SRGGB16``, the values scaled to 16 bits).
So the adapter asks for that, checks what ``configure`` granted (``stream_configuration("raw")``)
and reads each frame with ``request.make_array("raw")``: rows of ``stride`` bytes, the first
``2 * width`` of them the pixels. picamera2's own names are used throughout: ``SensorFormat``
(picamera2/sensor_format.py) parses every format string.

The raw stream is configured at the focusing mode's size (``sensor.output_size`` already chooses
that mode): the sensor's own output, no scaling. Its black level is the frame metadata's
``SensorBlackLevels`` (libcamera gives them in 16-bit units), shifted to the stream's bit depth.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from focusd.hw.base import CFA_PATTERNS, RawImage

log = logging.getLogger("focusd.camera")

#: libcamera's SensorBlackLevels are in 16-bit units whatever the sensor's bit depth
BLACK_LEVEL_BITS = 16


def raw_stream(picam2, size: tuple[int, int]) -> dict[str, Any]:
    """The raw stream configuration: the sensor's format unpacked, at ``size`` (the mode's)."""
    from picamera2 import SensorFormat  # deferred: a device library, only on a Pi

    sensor_format = SensorFormat(str(picam2.sensor_format))
    return {"format": sensor_format.unpacked, "size": tuple(size)}


def granted_layout(stream_config: dict[str, Any]) -> dict[str, Any] | None:
    """What a frame's raw buffer holds, from ``stream_configuration("raw")`` after configure:
    ``{"cfa", "bit_depth", "size", "stride"}``; None (logged) when it is no unpacked Bayer
    format (a packed or compressed one, or a monochrome sensor), which focusd does not decode."""
    from picamera2 import SensorFormat  # deferred: a device library, only on a Pi

    name = str(stream_config["format"])
    sensor_format = SensorFormat(name)
    if sensor_format.packing is not None or sensor_format.bayer_order not in CFA_PATTERNS:
        log.error("the camera granted raw format %s, which focusd does not decode (it asked for an unpacked "
                  "Bayer format): captures are written without their DNG", name)
        return None
    width, height = (int(v) for v in stream_config["size"])
    return {"cfa": sensor_format.bayer_order, "bit_depth": int(sensor_format.bit_depth), "size": (width, height),
            "stride": int(stream_config["stride"])}


def raw_image(request, layout: dict[str, Any], metadata: dict[str, Any]) -> RawImage:
    """The raw stream of ``request`` (a CompletedRequest) as a RawImage: a copy."""
    width, height = layout["size"]
    rows = request.make_array("raw")  # (height, stride) bytes, a copy
    pixels = np.ascontiguousarray(rows[:height, :2 * width]).view("<u2").astype(np.uint16, copy=False)
    bit_depth = layout["bit_depth"]
    levels = metadata.get("SensorBlackLevels") or (0,)
    black = int(levels[0]) >> (BLACK_LEVEL_BITS - bit_depth)
    return RawImage(pixels=pixels, cfa=layout["cfa"], bit_depth=bit_depth, black_level=black)
