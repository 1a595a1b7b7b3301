"""What the benchmark runs: scene descriptions and trial lists (the default and quick suites).

Trials are plain frozen dataclasses so that they cross process boundaries (the bench runs trials
on worker processes) and so that every algorithm can rebuild exactly the same scene and rig from
the same description and seed: the same frames, the same noise.

Blocks of the default suite (each trial carries its block name; the summary is per block). Every
block but ``instant-lens`` runs on the slew-limited lens path libcamera drives, with the unknown
mix (when in the next frame the glass moves) drawn at random per trial (focusd.sim.lens):

- ``real-tuning``, ``real-held-out``: real focal stacks (focusd.bench.real, reported first): the
  engine was tuned on the first three stacks, the other three are held out.
- ``main``: every texture x 7 distances (0.1 m to infinity) x bright and indoor light at latency 2,
  starts cycling over four positions. The speed and accuracy targets are measured here.
- ``latency-1``, ``latency-3``: true latency 1 and 3 (the algorithms told the truth), bright light.
- ``dim`` and ``dark``: textured scenes in dim and dark light (dark ones should end FAILED).
- ``featureless``: a flat wall at all four light levels (must end FAILED).
- ``two-depth``: a near and a far subject sharing the window; truth is what dominates it.
- ``told2-true1``, ``told2-true3``: the algorithms are told latency 2 while the lens really has 1
  or 3 (docs/design.md, "The latency contract": the engine must still land within its accuracy).
- ``instant-lens``: the main block's scenes in bright light on a lens that takes every write
  whole at once (the simulator's lens before the IPA was modelled), for comparison.
- ``sweep``: a focal stack replayed (``--sweep DIR``), from every frame's position.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace

import numpy as np

from focusd.sim import scenes
from focusd.sim.sweep import SweepScene, load_sweep

#: Subject distances of the default suite, metres (10 D to 0 D).
DISTANCES_M = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, math.inf)
#: Factors the finite distances (except the 0.1 m end) are scaled by, cycling over textures: the
#: in-focus positions then fall between the 0.25 D / 1 D grids that stepping searches sample on
#: (a truth exactly on a search's grid would flatter that search).
DISTANCE_JITTER = (1.0, 0.93, 1.06, 0.97, 1.1, 0.9, 1.03)
#: Start positions cycled through, dioptres (infinity, the stock default, mid, the near end).
STARTS = (0.0, 1.0, 4.0, 12.0)
#: The AF range of the real-stack blocks, D (the bench's)
REAL_RANGE = (0.0, 12.0)
#: Algorithms of a default run, in report order.
DEFAULT_ALGORITHMS = ("focusd", "stock-normal", "stock-fast", "exhaustive", "golden")


@dataclass(frozen=True)
class SceneSpec:
    """How to build one simulated scene (see focusd.sim.scenes)."""

    kind: str  #: "texture", "two-depth", "featureless", "moving" or "sweep"
    texture: str = ""
    distance_m: float = 1.0
    far_texture: str = ""
    far_m: float = math.inf
    near_fraction: float = 0.4
    dioptres_per_s: float = 0.0
    path: str = ""  #: sweep or stack folder
    sweep_range: tuple[float, float] = (0.0, 12.0)
    seed: int = 0
    # a real stack (focusd.bench.real): its AF window, frame spacing (D), where its first frame
    # sits (D), the truth in that window (D) and a name for the window
    window: tuple[float, float, float, float] | None = None
    spacing: float = 0.0
    offset: float = 0.0
    truth: float = 0.0
    name_suffix: str = ""

    @property
    def name(self) -> str:
        if self.kind == "texture":
            return f"{self.texture}@{_metres(self.distance_m)}"
        if self.kind == "two-depth":
            return (f"{self.texture}@{_metres(self.distance_m)}+{self.far_texture}@{_metres(self.far_m)}"
                    f"/{self.near_fraction:g}")
        if self.kind == "moving":
            return f"{self.texture}-moving@{self.dioptres_per_s:g}D/s"
        if self.kind == "sweep":
            return "sweep:" + self.path.rstrip("/").rsplit("/", 1)[-1]
        if self.kind == "stack":
            return self.path.rstrip("/").rsplit("/", 1)[-1] + "/" + self.name_suffix
        return self.kind

    def build(self):
        """The focusd.sim scene this spec describes."""
        if self.kind == "texture":
            return scenes.texture_scene(self.texture, distance_m=self.distance_m, seed=self.seed)
        if self.kind == "two-depth":
            return scenes.two_depth_scene(near=self.texture, near_m=self.distance_m, far=self.far_texture,
                                          far_m=self.far_m, near_fraction=self.near_fraction, seed=self.seed)
        if self.kind == "featureless":
            return scenes.featureless_scene(seed=self.seed)
        if self.kind == "moving":
            return scenes.moving_scene(self.texture, start_m=self.distance_m,
                                       dioptres_per_s=self.dioptres_per_s, seed=self.seed)
        if self.kind == "sweep":
            return _sweep_scene(self.path, *self.sweep_range)
        if self.kind == "stack":
            # deferred: a cycle (focusd.bench.real builds this module's SceneSpecs)
            from focusd.bench.real import stack_scene

            return stack_scene(self.path, self.offset, self.spacing, self.truth)
        raise ValueError(f"unknown scene kind {self.kind!r}")


def _metres(distance_m: float) -> str:
    return "inf" if math.isinf(distance_m) else f"{distance_m:g}m"


@dataclass(frozen=True)
class TrialSpec:
    """One trial: every algorithm runs it on a rig rebuilt from exactly these values."""

    index: int
    block: str
    scene: SceneSpec
    light: str = "bright"
    latency: int = 2  #: the rig's true lens latency, frames
    told_latency: int = 2  #: what the algorithms are told
    start: float = 1.0  #: lens position at AF-ON, dioptres
    seed: int = 0  #: the rig's noise seed
    tolerance: float = 0.15  #: D: |final - truth| that counts as in focus (sweeps: one frame spacing)
    #: frames after the readout of the request's frame at which the glass moves: the unknown mix
    #: (focusd.sim.lens.LensModel.move_phase); the default suite draws it per trial
    move_phase: float = 0.0
    #: "ipa": the slew-limited lens path libcamera drives; "instant": every write lands whole at
    #: once, at the readout (the simulator's lens before the IPA was modelled; a named condition)
    lens: str = "ipa"
    window: tuple[float, float, float, float] | None = None  #: the AF window (None: each algorithm's default)
    algorithms: tuple[str, ...] | None = None  #: the algorithms this trial runs (None: every one asked for)
    assist: bool = False  #: an AF-assist lamp lights the scene during the scan (focusd.bench.assist)


@dataclass
class SuiteFilter:
    """Command-line restrictions of a suite (None = no restriction)."""

    latencies: tuple[int, ...] | None = None
    lights: tuple[str, ...] | None = None

    def keep(self, trial: TrialSpec) -> bool:
        if self.latencies is not None and trial.latency not in self.latencies:
            return False
        return self.lights is None or trial.light in self.lights


@dataclass
class _Builder:
    seed: int
    trials: list[TrialSpec] = field(default_factory=list)

    def add(self, block: str, scene: SceneSpec, **kwargs) -> None:
        index = len(self.trials)
        kwargs.setdefault("start", STARTS[index % len(STARTS)])
        # the unknown mix: when in the next frame the glass moves, drawn per trial (an engine that
        # depended on one value would miss on the others); the instant lens moves at the readout
        if kwargs.get("lens", "ipa") == "ipa":
            kwargs.setdefault("move_phase", round(float(np.random.default_rng([self.seed, index, 31]).uniform()), 3))
        # Each texture is one seeded image, placed at every distance (so the simulator builds its
        # blur stack once per texture and process, not once per trial); the sensor noise has its
        # own seed per trial. Both derive from the run's seed.
        scene_seed = self.seed * 1000 + _stable_number(scene.texture + "/" + scene.far_texture)
        self.trials.append(TrialSpec(index=index, block=block, scene=replace(scene, seed=scene_seed),
                                     seed=self.seed * 1000 + index, **kwargs))


def _stable_number(text: str) -> int:
    """A small number from a name that is the same in every process and run (unlike hash())."""
    return sum((i + 1) * ord(c) for i, c in enumerate(text)) % 997


def default_suite(textures: list[str], seed: int = 0, real: bool = True) -> list[TrialSpec]:
    """The default suite (see the module docstring); ``real``: with the real-stack blocks."""
    build = _Builder(seed)
    for light in ("bright", "indoor"):
        for t, texture in enumerate(textures):
            for d, distance in enumerate(DISTANCES_M):
                build.add("main", SceneSpec("texture", texture, _jitter(distance, t + d)), light=light)
    for latency in (1, 3):
        for t, texture in enumerate(textures):
            for d, distance in enumerate((0.2, 1.0, 5.0)):
                build.add(f"latency-{latency}", SceneSpec("texture", texture, _jitter(distance, t + d + latency)),
                          latency=latency, told_latency=latency)
    for light in ("dim", "dark"):
        for t, texture in enumerate(textures):
            for d, distance in enumerate((0.3, 1.0, 3.0)):
                build.add(light, SceneSpec("texture", texture, _jitter(distance, t + d)), light=light)
    for light in ("bright", "indoor", "dim", "dark"):
        for start in (0.0, 3.0, 12.0):
            build.add("featureless", SceneSpec("featureless"), light=light, start=start)
    # (near texture, near m, far texture, far m, near fraction of the window). The simulator's
    # truth is the layer covering >= 40% of the window; these pairs are ones where that layer also
    # holds the stronger contrast, so that the truth is unambiguous (the exhaustive sweep agrees).
    # Where area and contrast disagree (a weak subject over text) no contrast AF can "hit" it.
    pairs = [("natural", 0.3, "bricks", 5.0, 0.6), ("text", 0.5, "fabric", math.inf, 0.7),
             ("bricks", 1.0, "architecture", 10.0, 0.1), ("fabric", 0.2, "natural", 1.0, 0.5),
             ("text", 0.15, "foliage", 3.0, 0.5), ("skin", 0.7, "bricks", math.inf, 0.15)]
    for near, near_m, far, far_m, fraction in pairs:
        near = near if near in textures else textures[0]
        far = far if far in textures else textures[-1]
        build.add("two-depth", SceneSpec("two-depth", near, near_m, far, far_m, fraction))
    for latency in (1, 3):
        for t, texture in enumerate(textures):
            for d, distance in enumerate((0.5, 2.0)):
                build.add(f"told2-true{latency}", SceneSpec("texture", texture, _jitter(distance, t + d)), latency=latency,
                          told_latency=2)
    # the lens focusd's simulator had before the IPA was modelled (every write lands whole, at the
    # readout): a named condition, to compare with the main block's figures
    for t, texture in enumerate(textures):
        for d, distance in enumerate(DISTANCES_M):
            build.add("instant-lens", SceneSpec("texture", texture, _jitter(distance, t + d)), lens="instant")
    if real:
        # deferred: a cycle (focusd.bench.real builds this module's SceneSpecs)
        from focusd.bench.real import real_trials

        real_trials(build, seed, REAL_RANGE)
    return build.trials


def _jitter(distance_m: float, k: int) -> float:
    if math.isinf(distance_m) or distance_m <= 0.1:
        return distance_m
    return round(distance_m * DISTANCE_JITTER[k % len(DISTANCE_JITTER)], 4)


def quick_suite(textures: list[str], seed: int = 0) -> list[TrialSpec]:
    """A small suite for tests and a quick look: 3 textures x 3 distances, plus the featureless
    wall and one latency mismatch, bright light, latency 2."""
    build = _Builder(seed)
    for t, texture in enumerate(textures[:3]):
        for d, distance in enumerate((0.2, 1.0, math.inf)):
            build.add("main", SceneSpec("texture", texture, _jitter(distance, t + d)))
    build.add("featureless", SceneSpec("featureless"), start=3.0)
    build.add("told2-true3", SceneSpec("texture", textures[0], 0.5), latency=3, told_latency=2)
    return build.trials


def sweep_trials(folder: str, sweep_range: tuple[float, float], positions, seed: int = 0,
                 first_index: int = 0, latency: int = 2, light: str = "bright") -> list[TrialSpec]:
    """A real focal stack from every frame's lens position; in focus = within one frame spacing
    (the largest gap between neighbouring frames) of the sharpest frame."""
    ordered = sorted(float(p) for p in positions)
    spacing = max((b - a for a, b in zip(ordered, ordered[1:])), default=0.0)
    scene = SceneSpec("sweep", path=str(folder), sweep_range=(float(sweep_range[0]), float(sweep_range[1])))
    return [
        TrialSpec(index=first_index + i, block=scene.name, scene=scene, light=light, latency=latency,
                  told_latency=latency, start=round(position, 4), seed=seed * 1000 + first_index + i,
                  tolerance=round(spacing, 4))
        for i, position in enumerate(ordered)
    ]


@functools.lru_cache(maxsize=4)
def _sweep_scene(path: str, lo: float, hi: float):
    # decoding a stack's photographs takes a while: once per process and folder, not per run
    # (a SweepScene is static: every rig may share it)
    return SweepScene(load_sweep(path, lens_range=(lo, hi)))
