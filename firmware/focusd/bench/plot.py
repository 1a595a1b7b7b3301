"""``focusd bench --plot PATH.png``: one trial's focus curve and every algorithm's lens path.

Left: the focus measure (focusd's, and the stock FoM) against lens position, measured on the
trial's own rig with the lens held still at each position, with the truth marked. Right: each
algorithm's commanded lens position frame by frame from the AF-ON press, ending where it reported
FOCUSED or FAILED. matplotlib with the Agg backend: no display needed.
"""

from __future__ import annotations

from dataclasses import replace

from focusd.af.measure import FocusMeasure
from focusd.af.tuning import STOCK_WINDOW
from focusd.bench.runner import LENS_RANGE, make_rig
from focusd.bench.stock import stock_focus_fom
from focusd.bench.suite import TrialSpec


def focus_curve(spec: TrialSpec, step: float = 0.25, window=None):
    """(positions, focusd measure, stock FoM), each normalised to its maximum."""
    measure = FocusMeasure(STOCK_WINDOW)
    scene = spec.scene.build()
    count = int(round((LENS_RANGE[1] - LENS_RANGE[0]) / step)) + 1
    positions = [LENS_RANGE[0] + i * step for i in range(count)]
    ours, stock = [], []
    for position in positions:
        rig = make_rig(replace(spec, start=position), window, scene=scene)
        rig.next_frame()
        frame = rig.next_frame()  # the second frame: clear of any start-up effect
        ours.append(measure(frame.y).focus)
        stock.append(stock_focus_fom(frame.y))
    top_ours, top_stock = max(max(ours), 1e-12), max(max(stock), 1e-12)
    return positions, [v / top_ours for v in ours], [v / top_stock for v in stock]


def plot_trial(path: str, spec: TrialSpec, results, window=None) -> None:
    """Write the figure for one trial; ``results`` are that trial's TrialResults (with paths)."""
    # deferred: matplotlib is an optional dependency (the "bench" extra), needed only for --plot
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    positions, ours, stock = focus_curve(spec, window=window)
    truth = results[0].truth if results else None
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1, 1.6]})
    left.plot(positions, ours, label="focusd measure")
    left.plot(positions, stock, label="stock FoM (approx.)", linestyle="--")
    if truth is not None:
        left.axvline(truth, color="black", linewidth=0.8, label=f"truth {truth:.2f} D")
    left.set_xlabel("lens position (D)")
    left.set_ylabel("focus measure (normalised)")
    left.set_title(f"focus curve: {spec.scene.name}, {spec.light}")
    left.legend(fontsize=8)
    for result in results:
        frames = [0] + [p[0] for p in result.path]
        lens = [result.start] + [p[1] for p in result.path]
        right.step(frames, lens, where="post", label=f"{result.algorithm}: {result.frames} frames, {result.state}")
    if truth is not None:
        right.axhline(truth, color="black", linewidth=0.8)
    quick = [r.frames_settled for r in results if r.algorithm != "exhaustive"]
    if quick and any(r.algorithm == "exhaustive" for r in results):
        # the sweep's ~250 frames would squash the others: show the fast ones, the sweep runs off
        right.set_xlim(0, max(quick) * 1.25 + 5)
    right.set_xlabel("frames since AF-ON")
    right.set_ylabel("commanded lens position (D)")
    right.set_title(f"lens paths (latency {spec.latency}, told {spec.told_latency}, start {spec.start:g} D)")
    right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
