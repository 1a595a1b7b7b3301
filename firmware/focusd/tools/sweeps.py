"""Two device tools on any focusd Camera: record a focus sweep, measure the lens command latency.

Why this module exists: the autofocus is tuned offline on focus sweeps and told the lens latency in
frames, and both facts must come from the real camera (docs/design.md, "The latency contract": it is
measured on a device). The logic therefore works on nothing but the ``focusd.hw.base.Camera``
interface, so the very same code runs on the Pi's picamera2 adapter and on the simulator (where the
tests check it against a known latency). The command modules (``focusd.commands.record_sweep`` /
``measure_latency``) only build the camera and print.

Time is counted in frames, never seconds, and by the frames' ``sequence`` numbers rather than by
frames received, so a dropped frame still counts as a frame that went by (the lens kept moving
during it). A command sent after frame n is first seen in frame n + latency + 1 (docs/design.md,
"The latency contract"). Commands are sent as the daemon sends them: while frame n is still held,
before its release. On picamera2 that matters: the command travels with the next request re-queued,
which is frame n's own when it is commanded before the release, and one frame later when after it.
So what ``measure_latency`` finds is the end-to-end latency the daemon's engine sees.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from focusd.af.measure import FocusMeasure
from focusd.errors import CameraError, FocusdError
from focusd.hw.base import Camera, CameraFrame
from focusd.sim.sweep import SWEEP_FORMAT  # the format the replay reads

#: Folder (inside a sweep) of the optional main-stream images.
MAIN_FOLDER = "main"


# ------------------------------------------------------------------------------ frame counting


def _next_frame(camera: Camera, timeout_s: float) -> CameraFrame:
    frame = camera.next_frame(timeout_s)
    if frame is None:  # an adapter must raise, but a None must not pass for a frame
        raise CameraError("the camera returned no frame")
    return frame


def frame_at_or_after(camera: Camera, sequence: int, timeout_s: float) -> CameraFrame:
    """The first frame whose sequence number is ``sequence`` or later; earlier frames are released.

    The caller releases the returned frame.
    """
    while True:
        frame = _next_frame(camera, timeout_s)
        if frame.sequence >= sequence:
            return frame
        frame.release()


def command_after_frame(camera: Camera, dioptres: float, timeout_s: float) -> int:
    """Take one frame and command the lens before releasing it: returns that frame's sequence
    number n, so the command is first seen in frame n + latency + 1. Commanding right after a
    delivered frame, before its release, is what makes the count exact and equal to the daemon's
    (which commands from inside the frame it processes)."""
    with _next_frame(camera, timeout_s) as frame:
        camera.set_lens_position(dioptres)
        return frame.sequence


# ------------------------------------------------------------------------------ record-sweep


def sweep_positions(lens_range: tuple[float, float], step: float) -> list[float]:
    """Evenly spaced positions from ``lens_range[0]`` to ``lens_range[1]`` inclusive, ``step`` D
    apart (the last step may be shorter so that the far end is always included)."""
    low, high = float(lens_range[0]), float(lens_range[1])
    if not (math.isfinite(low) and math.isfinite(high)) or low < 0 or high <= low:
        raise ValueError(f"range {low:g} {high:g}: need 0 <= A < B (dioptres)")
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"step {step:g}: must be more than 0 dioptres")
    count = int(math.floor((high - low) / step + 1e-9))
    positions = [round(low + i * step, 6) for i in range(count + 1)]
    if high - positions[-1] > 1e-6:
        positions.append(round(high, 6))
    return positions


@dataclass
class SweepRecord:
    """What ``record_sweep`` wrote."""

    folder: Path
    lens_positions: list[float]
    frames: list[str]
    sequences: list[int]  #: the sequence number of each saved frame
    exposure_time_us: list[float]
    analogue_gain: list[float]
    main_frames: list[str] = field(default_factory=list)


def record_sweep(camera: Camera, positions: Sequence[float], settle_frames: int, out_dir: str | os.PathLike,
                 *, latency_frames: int, average_frames: int = 1, save_main: bool = False,
                 first_move_frames: int = 4,
                 notes: str = "", extra: dict | None = None, frame_timeout_s: float = 2.0,
                 progress: Callable[[int, int], None] | None = None) -> SweepRecord:
    """Step the (started) camera's lens through ``positions`` and write a sweep folder ``out_dir``.

    For each position: command it right after a frame n, then keep the frame with sequence
    n + ``latency_frames`` + 1 + ``settle_frames`` (the first frame exposed at the new position,
    plus ``settle_frames`` more for the VCM to settle); the first position, reached from wherever
    the lens was, waits ``first_move_frames`` more. The lores Y plane (the mean of that frame and
    the ``average_frames - 1`` after it, a still lens on a still scene: the replay adds its own
    sensor noise, so a recorded frame should carry little) is saved as a grey PNG and, with
    ``save_main``, the first frame's main image under ``main/``. The folder is written as a
    hidden temporary folder next to ``out_dir`` and renamed into place only when complete, so
    ``out_dir`` never holds a partial sweep; an existing non-empty ``out_dir`` is refused.
    ``extra``: more keys for sweep.json (e.g. the sensor mode, which the Camera interface does not
    tell; a replay needs it to know which part of the sensor the frames show).
    """
    positions = [float(p) for p in positions]
    if not positions:
        raise ValueError("no lens positions to record")
    if settle_frames < 0 or latency_frames < 0 or first_move_frames < 0:
        raise ValueError("settle_frames, latency_frames and first_move_frames must be >= 0")
    if average_frames < 1:
        raise ValueError("average_frames must be at least 1")
    low, high = camera.lens_range
    outside = [p for p in positions if not (low - 1e-9 <= p <= high + 1e-9)]
    if outside:
        raise ValueError(f"lens positions {outside[:3]} lie outside the lens range {low:g}-{high:g} D")
    target = Path(out_dir)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"{target} exists and is not an empty folder: choose another --out")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        record = SweepRecord(folder=target, lens_positions=positions, frames=[], sequences=[],
                             exposure_time_us=[], analogue_gain=[])
        digits = max(3, len(str(len(positions) - 1)))
        if save_main:
            (temporary / MAIN_FOLDER).mkdir()
        for index, position in enumerate(positions):
            commanded_after = command_after_frame(camera, position, frame_timeout_s)
            wait = latency_frames + 1 + settle_frames + (first_move_frames if index == 0 else 0)
            frame = frame_at_or_after(camera, commanded_after + wait, frame_timeout_s)
            name = f"{index:0{digits}d}.png"
            try:
                # copies of what is kept, so the buffer goes back to the camera at once
                lores = frame.y.astype(np.float32)
                main = np.ascontiguousarray(frame.main_image(), dtype=np.uint8) if save_main else None
                record.sequences.append(int(frame.sequence))
                record.exposure_time_us.append(round(float(frame.exposure_time_us), 1))
                record.analogue_gain.append(round(float(frame.analogue_gain), 3))
            finally:
                frame.release()
            Image.fromarray(_averaged_lores(camera, lores, average_frames, frame_timeout_s)).save(temporary / name)
            record.frames.append(name)
            if main is not None:
                main_name = f"{MAIN_FOLDER}/{index:0{digits}d}.png"
                Image.fromarray(main).save(temporary / main_name)
                record.main_frames.append(main_name)
            if progress is not None:
                progress(index + 1, len(positions))
        description = _sweep_json(camera, record, settle_frames, latency_frames, average_frames, notes)
        description.update({key: value for key, value in (extra or {}).items() if key not in description})
        _write_file(temporary / "sweep.json", _json_text(description))
        for path in temporary.rglob("*.png"):
            _fsync_path(path)
        if target.exists():
            target.rmdir()  # empty (checked above): rename needs the name free on every platform
        os.rename(temporary, target)
        _fsync_path(target.parent)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return record


def _averaged_lores(camera: Camera, first: np.ndarray, count: int, timeout_s: float) -> np.ndarray:
    """The mean of the lores Y plane ``first`` (float32) and of the ``count - 1`` frames after it
    (the lens is still at the same position), rounded back to uint8."""
    total = first
    for _ in range(count - 1):
        frame = _next_frame(camera, timeout_s)
        try:
            total += frame.y
        finally:
            frame.release()
    return np.clip(np.rint(total / count), 0, 255).astype(np.uint8)


def _sweep_json(camera: Camera, record: SweepRecord, settle_frames: int, latency_frames: int,
                average_frames: int, notes: str) -> dict:
    exposures, gains = record.exposure_time_us, record.analogue_gain
    summary = (f"settled {settle_frames} frames after a lens latency of {latency_frames} frames, "
               f"mean of {average_frames} frames; "
               f"exposure {min(exposures):.0f}-{max(exposures):.0f} us, "
               f"analogue gain {min(gains):.2f}-{max(gains):.2f}")
    description = {
        "format": SWEEP_FORMAT,
        "frames": record.frames,
        "lens_positions": record.lens_positions,
        "lens_range": [record.lens_positions[0], record.lens_positions[-1]],
        "camera": getattr(camera, "name", "camera"),
        "notes": f"{notes}; {summary}" if notes else summary,
        # extra keys (readers ignore what they do not know): per-frame facts for tuning
        "frame_sequences": record.sequences,
        "exposure_time_us": exposures,
        "analogue_gain": gains,
        "frame_duration_ns": int(camera.frame_duration_ns),
        "settle_frames": settle_frames,
        "average_frames": average_frames,
        "latency_frames": latency_frames,
    }
    if record.main_frames:
        description["main_frames"] = record.main_frames
    return description


def _json_text(description: dict) -> str:
    """One key per line, each list on its line: readable and diffable without a viewer."""
    lines = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in description.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _write_file(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_path(path: Path) -> None:
    """Flush a file's or a folder's entry to disk (a folder: so that a rename survives power loss)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the data itself was synced
    finally:
        os.close(descriptor)


# ------------------------------------------------------------------------------ measure-latency


@dataclass(frozen=True)
class LatencySettings:
    """How ``measure_latency`` measures (frames and dioptres; defaults suit a VCM at 30-120 fps)."""

    steps: int = 8
    """Lens steps (alternately away from and back to the sharp position) whose latencies are taken."""
    max_latency_frames: int = 8
    """Frames after a command within which the change must show; more is reported as an error."""
    settle_frames: int = 3
    """Frames after max_latency_frames + 1 before the lens counts as settled at the new position."""
    level_frames: int = 6
    """Frames averaged for the settled focus measure (and its frame-to-frame noise) at a position."""
    noise_sigmas: float = 6.0
    """A frame counts as changed when the logarithm of its measure differs from the settled level's
    by more than this many standard deviations of the settled frames' (log) measure..."""
    min_change_fraction: float = 0.05
    """...and by more than this fraction of the whole step's change of the log measure (a guard
    against a slow drift being taken for the move). A log scale because the measure spans one to
    two orders of magnitude between sharp and blurred: a frame exposed partly before the move is
    then still clearly changed, where a linear fraction would need most of the exposure moved."""
    min_contrast_ratio: float = 1.1
    """The sharp position's measure must be at least this factor above the far one's, or the scene
    holds too little detail to see the lens move (a featureless wall, the dark)."""
    scan_points: int = 7
    """Lens positions of the first, slow scan that finds the sharp and the blurred position."""


@dataclass
class LatencyMeasurement:
    """The result of ``measure_latency``."""

    per_step: list[int]  #: the latency seen on each step, frames
    positions: tuple[float, float]  #: (sharp, blurred) positions stepped between, dioptres
    contrast_ratio: float  #: settled focus measure at the sharp position / at the blurred one
    frame_duration_ns: int
    targets: tuple[float, ...] = ()  #: where the timed steps went from the sharp position, in turn

    @property
    def latency_frames(self) -> int:
        """The value to configure: the median, the higher middle value of an even count (waiting
        one frame too long costs a frame; one too short reads a stale frame as the new position)."""
        return int(statistics.median_high(self.per_step))

    @property
    def median(self) -> float:
        return float(statistics.median(self.per_step))

    @property
    def spread(self) -> tuple[int, int]:
        return (min(self.per_step), max(self.per_step))

    def _figures(self) -> str:
        low, high = self.spread
        span = f"{low}" if low == high else f"{low}-{high}"
        return f"median {self.median:g}, range {span} over {len(self.per_step)} steps"

    def config_line(self) -> str:
        """The ``[af] lens_latency_frames`` line: the measured end-to-end latency, as it is."""
        return f"lens_latency_frames = {self.latency_frames}   # measured end to end: {self._figures()}"

    def profile_line(self, queue_frames: int = 0) -> str:
        """The profile's ``lens_latency_frames`` line: the measured latency less the ``queue_frames``
        a command waited in the camera's own request queue (``Camera.lens_queue_frames``), which
        the daemon adds back (a profile counts from the ISP)."""
        value = max(self.latency_frames - queue_frames, 0)
        less = f", less {queue_frames} queued in the camera" if queue_frames else ""
        return f"lens_latency_frames = {value}   # measured: {self._figures()}{less}"


def measure_latency(camera: Camera, window: tuple[float, float, float, float],
                    settings: LatencySettings = LatencySettings(), *, lens_range: tuple[float, float] | None = None,
                    positions: tuple[float, float] | None = None, measure_kind: str = "gradient",
                    frame_timeout_s: float = 2.0, max_slew: float | None = None) -> LatencyMeasurement:
    """Measure the lens command latency of a started camera from the focus measure's step response.

    A slow scan (every position waited on for max_latency_frames + settle_frames) finds the sharp
    and the most blurred position of the scene in ``window``, unless ``positions`` gives them.
    Then ``settings.steps`` times the lens settles at the sharp position and is stepped away from
    it, alternately to the blurred position and (when the scan found one blurred enough) to the
    other side of the peak; each step is commanded right after a frame n of the settled lens, and
    its latency is k - 1 for the first frame n + k whose log measure has left the settled level
    (beyond the noise and min_change_fraction of the step).

    ``max_slew`` (D; the IPA's limit per LensPosition write, focusd.lens_path): each timed step goes
    at most that far from the sharp position, so that it lands in the one write it is timed by, and
    longer moves are walked a max_slew per frame, as the engine walks them.
    Raises FocusdError when the scene shows no usable change or the change comes too late.
    """
    if settings.steps < 1 or settings.level_frames < 2 or settings.max_latency_frames < 0:
        raise ValueError("need steps >= 1, level_frames >= 2 and max_latency_frames >= 0")
    measure = FocusMeasure(window, measure_kind)
    span = lens_range or camera.lens_range
    wait = settings.max_latency_frames + 1 + settings.settle_frames

    lens = {"at": None}  # the last position commanded (None: not known yet)
    # the first move may come from anywhere: the IPA finishes it a max_slew per run of its controller
    # (at most every 4th frame, at 120 fps)
    first_wait = 0 if max_slew is None else 4 * math.ceil((span[1] - span[0]) / max_slew)

    def walk_to(position: float) -> int:
        """Command the lens to ``position``, a max_slew per frame; the sequence of the frame the
        last command was sent from."""
        at = lens["at"]
        while True:
            target = position
            if max_slew is not None and at is not None:
                target = min(max(position, at - max_slew), at + max_slew)
            sequence = command_after_frame(camera, target, frame_timeout_s)
            at = lens["at"] = target
            if abs(target - position) <= 1e-9:
                return sequence

    def settled_levels(position: float, then: float | None = None) -> tuple[int, list[float]]:
        """Move to ``position``, wait until it has surely settled, return the last frame's
        sequence and the measures of level_frames frames; command ``then`` (if given) from that
        last frame, before its release (command_after_frame's rule)."""
        first = lens["at"] is None
        sequence = walk_to(position)
        frame = frame_at_or_after(camera, sequence + wait + (first_wait if first else 0), frame_timeout_s)
        values = []
        while True:
            try:
                values.append(measure(frame.y).focus)
                sequence = frame.sequence
                if len(values) == settings.level_frames and then is not None:
                    camera.set_lens_position(then)
                    lens["at"] = then
            finally:
                frame.release()
            if len(values) == settings.level_frames:
                return sequence, values
            frame = _next_frame(camera, frame_timeout_s)

    targets: list[float]
    if positions is None:
        scan = [float(p) for p in np.linspace(span[0], span[1], max(2, settings.scan_points))]
        means = [statistics.fmean(settled_levels(p)[1]) for p in scan]
        sharpest = int(np.argmax(means))
        sharp, blurred = scan[sharpest], scan[int(np.argmin(means))]
        targets = [blurred]
        # the other side of the peak too, when it is blurred enough: steps both up and down
        other_side = [i for i, p in enumerate(scan) if (p - sharp) * (blurred - sharp) < 0]
        if other_side:
            other = min(other_side, key=lambda i: means[i])
            if means[sharpest] >= 2 * settings.min_contrast_ratio * means[other]:
                targets.append(scan[other])
    else:
        sharp, blurred = float(positions[0]), float(positions[1])
        targets = [blurred]
    if max_slew is not None:
        # each timed step lands whole in one write
        targets = [sharp + max(min(target - sharp, max_slew), -max_slew) for target in targets]
    contrast_ratio = 0.0
    per_step: list[int] = []
    for step in range(settings.steps):
        # Every timed step leaves the sharp position: the first frame exposed after the lens began
        # to move is less sharp at once, whichever way it goes. Arriving at focus is not timed: a
        # long move can take more than a frame to come near enough to show (10 D at 120 fps, with
        # a few ms of VCM settling), which would read a frame late.
        # the step is commanded from frame last_sequence, before its release
        last_sequence, levels = settled_levels(sharp, then=targets[step % len(targets)])
        response: list[tuple[int, float]] = []  # (frames after the command, measure)
        while not response or response[-1][0] < wait + settings.level_frames - 1:
            frame = _next_frame(camera, frame_timeout_s)
            try:
                response.append((frame.sequence - last_sequence, measure(frame.y).focus))
            finally:
                frame.release()
        new_levels = [value for offset, value in response if offset >= wait][-settings.level_frames:]
        if len(new_levels) < 2:
            new_levels = [value for _, value in response[-settings.level_frames:]]
        latency, ratio = _step_latency(levels, new_levels, response, settings)
        contrast_ratio = max(contrast_ratio, ratio)
        per_step.append(latency)
    return LatencyMeasurement(per_step=per_step, positions=(sharp, blurred), contrast_ratio=contrast_ratio,
                              frame_duration_ns=int(camera.frame_duration_ns), targets=tuple(targets))


def _step_latency(old: list[float], new: list[float], response: list[tuple[int, float]],
                  settings: LatencySettings) -> tuple[int, float]:
    """The latency of one step: frames after the command before the measure left ``old``."""
    floor = 1e-12  # a measure of exactly 0 (a flat window) must not break the logarithm
    old_log = [math.log(max(v, floor)) for v in old]
    new_log = [math.log(max(v, floor)) for v in new]
    old_level, new_level = statistics.fmean(old_log), statistics.fmean(new_log)
    noise = max(statistics.stdev(old_log), statistics.stdev(new_log))
    change = abs(new_level - old_level)
    ratio = math.exp(change)
    if ratio < settings.min_contrast_ratio or change <= 2 * settings.noise_sigmas * noise:
        raise FocusdError(
            f"the focus measure hardly changes when the lens moves (sharp/blurred {ratio:.2f}, needed "
            f"{settings.min_contrast_ratio:g}): point the camera at a detailed, well-lit subject and try again")
    threshold = max(settings.noise_sigmas * noise, settings.min_change_fraction * change)
    for offset, value in response:
        if abs(math.log(max(value, floor)) - old_level) > threshold:
            if offset - 1 > settings.max_latency_frames:
                break
            return max(offset - 1, 0), ratio
    raise FocusdError(f"no change of the focus measure within {settings.max_latency_frames + 1} frames of a "
                      f"lens command: the lens may not be moving (is AfMode Manual?), or raise max_latency_frames")
