"""Benchmark output: a readable table for people and one JSON object for tools.

JSON (docs/design.md, "Benchmark output"): ``{"format": "focusd-bench/1", "conditions": {...},
"trials": [row, ...], "summary": {algorithm: {...}}, "checks": [...], "tracking": {...} | null}``.
Each row has at least ``algorithm, scene, trial, start, final, truth, error, frames, state,
travel, reversals`` (see focusd.bench.runner.TrialResult); ``error`` is signed (final - truth).
"""

from __future__ import annotations

import json
import math
import os
import tempfile

from focusd.bench.metrics import STOCK_NORMAL, TARGET_BLOCK

REPORT_FORMAT = "focusd-bench/1"
#: Fields every trial row carries (docs/design.md, "Benchmark output"); the JSON test checks them.
ROW_FIELDS = ("algorithm", "scene", "trial", "start", "final", "truth", "error", "frames", "state",
              "travel", "reversals")

# The README's targets for focusd: right on real scenes and on the lens path libcamera drives
# first, fast second.
TARGET_REAL_TOLD_RIGHT = 0.97  #: in focus on the real stacks, latency told right
TARGET_REAL_TOLD_WRONG = 0.95  #: ... told a frame wrong either way
TARGET_REAL_FAILED_LIT = 0.02  #: at most this share FAILED on the real stacks at indoor light or brighter
TARGET_REAL_VS_STOCK_NORMAL = 3.0  #: median frames at most a third of stock normal's on the same trials
TARGET_ACCURACY = 0.95  #: main block within 0.15 D (and each latency-mismatch block)
TARGET_VS_STOCK_NORMAL = 3.0
TARGET_FAILED = 0.95  #: dark and featureless scenes end FAILED
TARGET_WRONG_LOCK = 0.02  #: ... and at most this share FOCUSED at a wrong position
TARGET_STATIC_COMMANDS = 0
#: what the exit status says of the targets (focusd bench --help and the report's last line)
EXIT_RULE = "a miss makes the exit status 1 only with --check"
TARGET_MOVING_ERROR = 0.3


def checks(summary: dict, tracking: dict | None = None, algorithm: str = "focusd") -> list[dict]:
    """focusd's figures against the targets: [{"name", "value", "target", "ok", "unit"}]; ``unit``
    says how to read ``value``: "share" (a fraction, shown as a percentage), "ratio", "count" or
    "dioptres"."""
    entry = summary.get(algorithm)
    if not entry:
        return []
    target = entry["target"]
    out = []

    def add(name, value, wanted, ok, unit="share"):
        out.append({"name": name, "value": value, "target": wanted, "ok": bool(ok), "unit": unit})

    def share(op, number):
        return f"{op} {_percent(number)}"

    real = entry.get("real", {})
    if real.get("trials"):
        add("real stacks: in focus, latency told right", real["accuracy_told_right"],
            share(">=", TARGET_REAL_TOLD_RIGHT), (real["accuracy_told_right"] or 0) >= TARGET_REAL_TOLD_RIGHT)
        add("real stacks: in focus, latency told a frame wrong", real["accuracy_told_wrong"],
            share(">=", TARGET_REAL_TOLD_WRONG), (real["accuracy_told_wrong"] or 0) >= TARGET_REAL_TOLD_WRONG)
        add("real stacks: FAILED at indoor light or brighter", real["failed_lit"],
            share("<=", TARGET_REAL_FAILED_LIT), real["failed_lit"] is not None and real["failed_lit"] <= TARGET_REAL_FAILED_LIT)
        ratio = entry.get("real_ratios", {}).get("vs_stock_normal")
        if ratio is not None:
            stock_accuracy = summary[STOCK_NORMAL]["real"]["accuracy"]
            add("real stacks: x fewer frames than stock-normal", ratio,
                f">= {TARGET_REAL_VS_STOCK_NORMAL} at accuracy >= {_percent(stock_accuracy)}",
                ratio >= TARGET_REAL_VS_STOCK_NORMAL and real["accuracy"] >= stock_accuracy, "ratio")
    if target.get("trials"):
        add("within 0.15 D (main)", target["accuracy"], share(">=", TARGET_ACCURACY), target["accuracy"] >= TARGET_ACCURACY)
        ratio = entry["ratios"].get("vs_stock_normal")
        if ratio is not None:
            add("x fewer frames than stock-normal (main)", ratio, f">= {TARGET_VS_STOCK_NORMAL}",
                ratio >= TARGET_VS_STOCK_NORMAL, "ratio")
    hard = entry["dark_featureless"]
    if hard["trials"]:
        add("dark/featureless end FAILED", hard["failed"], share(">=", TARGET_FAILED), hard["failed"] >= TARGET_FAILED)
        add("dark/featureless FOCUSED at a wrong position", hard["wrong_lock"], share("<=", TARGET_WRONG_LOCK),
            hard["wrong_lock"] <= TARGET_WRONG_LOCK)
    for block, stats in entry["blocks"].items():
        if block.startswith("told2-true") and stats.get("trials"):
            add(f"{block} (latency mismatch): within 0.15 D", stats["accuracy"], share(">=", TARGET_ACCURACY),
                stats["accuracy"] >= TARGET_ACCURACY)
    for block, stats in entry["blocks"].items():
        if block.startswith("sweep:") and stats.get("trials"):
            add(f"{block}: within one frame spacing", stats["accuracy"], "100% (every start)", stats["accuracy"] >= 1.0)
    if tracking:
        static = tracking.get("static_max_commands_after_lock")
        locked = all(r["lock_frames"] is not None for r in tracking["static"])
        add("static: lens commands in 1000 frames after lock", static, "0", locked and static == TARGET_STATIC_COMMANDS,
            "count")
        moving = tracking.get("moving_max_mean_abs_error")
        add("moving 2 D/s: mean |error| while tracking (worst run)", moving, f"<= {TARGET_MOVING_ERROR} D",
            moving is not None and moving <= TARGET_MOVING_ERROR, "dioptres")
    return out


def _percent(fraction) -> str:
    """A share as a percentage with the digits it needs: 100%, 97%, 91.7%, 0.5%."""
    return "-" if fraction is None else f"{100.0 * fraction:.3g}%"


def _shown(check: dict) -> str:
    value, unit = check["value"], check.get("unit")
    if value is None:
        return "-"
    if unit == "share":
        return _percent(value)
    if unit == "dioptres":
        return f"{value:.3g} D"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _num(value, digits=1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value) -> str:
    return "-" if value is None else f"{100.0 * value:.0f}%"


def format_table(summary: dict, conditions: dict, check_list: list[dict] | None = None,
                 tracking: dict | None = None) -> str:
    """The human-readable report."""
    sweeps = conditions.get("sweeps") or []
    # a run of --sweep stacks alone has no simulated suite: say what it ran instead of "suite None"
    ran = f"suite {conditions['suite']}" if conditions.get("suite") else "no simulated suite"
    if sweeps:
        ran += f", {len(sweeps)} focal stack{'s' if len(sweeps) != 1 else ''} ({', '.join(sweeps)})"
    lines = [
        f"focusd bench: {conditions.get('trials')} trials x {len(summary)} algorithms, {ran}, seed {conditions.get('seed')}, {conditions.get('workers')} workers, "
        f"{conditions.get('seconds', 0):.1f} s ({conditions.get('cpu_seconds', 0):.1f} CPU s)",
    ]
    if any(entry.get("real", {}).get("trials") for entry in summary.values()):
        header = (f"{'algorithm':<20}{'trials':>7}{'median':>8}{'p95':>6}{'in focus':>10}{'told ok':>9}"
                  f"{'told -+1':>10}{'wrong':>7}{'failed':>8}{'F lit':>7}{'x normal':>10}")
        lines += ["", "real block: six real focal stacks (three tuned on, three held out), several AF windows each, "
                  "0.15-0.5 D between frames, bright/indoor/dim, latency 2-5 told right or a frame wrong, the "
                  "slew-limited lens and an unknown mix (in focus: FOCUSED within max(0.15 D, one frame spacing); "
                  "F lit: FAILED at indoor light or brighter)", header, "-" * len(header)]
        for name, entry in summary.items():
            r = entry.get("real", {})
            if not r.get("trials"):
                continue
            lines.append(
                f"{name:<20}{r['trials']:>7}{_num(r['median_frames']):>8}{_num(r['p95_frames'], 0):>6}"
                f"{_pct(r['accuracy']):>10}{_pct(r['accuracy_told_right']):>9}{_pct(r['accuracy_told_wrong']):>10}"
                f"{_pct(r['wrong_lock']):>7}{_pct(r['failed']):>8}{_pct(r['failed_lit']):>7}"
                f"{_num(entry.get('real_ratios', {}).get('vs_stock_normal'), 2):>10}")
    if any(entry["target"].get("trials") for entry in summary.values()):
        header = (f"{'algorithm':<20}{'trials':>7}{'median':>8}{'p95':>6}{'mean':>7}{'in 0.15D':>10}{'next fr.':>10}"
                  f"{'|err| med':>10}{'|err| p95':>10}{'failed':>8}{'x normal':>10}{'x fast':>8}")
        lines += ["", f"{TARGET_BLOCK} block: latency {conditions.get('main_latency', 2)}, bright + indoor light, every texture x 0.1 m..infinity "
                  "(frames = AF-ON to FOCUSED/FAILED; in 0.15D: where the lens was last sent; next fr.: where it "
                  "truly was in the frame after FOCUSED)", header, "-" * len(header)]
    for name, entry in summary.items():
        t = entry["target"]
        if not t.get("trials"):
            continue
        ratios = entry["ratios"]
        lines.append(
            f"{name:<20}{t['trials']:>7}{_num(t['median_frames']):>8}{_num(t['p95_frames'], 0):>6}"
            f"{_num(t['mean_frames']):>7}{_pct(t['accuracy']):>10}{_pct(t.get('accuracy_next_frame')):>10}"
            f"{_num(t['median_abs_error'], 3):>10}"
            f"{_num(t['p95_abs_error'], 3):>10}{_pct(t['failed']):>8}"
            f"{_num(ratios.get('vs_stock_normal'), 2):>10}{_num(ratios.get('vs_stock_fast'), 2):>8}"
        )
    blocks = sorted({b for e in summary.values() for b in e["blocks"]})
    if blocks:
        names = list(summary)
        width = max(15, 2 + max(len(n) for n in names))
        lines += ["", "per block: in focus (within tolerance) / median frames; F = ended FAILED"]
        header = f"{'block':<32}" + "".join(f"{n:>{width}}" for n in names)
        lines += [header, "-" * len(header)]
        for block in blocks:
            cells = []
            for name in names:
                s = summary[name]["blocks"].get(block, {})
                if not s.get("trials"):
                    cells.append("-")
                    continue
                cell = f"{_pct(s.get('accuracy'))} {_num(s.get('median_frames'), 0)}"
                if s.get("failed"):
                    cell += f" F{_pct(s['failed'])}"
                cells.append(cell)
            trials = max(summary[n]["blocks"].get(block, {}).get("trials", 0) for n in names)
            lines.append(f"{block + f' ({trials})':<32}" + "".join(f"{c:>{width}}" for c in cells))
    if any(entry["dark_featureless"]["trials"] for entry in summary.values()):
        lines += ["", "dark or featureless scenes: FAILED (wanted) / FOCUSED at a wrong position (to avoid)"]
    for name, entry in summary.items():
        hard = entry["dark_featureless"]
        if hard["trials"]:
            lines.append(f"  {name:<20}{_pct(hard['failed']):>6} / {_pct(hard['wrong_lock']):>5}  of {hard['trials']}")
    if tracking:
        lines += ["", "continuous AF (focusd):"]
        for run in tracking["static"]:
            lines.append(f"  static  {run['scene']:<22} {run['light']:<7} lock at frame {_num(run['lock_frames'])}, "
                         f"{_num(run['commands_after_lock'])} commands in {run['frames_after_lock']} frames after")
        for run in tracking["moving"]:
            lines.append(f"  moving  {run['scene']:<22} {run['light']:<7} lock at frame {_num(run['lock_frames'])}, "
                         f"mean |error| {_num(run['mean_abs_error'], 3)} D over {run['tracking_frames']} frames "
                         f"(max {_num(run['max_abs_error'], 2)})")
    if check_list:
        lines += ["", "targets (focusd):"]
        for check in check_list:
            lines.append(f"  [{'ok' if check['ok'] else 'MISS'}] {check['name']}: {_shown(check)} "
                         f"(target {check['target']})")
        missed = sum(not check["ok"] for check in check_list)
        lines.append(f"  {len(check_list) - missed} met, {missed} missed ({EXIT_RULE})")
    return "\n".join(lines)


def write_json(path: str, conditions: dict, rows, summary: dict, check_list: list[dict],
               tracking: dict | None = None) -> None:
    """Write the report atomically (temporary file, then rename), readable as any new file is
    (the umask's mode, not the temporary file's 0600)."""
    document = {
        "format": REPORT_FORMAT,
        "conditions": conditions,
        "trials": [row.row() for row in rows],
        "summary": summary,
        "checks": check_list,
        "tracking": tracking,
    }
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".bench-", suffix=".json", dir=folder)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(handle, 0o666 & ~umask)
        with os.fdopen(handle, "w") as out:
            json.dump(document, out, indent=1, allow_nan=False, default=_json_default)
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _json_default(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"not JSON serialisable: {value!r}")
