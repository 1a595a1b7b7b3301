"""The benchmark: a small deterministic run whose frame and accuracy figures are asserted, the JSON
report's schema, the command line, the plot and the progress bar."""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import stat

import pytest

from focusd.af.tuning import STOCK_WINDOW
from focusd.bench import metrics, report
from focusd.bench.progress import ProgressBar
from focusd.bench.runner import ALGORITHMS, make_rig, run_trial, run_trials
from focusd.bench.suite import SceneSpec, TrialSpec, default_suite, quick_suite
from focusd.sim import scenes


def small_trials():
    """Four textured trials at latency 2 in bright light (the "main" block's conditions), plus a
    featureless wall."""
    specs = [("text", 1.0, 0.0), ("foliage", 0.45, 4.0), ("bricks", 3.0, 12.0), ("natural", 0.22, 1.0)]
    trials = [TrialSpec(index=i, block="main", scene=SceneSpec("texture", t, d, seed=10 + i), light="bright",
                        start=s, seed=10 + i) for i, (t, d, s) in enumerate(specs)]
    trials.append(TrialSpec(index=len(trials), block="featureless", scene=SceneSpec("featureless", seed=20),
                            light="bright", start=3.0, seed=20))
    return trials


@pytest.fixture(scope="module")
def small_run():
    rows = run_trials(small_trials(), ["focusd", "stock-normal", "stock-fast"], workers=1)
    return rows, metrics.summarise(rows)


def test_small_run_baseline_frame_counts_and_accuracy(small_run):
    rows, summary = small_run
    normal, fast = (summary[name]["target"] for name in ("stock-normal", "stock-fast"))
    assert normal["trials"] == fast["trials"] == 4
    # the stock schedule, inside the IPA whose controller runs on every second frame at 56 fps: skip
    # 5 runs, then 5 (normal) / 4 (fast) runs per coarse step from infinity, and normal's fine scan
    assert 80 <= normal["median_frames"] <= 120
    assert 40 <= fast["median_frames"] <= 70
    assert normal["accuracy"] >= 0.75
    # the flat wall ends FAILED for everyone
    walls = [r for r in rows if r.scene == "featureless"]
    assert [r.state for r in walls] == ["FAILED"] * 3


def test_small_run_engine_meets_the_targets(small_run):
    """The README's targets, on a small seeded run (the full suite: focusd bench)."""
    rows, summary = small_run
    focusd = summary["focusd"]["target"]
    assert focusd["accuracy"] == 1.0
    assert focusd["median_frames"] <= 31  # a third of the main block's stock normal (93)
    assert summary["focusd"]["ratios"]["vs_stock_normal"] >= 3.0


def test_runs_are_deterministic_and_every_algorithm_sees_the_same_frames():
    spec = small_trials()[1]
    first, second = run_trial(spec, "stock-fast"), run_trial(spec, "stock-fast")
    assert first.row() == second.row()
    a, b = make_rig(spec), make_rig(spec)
    assert (a.next_frame().y == b.next_frame().y).all()


def test_rows_and_summary_carry_the_design_fields(small_run):
    rows, summary = small_run
    for row in rows:
        data = row.row()
        for field in report.ROW_FIELDS:
            assert field in data
        assert data["error"] == pytest.approx(data["final"] - data["truth"], abs=1e-3)
        assert data["frames"] <= data["frames_settled"]
        if data["algorithm"] == "focusd" and data["state"] == "FOCUSED":
            # FOCUSED waits for the lens at the peak: at most a trim is still in flight after it
            assert data["frames_settled"] <= data["frames"] + data["latency"] + 1
            assert abs(data["error_next_frame"] - data["error"]) <= 0.15 + 1e-3
    assert set(summary) == {"focusd", "stock-normal", "stock-fast"}


def test_json_report_schema(tmp_path, small_run):
    rows, summary = small_run
    path = tmp_path / "bench.json"
    check_list = report.checks(summary)
    report.write_json(str(path), {"suite": "test", "seed": 0}, rows, summary, check_list)
    document = json.loads(path.read_text())
    assert document["format"] == "focusd-bench/1"
    assert set(document) == {"format", "conditions", "trials", "summary", "checks", "tracking"}
    assert len(document["trials"]) == len(rows)
    for row in document["trials"]:
        assert isinstance(row["algorithm"], str) and isinstance(row["scene"], str)
        assert isinstance(row["trial"], int) and isinstance(row["frames"], int)
        assert isinstance(row["reversals"], int)
        for key in ("start", "final", "truth", "error", "travel"):
            assert isinstance(row[key], float) and math.isfinite(row[key])
        assert row["state"] in ("FOCUSED", "FAILED", "TIMEOUT")
    target = document["summary"]["focusd"]["target"]
    for key in ("median_frames", "p95_frames", "accuracy"):
        assert key in target
    assert {c["name"] for c in document["checks"]} >= {"x fewer frames than stock-normal (main)", "within 0.15 D (main)"}


def test_table_names_every_algorithm(small_run):
    rows, summary = small_run
    text = report.format_table(summary, {"trials": 5, "suite": "test", "seed": 0, "workers": 1, "seconds": 1.0},
                               report.checks(summary))
    for name in summary:
        assert name in text
    assert "targets (focusd)" in text


def test_default_suite_has_what_the_issue_asks_for():
    from focusd.bench.real import SPACINGS
    from focusd.bench.stacks import HELD_OUT_STACKS, TUNING_STACKS, stack_folders

    trials = default_suite(list(scenes.TEXTURES))
    textures = {t.scene.texture for t in trials if t.scene.kind == "texture"}
    assert len(textures) >= 6
    distances = {t.scene.distance_m for t in trials if t.block == "main"}
    assert min(distances) == 0.1 and math.inf in distances
    assert {t.light for t in trials} == {"bright", "indoor", "dim", "dark"}
    assert len({t.start for t in trials}) >= 3
    assert any(t.scene.kind == "two-depth" for t in trials)
    assert any(t.told_latency != t.latency for t in trials)
    assert len({t.seed for t in trials}) == len(trials)
    # every block but the named instant-lens one runs on the slew-limited lens, with the mix drawn
    assert {t.lens for t in trials if t.block != "instant-lens"} == {"ipa"}
    assert {t.lens for t in trials if t.block == "instant-lens"} == {"instant"}
    assert len({t.move_phase for t in trials if t.lens == "ipa"}) > 100
    # the real block: every shipped stack, at least 5 windows with detail each, frame spacing
    # 0.15-0.5 D, several lights, latency 2-5 told right and a frame wrong either way
    real = [t for t in trials if t.block.startswith("real-")]
    names = {t.scene.path.rstrip("/").rsplit("/", 1)[-1] for t in real}
    assert names == {p.name for p in stack_folders()} == set(TUNING_STACKS) | set(HELD_OUT_STACKS)
    for name in names:
        windows = {t.scene.window for t in real if t.scene.path.endswith(name)}
        assert len(windows) >= 5, name
    assert {t.scene.spacing for t in real} <= set(SPACINGS) and min(SPACINGS) == 0.15 and max(SPACINGS) == 0.5
    assert {t.light for t in real} == {"bright", "indoor", "dim"}
    assert {t.latency for t in real} == {2, 3, 4, 5}
    assert {t.told_latency - t.latency for t in real} == {-1, 0, 1}
    assert all(t.tolerance == max(0.15, t.scene.spacing) for t in real)
    assert {t.block for t in real} == {"real-tuning", "real-held-out"}


def bench_main(argv: list[str]) -> int:
    """``focusd bench ARGS`` through the command module's own parser and main."""
    import argparse

    from focusd.commands import bench

    parser = argparse.ArgumentParser(prog="focusd bench")
    bench.add_arguments(parser)
    return bench.main(parser.parse_args(argv))


def test_cli_quick_run_writes_json_and_plot(tmp_path, capsys):
    out, png = tmp_path / "b.json", tmp_path / "b.png"
    status = bench_main(["--suite", "quick", "--algorithms", "focusd,stock-fast", "--workers", "2",
                   "--json", str(out), "--plot", str(png), "--no-progress"])
    assert status == 0
    assert "focusd" in capsys.readouterr().out
    document = json.loads(out.read_text())
    assert len(document["trials"]) == 2 * len(quick_suite(list(scenes.TEXTURES)))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_rejects_an_unknown_algorithm(capsys):
    assert bench_main(["--algorithms", "focusd,magic"]) == 2
    assert "magic" in capsys.readouterr().err


def test_progress_bar_draws_only_when_enabled():
    stream = io.StringIO()
    bar = ProgressBar(4, "bench", stream=stream, enabled=True)
    bar(2)
    bar.close()
    assert "2/4" in stream.getvalue() and stream.getvalue().endswith("\n")
    quiet = io.StringIO()
    ProgressBar(4, stream=quiet)(1)  # a StringIO is not a terminal
    assert quiet.getvalue() == ""


def test_percentile_is_nearest_rank():
    assert metrics.percentile(list(range(1, 21)), 0.95) == 19
    assert metrics.median([1, 2, 3, 10]) == 2.5


def test_a_trials_window_does_not_stay_with_the_stock_baseline_for_the_next_trial():
    # a worker process builds every algorithm afresh per trial: a real-stack trial's window must
    # not become the window of the trials after it
    make = ALGORITHMS["stock-normal"]
    window = (0.0, 0.0, 0.25, 0.25)
    assert make((0.0, 12.0), 2, window=window).window == window
    assert make((0.0, 12.0), 2).window == STOCK_WINDOW


def test_results_do_not_depend_on_the_number_of_workers():
    trials = small_trials()[:3]
    one = run_trials(trials, ["stock-fast", "golden"], workers=1)
    two = run_trials(trials, ["stock-fast", "golden"], workers=2)
    assert [r.row() for r in one] == [r.row() for r in two]


def test_main_latency_runs_the_main_block_at_another_latency(tmp_path):
    """`focusd bench --main-latency 4`: the main block's trials run at true and told latency 4
    (a Pi through picamera2), the others as they are; the JSON and the table say so."""
    from focusd.commands import bench

    report = tmp_path / "b.json"
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--suite", "quick", "--main-latency", "4", "--algorithms", "focusd", "--json",
                              str(report), "--workers", "1", "--no-progress"])
    assert bench.main(args) == 0
    data = json.loads(report.read_text())
    assert data["conditions"]["main_latency"] == 4
    main = [row for row in data["trials"] if row["block"] == "main"]
    assert main and all(row["latency"] == row["told_latency"] == 4 for row in main)
    assert any(row["latency"] != 4 for row in data["trials"] if row["block"] != "main")


@pytest.mark.parametrize("argv, named", [
    (["--max-frames", "0"], "--max-frames"),
    (["--plot", "out.txt"], "--plot"),
    (["--json", "/proc/focusd-bench.json"], "--json"),
    (["--plot", "/no/such/folder/p.png"], "--plot"),
    (["--json", "/no/such/folder/b.json"], "--json"),
])
def test_bad_arguments_and_outputs_are_refused_before_the_run(argv, named, capsys, monkeypatch):
    """Refused with exit status 2 and the option named, before a single trial runs (a run takes
    minutes; an unwritable output found after it would lose it)."""
    import focusd.bench.runner as runner

    def no_run(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(runner, "run_trials", no_run)
    assert bench_main(["--suite", "quick", "--no-progress", *argv]) == 2
    error = capsys.readouterr().err
    assert error.startswith("focusd bench: ") and named in error and "Traceback" not in error


def test_the_targets_show_shares_as_percentages_and_count_the_misses(small_run):
    _, summary = small_run
    check_list = report.checks(summary)
    text = report.format_table(summary, {"trials": 5, "suite": "test", "seed": 0, "workers": 1, "seconds": 1.0},
                               check_list)
    line = next(line for line in text.splitlines() if "within 0.15 D (main):" in line)
    share = next(c for c in check_list if c["name"] == "within 0.15 D (main)")
    assert share["unit"] == "share" and f": {100 * share['value']:.3g}% (target >= 95%)" in line, line
    missed = sum(not c["ok"] for c in check_list)
    assert text.splitlines()[-1] == f"  {len(check_list) - missed} met, {missed} missed ({report.EXIT_RULE})"


def test_a_sweep_only_run_names_its_stacks_not_suite_none():
    text = report.format_table({}, {"trials": 3, "suite": None, "sweeps": ["stacks/pcb"], "seed": 0, "workers": 1})
    assert "None" not in text.splitlines()[0]
    assert "no simulated suite, 1 focal stack (stacks/pcb)" in text.splitlines()[0]


def test_the_json_report_gets_the_mode_of_any_new_file(tmp_path, small_run):
    rows, summary = small_run
    path = tmp_path / "bench.json"
    old = os.umask(0o022)
    try:
        report.write_json(str(path), {"suite": "test"}, rows, summary, report.checks(summary))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # mkstemp's own 0600 would hide it from others


def test_check_makes_a_missed_target_exit_1_and_the_help_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(report, "TARGET_ACCURACY", 1.01)  # a target no run meets
    out = tmp_path / "b.json"
    arguments = ["--suite", "quick", "--algorithms", "focusd", "--light", "bright", "--latency", "2",
                 "--workers", "1", "--no-progress", "--json", str(out)]
    assert bench_main([*arguments, "--check"]) == 1
    text = capsys.readouterr().out
    assert "[MISS] within 0.15 D (main)" in text and "1 missed" in text
    assert json.loads(out.read_text())["checks"]  # the report is written all the same
    assert bench_main(arguments) == 0  # without --check a finished run is exit 0, as the help says
    from focusd.commands import bench

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert "with --check, 1 when a target is missed" in " ".join(parser.format_help().split())
