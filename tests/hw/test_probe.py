"""``focusd probe``: the simulated module on a desktop, the detected one through picamera2."""

from __future__ import annotations

from focusd.cli import main


def test_probe_prints_the_simulated_module(capsys):
    assert main(["probe", "--set", "camera.backend=sim", "--set", "camera.profile=imx708_wide"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("camera: sim:imx708_wide")
    assert "lens: 0-35 D" in out
    assert "2304x1296 @ 56.03 fps (2x2 binned)  <- focusing and captures" in out
    assert "1536x864 @ 120.13 fps" in out and "768x432 YUV420" in out


def test_probe_on_the_pi_names_the_module_and_its_profile(standin, capsys):
    standin.use_module(standin.ModuleSpec(model="imx708_wide", lens=(0.0, 35.0, 1.0)))
    assert main(["probe", "--set", "camera.backend=picamera2", "--set", "camera.profile=imx708"]) == 0
    out = capsys.readouterr().out
    assert "camera 0: imx708_wide" in out
    assert "lens: LensPosition 0-35 D, default 1 D (libcamera)" in out
    assert "2304x1296 @ 56.03 fps, 10-bit" in out
    assert 'profile: imx708_wide (configured: imx708; set camera.profile = "imx708_wide")' in out


def test_probe_without_lens_control_says_so(standin, capsys):
    standin.use_module(standin.ModuleSpec(model="ov5647", lens=None, full_size=(2592, 1944),
                                          modes=(((640, 480), 58.92), ((2592, 1944), 15.63))))
    assert main(["probe", "--set", "camera.backend=picamera2", "--set", "camera.profile=ov5647_motorized"]) == 0
    out = capsys.readouterr().out
    assert "no LensPosition control" in out and "profile: ov5647_motorized (configured)" in out


def test_probe_without_picamera2_fails_with_a_hint(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "picamera2", None)  # as on a desktop: import fails
    assert main(["probe", "--set", "camera.backend=picamera2"]) == 69
    assert "camera.backend=sim" in capsys.readouterr().err


def test_noir_variants_match_their_modules_profile():
    from focusd.commands.probe import matching_profile

    assert matching_profile("imx708_noir") == "imx708"
    assert matching_profile("imx708_wide_noir") == "imx708_wide"
    assert matching_profile("imx708_wide") == "imx708_wide" and matching_profile("imx708") == "imx708"
    assert matching_profile("imx999_noir") is None


def test_probe_names_the_profile_of_a_noir_module(standin, capsys):
    standin.use_module(standin.ModuleSpec(model="imx708_wide_noir", lens=(0.0, 35.0, 1.0)))
    assert main(["probe", "--set", "camera.backend=picamera2", "--set", "camera.profile=imx708_wide"]) == 0
    assert "profile: imx708_wide (configured)" in capsys.readouterr().out
