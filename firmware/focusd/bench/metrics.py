"""Benchmark figures: per-algorithm summaries and the ratios against the stock baselines.

Everything here is computed from the trial rows of one run, so the ratios compare algorithms on
the very same frames. Definitions (README and docs/design.md, "Benchmark output", use the same words):

- frames: from the AF-ON press to FOCUSED or FAILED; median and 95th percentile (nearest rank).
- accuracy: the fraction of trials that end FOCUSED with |final - truth| within the trial's
  tolerance (0.15 D; one frame spacing on a real stack). FAILED counts as a miss.
- failed: the fraction of dark or featureless trials that end FAILED (the wanted outcome there);
  wrong_lock: the fraction that end FOCUSED away from the truth (the outcome to avoid).
- ratio vs a stock baseline: the stock's median frames divided by the algorithm's, on the same
  trials (the "main" block: latency 2, bright and indoor light; and the real stacks).
- real: every trial of the real-stack blocks (``real-*``), with the accuracy split by whether the
  algorithm was told the latency right or a frame wrong, and the share FAILED at indoor light or
  brighter (where a textured window should focus).
"""

from __future__ import annotations

import math
from collections import defaultdict

#: The block the synthetic targets are measured on.
TARGET_BLOCK = "main"
#: The blocks of the real stacks (focusd.bench.real): "real-tuning", "real-held-out".
REAL_PREFIX = "real-"
STOCK_NORMAL, STOCK_FAST = "stock-normal", "stock-fast"


def percentile(values, fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: a frame count stays a frame count)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


def median(values) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def is_dark_or_featureless(row) -> bool:
    return row.light == "dark" or row.scene == "featureless"


def group_stats(rows) -> dict:
    """Frames, accuracy and outcome figures of a group of rows of one algorithm."""
    rows = list(rows)
    if not rows:
        return {"trials": 0}
    frames = [r.frames for r in rows]
    errors = [abs(r.error) for r in rows if r.state == "FOCUSED"]
    return {
        "trials": len(rows),
        "median_frames": median(frames),
        "p95_frames": percentile(frames, 0.95),
        "mean_frames": round(sum(frames) / len(frames), 2),
        "median_frames_settled": median([r.frames_settled for r in rows]),
        "accuracy": round(sum(r.in_focus for r in rows) / len(rows), 4),
        # the same, judged on where the lens truly was in the frame after FOCUSED (a shutter fired
        # on FOCUSED takes that frame): a trim sent with FOCUSED has not landed yet there
        "accuracy_next_frame": round(sum(
            r.state == "FOCUSED" and r.error_next_frame is not None and abs(r.error_next_frame) <= r.tolerance + 1e-9
            for r in rows) / len(rows), 4),
        "focused": round(sum(r.state == "FOCUSED" for r in rows) / len(rows), 4),
        "failed": round(sum(r.state == "FAILED" for r in rows) / len(rows), 4),
        "timeouts": sum(r.state == "TIMEOUT" for r in rows),
        "median_abs_error": round(median(errors), 4) if errors else None,
        "p95_abs_error": round(percentile(errors, 0.95), 4) if errors else None,
        "mean_travel": round(sum(r.travel for r in rows) / len(rows), 3),
        "mean_reversals": round(sum(r.reversals for r in rows) / len(rows), 3),
    }


def real_stats(rows) -> dict:
    """The real-stack figures of one algorithm's rows (see the module docstring)."""
    rows = [r for r in rows if r.block.startswith(REAL_PREFIX)]
    if not rows:
        return {"trials": 0}
    told_right = [r for r in rows if r.told_latency == r.latency]
    told_wrong = [r for r in rows if r.told_latency != r.latency]
    lit = [r for r in rows if r.light in ("bright", "indoor")]
    stats = group_stats(rows)
    stats.update({
        "accuracy_told_right": round(sum(r.in_focus for r in told_right) / len(told_right), 4) if told_right else None,
        "accuracy_told_wrong": round(sum(r.in_focus for r in told_wrong) / len(told_wrong), 4) if told_wrong else None,
        "failed_lit": round(sum(r.state != "FOCUSED" for r in lit) / len(lit), 4) if lit else None,
        "wrong_lock": round(sum(r.state == "FOCUSED" and not r.in_focus for r in rows) / len(rows), 4),
    })
    return stats


def summarise(rows) -> dict:
    """{algorithm: {"target": ..., "real": ..., "blocks": {block: ...}, "dark_featureless": ...,
    "ratios": ..., "real_ratios": ...}}"""
    by_algorithm: dict[str, list] = defaultdict(list)
    for row in rows:
        by_algorithm[row.algorithm].append(row)
    summary: dict[str, dict] = {}
    for name, own in by_algorithm.items():
        blocks: dict[str, list] = defaultdict(list)
        for row in own:
            blocks[row.block].append(row)
        hard = [r for r in own if is_dark_or_featureless(r)]
        textured = [r for r in own if not is_dark_or_featureless(r) and r.block != "sweep"]
        entry = {
            "target": group_stats(blocks.get(TARGET_BLOCK, [])),
            "blocks": {block: group_stats(block_rows) for block, block_rows in sorted(blocks.items())},
            "textured": group_stats(textured),
            "real": real_stats(own),
            "dark_featureless": {
                "trials": len(hard),
                "failed": round(sum(r.state == "FAILED" for r in hard) / len(hard), 4) if hard else None,
                "wrong_lock": round(sum(r.state == "FOCUSED" and not r.in_focus for r in hard) / len(hard), 4)
                if hard else None,
            },
        }
        summary[name] = entry
    for name, entry in summary.items():
        for part, key in (("target", "ratios"), ("real", "real_ratios")):
            ratios = {}
            mine = entry[part].get("median_frames")
            for stock in (STOCK_NORMAL, STOCK_FAST):
                theirs = summary.get(stock, {}).get(part, {}).get("median_frames")
                if mine and theirs and not math.isnan(mine) and not math.isnan(theirs):
                    ratios[f"vs_{stock.replace('-', '_')}"] = round(theirs / mine, 3)
            entry[key] = ratios
    return summary


def tracking_summary(static_runs, moving_runs) -> dict:
    """Figures of the continuous-AF checks (see focusd.bench.tracking)."""
    return {
        "static": static_runs,
        "moving": moving_runs,
        "static_max_commands_after_lock": max((r["commands_after_lock"] for r in static_runs), default=None),
        "moving_max_mean_abs_error": max((r["mean_abs_error"] for r in moving_runs
                                          if r["mean_abs_error"] is not None), default=None),
    }
