"""``python -m focusd.tools.measure_cost``: the focus measure's cost per frame (focusd.af.measure).

A measuring aid run by hand, among the tools: the engine (focusd.af) needs no camera profile.
"""

import timeit

import numpy as np

from focusd.af.measure import FocusMeasure
from focusd.af.tuning import STOCK_WINDOW
from focusd.config.profiles import load_profile


def print_cost() -> None:
    """Print the measure's cost per frame at the imx708 default lores size, and what share of the
    frame time of the fastest focusing mode (120 fps) that is, measured in the same run."""
    profile = load_profile("imx708")
    width, height = profile.lores_size
    frame_s = 1.0 / max(mode.fps for mode in profile.modes)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, size=(height, width), dtype=np.uint8)
    for kind in ("gradient", "laplacian"):
        measure = FocusMeasure(STOCK_WINDOW, kind)
        measure(frame)
        runs = 500
        seconds = min(timeit.repeat(lambda m=measure: m(frame), number=runs, repeat=5)) / runs
        print(f"{kind}: {seconds * 1e6:.0f} us per frame at {width}x{height} "
              f"(window {measure.pixel_window(frame.shape)}), {seconds / frame_s:.1%} of a frame at "
              f"{1 / frame_s:.0f} fps")


if __name__ == "__main__":
    print_cost()
