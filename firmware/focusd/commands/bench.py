"""``focusd bench``: focusd's autofocus against the stock Pi CDAF and reference searches.

Every algorithm runs on the very same simulated frames (same scene, seed and start), so the speed
figures are ratios measured in the same run. ``--sweep DIR`` replays real focal stacks instead of
(or, with ``--suite``, as well as) the simulated suite.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace

from focusd.errors import FocusdError

HELP = "benchmark the autofocus against the stock Pi CDAF and others"

LIGHTS = ("bright", "indoor", "dim", "dark")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", choices=("default", "quick"), default=None,
                        help="simulated trial suite (default: 'default', or none when --sweep is given)")
    parser.add_argument("--sweep", action="append", default=[], metavar="DIR",
                        help="a focal stack folder (sweep.json, or images in file-name order); repeatable")
    parser.add_argument("--range", nargs=2, type=float, default=(0.0, 12.0), metavar=("A", "B"),
                        help="dioptres the frames of a --sweep folder without positions span (default 0 12)")
    parser.add_argument("--latency", type=int, nargs="+", choices=(0, 1, 2, 3, 4), metavar="N",
                        help="run only suite trials with these true lens latencies (frames); "
                             "--sweep stacks run at each (default 2)")
    parser.add_argument("--main-latency", type=int, default=None, metavar="N",
                        help="run the main block's trials at this true (and told) lens latency instead of 2, "
                             "e.g. 4: what a Pi through picamera2 with 3 buffers shows (the targets still read "
                             "'main')")
    parser.add_argument("--light", nargs="+", choices=LIGHTS,
                        help="run only suite trials at these light levels; --sweep stacks run at each (default bright)")
    parser.add_argument("--algorithms", default=None,
                        help="comma-separated, default focusd,stock-normal,stock-fast,exhaustive,golden; also "
                             "stock-normal-exact, stock-fast-exact (af.cpp fine scan), stock-normal-28hz (IPA at half rate)")
    parser.add_argument("--json", metavar="PATH", help="write every trial and the summary as JSON")
    parser.add_argument("--plot", metavar="PATH.png", help="plot one trial's focus curve and each lens path")
    parser.add_argument("--seed", type=int, default=0, help="seed of scenes and noise (default 0)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--tracking", action="store_true",
                        help="also run the continuous-AF checks (static scene, subject moving at 2 D/s)")
    parser.add_argument("--max-frames", type=int, default=400, help="frames before a run counts as TIMEOUT")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--shutter", action="store_true",
                        help="instead of the autofocus: press to start of exposure (median, p99) on the real daemon "
                             "in real time, idle, focused, during scans and in bursts (focusd.bench.shutter)")
    parser.add_argument("--assist", action="store_true",
                        help="the dark block without and with the AF-assist lamp (focusd.bench.assist)")
    parser.add_argument("--trap", action="store_true",
                        help="trap focus: subjects passing through the armed plane at 0.5-3 D/s, and false fires on "
                             "10,000 still frames (focusd.bench.trap)")
    parser.add_argument("--bracket", action="store_true",
                        help="instead of the autofocus: focus-bracketing series on the daemon and the simulated camera: "
                             "frames per shot, shots while the lens moved, depth coverage (focusd.bench.bracket)")
    parser.add_argument("--web", action="store_true",
                        help="instead of the autofocus: AF frames, press to exposure and frame rate with three "
                             "viewfinder clients (and one magnifying) against none, as ratios measured in the same "
                             "run, and the preview's rate and latency (focusd.bench.web)")
    parser.add_argument("--presses", type=int, default=None, metavar="N",
                        help="--shutter: presses per situation (default 30); --web: shutter presses per phase "
                             "(default 20)")
    parser.add_argument("--af-presses", type=int, default=8, metavar="N",
                        help="--web: AF-ON presses per phase (default 8)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when any of focusd's targets is missed ([MISS] in the report)")
    parser.epilog = ("Exit status: 0 when the run finished (the report marks each of focusd's targets [ok] or "
                     "[MISS]: the bench measures, and the default suite knowingly misses one, see the README); "
                     "with --check, 1 when a target is missed (the report, --json and --plot are written all the "
                     "same); 2 for bad arguments.")


def _algorithms(text: str | None) -> list[str]:
    # the bench's modules import numpy and the simulator (0.2 s): only when the bench runs
    from focusd.bench.runner import ALGORITHMS
    from focusd.bench.suite import DEFAULT_ALGORITHMS

    if not text:
        return list(DEFAULT_ALGORITHMS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ALGORITHMS]
    if unknown or not names:
        raise ValueError(f"--algorithms: unknown {', '.join(unknown) or '(none given)'} "
                         f"(known: {', '.join(ALGORITHMS)})")
    return names


def _cpu_seconds() -> float:
    """CPU time of this process and its finished workers: the run's cost whatever else the
    machine is doing (wall time on a loaded machine says little)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _unwritable(path: str) -> str | None:
    """Why a file cannot be written at ``path`` (None if it can): its folder must exist and take a
    new file (tried with a temporary one, removed at once)."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(folder):
        return f"no folder {folder}"
    if os.path.isdir(path):
        return "is a folder"
    try:
        handle, probe = tempfile.mkstemp(prefix=".bench-check-", dir=folder)
    except OSError as error:
        return f"cannot write in {folder} ({error.strerror})"
    os.close(handle)
    os.unlink(probe)
    return None


def _plot_trial(trials):
    """The trial the plot shows: a textured subject at 1 m in the main block, else the first."""
    for trial in trials:
        if trial.block == "main" and trial.scene.kind == "texture" and 0.9 <= trial.scene.distance_m <= 1.1:
            return trial
    return trials[0] if trials else None


def _shutter(args: argparse.Namespace) -> int:
    """``--shutter``: the press-to-exposure figure (its own report, and JSON with --json)."""
    import dataclasses
    import json

    from focusd.bench import shutter

    def progress(situation: str) -> None:
        if not args.no_progress:
            print(f"bench --shutter: {situation}...", file=sys.stderr, flush=True)

    delays, conditions = shutter.run(presses=args.presses, seed=args.seed, progress=progress)
    summary = shutter.summarise(delays)
    print(shutter.format_report(summary, conditions))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump({"conditions": conditions, "summary": summary,
                       "delays": [dataclasses.asdict(d) for d in delays]}, file, indent=1)
        print(f"\nwrote {args.json}")
    return 0


def _web(args: argparse.Namespace) -> int:
    """``--web``: a watched viewfinder against none (its own report, and JSON with --json)."""
    import json

    from focusd.bench import web

    def progress(phase: str) -> None:
        if not args.no_progress:
            print(f"bench --web: {phase}...", file=sys.stderr, flush=True)

    phases, conditions = web.run(af_trials=args.af_presses, presses=args.presses, seed=args.seed, progress=progress)
    print(web.format_report(phases, conditions))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump({"conditions": conditions, "phases": [p.summary() for p in phases]}, file, indent=1)
        print(f"\nwrote {args.json}")
    return 0


def _write_json(path: str | None, data) -> None:
    """--json of --assist, --trap, --bracket: ``data`` to ``path`` (None: nothing)."""
    if path:
        import json

        with open(path, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=1)
        print(f"\nwrote {path}")


def _assist(args: argparse.Namespace) -> int:
    """``--assist``: the dark block without and with the AF-assist lamp (and JSON with --json)."""
    from focusd.bench import assist
    from focusd.sim import scenes

    table = assist.run(list(scenes.TEXTURES), seed=args.seed, workers=args.workers)
    print(assist.format_report(table, args.seed))
    _write_json(args.json, table)
    return 0


def _trap(args: argparse.Namespace) -> int:
    """``--trap``: trap focus's passes and still scenes (and JSON with --json); with --check, 1
    when a target is missed."""
    from focusd.bench import trap
    from focusd.sim import scenes

    result = trap.run(list(scenes.TEXTURES), seed=args.seed, workers=args.workers)
    print(trap.format_report(result, args.seed))
    _write_json(args.json, result)
    return 1 if args.check and not trap.targets_met(result["summary"]) else 0


def _bracket(args: argparse.Namespace) -> int:
    """``--bracket``: focus-bracketing series on the daemon (and JSON with --json)."""
    from focusd.bench import bracket

    progress = None if args.no_progress else (lambda name: print(f"bench --bracket: {name}...", file=sys.stderr,
                                                                   flush=True))
    rows = bracket.run(seed=args.seed, progress=progress)
    print(bracket.format_report(rows, args.seed))
    _write_json(args.json, rows)
    return 0


def main(args: argparse.Namespace) -> int:
    try:
        algorithms = _algorithms(args.algorithms)
    except ValueError as error:
        print(f"focusd bench: {error}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("focusd bench: --workers must be at least 1", file=sys.stderr)
        return 2
    lo, hi = args.range
    if not (0.0 <= lo < hi):
        print(f"focusd bench: --range {lo:g} {hi:g}: need 0 <= A < B (dioptres)", file=sys.stderr)
        return 2
    if args.max_frames < 1:
        print(f"focusd bench: --max-frames {args.max_frames}: need at least 1 frame", file=sys.stderr)
        return 2
    # the outputs are checked before the run, not after it (a run takes minutes)
    if args.plot and not args.plot.lower().endswith(".png"):
        print(f"focusd bench: --plot {args.plot}: the plot is a PNG file (name it .png)", file=sys.stderr)
        return 2
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        problem = _unwritable(path) if path else None
        if problem:
            print(f"focusd bench: {option} {path}: {problem}", file=sys.stderr)
            return 2

    if args.shutter and args.web:
        print("focusd bench: --shutter and --web are separate runs: give one", file=sys.stderr)
        return 2
    if args.presses is None:
        args.presses = 20 if args.web else 30
    for option, count in (("--presses", args.presses), ("--af-presses", args.af_presses)):
        if count < 1:
            print(f"focusd bench: {option} {count}: need at least 1", file=sys.stderr)
            return 2
    if args.assist:
        return _assist(args)
    if args.trap:
        return _trap(args)
    if args.bracket:
        return _bracket(args)
    if args.shutter:
        return _shutter(args)
    if args.web:
        return _web(args)

    # imported once the arguments are checked: the bench and the simulator import numpy (0.2 s);
    # focusd.bench.plot imports matplotlib (0.5 s) itself, only when it plots
    from focusd.bench import metrics, report, suite
    from focusd.bench.plot import plot_trial
    from focusd.bench.progress import ProgressBar
    from focusd.bench.runner import render_window, run_trials
    from focusd.bench.tracking import run_tracking
    from focusd.sim import scenes
    from focusd.sim.sweep import load_sweep

    textures = list(scenes.TEXTURES)
    suite_name = args.suite or (None if args.sweep else "default")
    trials = []
    if suite_name == "default":
        trials = suite.default_suite(textures, seed=args.seed)
    elif suite_name == "quick":
        trials = suite.quick_suite(textures, seed=args.seed)
    if args.main_latency is not None:
        if not 0 <= args.main_latency <= 10:
            print("focusd bench: --main-latency must be 0-10 frames", file=sys.stderr)
            return 2
        trials = [replace(t, latency=args.main_latency, told_latency=args.main_latency) if t.block == "main" else t
                  for t in trials]
    keep = suite.SuiteFilter(tuple(args.latency) if args.latency else None, tuple(args.light) if args.light else None)
    trials = [t for t in trials if keep.keep(t)]
    try:
        for folder in args.sweep:
            positions = load_sweep(folder, lens_range=(lo, hi)).lens_positions
            for latency in args.latency or [2]:
                for light in args.light or ["bright"]:
                    trials += suite.sweep_trials(folder, (lo, hi), positions, seed=args.seed,
                                                 first_index=trials[-1].index + 1 if trials else 0,
                                                 latency=latency, light=light)
    except FocusdError as error:
        print(f"focusd bench: {error}", file=sys.stderr)
        return 2
    if not trials:
        print("focusd bench: no trials left to run (check --latency/--light)", file=sys.stderr)
        return 2

    window = render_window(algorithms)
    plot_spec = _plot_trial(trials) if args.plot else None
    bar = ProgressBar(len(trials), "bench", enabled=False if args.no_progress else None)
    began = time.monotonic()
    cpu_began = _cpu_seconds()
    rows = run_trials(trials, algorithms, workers=args.workers, window=window, max_frames=args.max_frames,
                      progress=bar, record_trial=plot_spec.index if plot_spec else None)
    bar.close()
    tracking = None
    if args.tracking and "focusd" in algorithms:
        static, moving = run_tracking(textures, seed=args.seed, workers=args.workers, window=window)
        tracking = metrics.tracking_summary(static, moving)
    seconds = time.monotonic() - began
    cpu_seconds = _cpu_seconds() - cpu_began
    summary = metrics.summarise(rows)
    check_list = report.checks(summary, tracking)
    conditions = {
        "suite": suite_name, "sweeps": list(args.sweep), "sweep_range": [lo, hi], "seed": args.seed,
        "workers": args.workers, "algorithms": algorithms, "trials": len(trials),
        "latencies": sorted({t.latency for t in trials}), "lights": sorted({t.light for t in trials}),
        "max_frames": args.max_frames, "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2),
        "profile": "imx708", "main_latency": 2 if args.main_latency is None else args.main_latency,
        "lens_range": [0.0, 12.0], "render_window": list(window) if window else None,
        "frames": "counted from the AF-ON press to FOCUSED or FAILED, at the sensor frame rate; "
                  "the stock baseline runs inside the IPA, whose controller runs at <= 30 Hz",
        "error": "final - truth, dioptres (signed)",
    }
    print(report.format_table(summary, conditions, check_list, tracking))
    if args.json:
        report.write_json(args.json, conditions, rows, summary, check_list, tracking)
        print(f"\nwrote {args.json}")
    if plot_spec is not None:
        plot_trial(args.plot, plot_spec, [r for r in rows if r.trial == plot_spec.index], window=window)
        print(f"wrote {args.plot}")
    return 1 if args.check and not all(check["ok"] for check in check_list) else 0
