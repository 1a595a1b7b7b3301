"""What every camera, lens, button and indicator adapter must provide.

The daemon talks only to these interfaces, so the Pi (picamera2, lgpio, smbus2), the desktop
(the simulator, gpiozero's MockFactory) and the tests differ in one place: which adapter is built.
This boundary exists so that nothing above it can come to depend on a device library, and so
that every adapter can be checked against the same few methods.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from focusd.signals import LedPattern


#: the Bayer colour orders a raw stream can have (top-left 2x2 cell, row by row)
CFA_PATTERNS = ("RGGB", "GRBG", "GBRG", "BGGR")


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no single truth value to compare
class RawImage:
    """One frame's raw (Bayer) stream, unpacked to one uint16 per photosite: what a DNG holds.

    ``pixels`` is (H, W) uint16 with values up to ``2**bit_depth - 1``; ``cfa`` the colours of the
    top-left 2x2 cell, row by row (one of CFA_PATTERNS); ``black_level`` the value of no light, in
    the same units as the pixels.
    """

    pixels: np.ndarray
    cfa: str
    bit_depth: int
    black_level: int = 0

    def __post_init__(self) -> None:
        if self.cfa not in CFA_PATTERNS:
            raise ValueError(f"unknown CFA pattern {self.cfa!r} (known: {', '.join(CFA_PATTERNS)})")
        if not isinstance(self.pixels, np.ndarray) or self.pixels.dtype != np.uint16 or self.pixels.ndim != 2:
            raise ValueError(f"raw pixels must be a 2-D uint16 array, not {getattr(self.pixels, 'dtype', type(self.pixels))}")
        if not 8 <= self.bit_depth <= 16:
            raise ValueError(f"raw bit depth {self.bit_depth} is not 8-16")


@dataclass
class CameraFrame:
    """One frame from the running camera, valid until :meth:`release`.

    ``y`` is the lores Y plane (2-D uint8, ``[:h, :w]`` of the YUV420 buffer); on the Pi it is a
    view into the camera's buffer, not a copy, so it must not be kept after ``release`` (the
    picamera2 adapter replaces it with an empty array there).
    ``lens_position`` is the metadata's LensPosition: the IPA's lens state after this frame's
    request, in dioptres (docs/lens-path.md).
    ``timestamp_ns`` is the start of the exposure on the camera's clock (:meth:`Camera.now_ns`).
    """

    y: np.ndarray
    sequence: int
    lens_position: float
    timestamp_ns: int
    exposure_time_us: float = 0.0
    analogue_gain: float = 1.0
    frame_duration_us: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
    grab_main: Callable[[], np.ndarray] | None = None
    #: the raw stream's copy (RawImage); None: the camera streams no raw (capture.raw off)
    grab_raw: Callable[[], RawImage] | None = None
    release_callback: Callable[[], None] | None = None
    #: a camera that can make this frame's main image again later (the simulator) gives it here;
    #: None: :meth:`keep_main` copies it now
    later_main: Callable[[], np.ndarray] | None = None

    def main_image(self) -> np.ndarray:
        """A copy of the main stream of this frame (H, W, 3) RGB or (H, W) grey uint8.

        Taken on the camera thread, so it must be quick: a copy, no encoding.
        """
        if self.grab_main is None:
            return np.array(self.y, copy=True)
        return self.grab_main()

    def raw_image(self) -> RawImage | None:
        """A copy of this frame's raw stream, or None when the camera streams none. Taken on the
        camera thread, like :meth:`main_image`: a copy (and an unpacking view), no encoding."""
        return None if self.grab_raw is None else self.grab_raw()

    def keep_main(self) -> Callable[[], np.ndarray]:
        """This frame's main image for later, valid after :meth:`release` (trap focus keeps the
        frame that may become its capture): a copy now, unless the camera can make the very image
        again later (the simulator renders it then, sparing the camera thread a render per frame)."""
        if self.later_main is not None:
            return self.later_main
        image = self.main_image()
        return lambda: image

    def release(self) -> None:
        """Give the buffer back to the camera. Safe to call twice."""
        callback, self.release_callback = self.release_callback, None
        if callback is not None:
            callback()

    def __enter__(self) -> "CameraFrame":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Camera(abc.ABC):
    """A running camera with a motorized lens.

    Subclasses must provide every abstract method. ``next_frame`` and ``set_lens_position`` are
    called from one thread only (the daemon's camera thread); ``now_ns`` from any thread.
    """

    #: the module's name for logs and ``focusd probe`` ("imx708", "sim:imx708")
    name: str = "camera"

    @property
    def lens_queue_frames(self) -> int:
        """Frames a lens command waits in this camera's own request queue before the driver sees it.

        The profile's ``lens_latency_frames`` counts from the moment the request carrying the
        command reaches the ISP (docs/device-facts.md, "Lens control": the lens moves when that
        request's frame is processed); a camera that queues requests ahead of that one adds a frame
        per queued request. The engine is told the sum
        (``focusd.service.cameras.told_lens_path``), unless ``af.lens_latency_frames`` gives
        a measured end-to-end value. 0 here: a lens written directly (I2C) or a camera that models
        the whole latency itself (the simulator).
        """
        return 0

    @property
    @abc.abstractmethod
    def lens_range(self) -> tuple[float, float]:
        """The lens's (nearest-to-infinity, nearest) positions in dioptres, e.g. (0.0, 15.0)."""

    @property
    @abc.abstractmethod
    def frame_duration_ns(self) -> int:
        """The nominal time between frames of the running sensor mode."""

    @abc.abstractmethod
    def start(self) -> None:
        """Configure and start streaming. Raises CameraError."""

    @abc.abstractmethod
    def next_frame(self, timeout_s: float) -> CameraFrame:
        """Block until the next frame. Raises CameraError on failure or after ``timeout_s``."""

    @abc.abstractmethod
    def set_lens_position(self, dioptres: float) -> None:
        """Command the lens; the command travels with the next request (docs/design.md, "The latency
        contract")."""

    @abc.abstractmethod
    def now_ns(self) -> int:
        """The clock that frame timestamps use (CLOCK_MONOTONIC on the Pi)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop streaming and release the device. Safe to call twice."""

    def hold_exposure(self, held: bool) -> None:
        """Exposure lock: while held, the exposure time and analogue gain of the last frame stay
        fixed (auto exposure paused); ``False`` hands them back to auto exposure. Adapters without
        exposure control ignore it."""

    def full_resolution_capture(self) -> np.ndarray | None:
        """Optionally capture at full resolution by a mode switch (slow); None if unsupported."""
        return None


class Indicator(abc.ABC):
    """The status LED."""

    @abc.abstractmethod
    def show(self, pattern: LedPattern) -> None:
        """Show ``pattern`` until the next call. Must return at once (no blocking)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Turn the LED off and release the pin."""


class Buttons(abc.ABC):
    """The button inputs. Edges go to ``sink`` (which must only queue them)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the pins; no edge reaches the sink afterwards."""


class Lens(abc.ABC):
    """A focus motor driven directly (I2C VCM), for modules without libcamera lens control."""

    @property
    @abc.abstractmethod
    def lens_range(self) -> tuple[float, float]:
        """Range in dioptres."""

    @abc.abstractmethod
    def move_to(self, dioptres: float) -> None:
        """Move the lens. Raises LensError."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the bus."""
