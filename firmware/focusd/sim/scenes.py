"""Simulated scenes: textures at one or two depths, still or moving, and the featureless wall.

Why this module exists: the benchmark and the tests need scenes whose right answer is known.
A scene is a background layer filling the frame and, optionally, a subject layer (a rectangle
centred in the AF window) in front of it; each layer is a seeded texture at a depth in dioptres
that may change with time. Each layer is blurred by its own defocus; the subject occludes the
background with its blurred outline (the usual layered approximation:
``image = blur(alpha * subject) + (1 - blur(alpha)) * blur(background)``).

``truth_dioptres(t)`` -- what the AF should focus on -- is the depth that dominates the AF
window's focus measure: the scene is rendered without noise with the lens at each layer's depth,
and the layer whose rendering has the larger brightness-normalised gradient energy (one-pixel
differences, after the tone curve) in the default AF window wins. That is what a contrast AF
locks onto; a rule on the covered fraction alone is wrong whenever the textures differ in
contrast (a 25% patch of text beats the bricks behind it; a 60% patch of skin loses to foliage). It is computed for the IMX708 in its
focusing mode at the default lores size; ``SimRig.truth()`` computes it for the rig's own mode.
``depths`` gives both layers' depths and ``layer_measures`` the two measures, for benchmarks that
want to treat close calls apart. Subject magnification does not change as a subject moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from focusd.errors import ConfigError
from focusd.sim.geometry import AF_WINDOW, Geometry
from focusd.config.profiles import load_profile
from focusd.sim.optics import STACKS, BlurStack, OpticsModel
from focusd.sim.textures import TEXTURES, make_texture

__all__ = ["TEXTURES", "Layer", "LayeredScene", "texture_scene", "two_depth_scene", "moving_scene",
           "featureless_scene", "dioptres_from_metres"]

#: depths are clamped to [0, MAX_SCENE_DIOPTRES] (5 cm): a moving subject stops there
MAX_SCENE_DIOPTRES = 20.0


def dioptres_from_metres(distance_m: float, key: str = "distance_m") -> float:
    """1/d, with infinity -> 0; refuses distances that are not > 0."""
    if isinstance(distance_m, bool) or not isinstance(distance_m, (int, float)) or not distance_m > 0:
        raise ConfigError(key, f"a distance must be > 0 metres (math.inf allowed), got {distance_m!r}")
    return 0.0 if math.isinf(distance_m) else 1.0 / float(distance_m)


@dataclass(frozen=True)
class Layer:
    """A textured plane at ``dioptres`` (at time 0), moving at ``dioptres_per_s``. ``rect`` (frame
    fractions x, y, w, h) limits it to a rectangle; None fills the frame."""

    texture: str
    seed: int
    dioptres: float
    dioptres_per_s: float = 0.0
    rect: tuple[float, float, float, float] | None = None

    def depth(self, time_s: float) -> float:
        return min(max(self.dioptres + self.dioptres_per_s * time_s, 0.0), MAX_SCENE_DIOPTRES)


def subject_rect(window_fraction: float, window: tuple[float, float, float, float] = AF_WINDOW) -> tuple:
    """A rectangle centred in ``window`` with the window's aspect covering ``window_fraction`` of it."""
    if not 0.0 < window_fraction <= 1.0:
        raise ConfigError("near_fraction", f"must be in (0, 1], got {window_fraction!r}")
    x, y, w, h = window
    scale = math.sqrt(window_fraction)
    return (x + w * (1 - scale) / 2, y + h * (1 - scale) / 2, w * scale, h * scale)


@dataclass(frozen=True)
class LayeredScene:
    """A background and an optional subject in front of it (see the module docstring)."""

    background: Layer
    subject: Layer | None = None
    subject_fraction: float = 0.0  #: of the AF window the subject covers
    name: str = field(default="", compare=False)

    def depths(self, time_s: float = 0.0) -> dict[str, float]:
        """The in-focus lens position (dioptres) of each layer: "background", and "subject" if any."""
        out = {"background": self.background.depth(time_s)}
        if self.subject is not None:
            out["subject"] = self.subject.depth(time_s)
        return out

    def truth_dioptres(self, time_s: float = 0.0) -> float:
        """The in-focus lens position of the layer that dominates the AF window's focus measure."""
        if self.subject is None:
            return self.background.depth(time_s)
        return _default_renderer(self).truth_dioptres(time_s)

    def layer_measures(self, time_s: float = 0.0) -> dict[str, float]:
        """The window's noiseless focus measure with the lens at each layer's depth."""
        return _default_renderer(self).layer_measures(time_s)

    def renderer(self, geometry: Geometry) -> "LayeredRenderer":
        return LayeredRenderer(self, geometry)


def _texture_stack(layer: Layer, geometry: Geometry) -> BlurStack:
    def build() -> BlurStack:
        image = make_texture(layer.texture, layer.seed, geometry.texture_grid())
        return BlurStack(image, geometry.render_px_per_dioptre, geometry.render_floor_sigma_px,
                         geometry.optics, geometry.out_slices)

    return STACKS.get(("texture", layer.texture, layer.seed, geometry.key), build)


def _subject_stacks(layer: Layer, geometry: Geometry) -> tuple[BlurStack, BlurStack]:
    """(blurred alpha * texture, blurred alpha) for a subject limited to ``layer.rect``."""
    rows, cols = geometry.fraction_coverage(layer.rect)
    alpha = (rows[:, None] * cols[None, :]).astype(np.float32)

    def build_alpha() -> BlurStack:
        return BlurStack(alpha, geometry.render_px_per_dioptre, geometry.render_floor_sigma_px,
                         geometry.optics, geometry.out_slices)

    def build_premultiplied() -> BlurStack:
        image = make_texture(layer.texture, layer.seed, geometry.texture_grid()) * alpha
        return BlurStack(image, geometry.render_px_per_dioptre, geometry.render_floor_sigma_px,
                         geometry.optics, geometry.out_slices)

    return (STACKS.get(("premultiplied", layer.texture, layer.seed, layer.rect, geometry.key), build_premultiplied),
            STACKS.get(("alpha", layer.rect, geometry.key), build_alpha))


class LayeredRenderer:
    """Renders a LayeredScene's linear reflectance over the geometry's region."""

    def __init__(self, scene: LayeredScene, geometry: Geometry):
        self.scene = scene
        self.geometry = geometry
        self._background = _texture_stack(scene.background, geometry)
        self._subject = _subject_stacks(scene.subject, geometry) if scene.subject is not None else None
        mean = self._background.mean
        if self._subject is not None:
            premultiplied, alpha = self._subject
            mean = premultiplied.mean + (1.0 - alpha.mean) * mean
        self.mean_reflectance = mean

    def warm(self) -> None:
        """Every blur level of every layer computed now (:meth:`BlurStack.warm`)."""
        for stack in (self._background, *(self._subject or ())):
            stack.warm()

    def lit_mean(self, gains: tuple[float, float]) -> float:
        """The mean reflectance with each layer's light multiplied by ``gains`` (background, subject)."""
        if self._subject is None:
            return self._background.mean * gains[0]
        premultiplied, alpha = self._subject
        return premultiplied.mean * gains[1] + (1.0 - alpha.mean) * self._background.mean * gains[0]

    def render(self, samples: list[tuple[float, float]], time_s: float,
               gains: tuple[float, float] | None = None) -> np.ndarray:
        """Linear reflectance (float32, the geometry's region) for the lens ``samples``
        ((position, weight) pairs: a blend during a move). ``gains`` (background, subject): each
        layer's light relative to the scene's (an AF-assist lamp lights the near layer more)."""
        background_d = self.scene.background.depth(time_s)
        if self._subject is None:
            image = self._background.blend([(position - background_d, weight) for position, weight in samples])
            return image if gains is None or gains[0] == 1.0 else image * np.float32(gains[0])
        subject_d = self.scene.subject.depth(time_s)
        background_gain, subject_gain = (1.0, 1.0) if gains is None else gains
        total = None
        for position, weight in samples:
            image = self._background.sample(position - background_d)
            if self._subject is not None:
                premultiplied, alpha = self._subject
                defocus = position - subject_d
                near = premultiplied.sample(defocus)
                if gains is not None:
                    near, image = near * np.float32(subject_gain), image * np.float32(background_gain)
                image = near + (1.0 - alpha.sample(defocus)) * image
            if len(samples) == 1:
                return image  # may be a cached level: callers must not write into it
            total = image * np.float32(weight) if total is None else total + image * np.float32(weight)
        return total

    def layer_measures(self, time_s: float) -> dict[str, float]:
        """Noiseless focus measure in the AF window with the lens at each layer's depth."""
        return {name: self._window_measure(depth, time_s) for name, depth in self.scene.depths(time_s).items()}

    def truth_dioptres(self, time_s: float) -> float:
        depths = self.scene.depths(time_s)
        if len(depths) == 1:
            return depths["background"]
        measures = self.layer_measures(time_s)
        return depths[max(measures, key=measures.get)]

    def _window_measure(self, position: float, time_s: float) -> float:
        image = self.render([(position, 1.0)], time_s)
        x, y, w, h = self.geometry.region
        lw, lh = self.geometry.lores_size
        wx, wy, ww, wh = AF_WINDOW
        rows = slice(max(int(wy * lh) - y, 0), int((wy + wh) * lh) - y)
        cols = slice(max(int(wx * lw) - x, 0), int((wx + ww) * lw) - x)
        return focus_measure(image[rows, cols])

    def render_main(self, position: float, time_s: float, gains: tuple[float, float] | None = None) -> np.ndarray:
        """Linear reflectance on the render grid (``oversample`` x the lores grid) at one position:
        the main stream. Exact blur (one inverse FFT per stack), no level interpolation."""
        o = self.geometry.optics.oversample
        rows, cols = self.geometry.out_slices
        cut = (slice(rows.start * o, rows.stop * o), slice(cols.start * o, cols.stop * o))
        background_gain, subject_gain = (1.0, 1.0) if gains is None else gains
        image = self._background.render(position - self.scene.background.depth(time_s), downscale=False)[cut]
        image = image * np.float32(background_gain)
        if self._subject is not None:
            premultiplied, alpha = self._subject
            defocus = position - self.scene.subject.depth(time_s)
            image = premultiplied.render(defocus, downscale=False)[cut] * np.float32(subject_gain) + (
                1.0 - alpha.render(defocus, downscale=False)[cut]) * image
        return np.ascontiguousarray(image, dtype=np.float32)


def focus_measure(reflectance: np.ndarray) -> float:
    """Brightness-normalised gradient energy (one-pixel differences) of a noiseless patch after the
    tone curve, exposed as the AE would (mean at 18% of full scale)."""
    linear = np.clip(reflectance * np.float32(0.18 / max(float(reflectance.mean()), 1e-6)), 0.0, 1.0)
    codes = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055) * 255.0
    energy = float((np.diff(codes, axis=0) ** 2).mean() + (np.diff(codes, axis=1) ** 2).mean())
    return energy / max(float(codes.mean()) ** 2, 1e-9)


_DEFAULT_RENDERERS: dict[LayeredScene, LayeredRenderer] = {}


def _default_renderer(scene: LayeredScene) -> LayeredRenderer:
    """A renderer of the AF window for the IMX708 in its focusing mode (the truth's reference)."""
    renderer = _DEFAULT_RENDERERS.get(scene)
    if renderer is None:
        profile = load_profile("imx708")
        geometry = Geometry.build(profile, profile.focus_mode, profile.lores_size, OpticsModel(), AF_WINDOW)
        if len(_DEFAULT_RENDERERS) > 256:
            _DEFAULT_RENDERERS.clear()
        renderer = _DEFAULT_RENDERERS[scene] = LayeredRenderer(scene, geometry)
    return renderer


def _check_texture(name: str, key: str) -> str:
    if name not in TEXTURES:
        raise ConfigError(key, f"unknown texture {name!r} (known: {', '.join(TEXTURES)})")
    return name


def texture_scene(texture: str, distance_m: float = 1.0, seed: int = 0) -> LayeredScene:
    """One texture filling the frame at ``distance_m`` (math.inf allowed)."""
    layer = Layer(_check_texture(texture, "texture"), seed, dioptres_from_metres(distance_m))
    return LayeredScene(layer, name=f"{texture}@{distance_m:g}m")


def two_depth_scene(near: str = "text", near_m: float = 0.3, far: str = "bricks", far_m: float = 5.0,
                    near_fraction: float = 0.4, seed: int = 0) -> LayeredScene:
    """A near subject covering ``near_fraction`` of the AF window (a centred rectangle) in front of
    a far background filling the frame."""
    near_d = dioptres_from_metres(near_m, "near_m")
    far_d = dioptres_from_metres(far_m, "far_m")
    subject = Layer(_check_texture(near, "near"), seed * 2 + 1, near_d, rect=subject_rect(near_fraction))
    background = Layer(_check_texture(far, "far"), seed * 2, far_d)
    return LayeredScene(background, subject, near_fraction, name=f"{near}@{near_m:g}m/{far}@{far_m:g}m:{near_fraction:g}")


def moving_scene(texture: str, start_m: float = 2.0, dioptres_per_s: float = 1.0, seed: int = 0,
                 background: str | None = None, background_m: float = math.inf,
                 subject_fraction: float = 1.0) -> LayeredScene:
    """A subject moving in depth at ``dioptres_per_s`` (positive: approaching) from ``start_m``;
    it fills the frame, or with ``background`` covers ``subject_fraction`` of the AF window in
    front of that texture at ``background_m``. Depth stops at 0 D and at 20 D."""
    start_d = dioptres_from_metres(start_m, "start_m")
    _check_texture(texture, "texture")
    name = f"{texture}@{start_m:g}m{dioptres_per_s:+g}D/s"
    if background is None:
        return LayeredScene(Layer(texture, seed, start_d, dioptres_per_s), name=name)
    subject = Layer(texture, seed * 2 + 1, start_d, dioptres_per_s, rect=subject_rect(subject_fraction))
    back = Layer(_check_texture(background, "background"), seed * 2, dioptres_from_metres(background_m, "background_m"))
    return LayeredScene(back, subject, subject_fraction, name=f"{name}/{background}@{background_m:g}m")


def featureless_scene(seed: int = 0, distance_m: float = 2.0) -> LayeredScene:
    """A flat wall with a gentle illumination gradient and nothing else: no focus peak to find.
    Its nominal truth is the wall's distance (no AF can find it)."""
    return LayeredScene(Layer("flat", seed, dioptres_from_metres(distance_m)), name="featureless")
