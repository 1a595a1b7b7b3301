"""``focusd bench --assist``: the dark block with and without the AF-assist lamp.

The same seeded trials as the default suite's ``dark`` block (every texture at 0.3, 1 and 3 m in
0.2 lux) and its dark featureless wall, each run twice by focusd's engine: without the lamp, and
with it (focusd.service.assist's rules, the simulator's lamp of ASSIST_LAMP_LUX_AT_1M at 1 m,
falling with the square of the distance). Two figures per condition: the share of trials in
focus, and wrong locks (FOCUSED away from the truth; on the featureless wall any FOCUSED is
wrong, there being nothing to focus on).
"""

from __future__ import annotations

from dataclasses import replace

from focusd.bench.runner import TrialResult, run_trials
from focusd.bench.suite import TrialSpec, default_suite
from focusd.sim.sensor import ASSIST_LAMP_LUX_AT_1M


def assist_trials(textures: list[str], seed: int = 0) -> list[TrialSpec]:
    """The default suite's dark block and dark featureless wall, each without and with the lamp."""
    dark = [t for t in default_suite(textures, seed=seed, real=False)
            if t.light == "dark" and t.block in ("dark", "featureless")]
    return dark + [replace(t, index=t.index + 100_000, assist=True) for t in dark]


def figures(results: list[TrialResult], specs: list[TrialSpec]) -> dict[str, dict]:
    """Per condition ("lamp off", "lamp on"): trials, in focus, wrong locks (counts and share)."""
    assisted = {spec.index: spec.assist for spec in specs}
    out = {}
    for name, lit in (("lamp off", False), ("lamp on", True)):
        rows = [r for r in results if assisted[r.trial] is lit]
        textured = [r for r in rows if r.block == "dark"]
        wrong = [r for r in rows if r.state == "FOCUSED" and (r.block == "featureless" or not r.in_focus)]
        in_focus = sum(r.in_focus for r in textured)
        out[name] = {"trials": len(rows), "textured": len(textured), "in_focus": in_focus,
                     "in_focus_share": in_focus / max(len(textured), 1), "wrong_locks": len(wrong),
                     "failed": sum(r.state == "FAILED" for r in rows)}
    return out


def run(textures: list[str], seed: int = 0, workers: int = 2, progress=None) -> dict[str, dict]:
    specs = assist_trials(textures, seed)
    results = run_trials(specs, ["focusd"], workers=workers, progress=progress)
    return figures(results, specs)


def format_report(table: dict[str, dict], seed: int) -> str:
    lines = [f"AF-assist lamp ({ASSIST_LAMP_LUX_AT_1M:g} lux at 1 m), dark block (0.2 lux), focusd, seed {seed}",
             f"{'condition':<10} {'in focus':>14} {'wrong locks':>12} {'FAILED':>7}"]
    for name, row in table.items():
        lines.append(f"{name:<10} {row['in_focus']:>3}/{row['textured']:<3} {row['in_focus_share']:>6.0%} "
                     f"{row['wrong_locks']:>12} {row['failed']:>7}")
    return "\n".join(lines)
