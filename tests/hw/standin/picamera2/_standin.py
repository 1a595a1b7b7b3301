"""The simulated module behind the picamera2 stand-in (not part of picamera2's API).

``MODULE`` describes the attached camera (tests replace it with ``use_module``); the sensor thread
in :class:`Sensor` times frames on CLOCK_MONOTONIC, as the Pi does, and records what really
happened to every frame in ``history`` so that tests can compare the adapter's view with it.

Lens model (DESIGN.md): LensPosition travels with a request; the lens moves when that request's
frame is processed; frames exposed from ``LENS_DELAY_FRAMES`` later on see the new position. The
metadata's LensPosition is the commanded value. LensPosition is ignored unless AfMode is Manual.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

#: frames between the request that carries a LensPosition and the first frame exposed there
LENS_DELAY_FRAMES = 2


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


MODULE = ModuleSpec()


def use_module(spec: ModuleSpec) -> None:
    global MODULE
    MODULE = spec


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


@dataclass
class Slot:
    """One libcamera request: a buffer per stream, metadata, map count."""

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
        self.af_mode = MODULE.af_default_mode
        self.commanded = MODULE.lens[2] if MODULE.lens else 0.0
        self._lens_schedule: list[tuple[int, float]] = []  # (first sequence exposed there, position)
        self.true_lens = self.commanded
        self._apply(start_controls, 0)
        self._thread = threading.Thread(target=self._run, name="standin-camera", daemon=True)
        self._t0 = 0

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

    def _apply(self, controls: dict, sequence: int) -> None:
        if "AfMode" in controls:
            self.af_mode = int(controls["AfMode"])
        if "LensPosition" in controls and self.af_mode == 0:  # ignored unless AfMode is Manual
            self.commanded = float(controls["LensPosition"])
            self._lens_schedule.append((sequence + LENS_DELAY_FRAMES, self.commanded))

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
        exposure_us = min(MODULE.exposure_us, self.frame_duration_ns // 1000 - 100)
        with self._lock:
            slot = self._free.pop(0) if self._free else None
        record = FrameRecord(sequence, exposure_start, exposure_start + exposure_us * 1000, self.true_lens,
                             slot is not None, self.af_mode)
        if slot is not None:
            record.controls = dict(slot.controls)
            self._apply(slot.controls, sequence)
            if slot.controls:
                self.applied_controls.append(dict(slot.controls))
            self._fill(slot, sequence, record, exposure_us)
        self.history.append(record)
        self.picam2._process([slot] if slot is not None else [])

    def _fill(self, slot: Slot, sequence: int, record: FrameRecord, exposure_us: int) -> None:
        config = self.picam2.camera_config
        lores = slot.buffers.get("lores")
        if lores is not None:
            w, h = config["lores"]["size"]
            stride = config["lores"]["stride"]
            plane = lores.reshape((h * 3 // 2, stride))
            plane[:h, :w] = sequence % 251  # Y: tells frames apart
            plane[:h, w:] = 255  # stride padding, which a correct Y plane never includes
            plane[h:, :] = 128
        main = slot.buffers["main"]
        main[:3] = np.frombuffer(int(sequence).to_bytes(3, "big"), dtype=np.uint8)  # pixel (0, 0) = sequence
        slot.metadata = {
            "SensorTimestamp": record.sensor_timestamp_ns,
            "ExposureTime": exposure_us,
            "AnalogueGain": 2.0,
            "DigitalGain": 1.0,
            "FrameDuration": self.frame_duration_ns // 1000,
            "AfState": 0 if self.af_mode == 0 else 1,
            "FocusFoM": 1000,
        }
        if MODULE.lens is not None:
            slot.metadata["LensPosition"] = self.commanded
