"""``focusd bench --bracket`` (focusd.bench.bracket): its deterministic figures on the daemon and
the simulator, the coverage check itself, and the command line."""

from __future__ import annotations

import json

import pytest

from focusd import cli
from focusd.bench import bracket
from focusd.bracket import depth_of_field_dioptres
from focusd.config.profiles import load_profile


@pytest.fixture(scope="module")
def rows():
    return {row["condition"]: row for row in bracket.run(seed=0)}


def test_the_bench_figures(rows):
    """Stepped pacing and seeded scenes: the same figures on every machine. Each later plane takes
    5 frames on the imx708 (the command goes out, the metadata shows it 2 frames on, and three lens
    states agree 3 frames after that), 6 when a step needs two slew-limited writes, 4 on the I2C
    lens (latency 1 there); and not one shot saw the lens move."""
    expected = {
        "imx708, near": [1, 5, 5, 5, 5],
        "imx708, infinity": [1, 5, 5, 5, 5],
        "imx708, 10 shots": [1] + [5] * 9,
        "imx708_wide (step > slew)": [1, 6, 6, 6],
        "ov5647 (I2C lens)": [1, 4, 4, 4],
        "control: step 1.5": [1, 5, 5, 5, 5],
    }
    assert {name: row["frames_per_shot"] for name, row in rows.items()} == expected
    for name, row in rows.items():
        assert row["reason"] == "done" and row["shots"] == row["written"] == len(expected[name]), name
        assert row["moving"] == 0 and row["estimate_moving"] == 0, name
        assert row["exposures"] == 1, name  # locked for the series
        assert row["plane_error_d"] < 1e-3, name
        assert row["covered"] is (name != "control: step 1.5"), name
    assert rows["control: step 1.5"]["worst_blur_px"] == pytest.approx(3.0, abs=0.01)  # a gap half a field wide


def test_coverage_finds_a_gap_and_accepts_fields_that_touch():
    profile = load_profile("imx708")
    dof = depth_of_field_dioptres(profile.f_number, profile.focal_length_mm, 2 * profile.pixel_size_um)
    touching = [1.0 + i * dof for i in range(4)]
    assert bracket.coverage(profile, touching, touching[0], touching[-1], 2.0)[0]
    gap = touching[:2] + [x + 0.1 for x in touching[2:]]
    covered, worst = bracket.coverage(profile, gap, gap[0], gap[-1], 2.0)
    assert not covered and worst > 2.0
    # the blur is the simulator's: 2 px at half a field of defocus
    assert bracket.blur_px(profile, dof / 2) == pytest.approx(2.0)


def test_the_command_line_prints_the_table_and_writes_json(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bracket, "CONDITIONS", bracket.CONDITIONS[:1])
    out = tmp_path / "bracket.json"
    assert cli.main(["bench", "--bracket", "--no-progress", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "imx708, near" in printed and "frames/shot" in printed
    (row,) = json.loads(out.read_text())
    assert row["frames_per_shot"] == [1, 5, 5, 5, 5] and row["covered"] is True
