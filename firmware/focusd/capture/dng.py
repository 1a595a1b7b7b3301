"""The DNG beside an image (``capture.raw``): a frame's raw (Bayer) stream, encoded in memory with
PiDNG, the library picamera2's own ``request.save_dng`` uses.

Why PiDNG's tag writer and not picamera2's ``Helpers.save_dng``: that one reads the buffer of a
live request and writes to a file itself (the capture path writes files only through its atomic
publishing, focusd.capture.files), and its camera model (``pidng.camdefs.Picamera2Camera``) needs
a Pi's colour metadata and changes its signature between PiDNG releases. Here the tags are set
from the frame focusd already unpacked (:class:`focusd.hw.base.RawImage`) and the capture's
metadata, and PiDNG's ``RAW2DNG`` packs the pixels (10, 12 or 16 bits, uncompressed) and lays out
the file.

What the file carries (DNG 1.4, one IFD; the EXIF tags in IFD 0 as TIFF/EP has them, which LibRaw
and exiftool read):

- the CFA pattern, black level (per channel, the same four), white level ``2**bit_depth - 1``;
- Make "focusd", Model the camera name, DateTime and SubsecTimeOriginal;
- ExposureTime, PhotographicSensitivity (ISO = 100 x analogue gain, focusd.capture.files),
  FNumber, FocalLength, SubjectDistance from the lens position during the exposure, as the JPEG's;
- ImageDescription: the capture's metadata JSON, the JPEG's (lens position, AF state, press...);
- AsShotNeutral from the frame's ``ColourGains`` when the camera reports them (the white balance
  the ISP applied), ColorMatrix1 an sRGB-to-XYZ inverse (no calibrated colour: a raw developer
  takes its own profile for the module).
"""

from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np
from pidng.core import RAW2DNG
from pidng.defs import CalibrationIlluminant, CFAPattern, PhotometricInterpretation
from pidng.dng import DNGTags, Tag

from focusd.capture.files import ISO_PER_GAIN, RAW_EXTENSION, subject_distance, subject_lens_position
from focusd.errors import CaptureError
from focusd.hw.base import RawImage

#: the DNG's file extension (the image's stem, this suffix)
DNG_EXTENSION = RAW_EXTENSION
#: bit depths PiDNG packs uncompressed
DNG_BIT_DEPTHS = (8, 10, 12, 14, 16)
#: linear sRGB (D65) to XYZ (IEC 61966-2-1); its inverse is the ColorMatrix1 of an uncalibrated sensor
SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_DENOMINATOR = 10000


def _rational(value: float, denominator: int = _DENOMINATOR) -> list[int]:
    return [int(round(value * denominator)), denominator]


def dng_tags(raw: RawImage, metadata: dict, frame_metadata: dict, camera_name: str, wall_time: datetime) -> DNGTags:
    """The tags of the DNG of ``raw`` (see the module docstring). ``metadata`` is the capture's
    (the JPEG's ImageDescription), ``frame_metadata`` the camera's own (ColourGains)."""
    height, width = raw.pixels.shape
    tags = DNGTags()
    tags.set(Tag.ImageWidth, width)
    tags.set(Tag.ImageLength, height)
    tags.set(Tag.TileWidth, width)
    tags.set(Tag.TileLength, height)
    tags.set(Tag.Orientation, 1)
    tags.set(Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array)
    tags.set(Tag.SamplesPerPixel, 1)
    tags.set(Tag.BitsPerSample, raw.bit_depth)
    tags.set(Tag.CFARepeatPatternDim, [2, 2])
    tags.set(Tag.CFAPattern, getattr(CFAPattern, raw.cfa))
    tags.set(Tag.BlackLevelRepeatDim, [2, 2])
    tags.set(Tag.BlackLevel, [int(raw.black_level)] * 4)
    tags.set(Tag.WhiteLevel, (1 << raw.bit_depth) - 1)
    tags.set(Tag.Make, "focusd")
    tags.set(Tag.Model, camera_name)
    tags.set(Tag.UniqueCameraModel, f"focusd {camera_name}")
    tags.set(Tag.DateTime, wall_time.strftime("%Y:%m:%d %H:%M:%S"))
    tags.set(Tag.SubsecTimeOriginal, f"{wall_time.microsecond // 1000:03d}")
    tags.set(Tag.ImageDescription, json.dumps(metadata, sort_keys=True))
    distance = subject_distance(subject_lens_position(metadata))
    tags.set(Tag.SubjectDistance, [[int(distance.numerator), int(distance.denominator)]])
    exposure_us = metadata.get("exposure_time_us")
    if exposure_us:
        tags.set(Tag.ExposureTime, [[int(round(float(exposure_us))), 1_000_000]])
    gain = metadata.get("analogue_gain")
    if gain:
        tags.set(Tag.PhotographicSensitivity, [max(1, min(65535, round(float(gain) * ISO_PER_GAIN)))])
    if metadata.get("f_number"):
        tags.set(Tag.FNumber, [_rational(float(metadata["f_number"]), 100)])
    if metadata.get("focal_length_mm"):
        tags.set(Tag.FocalLength, [_rational(float(metadata["focal_length_mm"]), 100)])
    colour_matrix = np.linalg.inv(SRGB_TO_XYZ)
    tags.set(Tag.ColorMatrix1, [_rational(v) for v in colour_matrix.flatten()])
    tags.set(Tag.CalibrationIlluminant1, CalibrationIlluminant.D65)
    gains = frame_metadata.get("ColourGains")
    if gains and len(gains) == 2 and all(math.isfinite(g) and g > 0 for g in gains):
        neutral = (1.0 / float(gains[0]), 1.0, 1.0 / float(gains[1]))  # the camera's white in raw R, G, B
    else:
        neutral = (1.0, 1.0, 1.0)
    tags.set(Tag.AsShotNeutral, [_rational(v) for v in neutral])
    return tags


def encode_dng(raw: RawImage, metadata: dict, frame_metadata: dict, camera_name: str, wall_time: datetime) -> bytes:
    """The whole DNG in memory (uncompressed: LJ92 needs PiDNG's C extension, not on every Pi)."""
    if raw.bit_depth not in DNG_BIT_DEPTHS:
        raise CaptureError(f"raw bit depth {raw.bit_depth} cannot be written as DNG (PiDNG packs {DNG_BIT_DEPTHS})")
    height, width = raw.pixels.shape
    if width % 4 or height % 2:
        # PiDNG packs 10/12/14-bit rows in groups of pixels; a Bayer frame has even sides anyway
        raise CaptureError(f"raw frame {width}x{height}: the width must be a multiple of 4 and the height even")
    writer = RAW2DNG()
    writer.options(dng_tags(raw, metadata, frame_metadata, camera_name, wall_time), path="", compress=False)
    return bytes(writer.convert(np.ascontiguousarray(raw.pixels)))
