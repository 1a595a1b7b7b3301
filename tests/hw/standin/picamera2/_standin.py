"""The simulated module behind the picamera2 stand-in (not part of picamera2's API).

``MODULE`` describes the attached camera (tests replace it with ``use_module``); the sensor thread
in :class:`Sensor` times frames on CLOCK_MONOTONIC, as the Pi does, and records what really
happened to every frame in ``history`` so that tests can compare the adapter's view with it.

Lens model: libcamera's Raspberry Pi IPA, transcribed here on its own from
``src/ipa/rpi/controller/rpi/af.cpp`` (:class:`Af`) and ``src/ipa/rpi/common/ipa_base.cpp``
(:meth:`Sensor._prepare_isp`); tests/hw/test_lens_path_agreement.py compares it with focusd's
own model of the same code (focusd.lens_path, focusd.sim.rig), which this module never imports.

- ``LensPosition`` travels with a request. When that request's frame has been read out, the IPA's
  ``prepareIsp`` applies its controls (``applyControls``: ``AfMode`` first; ``LensPosition`` is
  ignored unless AfMode is Manual): ``Af::setLensPosition`` sets the target ``ftarget_``
  (clamped to the lens range) and ``updateLensPosition`` moves the lens state ``fsmooth_`` at
  most ``ModuleSpec.max_slew`` dioptres towards it (imx708 tuning: 1.5 D). Writing the same
  target with a later request moves it another ``max_slew``; a write equal to the state does not.
- ``fillDeviceStatus`` then reads ``fsmooth_``: that is the frame's metadata ``LensPosition`` (the
  state after this request's controls, before the controller runs): neither the target nor
  where the lens was while the frame was exposed.
- The controller (``Af::prepare`` -> ``updateLensPosition``: another ``max_slew`` towards the
  target) runs on that frame only if its SensorTimestamp is at least 0.9 x 1/30 s after the
  last run; the first frame after each start always runs. At 120.13 fps that is every 4th frame,
  at 56.03 fps every 2nd, at 14.35 fps every frame. A frame no request was queued for (dropped)
  is not prepared: no controls, no controller run.
- The lens driver is written with ``fsmooth_``: frames exposed from ``LENS_DELAY_FRAMES`` after
  the request's frame on are at the IPA's state after that frame (its controls and controller
  run); that is ``FrameRecord.true_lens_position``.
- The IPA, and the glass, outlive a stop/start (a mode switch) of the same camera: the state lives
  with the ``Picamera2`` object. On the first start the lens goes straight to the lens control's
  default (``IpaBase::configure`` -> ``setLensPosition(default)`` before af.cpp is ``initted_``).

Buffers and requests (picamera2's ``DmaAllocator`` and ``CompletedRequest``): every buffer is a
real ``mmap``, allocated at ``configure``; at each allocation, each release of a request and at
``close`` every map neither held by a request nor of the current allocation is closed, so a numpy
view still alive on one raises ``BufferError: cannot close exported pointers exist`` there, as on
the Pi. ``LEDGER`` counts the requests handed out and released (the ``standin`` fixture fails a
test that ends with one outstanding, or with a BufferError that picamera2 would have swallowed).

For tests that drive picamera2's threads into a given interleaving: ``EVENT_LOOP`` stalls the
event loop (no frame, no job) while closed, and ``RELEASE_WINDOW`` is called by a release in the
window picamera2 leaves between reading the controls set since the last request and replacing
them (a ``set_controls`` then is lost).

Not modelled: the IPA's own AF in AfMode Auto or Continuous (the lens then stays where it is),
LensPosition being a float control (libcamera rounds writes and metadata to float32), and the
startup frames libcamera hides from the application (the controller runs on each of them).
"""

from __future__ import annotations

import mmap
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

#: frames between the frame whose request carries a LensPosition (the IPA applies it when that
#: frame has been read out) and the first frame exposed at the IPA's new lens state
LENS_DELAY_FRAMES = 2
#: ipa_base.cpp ``controllerMinFrameDuration`` (1/30 s), nanoseconds
CONTROLLER_MIN_FRAME_DURATION_NS = 1e9 / 30.0
#: ipa_base.cpp: "Allow a 10% margin on the comparison below"
CONTROLLER_MARGIN = 0.9
#: libcamera's AfMode Manual
AF_MODE_MANUAL = 0
#: the Bayer formats the stand-in's sensor streams (picamera2's formats.BAYER_FORMATS, 10-bit RGGB):
#: packed (the native format, ``sensor_format``) and unpacked (one pixel per little-endian 16-bit word)
RAW_FORMATS = ("SRGGB10_CSI2P", "SRGGB10")
#: the raw stream's black level: libcamera's SensorBlackLevels, 16-bit units (64 at 10 bits)
BLACK_LEVEL_16 = 4096
#: the raw frame the stand-in's sensor sees: each RGGB cell's (R, Gr, Gb, B) 10-bit values, R the
#: frame's sequence number modulo 64 above these (so frames and colours tell apart)
RAW_CELL = (100, 400, 410, 250)


def raw_stride(fmt: str, width: int) -> int:
    """Bytes per raw row as libcamera aligns them (32 bytes here): 2 per pixel unpacked, 5 per 4 packed."""
    row = width * 2 if fmt == "SRGGB10" else width * 5 // 4
    return -(-row // 32) * 32


def raw_cell(sequence: int) -> tuple[int, int, int, int]:
    """The (R, Gr, Gb, B) values of every RGGB cell of frame ``sequence``'s raw stream."""
    red, green_r, green_b, blue = RAW_CELL
    return red + sequence % 64, green_r, green_b, blue


@dataclass
class ModuleSpec:
    model: str = "imx708"
    full_size: tuple[int, int] = (4608, 2592)
    #: (output size, fps) per sensor mode, 10-bit
    modes: tuple = (((1536, 864), 120.13), ((2304, 1296), 56.03), ((4608, 2592), 14.35))
    lens: tuple | None = (0.0, 15.0, 1.0)  #: camera_controls["LensPosition"], None: no lens control
    exposure_us: int = 4000  #: what AE settles on (clipped to the frame duration)
    af_default_mode: int = 2  #: libcamera starts the rpi AF in Continuous unless told otherwise
    noise_reduction: bool = True  #: advertises NoiseReductionMode, as the Pi's cameras do
    #: the tuning's rpi.af speeds.normal max_slew: dioptres per LensPosition write and per
    #: controller run (imx708: 1.5; af.cpp's default where a tuning gives none: 2.0)
    max_slew: float = 1.5


MODULE = ModuleSpec()


def use_module(spec: ModuleSpec) -> None:
    global MODULE
    MODULE = spec


class Allocator:
    """picamera2's ``DmaAllocator`` as far as lifetimes go: buffers are mmaps; ``cleanup`` closes
    each one that no request holds and that is not of the current allocation (``mmap.close``
    raises BufferError while a numpy view of it is alive, and picamera2 does not catch it)."""

    def __init__(self):
        self.maps: list[mmap.mmap] = []  # mapped_buffers: every map not closed yet
        self._current: set[int] = set()  # libcamera_fds: the maps of the latest allocation
        self._used: set[int] = set()  # mapped_buffers_used: the maps a request holds

    def allocate(self, sizes: dict[str, int], count: int) -> list[dict[str, mmap.mmap]]:
        """``count`` buffer sets, a map of ``sizes[stream]`` bytes per stream; earlier maps that
        nothing holds are closed first."""
        self._current = set()
        self.cleanup()
        sets = [{name: mmap.mmap(-1, size) for name, size in sizes.items()} for _ in range(count)]
        for buffers in sets:
            self.maps += buffers.values()
            self._current.update(id(m) for m in buffers.values())
        return sets

    def acquire(self, buffers: dict) -> None:
        self._used.update(id(m) for m in buffers.values())

    def release(self, buffers: dict) -> None:
        self._used.difference_update(id(m) for m in buffers.values())
        self.cleanup()

    def cleanup(self) -> None:
        for memory in list(self.maps):
            if id(memory) not in self._used and id(memory) not in self._current:
                memory.close()  # BufferError while exported: picamera2 lets it propagate
                self.maps.remove(memory)

    def close(self) -> None:
        self._current = set()
        self.cleanup()


class RequestLedger:
    """Every CompletedRequest made and every one released (its count down to 0), for the
    ``standin`` fixture: a request never released is a buffer the camera never gets back."""

    def __init__(self):
        self._lock = threading.Lock()
        self.acquired = 0
        self.released = 0
        self.outstanding: dict[int, str] = {}  # id -> what it was (for the failure message)
        self.cameras: list = []  # every Picamera2 opened
        #: errors picamera2 would swallow (raised in ``DmaAllocator.__del__`` at close)
        self.unraisable: list[BaseException] = []

    def acquire(self, request, description: str) -> None:
        with self._lock:
            self.acquired += 1
            self.outstanding[id(request)] = description

    def release(self, request) -> None:
        with self._lock:
            self.released += 1
            self.outstanding.pop(id(request), None)


LEDGER = RequestLedger()


class EventLoopGate:
    """Closed by a test: the camera's event loop stops before its next round (no frame is
    delivered and no job runs) until opened again. ``close_after_switch``: close it as a mode
    switch finishes (the next round, in the new mode, then waits)."""

    #: longest a round waits for the gate: a test that never opens it fails instead of hanging
    LIMIT_S = 10.0

    def __init__(self):
        self._open = threading.Event()
        self._open.set()
        self.close_after_switch = False

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self.close_after_switch = False
        self._open.set()

    def pass_through(self) -> None:
        if not self._open.wait(self.LIMIT_S):
            raise RuntimeError("stand-in event loop held closed for too long")

    def switched(self) -> None:
        if self.close_after_switch:
            self.close()


EVENT_LOOP = EventLoopGate()
#: called (on the releasing thread) by a release re-queueing its request, between reading the
#: controls set since the last request and replacing them: picamera2's window (request.py)
RELEASE_WINDOW: Callable[[], None] | None = None


class Af:
    """af.cpp's lens state, for one camera: ``ftarget_``, ``fsmooth_``, ``initted_``, ``mode_``
    (only what AfMode Manual uses)."""

    def __init__(self, spec: ModuleSpec):
        self.low, self.high, default = (float(v) for v in spec.lens)  # cfg_.map.domain()
        self.max_slew = float(spec.max_slew)  # cfg_.speeds[speed_].maxSlew
        self.mode = spec.af_default_mode  # mode_
        self.initted = False  # initted_
        self.ftarget = -1.0  # ftarget_
        self.fsmooth = -1.0  # fsmooth_
        # ipa_base.cpp configure(), first start: af->setLensPosition(LensPosition's default);
        # af.cpp's own mode_ is Manual until told otherwise, so this write is never ignored
        mode, self.mode = self.mode, AF_MODE_MANUAL
        self.set_lens_position(default)
        self.mode = mode

    def set_mode(self, mode: int) -> None:
        self.mode = int(mode)

    def update_lens_position(self) -> None:
        if self.initted:
            # from a known lens position: apply slew rate limit
            self.fsmooth = min(max(self.ftarget, self.fsmooth - self.max_slew), self.fsmooth + self.max_slew)
        else:
            # from an unknown position: go straight to target
            self.fsmooth = self.ftarget
            self.initted = True

    def set_lens_position(self, dioptres: float) -> bool:
        """Af::setLensPosition: True if the lens driver is written."""
        changed = False
        if self.mode == AF_MODE_MANUAL:
            self.ftarget = min(max(float(dioptres), self.low), self.high)
            changed = not (self.initted and self.fsmooth == self.ftarget)
            self.update_lens_position()
        return changed

    def prepare(self) -> None:
        """Af::prepare, as far as AfMode Manual goes (no scan runs): the slew goes on."""
        if self.initted:
            self.update_lens_position()

    def lens_position(self) -> float | None:
        """Af::getLensPosition: what fillDeviceStatus puts in the metadata."""
        return self.fsmooth if self.initted else None


@dataclass
class FrameRecord:
    """What the simulated sensor did for one frame slot."""

    sequence: int
    exposure_start_ns: int
    sensor_timestamp_ns: int
    true_lens_position: float
    delivered: bool
    af_mode: int
    controls: dict = field(default_factory=dict)  #: the controls of the request filled by this frame
    #: the metadata's LensPosition: the IPA's state after this request's controls (None: no request)
    lens_position: float | None = None
    controller_ran: bool = False  #: the IPA's controller ran on this frame (ipa_base.cpp's rate limit)


@dataclass
class Slot:
    """One libcamera request: a buffer (an mmap) per stream, metadata, map count."""

    buffers: dict
    metadata: dict = field(default_factory=dict)
    open_maps: int = 0
    controls: dict = field(default_factory=dict)


class Sensor:
    """The camera side: queued requests in, completed ones out, one per frame period."""

    def __init__(self, picam2, frame_duration_ns: int, start_controls: dict):
        self.picam2 = picam2
        self.frame_duration_ns = frame_duration_ns
        self._free: list[Slot] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.wake = threading.Event()
        self.history: list[FrameRecord] = []
        self.applied_controls: list[dict] = [dict(start_controls)]
        #: the camera's IPA (af.cpp), kept by the Picamera2 object across starts; None: no lens control
        self.af: Af | None = picam2._af
        self._af_mode = MODULE.af_default_mode  # AfMode where there is no lens (and no Af)
        self._last_run_ns = 0  # ipa_base.cpp lastRunTimestamp_, reset by each start
        self._lens_schedule: list[tuple[int, float]] = []  # (first sequence exposed there, position)
        #: where the glass is: where the driver was last written (the IPA's state), even before a restart
        self.true_lens = self.af.fsmooth if self.af is not None else 0.0
        before = self.true_lens
        #: the fixed ExposureTime (us) and AnalogueGain the controls set (0: auto exposure's); AeEnable False keeps them
        self.fixed_exposure = [0, 0.0]
        self._apply(start_controls)  # IpaBase::start applies the start controls (no controller run)
        self._follow(0, before)  # as if they travelled with the first request
        self._thread = threading.Thread(target=self._run, name="standin-camera", daemon=True)
        self._t0 = 0

    @property
    def af_mode(self) -> int:
        return self.af.mode if self.af is not None else self._af_mode

    def queue(self, slot: Slot, controls: dict) -> None:
        slot.controls = controls
        with self._lock:
            self._free.append(slot)

    def start(self) -> None:
        self._t0 = time.monotonic_ns()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _apply(self, controls: dict) -> None:
        """ipa_base.cpp applyControls: AfMode first, then LensPosition (Af::setLensPosition,
        ignored unless AfMode is Manual)."""
        if "AfMode" in controls:
            if self.af is not None:
                self.af.set_mode(int(controls["AfMode"]))
            else:
                self._af_mode = int(controls["AfMode"])
        if "LensPosition" in controls and self.af is not None:
            self.af.set_lens_position(float(controls["LensPosition"]))
        if "ExposureTime" in controls:
            self.fixed_exposure[0] = int(controls["ExposureTime"])
        if "AnalogueGain" in controls:
            self.fixed_exposure[1] = float(controls["AnalogueGain"])

    def _prepare_isp(self, controls: dict, sequence: int, record: FrameRecord) -> None:
        """ipa_base.cpp prepareIsp for the frame ``sequence`` (read out, a request to fill): the
        request's controls, the metadata's lens position (fillDeviceStatus), then the controller
        (Af::prepare) if ipa_base.cpp's rate limit lets it run on this frame's timestamp."""
        before = self.af.fsmooth if self.af is not None else None
        self._apply(controls)
        if self.af is None:
            return
        record.lens_position = self.af.lens_position()
        timestamp = record.sensor_timestamp_ns
        delta = timestamp - self._last_run_ns
        if not (self._last_run_ns and delta < CONTROLLER_MIN_FRAME_DURATION_NS * CONTROLLER_MARGIN):
            self._last_run_ns = timestamp
            record.controller_ran = True
            self.af.prepare()
        self._follow(sequence, before)

    def _follow(self, sequence: int, before: float | None) -> None:
        """The lens driver is written with the IPA's state: if it moved from ``before`` while the
        request of frame ``sequence`` was prepared, frames from sequence + LENS_DELAY_FRAMES on
        are exposed there (a later entry for the same frame wins)."""
        if self.af is not None and self.af.fsmooth != before:
            self._lens_schedule.append((sequence + LENS_DELAY_FRAMES, self.af.fsmooth))

    def _run(self) -> None:
        sequence = 0
        while not self._stop.is_set():
            exposure_start = self._t0 + sequence * self.frame_duration_ns
            due = exposure_start + self.frame_duration_ns  # read out one frame period later
            while not self._stop.is_set():
                left = due - time.monotonic_ns()
                if left <= 0:
                    break
                if self.wake.wait(left / 1e9):
                    self.wake.clear()
                    self.picam2._process([])  # a job was queued: run it on this thread, as picamera2
            if self._stop.is_set():
                return
            self._frame(sequence, exposure_start)
            sequence += 1

    def _frame(self, sequence: int, exposure_start: int) -> None:
        while self._lens_schedule and self._lens_schedule[0][0] <= sequence:
            self.true_lens = self._lens_schedule.pop(0)[1]
        exposure_us = min(self.fixed_exposure[0] or MODULE.exposure_us, self.frame_duration_ns // 1000 - 100)
        with self._lock:
            slot = self._free.pop(0) if self._free else None
        record = FrameRecord(sequence, exposure_start, exposure_start + exposure_us * 1000, self.true_lens,
                             slot is not None, self.af_mode)
        if slot is not None:
            record.controls = dict(slot.controls)
            self._prepare_isp(slot.controls, sequence, record)
            if slot.controls:
                self.applied_controls.append(dict(slot.controls))
            self._fill(slot, sequence, record, exposure_us)
        self.history.append(record)
        self.picam2._process([slot] if slot is not None else [])

    def _fill(self, slot: Slot, sequence: int, record: FrameRecord, exposure_us: int) -> None:
        # the views written through are locals: gone when this returns, so they never keep a map open
        config = self.picam2.camera_config
        lores = slot.buffers.get("lores")
        if lores is not None:
            w, h = config["lores"]["size"]
            stride = config["lores"]["stride"]
            plane = np.frombuffer(lores, dtype=np.uint8).reshape((h * 3 // 2, stride))
            plane[:h, :w] = sequence % 251  # Y: tells frames apart
            plane[:h, w:] = 255  # stride padding, which a correct Y plane never includes
            plane[h:, :] = 128
        slot.buffers["main"][:3] = int(sequence).to_bytes(3, "big")  # pixel (0, 0) = sequence
        raw = slot.buffers.get("raw")
        if raw is not None:
            self._fill_raw(raw, config["raw"], sequence)
        slot.metadata = {
            "SensorTimestamp": record.sensor_timestamp_ns,
            "ExposureTime": exposure_us,
            "AnalogueGain": self.fixed_exposure[1] or 2.0,
            "SensorBlackLevels": (BLACK_LEVEL_16,) * 4,
            "DigitalGain": 1.0,
            "FrameDuration": self.frame_duration_ns // 1000,
            "AfState": 0 if self.af_mode == 0 else 1,
            "FocusFoM": 1000,
        }
        if record.lens_position is not None:
            slot.metadata["LensPosition"] = record.lens_position  # fillDeviceStatus: the IPA's state

    @staticmethod
    def _fill_raw(memory, config: dict, sequence: int) -> None:
        """The raw buffer: an RGGB mosaic of ``raw_cell(sequence)``, unpacked little-endian 16-bit
        words, the stride padding 0xFF (which a correct unpacking never includes). Packed buffers are
        left as they are (not modelled)."""
        if config["format"] != "SRGGB10":
            return
        w, h = config["size"]
        stride = config["stride"]
        rows = np.frombuffer(memory, dtype=np.uint8).reshape((h, stride))
        rows[:, 2 * w:] = 0xFF
        pixels = rows[:, :2 * w].view("<u2")
        red, green_r, green_b, blue = raw_cell(sequence)
        pixels[0::2, 0::2], pixels[0::2, 1::2], pixels[1::2, 0::2], pixels[1::2, 1::2] = red, green_r, green_b, blue
