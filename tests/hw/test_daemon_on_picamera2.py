"""The whole daemon on the Pi's camera path (issue "On the device"): the same ``Daemon`` as on the
desktop, with nothing but the adapters changed.

The camera is the one ``focusd run`` builds (``focusd.service.cameras.build_camera``) for
``camera.backend = "picamera2"``: the picamera2 adapter over the checked picamera2 stand-in
(tests/hw/standin, whose every name and signature test_picamera2_contract.py checks against
picamera2's source), simulating a Camera Module 3 (IMX708) with the shipped ``imx708`` profile in its
1536x864 @ 120.13 fps mode. The pins are gpiozero's MockFactory. The configuration goes through
``parse_config``, the path a TOML file takes. The lores stream is kept small (224x126, padded to a
256-byte stride as the ISP pads it) so the stand-in stays cheap; the main stream is the mode's full
1536x864, as on the device.

The stand-in times frames on CLOCK_MONOTONIC in its own thread, so the daemon runs on a thread of its
own, as under systemd, and the test waits with ``Daemon.wait_until`` (never a sleep). What really
happened to every frame is in the stand-in's ``history`` (exposure start, lens position, the controls
that travelled with it), and the main stream's first pixel carries the stand-in's own frame number:
the test compares the daemon's account (journal, image file, frame numbers) with that truth.

The stand-in's image is flat, so a held AF-ON scans the range and ends FAILED (a flat focus curve)
after a fixed number of lens commands; the test relies on that only to show that a release cuts
the scan short.

The stand-in moves the lens as libcamera's IPA does (af.cpp): at most 1.5 D per LensPosition write
and per run of the IPA's controller, which runs at most at 30 Hz. A lens commanded further than
that gets there over several frames: the tests allow for that slew where they wait for the lens
(SLEW_FRAMES), and measure the latency on the commands that land whole.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory
from PIL import Image

from daemon_harness import RecordingCamera
from focusd.service.cameras import build_camera
from focusd.config.settings import parse_config
from focusd.service.daemon import Daemon
from focusd.signals import ButtonId
from focusd.hw.gpio import MockPinDriver
from focusd.hw.picamera2_camera import Picamera2Tuning
from focusd.config.profiles import load_profile

AF, SHUT = ButtonId.AF_ON, ButtonId.SHUTTER
TIMEOUT = 5.0  #: seconds; every wait here is for a few frames of a 120 fps stream
MODE = (1536, 864)
LORES = (224, 126)
#: the end-to-end lens latency on the stand-in: the requests queued ahead of the one carrying a
#: LensPosition (the adapter's default buffer_count less one) plus the lens delay at the ISP (the
#: stand-in's LENS_DELAY_FRAMES, 2, which the imx708 profile's lens_latency_frames also says)
END_TO_END_FRAMES = Picamera2Tuning().buffer_count - 1 + 2
#: frames after which a LensPosition set before the release has surely reached the sensor and the
#: lens: the end-to-end latency, the frame it is first seen in, and one spare
SETTLE_FRAMES = END_TO_END_FRAMES + 2
#: frames the IPA may still need after the last write to slew the lens across its whole range: af.cpp
#: moves it 1.5 D (imx708 max_slew) per controller run, and ipa_base.cpp runs the controller at most
#: every 0.9 x 1/30 s, every 4th frame at 120.13 fps
SLEW_FRAMES = math.ceil(15.0 / 1.5) * math.ceil(0.9 / 30 * 120.13)


def pi_config(tmp_path: Path, **sections):
    """The configuration of a Pi with a Camera Module 3, as a TOML file would give it."""
    data = {
        "camera": {"backend": "picamera2", "profile": "imx708", "sensor_mode": list(MODE),
                   "lores_size": list(LORES)},
        "capture": {"directory": str(tmp_path / "captures"), "format": "png"},  # lossless: pixels read back
        "shutter": {"burst": False},
        "bracket": {"gesture": False},  # taps a few frames apart are photos here, not the bracketing double-press
    }
    for name, fields in sections.items():
        data.setdefault(name, {}).update(fields)
    return parse_config(data)


class FrameLog(RecordingCamera):
    """The harness's lens-command recorder (each command with the sequence of the frame being
    processed), also noting every frame the daemon was handed and whether the daemon's engine was
    still focusing once it had processed that frame."""

    def __init__(self, camera):
        super().__init__(camera)
        self.daemon: Daemon | None = None
        self.frames: list[tuple[int, int]] = []  # (the adapter's sequence, exposure start ns)
        self.focusing_after: dict[int, bool] = {}  # sequence -> engine active after processing it

    def next_frame(self, timeout_s):
        if self.daemon is not None and self.frames:
            self.focusing_after[self.frames[-1][0]] = self.daemon.engine_active
        frame = super().next_frame(timeout_s)
        self.frames.append((frame.sequence, frame.timestamp_ns))
        return frame

    def frame_that_stopped_focusing(self) -> int:
        """The sequence of the frame in whose processing the daemon stopped focusing (the one that
        handled the AF-ON release: its edges are handled before the engine runs on it)."""
        seen = sorted(self.focusing_after.items())
        first_focusing = next(sequence for sequence, focusing in seen if focusing)
        return next(sequence for sequence, focusing in seen if sequence > first_focusing and not focusing)


class DaemonOnPi:
    """The real daemon on its own thread, on the picamera2 adapter over the stand-in."""

    def __init__(self, config, monkeypatch):
        import picamera2  # the stand-in (the ``standin`` fixture put it first on sys.path)

        self.config = config
        #: every set_controls call on the camera, in order (a spy: the stand-in's own method runs)
        self.set_controls_calls: list[dict] = []
        original = picamera2.Picamera2.set_controls

        def set_controls(picam2, controls):
            self.set_controls_calls.append(dict(controls))
            return original(picam2, controls)

        monkeypatch.setattr(picamera2.Picamera2, "set_controls", set_controls)
        self.factory = MockFactory()
        self.adapter = build_camera(config)  # what `focusd run` builds for camera.backend = "picamera2"
        self.camera = FrameLog(self.adapter)
        self.daemon = Daemon(config, self.camera, pin_factory=self.factory)
        self.camera.daemon = self.daemon
        self.finger = MockPinDriver(config.pins, self.factory)
        self.exit_status: int | None = None
        self.picam2 = None
        self._thread = threading.Thread(target=self._run, name="camera-thread", daemon=True)

    def _run(self) -> None:
        self.exit_status = self.daemon.run()

    def __enter__(self) -> "DaemonOnPi":
        self._thread.start()
        assert self.wait(lambda s: s.frames >= 3), "the daemon never got a frame from the camera"
        self.picam2 = self.adapter._picam2  # the stand-in instance: looked at behind the adapter on purpose
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        self.factory.reset()

    @property
    def stats(self):
        return self.daemon.stats

    @property
    def sensor(self):
        (sensor,) = self.picam2.sensors_used  # one configuration, never switched
        return sensor

    def wait(self, predicate, timeout: float = TIMEOUT) -> bool:
        return self.daemon.wait_until(predicate, timeout)

    def frames_later(self, count: int) -> None:
        target = self.stats.frames + count
        assert self.wait(lambda s: s.frames >= target), f"the daemon stalled before frame {target}"

    def stop(self) -> int | None:
        if self._thread.is_alive():
            self.daemon.request_stop()
            self._thread.join(TIMEOUT)
            assert not self._thread.is_alive(), "the daemon did not return after request_stop"
        return self.exit_status

    def lens_settings(self) -> list[float]:
        return [c["LensPosition"] for c in self.set_controls_calls if "LensPosition" in c]

    def journal(self) -> list[dict]:
        path = Path(self.config.capture.directory) / self.config.capture.journal
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def images(self) -> list[Path]:
        return sorted(p for p in Path(self.config.capture.directory).iterdir() if p.suffix == ".png")


@pytest.fixture
def pi(standin, monkeypatch, tmp_path):
    standin.use_module(standin.ModuleSpec())  # Camera Module 3: imx708, its modes, LensPosition 0-15 D
    with DaemonOnPi(pi_config(tmp_path), monkeypatch) as rig:
        yield rig


def frame_number_in(image_path: Path) -> int:
    """The stand-in writes its own frame number into the main stream's first pixel."""
    pixels = np.asarray(Image.open(image_path))
    return int.from_bytes(bytes(pixels.reshape(-1)[:3]), "big")


def test_a_shutter_press_captures_the_first_frame_exposed_after_it(pi):
    pi.frames_later(5)
    before = pi.adapter.now_ns()
    pi.finger.press(SHUT)
    after = pi.adapter.now_ns()
    assert pi.wait(lambda s: s.presses == 1)
    pi.frames_later(4)  # past the 20 ms bounce window: the release is a release, not chatter
    pi.finger.release(SHUT)
    assert pi.wait(lambda s: s.captures_written == 1)
    pi.frames_later(30)
    assert pi.stop() == 0
    assert (pi.stats.captures_requested, pi.stats.captures_written, pi.stats.captures_failed) == (1, 1, 0)

    (entry,) = pi.journal()
    (image,) = pi.images()
    assert entry["error"] is None and entry["file"] == image.name
    press_ns, frame_ns = entry["press_time_ns"], entry["frame_time_ns"]
    assert before <= press_ns <= after  # stamped in the GPIO callback, on the camera's clock
    assert frame_ns >= press_ns
    # the truth: the first frame the sensor exposed at or after the press is the one in the file
    history = pi.sensor.history
    first_after = next(record for record in history if record.exposure_start_ns >= press_ns)
    assert first_after.exposure_start_ns == frame_ns
    assert frame_number_in(image) == first_after.sequence
    # the journal's sequence is that frame's number as the daemon counts, and the frame the daemon
    # saw just before it was exposed before the press
    seen = pi.camera.frames
    index = next(i for i, (_, start) in enumerate(seen) if start == frame_ns)
    assert index > 0 and seen[index][0] == entry["sequence"]
    assert seen[index - 1][1] < press_ns
    first_seen = next(r.sequence for r in history if r.exposure_start_ns == seen[0][1])
    assert entry["sequence"] - seen[0][0] == first_after.sequence - first_seen
    # the lens state recorded is the frame's metadata (the commanded start position, 1 D), and the lens
    # never moved: so it was there during the exposure too
    assert entry["lens_reported"] == entry["extra"]["LensPosition"] == 1.0
    assert entry["lens_exposed"] == 1.0 and entry["lens_moving"] is False
    assert entry["af_state"] == "IDLE" and entry["reason"] == "shutter priority release"


def test_af_on_drives_lens_position_and_its_release_stops_it(pi):
    from libcamera import controls

    pi.frames_later(3)
    pi.finger.press(AF)
    assert pi.wait(lambda s: s.lens_commands >= 3)
    pi.finger.release(AF)
    assert pi.wait(lambda s: not pi.daemon.engine_active)  # the release has been handled
    commands_at_release = list(pi.camera.lens_commands)
    settings_at_release = pi.lens_settings()
    frame_at_release = len(pi.sensor.history)
    pi.frames_later(SLEW_FRAMES + 60)  # most of a second of frames with AF-ON up

    # every lens command of the daemon went to set_controls as LensPosition, in order, and alone
    assert settings_at_release == [position for _, position in commands_at_release]
    assert all(set(call) == {"LensPosition"} for call in pi.set_controls_calls)
    # the release cut the scan short: the engine neither failed nor locked, yet no command came,
    # not even from the frame that handled the release
    assert pi.stats.af_failures == 0 and pi.stats.af_locks == 0
    released_at = pi.camera.frame_that_stopped_focusing()
    assert all(sequence < released_at for sequence, _ in commands_at_release)
    assert pi.lens_settings() == settings_at_release and pi.camera.lens_commands == commands_at_release
    # what reached the camera: the last position set before the release and nothing after it; the
    # lens ends there once the IPA has finished slewing to it
    last = settings_at_release[-1]
    later = pi.sensor.history[frame_at_release + SETTLE_FRAMES:]
    assert len(later) >= SLEW_FRAMES + 40  # frames went on
    assert all("LensPosition" not in record.controls for record in later)
    assert {record.true_lens_position for record in later[SLEW_FRAMES:]} == {last}

    # held this time: the scan runs to its end (a flat scene: FAILED), every step sent to the camera
    pi.finger.press(AF)
    assert pi.wait(lambda s: s.af_failures == 1)
    pi.frames_later(SETTLE_FRAMES + SLEW_FRAMES)  # the fallback may be a long move: slewed
    settings = pi.lens_settings()
    assert len(settings) > len(settings_at_release) + 3
    assert settings == [position for _, position in pi.camera.lens_commands]
    assert settings == [p for p in settings if 0.0 <= p <= 12.0]  # the profile's normal AF range
    applied = [c["LensPosition"] for c in pi.sensor.applied_controls[1:] if "LensPosition" in c]
    assert applied[-1] == settings[-1] and set(applied) <= set(settings)
    assert pi.sensor.history[-1].true_lens_position == settings[-1]
    # AfMode Manual exactly once, with the configuration; the camera's own AF never ran
    with_af_mode = [c for c in pi.sensor.applied_controls if "AfMode" in c]
    assert len(with_af_mode) == 1 and with_af_mode[0] is pi.sensor.applied_controls[0]
    assert with_af_mode[0]["AfMode"] == controls.AfModeEnum.Manual
    assert all(record.af_mode == controls.AfModeEnum.Manual for record in pi.sensor.history)


def test_the_engine_is_told_the_latency_the_lens_really_has(pi, standin):
    """The daemon's engine is told the profile's latency plus the adapter's request queue, and that
    is the latency of its own lens commands on the stand-in, frame for frame: a command sent while
    frame n is processed is first seen in frame n + told + 1 (docs/design.md, "The latency
    contract"). Measured on the commands that land whole (within max_slew of the IPA's lens state):
    a longer one is first seen there only after the IPA's slew (af.cpp), which
    test_lens_path_agreement.py pins down."""
    told = pi.daemon.engine.latency_frames
    assert standin.LENS_DELAY_FRAMES == load_profile("imx708").lens_latency_frames
    assert told == END_TO_END_FRAMES == load_profile("imx708").lens_latency_frames + pi.adapter.lens_queue_frames
    pi.frames_later(3)
    pi.finger.press(AF)
    assert pi.wait(lambda s: s.af_failures == 1)  # a flat scene: the scan runs to its end
    pi.frames_later(SETTLE_FRAMES)
    assert pi.stop() == 0

    history, seen = pi.sensor.history, dict(pi.camera.frames)  # adapter sequence -> exposure start
    # the adapter counts frames from sensor timestamps: a fixed offset from the stand-in's numbers
    first_sequence, first_start = pi.camera.frames[0]
    offset = first_sequence - next(r.sequence for r in history if r.exposure_start_ns == first_start)

    def lens_in(sequence: int) -> float:
        return history[sequence - offset].true_lens_position

    latencies = []
    commands = pi.camera.lens_commands
    for index, (commanded_at, position) in enumerate(commands):
        if any(p == position for _, p in commands[max(0, index - told - 2):index]):
            continue  # an earlier command to the same place may still be on its way
        applied = next((r for r in history[commanded_at - offset + 1:] if r.controls.get("LensPosition") == position),
                       None)  # the frame whose request carried it
        if applied is None or applied.lens_position != position:
            continue  # not applied yet, or slewed: the IPA's state after the write fell short of it
        arrival = next(k for k in range(commanded_at + 1, len(history) + offset)
                       if lens_in(k) == position and lens_in(k - 1) != position)
        window = range(commanded_at, arrival + 1)
        if all(history[k - offset].delivered and k in seen for k in window):  # no frame dropped or skipped
            latencies.append(arrival - commanded_at - 1)
    assert len(latencies) >= 3, (latencies, commands)
    assert set(latencies) == {told}


def test_stop_writes_every_capture_and_closes_the_camera(pi):
    presses = 4
    for count in range(1, presses + 1):
        pi.finger.press(SHUT)
        assert pi.wait(lambda s: s.presses == count)
        if count == presses:
            break
        pi.frames_later(4)  # past the bounce window
        pi.finger.release(SHUT)
        pi.frames_later(4)
    outstanding = pi.stats.captures_requested - pi.stats.captures_written
    picam2, sensor = pi.picam2, pi.sensor
    assert pi.stop() == 0
    assert outstanding >= 1  # the last press was not yet written when the stop came

    stats = pi.stats
    assert (stats.captures_requested, stats.captures_written, stats.captures_failed) == (presses, presses, 0)
    journal = pi.journal()
    assert sorted(entry["press_id"] for entry in journal) == list(range(1, presses + 1))
    assert all(entry["error"] is None and entry["frame_time_ns"] >= entry["press_time_ns"] for entry in journal)
    assert sorted(entry["file"] for entry in journal) == [p.name for p in pi.images()]
    assert [p.name for p in Path(pi.config.capture.directory).iterdir() if p.name.endswith(".tmp")] == []
    # the camera is closed: stopped, released, its thread gone, every buffer back and unmapped
    assert pi.adapter._picam2 is None
    assert not picam2.is_open and not picam2.started
    assert not sensor._thread.is_alive()
    assert picam2.completed_requests == [] and picam2._job_list == []
    assert all(slot.open_maps == 0 for slot in picam2.slots)


def test_a_full_resolution_capture_leaves_the_camera_thread_running(standin, monkeypatch, tmp_path):
    """camera.full_resolution_captures: the daemon's loop still holds the frame it has just released
    when it switches mode, and the switch unmaps every buffer no request holds (picamera2's
    DmaAllocator; the stand-in's buffers are mmaps unmapped alike): a view of one still alive
    there would raise BufferError on the camera thread."""
    standin.use_module(standin.ModuleSpec())
    with DaemonOnPi(pi_config(tmp_path, camera={"full_resolution_captures": True}), monkeypatch) as pi:
        pi.finger.press(SHUT)
        assert pi.wait(lambda s: s.captures_written + s.captures_failed == 1, timeout=30.0)
        pi.frames_later(10)  # the stream came back in the focusing mode
        assert pi.stop() == 0
    assert (pi.stats.captures_written, pi.stats.captures_failed, pi.stats.camera_faults) == (1, 0, 0)
    (image,) = pi.images()
    assert Image.open(image).size == tuple(load_profile("imx708").full_resolution)
    focus, full, back = pi.picam2.sensors_used  # the two switches, there and back
    assert len(full.history) >= 1 and len(back.history) >= 10
