"""Real focal stacks on disk (docs/design.md, "A focus sweep on disk"), read, written and replayed.

Why this module exists: procedural textures only approximate real focus curves; a sweep recorded
by a real camera (``focusd record-sweep`` on a Pi, or the real stacks shipped in
focusd/bench/stacks) carries the real lens's blur, breathing and brightness changes.
``SweepScene`` replays one through the same sensor-noise and lores path as the textures, so an
engine can be run on it frame by frame.

Replay: each frame is mapped onto the sensor's full field (centre-cropped to its aspect), cut to
the sensor mode's crop and area-resized to the lores size, once. A lens position between two
frames' positions is a linear blend of the two; beyond either end, the end frame is blurred
further by a disk that grows with the distance past the end at the stack's own rate (focus falls
per frame step as fast as it changed over either of the last two steps: a stack's frame spacing in
dioptres is a declared number, not the profile's optics; either, because an end frame as sharp as
its neighbour has the peak between them, and past it focus falls as it rose), so a search that
overshoots sees focus keep falling as it would have had the stack gone on. The photographs'
sRGB codes are linearised and treated as reflectance (the AE rescales them anyway). The main
stream of a replay is the nearest frames' blend at main size, without the extra blur past the ends.

Truth: the lens position of the sharpest frame in the default AF window, by the brightness-
normalised gradient energy at one-pixel spacing on the grey frames at working size (no
interpolation between frames: with ~1 D between frames the truth is known to about half a step).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from focusd.errors import SweepError
from focusd.sim.geometry import AF_WINDOW, Geometry
from focusd.sim.optics import BlurStack
from focusd.sim.sensor import srgb_to_linear

#: sweep.json's "format" (docs/design.md, "A focus sweep on disk"), also focusd.tools.sweeps'
SWEEP_FORMAT = "focusd-sweep/1"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: frames are downscaled once at load to at most this width (pixels)
WORKING_WIDTH = 1536


@dataclasses.dataclass(eq=False)
class Sweep:
    """A loaded sweep: grey frames (linear, float32, working size) in focus order with their lens
    positions (dioptres)."""

    frames: list[np.ndarray]
    lens_positions: np.ndarray
    files: list[str]
    lens_range: tuple[float, float] | None = None
    camera: str = ""
    notes: str = ""
    folder: str = ""
    sensor_mode: tuple[int, int] | None = None
    """The sensor mode (output size) the frames were recorded in, when sweep.json says
    (``focusd record-sweep`` writes it): a cropped mode's frames show only its crop of the sensor."""

    def focus_curve(self, window: tuple[float, float, float, float] = AF_WINDOW) -> np.ndarray:
        """Brightness-normalised gradient energy of each frame inside ``window`` (frame fractions)."""
        values = []
        for frame in self.frames:
            h, w = frame.shape
            x, y, fw, fh = window
            cut = to_codes(frame[int(y * h):int((y + fh) * h), int(x * w):int((x + fw) * w)])
            energy = (np.diff(cut, axis=0) ** 2).mean() + (np.diff(cut, axis=1) ** 2).mean()
            values.append(energy / max(float(cut.mean()) ** 2, 1e-9))
        return np.array(values)

    @property
    def truth_dioptres(self) -> float:
        """The lens position of the sharpest frame in the default AF window (module docstring)."""
        return float(self.lens_positions[int(np.argmax(self.focus_curve()))])


def to_codes(linear: np.ndarray) -> np.ndarray:
    """Linear 0-1 back to sRGB-coded 0-255 floats (what a focus measure sees)."""
    v = np.clip(linear, 0.0, 1.0)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(v, 1 / 2.4) - 0.055).astype(np.float32) * 255.0


def _check_range(value, where: str, need_span: bool = True) -> tuple[float, float]:
    """Two dioptre values, returned in ascending order; ``need_span``: they must differ."""
    try:
        low, high = sorted(float(v) for v in value)
    except (TypeError, ValueError):
        raise SweepError(f"{where}: lens_range must be two numbers (dioptres), got {value!r}") from None
    if low < 0 or (need_span and not low < high):
        raise SweepError(f"{where}: lens_range must be two different dioptre values >= 0, got {value!r}")
    return low, high


def _read_image(path: Path, working_width: int) -> np.ndarray:
    try:
        with Image.open(path) as image:
            grey = image.convert("L")
            if grey.width > working_width:
                height = max(1, round(grey.height * working_width / grey.width))
                grey = grey.resize((working_width, height), Image.BOX)
            return srgb_to_linear(np.asarray(grey, dtype=np.uint8))
    except FileNotFoundError:
        raise SweepError(f"{path}: frame file is missing") from None
    except (UnidentifiedImageError, OSError) as error:
        raise SweepError(f"{path}: not a readable PNG/JPEG image ({error})") from None


def load_sweep(folder: str | os.PathLike, lens_range: tuple[float, float] | None = None,
               working_width: int = WORKING_WIDTH) -> Sweep:
    """Read a sweep folder: ``sweep.json`` (docs/design.md, "A focus sweep on disk"), or a plain
    folder of images in file-name order evenly spaced over ``lens_range`` (required then). Raises
    SweepError naming the problem."""
    root = Path(folder)
    if not root.is_dir():
        raise SweepError(f"{root}: not a folder")
    meta_path = root / "sweep.json"
    camera = notes = ""
    positions = None
    sensor_mode = None
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SweepError(f"{meta_path}: not valid JSON ({error})") from None
        if not isinstance(meta, dict) or meta.get("format") != SWEEP_FORMAT:
            raise SweepError(f"{meta_path}: format must be {SWEEP_FORMAT!r}, got {meta.get('format') if isinstance(meta, dict) else meta!r}")
        files = meta.get("frames")
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            raise SweepError(f"{meta_path}: frames must be a non-empty list of file names")
        if "lens_positions" in meta and meta["lens_positions"] is not None:
            raw = meta["lens_positions"]
            if (not isinstance(raw, list) or len(raw) != len(files)
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)):
                raise SweepError(f"{meta_path}: lens_positions must be {len(files)} numbers, one per frame")
            positions = np.array(raw, dtype=np.float64)
        if meta.get("lens_range") is not None:
            file_range = _check_range(meta["lens_range"], f"{meta_path}", need_span=positions is None)
            lens_range = lens_range or file_range
        camera, notes = str(meta.get("camera", "")), str(meta.get("notes", ""))
        if meta.get("sensor_mode") is not None:
            mode = meta["sensor_mode"]
            if (not isinstance(mode, list) or len(mode) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in mode)):
                raise SweepError(f"{meta_path}: sensor_mode must be [width, height] in pixels, got {mode!r}")
            sensor_mode = (mode[0], mode[1])
        where = str(meta_path)
    else:
        files = sorted(p.name for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SweepError(f"{root}: no sweep.json and no PNG/JPEG frames")
        where = str(root)
    if positions is None:
        if lens_range is None:
            raise SweepError(f"{where}: lens_range is required (no lens_positions): give the range the "
                             "frames were taken over, e.g. lens_range=(0, 12)")
        low, high = _check_range(lens_range, where)
        positions = np.linspace(low, high, len(files)) if len(files) > 1 else np.array([low])
    elif lens_range is not None:
        lens_range = _check_range(lens_range, where)
    frames = [_read_image(root / name, working_width) for name in files]
    shape = frames[0].shape
    for name, frame in zip(files, frames):
        if frame.shape != shape:
            raise SweepError(f"{root / name}: size {frame.shape[::-1]} differs from the first frame's {shape[::-1]}")
    return Sweep(frames, positions, list(files), tuple(lens_range) if lens_range else None, camera, notes, str(root),
                 sensor_mode)


def write_sweep(folder: str | os.PathLike, images, lens_positions=None, lens_range=None,
                camera: str = "", notes: str = "") -> Path:
    """Write ``images`` (2-D grey or (H, W, 3) RGB uint8 arrays, in focus order) as ``NNN.png`` and
    ``sweep.json`` (written last, atomically). Returns the sweep.json path."""
    images = list(images)
    if not images:
        raise SweepError(f"{folder}: no images to write")
    if lens_positions is not None:
        lens_positions = [float(v) for v in lens_positions]
        if len(lens_positions) != len(images):
            raise SweepError(f"{folder}: {len(lens_positions)} lens_positions for {len(images)} images")
    if lens_positions is None and lens_range is None:
        raise SweepError(f"{folder}: give lens_positions or lens_range")
    if lens_range is not None:
        lens_range = list(_check_range(lens_range, str(folder)))
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    names = []
    for index, image in enumerate(images):
        array = np.asarray(image)
        if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
            raise SweepError(f"{folder}: image {index} must be uint8 grey (H, W) or RGB (H, W, 3)")
        name = f"{index:03d}.png"
        Image.fromarray(array).save(root / name)
        names.append(name)
    meta = {"format": SWEEP_FORMAT, "frames": names}
    if lens_positions is not None:
        meta["lens_positions"] = lens_positions
    if lens_range is not None:
        meta["lens_range"] = lens_range
    if camera:
        meta["camera"] = camera
    if notes:
        meta["notes"] = notes
    path = root / "sweep.json"
    temporary = root / ".sweep.json.tmp"
    with open(temporary, "w") as handle:
        json.dump(meta, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return path


class SweepScene:
    """A sweep replayed as a scene (see the module docstring). Static: time does not matter."""

    def __init__(self, sweep: Sweep, truth: float | None = None):
        self.sweep = sweep
        order = np.argsort(sweep.lens_positions, kind="stable")
        self.positions = sweep.lens_positions[order]
        self._frames = [sweep.frames[i] for i in order]
        # the truth of the default AF window unless the caller knows it for its own window
        self._truth = sweep.truth_dioptres if truth is None else float(truth)
        self.name = f"sweep:{Path(sweep.folder).name}"

    def truth_dioptres(self, time_s: float = 0.0) -> float:
        return self._truth

    def depths(self, time_s: float = 0.0) -> dict[str, float]:
        return {"background": self._truth}

    def renderer(self, geometry: Geometry) -> "SweepRenderer":
        return SweepRenderer(self, geometry)

    def frames_on_sensor(self, geometry: Geometry, scale: int = 1) -> list[np.ndarray]:
        """Each frame on the lores grid (``scale`` x finer) of the whole frame: the photo's centre
        cut to the aspect of the sensor area it shows (the full field, or the crop of the mode it
        was recorded in), then the replay mode's crop of that area."""
        rx, ry, rw, rh = self._recorded_area(geometry)
        cx, cy, cw, ch = geometry.mode.crop
        lw, lh = geometry.lores_size
        out = []
        for frame in self._frames:
            h, w = frame.shape
            field_w, field_h = (w, w * rh / rw) if w / h < rw / rh else (h * rw / rh, h)
            ox, oy = (w - field_w) / 2, (h - field_h) / 2
            # a replay mode wider than the recorded one sees no more than was recorded: clipped
            box = (max(0.0, ox + (cx - rx) / rw * field_w), max(0.0, oy + (cy - ry) / rh * field_h),
                   min(float(w), ox + (cx + cw - rx) / rw * field_w), min(float(h), oy + (cy + ch - ry) / rh * field_h))
            image = Image.fromarray(frame.astype(np.float32), mode="F")
            out.append(np.asarray(image.resize((lw * scale, lh * scale), Image.BOX, box=box), dtype=np.float32))
        return out


    def _recorded_area(self, geometry: Geometry) -> tuple[int, int, int, int]:
        """The sensor area (full-resolution pixels) the frames show: the recorded mode's crop when
        the sweep names a mode of this profile, else the whole sensor (a photograph's field)."""
        full_w, full_h = geometry.profile.full_resolution
        recorded = self.sweep.sensor_mode
        if recorded is not None:
            for mode in geometry.profile.modes:
                if tuple(mode.size) == tuple(recorded):
                    return tuple(mode.crop)
        return (0, 0, full_w, full_h)


def _gradient_energy(linear: np.ndarray) -> float:
    codes = to_codes(linear)
    return float((np.diff(codes, axis=0) ** 2).mean() + (np.diff(codes, axis=1) ** 2).mean()) / max(
        float(codes.mean()) ** 2, 1e-9)


#: The fall of the focus measure per frame step past an end of a stack is kept within these
#: bounds (a stack whose last two frames are equally sharp still falls off past its end)
END_FALL_PER_STEP = (0.3, 0.85)


def _end_blur_rate(padded: np.ndarray, frames: list[np.ndarray], gaps: list[float], out, optics,
                   widest: float) -> float:
    """Lores pixels of blur-disk diameter per dioptre past an end of a stack. ``frames``: the end
    frame and the one or two next to it, ``gaps``: dioptres between consecutive ones. The blur is
    the one that makes the end frame's measure fall over the first gap as much as it changed over
    either of the last two (the faster; the stack's own rate of focus: the camera's optics need not
    be the profile's), within END_FALL_PER_STEP. Either of the two, because the frame next to the
    end may be as sharp as the end (the peak lies between them): focus still falls off past the
    end as it rose towards it. Bisection."""
    energies = [_gradient_energy(frame) for frame in frames]
    falls = [min(a, b) / max(a, b, 1e-12) for a, b in zip(energies, energies[1:])]
    # the second pair's change over the first pair's gap
    falls = [fall ** (gaps[0] / gap) for fall, gap in zip(falls, gaps)]
    wanted = energies[0] * min(max(min(falls), END_FALL_PER_STEP[0]), END_FALL_PER_STEP[1])
    pixels = BlurStack(padded, 1.0, 0.0, dataclasses.replace(optics, max_defocus_dioptres=widest), out)
    low, high = 0.0, widest
    for _ in range(14):
        middle = (low + high) / 2
        if _gradient_energy(pixels.render(middle)) > wanted:
            low = middle
        else:
            high = middle
    return max(high, 0.05) / gaps[0]


class SweepRenderer:
    """Renders a SweepScene's linear image over the geometry's region. Past either end of the
    stack, the end frame is blurred by a disk that grows at the stack's own rate (focus falls per
    frame step as fast as it changed over either of the last two steps, within END_FALL_PER_STEP)."""

    def __init__(self, scene: SweepScene, geometry: Geometry):
        self.scene = scene
        self.geometry = geometry
        x, y, w, h = geometry.region
        full = scene.frames_on_sensor(geometry)
        self._frames = [np.ascontiguousarray(f[y:y + h, x:x + w]) for f in full]
        self.mean_reflectance = float(np.mean([f.mean() for f in self._frames]))
        optics = dataclasses.replace(geometry.optics, oversample=1)
        margin = geometry.margin
        out = (slice(margin, margin + h), slice(margin, margin + w))
        # the widest blur the margin holds without the FFT wrapping round, lores pixels
        widest = 2.0 * (margin - 4)
        positions = scene.positions
        self._ends = []
        for end, inner in ((0, 1), (-1, -2)):
            padded = np.pad(full[end], margin, mode="reflect")[y:y + h + 2 * margin, x:x + w + 2 * margin]
            rate = geometry.lores_px_per_dioptre  # a single frame: the profile's optics
            if len(full) > 1:
                nearest = [end, inner, inner + (inner - end)][:min(3, len(full))]
                rate = _end_blur_rate(padded, [self._frames[i] for i in nearest],
                                      [abs(positions[i] - positions[j]) for i, j in zip(nearest, nearest[1:])],
                                      out, optics, widest)
            self._ends.append(BlurStack(padded, rate, 0.0,
                                        dataclasses.replace(optics, max_defocus_dioptres=widest / rate), out))
        self._main: list[np.ndarray] | None = None

    def _blend(self, frames: list[np.ndarray], position: float, ends) -> np.ndarray:
        positions = self.scene.positions
        if position <= positions[0]:
            return ends[0](positions[0] - position) if ends else frames[0]
        if position >= positions[-1]:
            return ends[1](position - positions[-1]) if ends else frames[-1]
        upper = int(np.searchsorted(positions, position, side="right"))
        lower = upper - 1
        weight = (position - positions[lower]) / (positions[upper] - positions[lower])
        return frames[lower] + np.float32(weight) * (frames[upper] - frames[lower])

    def render(self, samples: list[tuple[float, float]], time_s: float) -> np.ndarray:
        ends = (self._ends[0].sample, self._ends[1].sample)
        total = None
        for position, weight in samples:
            image = self._blend(self._frames, position, ends)
            if len(samples) == 1:
                return image
            total = image * np.float32(weight) if total is None else total + image * np.float32(weight)
        return total

    def render_main(self, position: float, time_s: float) -> np.ndarray:
        if self._main is None:
            self._main = self.scene.frames_on_sensor(self.geometry, self.geometry.optics.oversample)
        return np.ascontiguousarray(self._blend(self._main, position, None), dtype=np.float32)
