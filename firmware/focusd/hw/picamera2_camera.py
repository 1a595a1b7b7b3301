"""The Pi's camera through picamera2: with its parts picamera2_exposure, picamera2_raw and
picamera2_probe, the only modules in focusd that import picamera2 (and libcamera's binding).

Why a boundary: picamera2 exists only on a Pi, its API drifts, its event loop must never stall.
Above it all is :class:`focusd.hw.base.Camera`; ``tests/hw`` checks every picamera2 name, keyword
and libcamera control used here against picamera2's own source.

How it runs (docs/device-facts.md, "picamera2"):

- One still configuration in the profile's fast sensor mode (``sensor={"output_size": ...}``),
  a main stream at the mode's size for captures and a YUV420 lores stream for the autofocus, with
  ``queue=True`` and few buffers (:class:`Picamera2Tuning`): every buffer queued ahead of the one
  that carries a ``LensPosition`` is a frame of lens latency. ``FrameDurationLimits`` pins the
  frame rate to the mode's; ``NoiseReductionMode`` is Fast, not the HighQuality that picamera2's
  still configuration merges in (libcamera: "at the expense of frame rate").
- The daemon's camera thread pulls every frame with ``capture_request`` (never a picamera2
  callback: those run on the camera's event loop, and slow work there stalls the camera). The
  lores Y plane is a view into the mapped buffer (``MappedArray``), kept open until the frame is
  released, and taken off the frame then (a mode switch unmaps the buffers no request holds, and
  a live view would make that raise): no copy per frame. Only a capture copies the main stream.
- A frame's ``timestamp_ns`` is the start of its exposure, ``SensorTimestamp - 1000 *
  ExposureTime``, on CLOCK_MONOTONIC: exactly the test picamera2's ``flush`` applies. So the
  daemon's "first frame exposed after the press" is picamera2's own flush rule, taken from the
  running stream: the shutter never waits for a mode switch. (libcamera documents
  SensorTimestamp as CLOCK_BOOTTIME; picamera2 compares it with CLOCK_MONOTONIC. The two differ
  only by time spent in suspend, which a Pi camera does not do.)
- The lens: ``AfMode`` Manual once at start (in the configuration's controls, so the camera's own
  AF never runs), then ``LensPosition`` in dioptres, which travels with the next request re-queued
  (the frame's own, when the daemon commands before releasing it) and so waits behind the
  ``buffer_count - 1`` requests queued ahead of it: :attr:`Picamera2Camera.lens_queue_frames`, which
  the daemon adds to the profile's latency. picamera2 can lose a LensPosition set while its event
  loop re-queues a request (its controls hand-over takes no lock): the frames' metadata is
  watched and a lost one sent again (:mod:`focusd.hw.lens_watch`). The range is the camera's
  ``camera_controls["LensPosition"]``. For modules whose lens libcamera cannot move
  (profile ``lens_driver = "i2c-*"``) the lens is driven over I2C by :mod:`focusd.hw.vcm` instead
  (on ``camera.vcm_bus`` when set, else the profile's bus), written at once (no queue), re-written
  after every start and mode switch (the VCM may be unpowered while the sensor is stopped), and
  each frame reports the commanded position, as libcamera's metadata would.
- ``sequence`` is counted from ``SensorTimestamp`` in units of ``FrameDuration`` (picamera2 hands
  out no frame counter), so a dropped frame shows as a gap, as the engine expects.
- Files: the capture path (``focusd.capture.files``) writes the lens position and AF state into
  EXIF / PNG text; picamera2's own ``request.save`` EXIF lacks them, so it is not used. With
  ``raw_stream`` (capture.raw) a raw stream, unpacked, is configured too (focusd.hw.picamera2_raw);
  ``[exposure]`` goes out with the start controls (focusd.hw.picamera2_exposure).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

from focusd.config.settings import CameraConfig
from focusd.errors import CameraError, CameraUnavailable, LensError
from focusd.hw.base import Camera, CameraFrame, Lens
from focusd.hw.lens_watch import LensCommandWatch
from focusd.config.schema import ExposureConfig
from focusd.hw.picamera2_exposure import exposure_controls, hold_controls
from focusd.hw.picamera2_raw import granted_layout, raw_image, raw_stream
from focusd.hw.picamera2_probe import probe_cameras
from focusd.hw.picamera2_tuning import Picamera2Tuning
from focusd.hw.vcm import open_lens
from focusd.config.profiles import CameraProfile

log = logging.getLogger("focusd.camera")

__all__ = ["Picamera2Camera", "Picamera2Tuning", "probe_cameras"]

#: the longest frame duration (us) allowed when the frame rate is not pinned: 1 s
MAX_FRAME_DURATION_US = 1_000_000
#: how long a withdrawn job that has already run may take to hand over its result (picamera2
#: sets it right after its event loop lets go of the lock), seconds
WITHDRAWN_JOB_WAIT_S = 1.0
#: a released frame's ``y``: empty, so that no view of a camera buffer outlives the release
RELEASED_Y = np.zeros((0, 0), np.uint8)
RELEASED_Y.flags.writeable = False


def exposure_start_ns(metadata: dict[str, Any]) -> int:
    """When the frame's exposure started, ns on CLOCK_MONOTONIC: picamera2's flush rule
    (``Picamera2.wait_for_timestamp_``: ``SensorTimestamp - 1000 * ExposureTime``)."""
    return int(metadata["SensorTimestamp"]) - 1000 * int(metadata["ExposureTime"])


def denoise_controls(picam2) -> dict[str, Any]:
    """NoiseReductionMode for the focusing stream: Fast ("applied without reducing the frame rate",
    libcamera's draft controls), where picamera2's still configuration would merge in HighQuality
    ("at the expense of frame rate"); Fast rather than Minimal because captures come from this
    stream too. Empty when the camera does not advertise the control (picamera2 then merges none,
    and configure would refuse it)."""
    if "NoiseReductionMode" not in picam2.camera_controls:
        return {}
    from libcamera import controls  # deferred: a device library (with picamera2, only on a Pi)

    return {"NoiseReductionMode": controls.draft.NoiseReductionModeEnum.Fast}


def focus_configuration(picam2, profile: CameraProfile, mode_size: tuple[int, int], lores_size: tuple[int, int],
                        tuning: Picamera2Tuning, lens_controls: dict[str, Any], raw: dict[str, Any] | None = None,
                        exposure_controls: dict[str, Any] | None = None) -> dict[str, Any]:
    """The running configuration: fast sensor mode, main for captures, YUV420 lores for the AF,
    the raw stream ``raw`` (None: none), the ``[exposure]`` controls."""
    mode = profile.mode(mode_size)
    frame_us = int(round(1e6 / mode.fps))
    stream_controls: dict[str, Any] = {
        "FrameDurationLimits": (frame_us, frame_us if tuning.fixed_frame_rate else MAX_FRAME_DURATION_US),
        **denoise_controls(picam2),
        **(exposure_controls or {}),
        **lens_controls,
    }
    return picam2.create_still_configuration(
        main={"format": tuning.main_format, "size": tuple(mode.size)},
        lores={"format": "YUV420", "size": tuple(lores_size)},
        raw=raw,  # None unless capture.raw: it costs memory and bandwidth
        buffer_count=tuning.buffer_count,
        queue=True,
        controls=stream_controls,  # picamera2 merges its still defaults under these
        sensor={"output_size": tuple(mode.size)},
    )


def full_resolution_configuration(picam2, profile: CameraProfile, tuning: Picamera2Tuning,
                                  lens_controls: dict[str, Any]) -> dict[str, Any]:
    """A one-frame configuration at the sensor's full resolution, lens held where it is."""
    size = tuple(profile.full_resolution)
    return picam2.create_still_configuration(
        main={"format": tuning.main_format, "size": size},
        raw=None,
        buffer_count=2,
        queue=True,
        controls=dict(lens_controls),
        sensor={"output_size": size},
    )


class Picamera2Camera(Camera):
    """A :class:`Camera` on picamera2. Built by ``focusd.service.cameras.build_camera``.

    ``lens`` is the I2C lens for ``i2c-*`` profiles (default: opened at start from the profile's
    ``vcm`` table, on ``camera_config.vcm_bus`` when that is set); it is ignored for
    ``lens_driver = "libcamera"``.
    """

    def __init__(self, camera_config: CameraConfig, profile: CameraProfile,
                 tuning: Picamera2Tuning | None = None, lens: Lens | None = None,
                 exposure: ExposureConfig | None = None):
        self.profile = profile
        self.tuning = tuning or Picamera2Tuning()
        self.exposure = exposure or ExposureConfig()  #: [exposure], applied at each start
        self._raw_config: dict[str, Any] | None = None  # the raw stream asked for (tuning.raw_stream)
        self._raw_layout: dict[str, Any] | None = None  # what the granted raw buffers hold
        self._exposure_controls: dict[str, Any] = {}
        self.mode_size = tuple(camera_config.sensor_mode or profile.focus_mode)
        self.lores_size = tuple(camera_config.lores_size or profile.lores_size)
        self.name = profile.sensor
        self._mode = profile.mode(self.mode_size)  # ProfileError now, not at start
        self._i2c_lens = profile.lens_driver.startswith("i2c")
        self._vcm_bus = camera_config.vcm_bus
        if self._vcm_bus is not None and not self._i2c_lens:
            log.warning("camera.vcm_bus = %d ignored: profile %s's lens is driven by libcamera",
                        self._vcm_bus, profile.name)
        self._given_lens = lens  # kept across restarts; one opened here is closed by stop()
        self._lens: Lens | None = lens
        self._picam2 = None
        self._last_metadata: dict[str, Any] | None = None  # the latest frame's (hold_exposure)
        self._pending_job = None
        self._lens_range = tuple(profile.lens_range)
        self._lores_shape = (self.lores_size[1], self.lores_size[0])
        self._commanded = self._start_position()
        self._last_timestamp: int | None = None
        self._sequence = -1
        self._last_duration_ns = self._mode.frame_duration_ns
        self._clamp_warned = False
        self._lens_fault: LensError | None = None
        #: why the stream cannot be trusted any more (a mode switch that timed out): the next frame
        #: is a CameraError, and the daemon reopens the camera
        self._stream_fault: str | None = None
        self._lens_watch = LensCommandWatch(self.lens_queue_frames)

    # ------------------------------------------------------------------------- Camera interface

    @property
    def lens_range(self) -> tuple[float, float]:
        return self._lens_range

    @property
    def frame_duration_ns(self) -> int:
        return self._mode.frame_duration_ns

    @property
    def lens_queue_frames(self) -> int:
        """libcamera lens: the ``buffer_count - 1`` requests queued ahead of the one carrying a
        LensPosition (the others are in flight, or finished and kept by picamera2, each a frame
        delivered before it); I2C lens: 0, the write goes out at once."""
        return 0 if self._i2c_lens else max(self.tuning.buffer_count - 1, 0)

    def now_ns(self) -> int:
        return time.monotonic_ns()  # the clock picamera2's flush compares SensorTimestamp with

    def start(self) -> None:
        if self._picam2 is not None:
            return
        try:
            from picamera2 import Picamera2  # deferred: a device library, only on a Pi (else: below)

            picam2 = Picamera2(camera_num=self.tuning.camera_num)
        except ImportError as error:
            raise CameraUnavailable(
                f"picamera2 is not installed ({error}); on a Pi install python3-picamera2 (sudo make install), "
                f"on a desktop use camera.backend = \"sim\"") from None
        except (RuntimeError, IndexError, OSError) as error:
            raise CameraError(f"could not open camera {self.tuning.camera_num}: {error}") from error
        self._picam2 = picam2
        try:
            if self._i2c_lens and self._lens is None:
                self._lens = open_lens(self.profile, bus_number=self._vcm_bus)
            self._read_lens_range()
            self._exposure_controls = exposure_controls(self.exposure, picam2.camera_controls)
            self._raw_config = raw_stream(picam2, self._mode.size) if self.tuning.raw_stream else None
            config = focus_configuration(picam2, self.profile, self.mode_size, self.lores_size, self.tuning,
                                         self._lens_controls(first=True), self._raw_config, self._exposure_controls)
            picam2.configure(config)
            self._raw_layout = None if self._raw_config is None else granted_layout(picam2.stream_configuration("raw"))
            width, height = picam2.stream_configuration("lores")["size"]
            self._lores_shape = (height, width)
            picam2.start()
            self._resend_i2c_lens()  # after start: the VCM may be unpowered while the sensor is not streaming
        except (RuntimeError, ValueError, OSError, LensError) as error:
            self.stop()
            raise CameraError(f"could not start camera {self.profile.sensor}: {error}") from error
        self._last_timestamp = None
        self._sequence = -1
        self._lens_watch.forget()  # the position went with the configuration
        log.info("camera %s started: %dx%d at %.2f fps, lores %dx%d, lens %.2f-%.2f D (%s)", self.name,
                 *self.mode_size, self._mode.fps, self._lores_shape[1], self._lores_shape[0], *self._lens_range,
                 self.profile.lens_driver)

    def next_frame(self, timeout_s: float) -> CameraFrame:
        picam2 = self._running()
        fault, self._lens_fault = self._lens_fault, None
        if fault is not None:  # an I2C lens write failed: a camera fault (the daemon reopens)
            raise CameraError(f"focus motor: {fault}")
        stream_fault, self._stream_fault = self._stream_fault, None
        if stream_fault is not None:
            raise CameraError(stream_fault)
        # A job that timed out earlier is still queued in picamera2 and will take the next
        # request: wait for that one rather than queue another (which would leak a buffer).
        if self._pending_job is None:
            self._pending_job = picam2.capture_request(wait=False)
        try:
            request = picam2.wait(self._pending_job, timeout=timeout_s)
        except TimeoutError:
            raise CameraError(f"no frame within {timeout_s:.2f} s") from None
        except Exception as error:  # a cancelled job, a camera stopped under us: all are faults
            self._pending_job = None
            raise CameraError(f"capture failed: {error}") from error
        self._pending_job = None
        return self._frame(request)

    def set_lens_position(self, dioptres: float) -> None:
        position = self._checked(dioptres)
        self._commanded = position
        if self._i2c_lens:
            if self._lens is not None:
                try:
                    self._lens.move_to(position)
                except LensError as error:
                    log.error("lens command %.3f D failed: %s", position, error)
                    self._lens_fault = error
            return
        if self._picam2 is not None:
            # goes out with the next request picamera2 queues (request.release re-queues with it)
            self._picam2.set_controls(self._lens_controls(first=False))
            self._lens_watch.commanded(position, self._sequence)

    def stop(self) -> None:
        picam2, self._picam2 = self._picam2, None
        job, self._pending_job = self._pending_job, None
        self._stream_fault = None  # a restart is what it asked for
        if picam2 is not None:
            try:
                if job is not None:
                    self._withdraw(picam2, job, takes_request=True)
                picam2.stop()
                picam2.close()
            except Exception as error:  # a camera that fails on the way out is still closed for us
                log.warning("camera did not close cleanly: %s", error)
        lens, self._lens = self._lens, self._given_lens
        if lens is not None and lens is not self._given_lens:
            lens.close()

    def hold_exposure(self, held: bool) -> None:
        controls = hold_controls(held, self._last_metadata, self.exposure)
        if controls and self._picam2 is not None:
            self._picam2.set_controls(controls)

    def full_resolution_capture(self) -> np.ndarray | None:
        """One full-resolution frame by two mode switches (there and back), lens held.

        Costs two stop/configure/start cycles: about 0.5-0.7 s before the full-resolution frame
        and as long again before the stream resumes (no AF, no frames meanwhile). The daemon calls
        it only with ``camera.full_resolution_captures = true``. A libcamera lens is held by the
        start controls of both configurations; an I2C lens is re-written after each switch (as
        ``start`` does: the VCM may lose power while the sensor is stopped), and the photo is then
        the first frame exposed after that write (picamera2's flush).
        """
        picam2 = self._running()
        timeout = self.tuning.full_resolution_timeout_s
        lens_controls = self._lens_controls(first=True)
        try:
            full = full_resolution_configuration(picam2, self.profile, self.tuning, lens_controls)
            self._await(picam2, picam2.switch_mode(full, wait=False), timeout)
            self._resend_i2c_lens()
            request = self._await(picam2, picam2.capture_request(wait=False, flush=self._i2c_lens), timeout,
                                  takes_request=True)
            try:
                image = request.make_array("main")
            finally:
                request.release()
            # back to the focusing mode with the lens where it is now (not where it started)
            focus = focus_configuration(picam2, self.profile, self.mode_size, self.lores_size, self.tuning,
                                        lens_controls, self._raw_config, self._exposure_controls)
            self._await(picam2, picam2.switch_mode(focus, wait=False), timeout)
            self._resend_i2c_lens()
        except TimeoutError:
            # the mode the camera is in is not known any more: reopened at the next frame
            self._stream_fault = f"full-resolution capture took longer than {timeout:g} s: camera reopened"
            raise CameraError(f"full-resolution capture took longer than {timeout:g} s") from None
        except (RuntimeError, ValueError, BufferError) as error:
            raise CameraError(f"full-resolution capture failed: {error}") from error
        except LensError as error:  # the next frame reports the fault too: the daemon reopens the camera
            self._lens_fault = error
            raise CameraError(f"full-resolution capture: focus motor: {error}") from error
        self._last_timestamp = None
        self._lens_watch.forget()  # the position went with the configuration
        return image

    # ------------------------------------------------------------------------------- internals

    def _await(self, picam2, job, timeout_s: float, takes_request: bool = False):
        """The result of a picamera2 job within ``timeout_s`` (TimeoutError if not). A job that
        times out is taken off picamera2's queue first: left there it would still run, and take
        a request nobody releases, or switch the mode under the stream."""
        try:
            return picam2.wait(job, timeout=timeout_s)
        except TimeoutError:
            self._withdraw(picam2, job, takes_request)
            raise

    @staticmethod
    def _withdraw(picam2, job, takes_request: bool) -> None:
        """Cancel the queued jobs; give back the request ``job`` took if it ran all the same."""
        # picamera2 runs jobs and cancels them under its one lock: past this, ``job`` has either
        # run (its result is set as soon as the event loop leaves that lock) or never will
        picam2.cancel_all_and_flush()
        try:
            late = picam2.wait(job, timeout=WITHDRAWN_JOB_WAIT_S)
        except Exception:  # cancelled (never ran), failed, or the event loop is stuck: nothing taken
            return
        if takes_request:
            request = late  # a CompletedRequest that nobody else will release
            request.release()

    def _resend_i2c_lens(self) -> None:
        """After a (re)start: write the commanded position to an I2C lens again. Raises LensError."""
        if self._i2c_lens and self._lens is not None:
            self._lens.move_to(self._commanded)

    def _running(self):
        if self._picam2 is None:
            raise CameraError("camera is not started")
        return self._picam2

    def _start_position(self) -> float:
        if self.tuning.start_lens_position is not None:
            return float(self.tuning.start_lens_position)
        low, high = self.profile.af_ranges.get("normal", self.profile.lens_range)
        return min(high, low + 1.0)

    def _read_lens_range(self) -> None:
        """The lens range from the camera itself; the profile's for I2C lenses."""
        if self._i2c_lens:
            self._lens_range = tuple(self._lens.lens_range) if self._lens is not None else tuple(self.profile.lens_range)
            return
        controls = self._picam2.camera_controls
        if "LensPosition" not in controls:
            raise CameraError(f"camera {self.profile.sensor} has no LensPosition control: no focus motor that "
                              f"libcamera drives (wrong profile, or a module that needs lens_driver = \"i2c-*\")")
        low, high, _default = controls["LensPosition"]
        self._lens_range = (float(low), float(high))
        if self._lens_range != tuple(self.profile.lens_range):
            log.warning("lens range from the camera %.2f-%.2f D differs from profile %s's %.2f-%.2f D; using the camera's",
                        *self._lens_range, self.profile.name, *self.profile.lens_range)
        self._commanded = min(max(self._commanded, self._lens_range[0]), self._lens_range[1])

    def _lens_controls(self, first: bool) -> dict[str, Any]:
        """libcamera controls for the commanded position: AfMode Manual only with ``first``
        (configuration and mode switches), LensPosition always. Empty for an I2C lens."""
        if self._i2c_lens:
            return {}
        if not first:
            return {"LensPosition": self._commanded}
        from libcamera import controls  # deferred: a device library (with picamera2, only on a Pi)

        return {"AfMode": controls.AfModeEnum.Manual, "LensPosition": self._commanded}

    def _checked(self, dioptres: float) -> float:
        """The position to command: NaN or negative is refused (LensError); beyond the camera's
        range is clamped to it, with a warning: an engine built before start() knows only the
        profile's range, which may be wider than what this camera reports."""
        position = float(dioptres)
        if not math.isfinite(position) or position < 0:
            raise LensError(f"lens position {dioptres!r} refused: must be a finite number of dioptres >= 0")
        low, high = self._lens_range
        if position < low - 1e-6 or position > high + 1e-6:
            if not self._clamp_warned:
                log.warning("lens position %.3f D is outside the camera's range %g-%g D: clamped "
                            "(build the AF engine from camera.lens_range after start)", position, low, high)
                self._clamp_warned = True
        return min(max(position, low), high)

    def _frame(self, request) -> CameraFrame:
        """A CameraFrame around ``request``: the lores Y plane mapped, not copied."""
        from picamera2 import MappedArray  # deferred: a device library, only on a Pi

        mapped = None
        try:
            metadata = self._last_metadata = request.get_metadata()
            timestamp = exposure_start_ns(metadata)
            sequence = self._next_sequence(int(metadata["SensorTimestamp"]), metadata.get("FrameDuration"))
            opening = MappedArray(request, "lores", write=False)
            opening.__enter__()
            mapped = opening  # only an entered map is left again below
            height, width = self._lores_shape
            y_plane = mapped.array[:height, :width]  # YUV420 as (h*3/2, stride): Y is the first h rows
        except Exception as error:  # a frame without its metadata or buffer: give it back, report
            if mapped is not None:
                mapped.__exit__(None, None, None)
            request.release()
            raise CameraError(f"bad frame from the camera: {error}") from error

        def grab_main() -> np.ndarray:
            return request.make_array("main")  # a copy: the buffer goes back to the camera

        layout = self._raw_layout

        if self._i2c_lens or "LensPosition" not in metadata:
            lens_position = self._commanded
        else:
            lens_position = float(metadata["LensPosition"])
            if self._lens_watch.observe(sequence, lens_position, self._last_duration_ns):
                # lost in picamera2's unlocked controls hand-over (focusd.hw.lens_watch): again
                self._picam2.set_controls(self._lens_controls(first=False))
        frame = CameraFrame(
            y=y_plane,
            sequence=sequence,
            lens_position=lens_position,
            timestamp_ns=timestamp,
            exposure_time_us=float(metadata["ExposureTime"]),
            analogue_gain=float(metadata.get("AnalogueGain", 1.0)),
            frame_duration_us=float(metadata.get("FrameDuration", self._mode.frame_duration_ns / 1000)),
            metadata=metadata,
            grab_main=grab_main,
            grab_raw=None if layout is None else (lambda: raw_image(request, layout, metadata)),
        )

        def release() -> None:
            # The view goes first, as picamera2 drops its own before leaving a map: a mode switch
            # unmaps every buffer no request holds, and unmapping one that a numpy view still
            # exports raises BufferError (whoever still holds the frame object, as the daemon's
            # loop does across a full-resolution capture, holds no buffer).
            frame.y = RELEASED_Y
            try:
                mapped.__exit__(None, None, None)
            finally:
                request.release()

        frame.release_callback = release
        return frame

    def _next_sequence(self, sensor_timestamp_ns: int, frame_duration_us: float | None) -> int:
        """Frames since start, from sensor timestamps: a gap of two frame durations is one drop."""
        if self._last_timestamp is None:
            self._sequence = 0
        else:
            elapsed = sensor_timestamp_ns - self._last_timestamp
            self._sequence += max(1, int(round(elapsed / self._last_duration_ns)))
        self._last_timestamp = sensor_timestamp_ns
        if frame_duration_us:
            self._last_duration_ns = int(frame_duration_us * 1000)
        return self._sequence
