"""SimCamera: the simulator behind focusd.hw.base.Camera, for the daemon on a desktop and in tests.

Why this module exists: the daemon must run unchanged on the simulator, so the rig is wrapped in
the same Camera interface as the picamera2 adapter, with the pacing a use needs and with the
faults a device shows (errors, a camera that goes silent), injected on purpose.

Pacing:
- ``realtime``: frames come at the sensor mode's rate on ``time.monotonic_ns`` (``make run``);
  when the consumer falls more than a frame behind, the frames it missed are dropped (their
  sequence numbers are skipped), as the Pi's camera does when no buffer is free. ``start``
  first computes every blur level of the scene (:meth:`SimRig.warm`), so that rendering a
  frame does not itself fall behind; a capture's main image is still rendered on demand (tens of
  ms on the camera thread, where a Pi copies a buffer).
- ``virtual``: frames as fast as they are computed; the clock is the rig's virtual clock.
- ``stepped``: ``next_frame`` blocks until the test calls ``step(n)``; the clock is virtual. The
  timeout counts virtual time, which does not pass while no step is given: a wait for a step
  gives up only after ``stepped_wait_s`` of real time (a stuck test), raising CameraError.

Faults behave like a camera that vanished (a loose cable, a driver that gave up): after one, the
stream stays dead until the camera is stopped and started again, as a real one does.

- ``inject_errors(n)``: the next n calls of ``next_frame`` raise CameraError (no frame is
  consumed); each leaves the stream broken.
- ``go_silent(start_fails=True)``: ``next_frame`` times out (CameraError; in realtime after
  ``timeout_s`` of waiting, in virtual and stepped pacing without waiting, the virtual clock moving
  on by ``timeout_s``) and the stream is broken. Until ``restore()``, ``start`` raises CameraError
  (the device is gone) or, with ``start_fails=False``, succeeds but no frame comes (a camera that
  opens but sends nothing).
- ``restore()`` ends the fault (and drops injected errors not yet raised). A broken stream still
  times out: only ``stop()`` then ``start()`` brings frames back (``start`` on a started camera does
  nothing, as picamera2's does).

``start_calls`` counts the calls of ``start``, failed ones included. In stepped pacing every call
of ``next_frame`` waits for its step first: a test gives one ``step()`` per frame *or fault* it lets
happen (``inject_errors(3); step(3)`` lets the three errors happen, restarts between them apart).
"""

from __future__ import annotations

import threading
import time

from focusd.errors import CameraError, ConfigError
from focusd.hw.base import Camera, CameraFrame
from focusd.sim.raw import black_levels_metadata
from focusd.sim.rig import SimRig

PACINGS = ("realtime", "virtual", "stepped")


class SimCamera(Camera):
    """A Camera made of a SimRig (see the module docstring)."""

    def __init__(self, rig: SimRig, pacing: str = "realtime", stepped_wait_s: float = 120.0, raw: bool = False):
        if pacing not in PACINGS:
            raise ConfigError("pacing", f"unknown pacing {pacing!r} (known: {', '.join(PACINGS)})")
        self.rig = rig
        self.pacing = pacing
        self.name = f"sim:{rig.profile.name}"
        self.stepped_wait_s = stepped_wait_s
        self.raw = raw  #: frames carry a raw stream (capture.raw: focusd.sim.raw)
        self.exposure_settings: dict[str, str] = {}  #: what [exposure] asked for and the rig does not model
        self._condition = threading.Condition()
        self._permits = 0
        self._errors = 0
        self._silent = False
        self._start_fails = True  # while silent: start raises (else it succeeds, frames stay away)
        self._broken = False  # a fault happened since the last start: no frame until stop and start
        self._started = False
        self.start_calls = 0
        self._origin_ns = 0  # realtime: monotonic time of the rig's virtual 0
        self._lamp_read = None  # the AF-assist lamp's pin level (watch_lamp)
        self._lamp_seen = False

    # ---------------------------------------------------------------------------- interface

    #: no request queue to add: the rig models the whole lens latency itself (its latency_frames)
    lens_queue_frames = 0

    @property
    def lens_range(self) -> tuple[float, float]:
        return self.rig.lens_range

    @property
    def frame_duration_ns(self) -> int:
        return self.rig.frame_duration_ns

    def start(self) -> None:
        if self.pacing == "realtime":
            # the first frames at each new lens position would compute their blur level (50-100 ms
            # on a 2-core machine): the stream would fall behind and drop the frames exposed
            # meanwhile, a delay no Pi has (a shutter pressed during a scan was captured 30-80 ms
            # late). So every level is computed before the stream starts (once: they are kept).
            self.rig.warm()
        with self._condition:
            self.start_calls += 1
            if self._silent and self._start_fails:
                raise CameraError("simulated camera is not responding (go_silent)")
            if self._started:
                return  # a broken stream stays broken: it needs stop() first
            self._started = True
            self._broken = False
            if self.pacing == "realtime":
                # the next frame is read out one frame duration from now
                self._origin_ns = time.monotonic_ns() - self.rig.now_ns()

    def stop(self) -> None:
        with self._condition:
            self._started = False
            self._condition.notify_all()

    def now_ns(self) -> int:
        if self.pacing == "realtime":
            return time.monotonic_ns()
        return self.rig.now_ns()

    def set_lens_position(self, dioptres: float) -> None:
        self.rig.set_lens_position(dioptres)

    def hold_exposure(self, held: bool) -> None:
        """While held, the rig's exposure and gain stay those of the last frame delivered."""
        last = self.rig.last_frame
        if held and last is not None:
            self.rig.set_exposure(last.exposure_time_us, last.analogue_gain)
        elif not held:
            self.rig.set_exposure(None)

    def configure_exposure(self, exposure) -> None:
        """``[exposure]`` (focusd.config.schema.ExposureConfig): manual or fixed exposure time and
        gain, and the compensation, go to the rig; white balance and metering change nothing in a
        grey scene lit evenly, and are recorded in each frame's metadata (SimAwbMode, SimMetering)."""
        auto = exposure.auto
        self.rig.set_exposure_program(exposure.shutter_us, None if exposure.iso is None else exposure.iso / 100.0,
                                      exposure.compensation_ev if auto else 0.0)
        self.exposure_settings = {"SimAwbMode": exposure.awb, "SimMetering": exposure.metering}

    def next_frame(self, timeout_s: float) -> CameraFrame:
        with self._condition:
            if not self._started:
                raise CameraError("simulated camera is not started")
            if self.pacing == "stepped":
                self._wait_for_step()  # every outcome, a frame or a fault, takes one step
            if self._errors > 0:
                self._errors -= 1
                self._broken = True
                raise CameraError("simulated camera error (inject_errors)")
            if self._silent or self._broken:
                self._broken = True
                self._time_out(timeout_s)
        if self._lamp_read is not None:
            self._look_at_lamp()
        if self.pacing == "realtime":
            self._pace()
        frame = self.rig.next_frame()
        return self._wrap(frame)

    def watch_lamp(self, read) -> None:
        """The AF-assist lamp this camera sees: ``read()`` gives its pin's level (on the Pi the sensor
        sees the LED's light; here the rig is told at each frame what the pin shows). A switch is
        dated when seen, before the next frame is exposed: the camera thread sets the pin between
        frames, so nothing is seen late in virtual and stepped pacing."""
        self._lamp_read = read

    def _look_at_lamp(self) -> None:
        lit = bool(self._lamp_read())
        if lit != self._lamp_seen:
            self._lamp_seen = lit
            at = self.now_ns() - (self._origin_ns if self.pacing == "realtime" else 0)
            self.rig.set_assist_lamp(lit, max(at, self.rig.now_ns()))

    # ---------------------------------------------------------------------------- test hooks

    def step(self, frames: int = 1) -> None:
        """Stepped pacing: let ``frames`` more frames be delivered."""
        with self._condition:
            self._permits += int(frames)
            self._condition.notify_all()

    def inject_errors(self, count: int = 1) -> None:
        """The next ``count`` calls of next_frame raise CameraError; each breaks the stream."""
        with self._condition:
            self._errors += int(count)
            self._condition.notify_all()

    def go_silent(self, start_fails: bool = True) -> None:
        """next_frame times out until restore(); meanwhile start fails (or, with
        ``start_fails=False``, succeeds and still no frame comes)."""
        with self._condition:
            self._silent = True
            self._start_fails = start_fails
            self._condition.notify_all()

    def restore(self) -> None:
        """End go_silent (and drop injected errors not yet raised). Frames come again only after
        the camera is stopped and started: the stream the fault broke stays broken."""
        with self._condition:
            self._silent = False
            self._errors = 0
            self._condition.notify_all()

    # ------------------------------------------------------------------------------- helpers

    def _time_out(self, timeout_s: float) -> None:
        """Called with the condition held while silent or broken: wait out the timeout, then fail."""
        why = "silent" if self._silent else "stream broken by a fault: stop and start again"
        if self.pacing == "realtime":
            if self._condition.wait_for(lambda: not self._started, timeout_s):
                raise CameraError("simulated camera stopped")
        else:
            self.rig.skip_frames(max(1, int(timeout_s * 1e9 // self.rig.frame_duration_ns)))
        raise CameraError(f"simulated camera: no frame within {timeout_s:.2f} s ({why})")

    def _wait_for_step(self) -> None:
        ready = self._condition.wait_for(lambda: self._permits > 0 or not self._started, self.stepped_wait_s)
        if not self._started:
            raise CameraError("simulated camera stopped")
        if not ready:
            raise CameraError(f"stepped camera: no step() within {self.stepped_wait_s:.0f} s")
        self._permits -= 1

    def _pace(self) -> None:
        """Realtime: wait for the next frame's readout; skip frames the consumer missed."""
        frame_ns = self.rig.frame_duration_ns
        now = time.monotonic_ns()
        due = self._origin_ns + self.rig.now_ns() + frame_ns
        late_frames = (now - due) // frame_ns
        if late_frames >= 1:
            self.rig.skip_frames(int(late_frames))
            due = self._origin_ns + self.rig.now_ns() + frame_ns
        if due > now:
            with self._condition:
                self._condition.wait_for(lambda: not self._started, (due - now) / 1e9)
                if not self._started:
                    raise CameraError("simulated camera stopped")

    def _wrap(self, frame) -> CameraFrame:
        offset = self._origin_ns if self.pacing == "realtime" else 0
        rig = self.rig
        metadata = {
            "LensPosition": frame.lens_position,
            "ExposureTime": int(round(frame.exposure_time_us)),
            "AnalogueGain": frame.analogue_gain,
            "SensorTimestamp": frame.timestamp_ns + offset + int(frame.exposure_time_us * 1e3),
            "FrameDuration": int(round(frame.frame_duration_us)),
            "SimLensActual": frame.lens_actual,  # simulator truth: for tests and journals only
            "SimLensMoving": frame.lens_moving,  # truth: the glass moved during a rendered row's exposure
            "SimAssistLit": frame.assist_lit,  # share of the exposure the AF-assist lamp lit (truth)
            "SensorBlackLevels": black_levels_metadata(),  # as libcamera reports them (16-bit units)
            "DigitalGain": 1.0,
            **self.exposure_settings,
        }

        def grab_main():
            if rig.last_frame is not frame:
                raise CameraError("main image requested after a later frame was delivered")
            return rig.main_image()

        def grab_raw():
            if rig.last_frame is not frame:
                raise CameraError("raw image requested after a later frame was delivered")
            return rig.raw_image()

        return CameraFrame(y=frame.y, sequence=frame.sequence, lens_position=frame.lens_position,
                           timestamp_ns=frame.timestamp_ns + offset, exposure_time_us=frame.exposure_time_us,
                           analogue_gain=frame.analogue_gain, frame_duration_us=frame.frame_duration_us,
                           metadata=metadata, grab_main=grab_main, grab_raw=grab_raw if self.raw else None,
                           later_main=rig.main_image_of(frame))
