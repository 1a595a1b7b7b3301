"""``python -m focusd.sim``: what a simulated frame costs, for the benchmark's budget.

Prints milliseconds per frame in window mode (the benchmark's) and full-frame mode (the daemon's),
with the lens moving every third frame, and the one-off cost of a new scene (texture and the blur
levels a 60-frame sweep visits). Figures depend on the machine; compare them only within one run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from focusd.sim import SimRig, scenes
from focusd.sim.geometry import AF_WINDOW


def frame_cost(window, frames: int, texture: str) -> float:
    rig = SimRig(scenes.texture_scene(texture, distance_m=1.0, seed=1), light="indoor", window=window)
    positions = np.random.default_rng(0).uniform(0.0, 12.0, frames)
    for x in positions:  # warm every level the timed run will use
        rig.set_lens_position(x)
        rig.next_frame()
    start = time.perf_counter()
    for index, x in enumerate(positions):
        if index % 3 == 0:
            rig.set_lens_position(x)
        rig.next_frame()
    return (time.perf_counter() - start) / frames * 1e3


def scene_cost(texture: str, seed: int) -> float:
    start = time.perf_counter()
    rig = SimRig(scenes.texture_scene(texture, distance_m=1.0, seed=seed), light="indoor", window=AF_WINDOW)
    for x in np.linspace(0.0, 12.0, 60):
        rig.set_lens_position(x)
        rig.next_frame()
    return (time.perf_counter() - start) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m focusd.sim", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--texture", default="natural", choices=scenes.TEXTURES)
    args = parser.parse_args()
    window = frame_cost(AF_WINDOW, args.frames, args.texture)
    full = frame_cost(None, max(args.frames // 10, 50), args.texture)
    print(f"window mode: {window:.3f} ms/frame   full frame: {full:.3f} ms/frame")
    costs = {t: scene_cost(t, seed=100) for t in scenes.TEXTURES}
    print("new scene + 60-frame sweep (ms): " + ", ".join(f"{t} {c:.0f}" for t, c in costs.items()))


if __name__ == "__main__":
    main()
