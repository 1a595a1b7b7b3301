"""The simulated camera rig: scene, lens, sensor and ISP on one virtual clock.

Why this module exists: it is the single place where a frame is made the way a Pi makes one, in
order: the lens command's way through the request queue and the IPA (latency, the slew-limited
lens state of libcamera's af.cpp, focusd.lens_path), the glass's position over each row's exposure
(the rolling shutter and the unknown moment the glass moves, focusd.sim.lens), the blur of each
depth, the sensor's exposure and noise, the mode's binning and the ISP's downscale to the lores
Y plane, and the metadata the Pi would report (``LensPosition``: the IPA's slewed lens state after
that frame's request). The AF engine, the benchmark and the daemon's simulated camera all drive it
through ``next_frame`` and ``set_lens_position``.

Timing (virtual clock, nanoseconds from 0): frame k's last row is read out at (k + 1) *
frame_duration, its first ``readout_fraction`` of a frame earlier; each row is exposed for
``exposure_time`` ending at its readout; ``timestamp_ns`` is the start of the last row's exposure.
The request of frame k reaches the IPA when frame k has been read out: its lens write is applied
then (the metadata of frame k shows it), the controller may run, and the glass moves to the IPA's
state ``move_phase`` frames later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from focusd.errors import ConfigError, LensError
from focusd.lens_path import ControllerClock, IpaLens
from focusd.config.profiles import CameraProfile, load_profile
from focusd.sim.geometry import AF_WINDOW, Geometry
from focusd.sim.lens import LensModel, LensTimeline
from focusd.hw.base import RawImage
from focusd.sim.optics import OpticsModel
from focusd.sim.raw import bayer
from focusd.sim.sensor import (
    ASSIST_LAMP_LUX_AT_1M, TONE_LUT, LUT_SIZE, NoiseBank, SensorModel, auto_exposure, expose, light_lux,
)


@dataclass
class SimFrame:
    """One simulated lores frame and its metadata (see focusd.sim's API notes)."""

    y: np.ndarray  #: lores Y plane, 2-D uint8
    sequence: int
    lens_position: float  #: metadata: the IPA's slewed lens state after this frame's request
    timestamp_ns: int  #: start of the exposure, virtual clock
    exposure_time_us: float
    analogue_gain: float
    lens_actual: float  #: true mean lens position over the rendered rows' exposures (tests and the bench only)
    time_s: float  #: middle of the exposure, seconds: the scene time of this frame
    frame_duration_us: float = 0.0
    lens_moving: bool = False  #: the glass moved during some rendered row's exposure (simulator truth)
    #: share (0-1) of the frame's exposure, first row's start to last row's end, the AF-assist lamp
    #: was lit (simulator truth)
    assist_lit: float = 0.0


class SimRig:
    """A scene seen through a profile's lens and sensor (see the module docstring).

    ``window`` (frame fractions x, y, w, h) renders only that part of the lores frame (plus a few
    pixels) and fills the rest with its mean level: for the benchmark's speed only.
    """

    def __init__(self, scene, profile: CameraProfile | None = None, mode: tuple[int, int] | None = None,
                 lores_size: tuple[int, int] | None = None, light: str | float = "bright",
                 latency_frames: int | None = None, start_lens: float = 1.0, seed: int = 0,
                 window: tuple[float, float, float, float] | None = None,
                 optics: OpticsModel = OpticsModel(), sensor: SensorModel = SensorModel(),
                 lens: LensModel = LensModel(), assist_lux: float = ASSIST_LAMP_LUX_AT_1M):
        self.scene = scene
        self.profile = profile if profile is not None else load_profile("imx708")
        self.mode = self.profile.mode(tuple(mode) if mode is not None else None)
        lores = tuple(int(v) for v in (lores_size or self.profile.lores_size))
        if lores[0] > self.mode.size[0] or lores[1] > self.mode.size[1] or min(lores) <= 0:
            raise ConfigError("camera.lores_size", f"{lores[0]}x{lores[1]} must be positive and no larger than "
                              f"the sensor mode {self.mode.size[0]}x{self.mode.size[1]} (picamera2 refuses it)")
        self.lores_size = lores
        self.latency_frames = self.profile.lens_latency_frames if latency_frames is None else int(latency_frames)
        if self.latency_frames < 0:
            raise ConfigError("latency_frames", f"must be >= 0, got {latency_frames!r}")
        self.sensor_model = sensor
        self.window = window
        self.geometry = Geometry.build(self.profile, self.mode.size, lores, optics, window)
        self._renderer = scene.renderer(self.geometry)
        self._main_renderer = None if window is not None else self._renderer
        self._rng = np.random.default_rng([seed, 7])
        self._noise = NoiseBank((self.geometry.region[3], self.geometry.region[2]),
                                np.random.default_rng([seed, 11]), sensor.noise_bank_frames)
        self._main_rng = np.random.default_rng([seed, 13])
        self.frame_duration_ns = self.mode.frame_duration_ns
        self._next_sequence = 0
        self.commanded = self.clamp(start_lens)
        self.lens_model = lens
        self.lens = LensTimeline(self.commanded)
        slewed = lens.slew_limited and self.profile.lens_driver == "libcamera"
        self.ipa = IpaLens(self.commanded, self.profile.max_slew if slewed else None, self.profile.lens_range)
        self._controller = ControllerClock()
        self._writes: dict[int, float] = {}  # request (frame) index -> LensPosition it carries
        self._prepared = -1  # the last request the IPA has applied
        self._reported: dict[int, float] = {}  # frame -> metadata LensPosition
        lores_h = lores[1]
        top, rows = self.geometry.region[1], self.geometry.region[3]
        # each rendered row's place in the rolling shutter (0 first row, 1 last)
        self._row_fraction = (np.arange(top, top + rows, dtype=np.float64) + 0.5) / lores_h
        self._manual_exposure: tuple[float, float] | None = None  # the exposure lock's (set_exposure)
        # the configured exposure (set_exposure_program): fixed time (s) and gain, compensation (stops)
        self._fixed_exposure: tuple[float | None, float | None] = (None, None)
        self._compensation_ev = 0.0
        self._raw_rng = np.random.default_rng([seed, 17])
        self._main_render: tuple[SimFrame, np.ndarray] | None = None  # the last frame's main reflectance
        self._gains: tuple[float, float] | None = None  # the last frame's lamp gains (AE, main image)
        self.set_light(light)
        self._exposure_product = self._ae_wanted()  # start converged
        self.assist_lux = float(assist_lux)  #: the AF-assist lamp's illuminance at 1 m, lux
        self._lamp_spans: list[list[float]] = []  # [on_ns, off_ns (inf while lit)], virtual clock
        self.last_frame: SimFrame | None = None
        self._flat_frames: dict[int, np.ndarray] = {}

    # ------------------------------------------------------------------------------ controls

    @property
    def lens_range(self) -> tuple[float, float]:
        return tuple(self.profile.lens_range)

    def clamp(self, dioptres: float) -> float:
        low, high = self.profile.lens_range
        return min(max(float(dioptres), low), high)

    def set_lens_position(self, dioptres: float) -> None:
        """Command the lens now (clamped to the lens range): the write goes out with the request of
        frame (last delivered + latency), which the IPA applies once that frame has been read out."""
        if not math.isfinite(dioptres):
            raise LensError(f"lens position must be a finite number of dioptres, got {dioptres!r}")
        self.commanded = self.clamp(dioptres)
        request = self._next_sequence - 1 + self.latency_frames
        if request > self._prepared:
            self._writes[request] = self.commanded  # a later write to the same request wins
        else:
            # latency 0: that request's frame is already out; the IPA applies the write now
            self._apply(request, self.commanded)

    def _apply(self, request: int, target: float | None) -> None:
        """The IPA's prepareIsp of ``request``: its write, the metadata, the controller's run, and
        the glass set moving to the new state move_phase frames after that frame's readout."""
        before = self.ipa.position
        if target is not None:
            self.ipa.write(target)
        self._reported[request] = self.ipa.position
        readout_ns = (request + 1) * self.frame_duration_ns
        if self._controller.runs(readout_ns):
            self.ipa.controller_run()
        if self.ipa.position != before:
            self.lens.step((readout_ns + self.lens_model.move_phase * self.frame_duration_ns) / 1e9,
                           self.ipa.position)

    def _prepare_through(self, request: int) -> None:
        while self._prepared < request:
            self._prepared += 1
            self._apply(self._prepared, self._writes.pop(self._prepared, None))

    def set_light(self, light: str | float) -> None:
        """Change the light (a LIGHT_LEVELS name or lux); the auto exposure follows over frames."""
        self.light = light
        profile = self.profile
        self._electrons_per_s = light_lux(light) * self.sensor_model.electrons_per_lux_s(
            profile.pixel_size_um, profile.f_number)

    def set_assist_lamp(self, lit: bool, at_ns: int | None = None) -> None:
        """The AF-assist lamp switched at ``at_ns`` (virtual clock; default now). Its light on each
        layer is ``assist_lux / d^2`` at the layer's distance d (m), added to the scene's; a frame
        gets it for the share of its exposure the lamp was lit (uniform over the rows: an
        approximation of the rolling shutter's row-by-row share)."""
        at = float(self.now_ns() if at_ns is None else at_ns)
        lit_now = bool(self._lamp_spans) and self._lamp_spans[-1][1] == float("inf")
        if lit and not lit_now:
            self._lamp_spans = [*self._lamp_spans[-32:], [at, float("inf")]]
        elif not lit and lit_now:
            self._lamp_spans[-1][1] = at

    def _lamp_share(self, start_ns: float, end_ns: float) -> float:
        lit = sum(max(0.0, min(off, end_ns) - max(on, start_ns)) for on, off in self._lamp_spans)
        return min(lit / max(end_ns - start_ns, 1.0), 1.0)

    def _lamp_gains(self, share: float, time_s: float) -> tuple[float, float] | None:
        """(background, subject) light relative to the scene's with the lamp lit ``share`` of the exposure."""
        if share <= 0.0 or self.assist_lux <= 0.0 or not hasattr(self._renderer, "lit_mean"):
            return None  # (a recorded sweep has no depths to light)
        depths = self.scene.depths(time_s)
        ambient = light_lux(self.light)

        def gain(dioptres: float) -> float:
            return 1.0 + share * self.assist_lux * dioptres * dioptres / ambient  # 1/d^2 = D^2

        return gain(depths["background"]), gain(depths.get("subject", depths["background"]))

    def set_exposure(self, exposure_us: float | None = None, analogue_gain: float = 1.0) -> None:
        """Fix the exposure (microseconds, capped at the frame duration) and gain; None: back to auto."""
        if exposure_us is None:
            self._manual_exposure = None
            return
        frame_us = self.frame_duration_ns / 1e3
        gain = min(max(float(analogue_gain), 1.0), self.sensor_model.max_analogue_gain)
        self._manual_exposure = (min(max(float(exposure_us), 1.0), frame_us) / 1e6, gain)

    def set_exposure_program(self, exposure_us: float | None = None, analogue_gain: float | None = None,
                             compensation_ev: float = 0.0) -> None:
        """The configured exposure (``[exposure]``): a fixed exposure time (microseconds, capped at
        the frame duration) and/or gain (clamped to the sensor's), auto exposure choosing the other;
        ``compensation_ev`` stops added to the auto exposure's target."""
        frame_s = self.frame_duration_ns / 1e9
        fixed_s = None if exposure_us is None else min(max(float(exposure_us), 1.0) / 1e6, frame_s)
        gain = None if analogue_gain is None else min(max(float(analogue_gain), 1.0), self.sensor_model.max_analogue_gain)
        self._fixed_exposure = (fixed_s, gain)
        self._compensation_ev = float(compensation_ev)
        self._exposure_product = self._ae_wanted()  # converged on the new target

    def warm(self) -> None:
        """Render nothing lazily from here on: every blur level the scene can need, computed now
        (seconds, once per scene; the recorded sweeps' renderers need none)."""
        warm = getattr(self._renderer, "warm", None)
        if warm is not None:
            warm()

    def skip_frames(self, count: int) -> None:
        """Frames the consumer never saw (dropped): the clock and the sequence move on."""
        self._next_sequence += max(0, int(count))

    def now_ns(self) -> int:
        """The virtual clock: the readout time of the last frame delivered."""
        return self._next_sequence * self.frame_duration_ns

    def truth(self) -> float:
        """The scene's truth (dioptres) at the current scene time."""
        t = self.last_frame.time_s if self.last_frame is not None else 0.0
        own = getattr(self._renderer, "truth_dioptres", None)  # for this rig's mode and lores size
        if own is not None and self._renders_af_window():
            return float(own(t))
        return float(self.scene.truth_dioptres(t))

    def _renders_af_window(self) -> bool:
        x, y, w, h = self.geometry.region
        lw, lh = self.lores_size
        wx, wy, ww, wh = AF_WINDOW
        return x <= int(wx * lw) and y <= int(wy * lh) and x + w >= int((wx + ww) * lw) and y + h >= int((wy + wh) * lh)

    # -------------------------------------------------------------------------------- frames

    def _ae_wanted(self) -> float:
        mean = self._renderer.mean_reflectance if self._gains is None else self._renderer.lit_mean(self._gains)
        exposure, gain = auto_exposure(mean * self._electrons_per_s,
                                       self.frame_duration_ns / 1e9, self.sensor_model)
        return exposure * gain * 2.0 ** self._compensation_ev

    def _exposure(self) -> tuple[float, float]:
        if self._manual_exposure is not None:
            return self._manual_exposure
        wanted = self._ae_wanted()
        step = self.sensor_model.ae_speed
        self._exposure_product = math.exp((1 - step) * math.log(self._exposure_product) + step * math.log(wanted))
        frame_s = self.frame_duration_ns / 1e9
        fixed_s, fixed_gain = self._fixed_exposure
        max_gain = self.sensor_model.max_analogue_gain
        if fixed_s is not None:
            exposure = fixed_s
        elif fixed_gain is not None:
            exposure = max(min(self._exposure_product / fixed_gain, frame_s), 20e-6)
        else:
            exposure = max(min(self._exposure_product, frame_s), 20e-6)
        gain = fixed_gain if fixed_gain is not None else min(max(self._exposure_product / exposure, 1.0), max_gain)
        return exposure, gain

    def next_frame(self) -> SimFrame:
        """Expose, read out and deliver the next frame; the virtual clock moves one frame on."""
        sequence = self._next_sequence
        self._prepare_through(sequence)
        exposure_s, gain = self._exposure()
        end_ns = (sequence + 1) * self.frame_duration_ns
        exposure_ns = int(round(exposure_s * 1e9))
        start_ns = end_ns - exposure_ns
        positions, weights = self._row_exposure(end_ns / 1e9, exposure_s)
        time_s = (start_ns + exposure_ns / 2) / 1e9
        first_row_ns = end_ns - self.lens_model.readout_fraction * self.frame_duration_ns - exposure_ns
        lamp_share = self._lamp_share(first_row_ns, end_ns) if self._lamp_spans else 0.0
        self._gains = gains = self._lamp_gains(lamp_share, time_s)
        lit = {} if gains is None else {"gains": gains}
        if len(positions) == 1:
            reflectance = self._renderer.render([(positions[0], 1.0)], time_s, **lit)
        else:
            # each row sees its own mix of the positions the glass held during its exposure
            reflectance = None
            for position, row_weights in zip(positions, weights.T):
                image = self._renderer.render([(position, 1.0)], time_s, **lit) * row_weights[:, None].astype(np.float32)
                reflectance = image if reflectance is None else reflectance + image
        actual = float(np.mean(weights @ np.asarray(positions)))
        region = expose(reflectance, self._electrons_per_s, exposure_s, gain, self.geometry.pixels_averaged,
                        self.sensor_model, self._noise.draw(self._rng))
        y = self._place(region, exposure_s, gain)
        first_row_start = end_ns / 1e9 - self.lens_model.readout_fraction * self.frame_duration_ns / 1e9 - exposure_s
        self.lens.forget_before(first_row_start)
        reported = self._reported[sequence]
        self._reported = {frame: value for frame, value in self._reported.items() if frame > sequence}
        self._next_sequence = sequence + 1
        self.last_frame = SimFrame(y=y, sequence=sequence, lens_position=reported, timestamp_ns=start_ns,
                                   exposure_time_us=exposure_s * 1e6, analogue_gain=gain, lens_actual=actual,
                                   time_s=time_s, frame_duration_us=self.frame_duration_ns / 1e3,
                                   lens_moving=len(positions) > 1, assist_lit=lamp_share)
        return self.last_frame

    def _row_exposure(self, last_readout_s: float, exposure_s: float) -> tuple[list[float], np.ndarray]:
        """The positions the glass held while the rendered rows were exposed, and each row's share
        of its exposure at each: (positions, weights of shape (rows, positions))."""
        readout_s = self.lens_model.readout_fraction * self.frame_duration_ns / 1e9
        ends = last_readout_s - (1.0 - self._row_fraction) * readout_s
        starts = ends - exposure_s
        segments = self.lens.segments(float(starts[0]), float(ends[-1]))
        if len(segments) == 1:
            return [segments[0][2]], np.ones((len(ends), 1))
        weights = np.empty((len(ends), len(segments)))
        for column, (begin, end, _) in enumerate(segments):
            weights[:, column] = np.clip(np.minimum(end, ends) - np.maximum(begin, starts), 0.0, None) / exposure_s
        return [position for _, _, position in segments], weights

    def _place(self, region: np.ndarray, exposure_s: float, gain: float) -> np.ndarray:
        """The rendered region inside the full lores frame; the rest flat at the region's mean level."""
        x, y, w, h = self.geometry.region
        lw, lh = self.lores_size
        if (w, h) == (lw, lh):
            return region
        mean = self._renderer.mean_reflectance if self._gains is None else self._renderer.lit_mean(self._gains)
        mean_code = mean * self._electrons_per_s * exposure_s * gain
        level = int(TONE_LUT[int(min(max(mean_code / self.sensor_model.full_well_e * LUT_SIZE, 0), LUT_SIZE))])
        flat = self._flat_frames.get(level)
        if flat is None:
            flat = self._flat_frames[level] = np.full((lh, lw), level, dtype=np.uint8)
        frame = flat.copy()
        frame[y:y + h, x:x + w] = region
        return frame

    def main_image_of(self, frame: SimFrame):
        """``frame``'s main image, to be rendered when called (any time later): its lens, scene
        time, exposure and lamp light are what it had (only its noise is drawn then)."""
        gains, electrons_per_s = self._gains, self._electrons_per_s

        def render() -> np.ndarray:
            return self._render_main(frame, gains, electrons_per_s)

        return render

    def main_image(self) -> np.ndarray:
        """The last frame's main stream: RGB uint8 at ``oversample`` x the lores size (1536x864 for
        the default lores size), grey scenes replicated to three channels, with the noise of that
        pixel size. Rendered on demand (one inverse FFT per layer, tens of ms)."""
        frame = self.last_frame
        if frame is None:
            raise ConfigError("main_image", "no frame has been delivered yet")
        return self._render_main(frame, self._gains, self._electrons_per_s)

    def _render_main(self, frame: SimFrame, gains, electrons_per_s: float) -> np.ndarray:
        reflectance = self._reflectance_of(frame, gains)
        o = self.geometry.optics.oversample
        noise = self._main_rng.standard_normal(reflectance.shape, dtype=np.float32)
        grey = expose(reflectance, electrons_per_s, frame.exposure_time_us / 1e6, frame.analogue_gain,
                      self.geometry.pixels_averaged / (o * o), self.sensor_model, noise)
        return np.repeat(grey[:, :, None], 3, axis=2)

    def raw_image(self) -> RawImage:
        """The last frame's raw stream (focusd.sim.raw): the main stream's linear scene as an RGGB
        10-bit mosaic with black level and per-photosite noise. Rendered on demand, as main is."""
        frame, reflectance = self._main_reflectance("raw_image")
        o = self.geometry.optics.oversample
        noise = self._raw_rng.standard_normal(reflectance.shape, dtype=np.float32)
        return bayer(reflectance, self._electrons_per_s, frame.exposure_time_us / 1e6, frame.analogue_gain,
                     self.geometry.pixels_averaged / (o * o), self.sensor_model, noise)

    def _main_reflectance(self, what: str) -> tuple[SimFrame, np.ndarray]:
        """The last frame and its linear reflectance on the main stream's grid."""
        frame = self.last_frame
        if frame is None:
            raise ConfigError(what, "no frame has been delivered yet")
        return frame, self._reflectance_of(frame, self._gains)

    def _reflectance_of(self, frame: SimFrame, gains) -> np.ndarray:
        """``frame``'s linear reflectance on the main stream's grid, lit by ``gains`` (computed
        once per frame: main and raw share it)."""
        if self._main_render is not None and self._main_render[0] is frame:
            return self._main_render[1]
        if self._main_renderer is None:
            full = Geometry.build(self.profile, self.mode.size, self.lores_size, self.geometry.optics, None)
            self._main_renderer = self.scene.renderer(full)
        lit = {} if gains is None else {"gains": gains}
        reflectance = self._main_renderer.render_main(frame.lens_actual, frame.time_s, **lit)
        self._main_render = (frame, reflectance)
        return reflectance
