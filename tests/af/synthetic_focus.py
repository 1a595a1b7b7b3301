"""A synthetic focus rig for the engine's tests: a texture blurred by a function of |lens - peak|.

Independent of focusd.sim on purpose: the engine's own tests must not depend on how kind another
model is. The physics is docs/design.md's ("Optics and the lores grid"): on the lores grid one
dioptre of defocus is about 1.5 pixels of blur-circle diameter (a uniform disk), on top of the lens
and ISP's own blur (a Gaussian of sigma ~0.35 lores px at focus). Frames are rendered only on the AF
window plus a margin (the rest of the frame is flat), with seeded sensor noise, quantised to uint8.

The latency model is docs/design.md's ("The latency contract"): a target returned for frame n is
first seen in frame n + latency + 1; with ``blend`` the first frame after a move is a mix of the old
and new position (a frame exposed while the lens moved).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from focusd.af.types import Frame

LORES = (432, 768)  # rows, columns: the imx708 default lores size
WINDOW = (144, 192, 144, 384)  # top, left, rows, columns of the stock centre window at LORES
BLUR_PER_DIOPTRE = 1.49  # lores px of blur-disk diameter per dioptre of defocus
BASE_BLUR = 0.35  # lores px (Gaussian sigma) at focus


def _j1_over_x_table() -> tuple[np.ndarray, np.ndarray]:
    """J1(z)/z on a grid of z, from Bessel's integral (numpy has no Bessel functions)."""
    z = np.linspace(0.0, 60.0, 6001)
    tau = np.linspace(0.0, np.pi, 257)
    j1 = np.trapezoid(np.cos(tau[None, :] - z[:, None] * np.sin(tau[None, :])), tau, axis=1) / np.pi
    ratio = np.where(z > 0, j1 / np.maximum(z, 1e-12), 0.5)
    return z, ratio


_Z, _J1_OVER_Z = _j1_over_x_table()


def disk_transfer(rho: np.ndarray, diameter: float) -> np.ndarray:
    """Transfer function of a uniform disk of ``diameter`` px at radial frequency ``rho``."""
    if diameter <= 0:
        return np.ones_like(rho)
    z = np.pi * diameter * rho
    return 2.0 * np.interp(z, _Z, _J1_OVER_Z, right=0.0)

LIGHT = {  # mean level, texture contrast, noise sigma (code values)
    "bright": (120.0, 0.35, 1.5),
    "indoor": (90.0, 0.30, 3.0),
    "dim": (40.0, 0.25, 5.0),
    "dark": (6.0, 0.10, 4.0),
}


def texture(seed: int, shape=(WINDOW[2] + 16, WINDOW[3] + 16), slope: float = 1.0) -> np.ndarray:
    """A 1/f^slope random texture, zero mean, unit standard deviation."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft2(rng.standard_normal(shape))
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    radius = np.hypot(fx, fy)
    radius[0, 0] = 1.0
    image = np.fft.irfft2(spectrum / radius**slope, s=shape)
    return (image - image.mean()) / image.std()


@dataclass
class SynthRig:
    """Renders lores frames of a single-depth textured scene for a lens driven by the engine."""

    peak: float  #: dioptres: where the scene is sharp (may be a function of time via velocity)
    light: str = "bright"
    latency: int = 2  #: the true latency (frames)
    start_lens: float = 1.0
    seed: int = 0
    blend: float = 0.0  #: weight of the old position in the first frame after a move
    velocity: float = 0.0  #: D per frame: a subject moving in depth
    featureless: bool = False
    lens_range: tuple[float, float] = (0.0, 15.0)
    sequence: int = 0
    commands: list[tuple[int, float]] = field(default_factory=list)
    actual: list[float] = field(default_factory=list)  #: the true lens position of each frame
    truths: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed + 1000)
        self._spectrum = np.fft.rfft2(texture(self.seed))
        shape = (WINDOW[2] + 16, WINDOW[3] + 16)
        fy = np.fft.fftfreq(shape[0])[:, None]
        fx = np.fft.rfftfreq(shape[1])[None, :]
        self._rho = np.hypot(fx, fy)
        self._floor = np.exp(-2 * np.pi**2 * BASE_BLUR**2 * self._rho**2)
        self._shape = shape

    def truth(self, sequence: int | None = None) -> float:
        sequence = self.sequence if sequence is None else sequence
        return self.peak + self.velocity * sequence

    def lens_at(self, sequence: int) -> float:
        """The lens position for frame ``sequence`` (the last command seen by then)."""
        position = self.start_lens
        for issued, target in self.commands:
            if issued + self.latency + 1 <= sequence:
                position = target
        return position

    def commanded(self) -> float:
        return self.commands[-1][1] if self.commands else self.start_lens

    def reported(self, sequence: int) -> float:
        """The metadata's LensPosition of frame ``sequence``: the lens state after its request's
        controls (the command sent ``latency`` frames earlier), which frames from ``sequence + 1``
        on are exposed at (docs/device-facts.md, "Lens control": the IPA's state, not the target)."""
        return self.lens_at(sequence + 1)

    def set_lens_position(self, target: float) -> None:
        """Command the lens in answer to the last frame."""
        low, high = self.lens_range
        self.commands.append((self.sequence - 1, min(max(target, low), high)))

    def _render(self, lens: float, truth: float) -> np.ndarray:
        mean, contrast, _ = LIGHT[self.light]
        if self.featureless:
            contrast = 0.0
        transfer = self._floor * disk_transfer(self._rho, BLUR_PER_DIOPTRE * abs(lens - truth))
        blurred = np.fft.irfft2(self._spectrum * transfer, s=self._shape)
        return mean * (1 + contrast * blurred)

    def next_frame(self) -> Frame:
        sequence = self.sequence
        lens = self.lens_at(sequence)
        truth = self.truth(sequence)
        image = self._render(lens, truth)
        previous = self.lens_at(sequence - 1) if sequence > 0 else lens
        if self.blend > 0 and abs(previous - lens) > 1e-9:
            image = self.blend * self._render(previous, truth) + (1 - self.blend) * image
            lens = self.blend * previous + (1 - self.blend) * lens
        mean, _, noise = LIGHT[self.light]
        frame = np.full(LORES, mean, dtype=np.float64)
        top, left, rows, cols = WINDOW
        frame[top - 8: top + rows + 8, left - 8: left + cols + 8] = image
        frame += self._rng.normal(0.0, noise, frame.shape)
        y = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
        self.actual.append(lens)
        self.truths.append(truth)
        self.sequence += 1
        return Frame(y=y, lens_position=self.reported(sequence), sequence=sequence)


@dataclass
class Outcome:
    frames: int | None  #: frames from start to FOCUSED/FAILED (None: never)
    state: object
    final: float  #: the lens position the last command leaves (what the next frames will show)
    truth: float
    commands: int


def run_scan(engine, rig: SynthRig, mode, limit: int = 120, after: int = 0) -> Outcome:
    """Start the engine at the rig's lens and feed frames until it is FOCUSED or FAILED (plus
    ``after`` more frames); return what happened."""
    from focusd.af import AfState

    engine.start(mode, lens_position=rig.start_lens)
    frames = None
    extra = 0
    for _ in range(limit):
        target = engine.update(rig.next_frame())
        if target is not None:
            rig.set_lens_position(target)
        if frames is None and engine.state in (AfState.FOCUSED, AfState.FAILED):
            frames = engine.statistics.frames
        if frames is not None:
            if extra >= after:
                break
            extra += 1
    return Outcome(frames, engine.state, rig.commanded(), rig.truth(), engine.statistics.commands)
