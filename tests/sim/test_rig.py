"""SimRig: determinism, optics, lores sizes, latency contract, blending, noise and exposure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from focusd.errors import ConfigError, LensError
from focusd.config.profiles import load_profile
from focusd.sim import LIGHT_LEVELS, SimRig, scenes
from focusd.sim.lens import LensModel
from focusd.sim.optics import disk_otf

from sim.sim_helpers import AF_WINDOW, gradient_energy, settled_frame, window_cut

PROFILE = load_profile("imx708")


def run(rig, commands):
    """Deliver frames; ``commands`` maps a frame index to a lens position commanded after it."""
    frames = []
    for index in range(max(commands) + 8):
        frames.append(rig.next_frame())
        if index in commands:
            rig.set_lens_position(commands[index])
    return frames


def test_same_seed_same_frames_and_another_seed_differs():
    scene = scenes.texture_scene("foliage", distance_m=1.0, seed=3)
    a = run(SimRig(scene, light="dim", seed=5, window=AF_WINDOW), {2: 4.0, 5: 1.5})
    b = run(SimRig(scene, light="dim", seed=5, window=AF_WINDOW), {2: 4.0, 5: 1.5})
    c = run(SimRig(scene, light="dim", seed=6, window=AF_WINDOW), {2: 4.0, 5: 1.5})
    assert all(np.array_equal(x.y, y.y) for x, y in zip(a, b))
    assert [x.lens_actual for x in a] == [y.lens_actual for y in b]
    assert not np.array_equal(a[0].y, c[0].y)


def test_blur_diameter_follows_the_profile():
    # ~12.5 um per dioptre on the sensor (docs/design.md, "Optics and the lores grid"); 2304x1296
    # binned 2x, ISP 3x to 768 wide
    assert PROFILE.blur_um_per_dioptre == pytest.approx(12.48, abs=0.05)
    rig = SimRig(scenes.texture_scene("text", 1.0), profile=PROFILE, mode=(2304, 1296), lores_size=(768, 432))
    assert rig.geometry.lores_px_per_dioptre == pytest.approx(12.48 / 1.4 / 6, rel=1e-3)
    crop = SimRig(scenes.texture_scene("text", 1.0), profile=PROFILE, mode=(1536, 864), lores_size=(768, 432))
    assert crop.geometry.lores_px_per_dioptre == pytest.approx(12.48 / 1.4 / 4, rel=1e-3)
    # a disk's transfer function first reaches zero at 1.2197 / diameter cycles per pixel
    rho = np.array([0.0, 1.2197 / 8.0])
    assert disk_otf(rho, 8.0) == pytest.approx([1.0, 0.0], abs=1e-4)


def test_blur_grows_with_defocus_and_is_least_at_truth():
    scene = scenes.texture_scene("natural", distance_m=0.5, seed=2)  # truth 2.0 D
    rig = SimRig(scene, light="bright", start_lens=2.0, window=AF_WINDOW)
    measure = {d: gradient_energy(settled_frame(rig, 2.0 + d).y) for d in (0.0, 0.3, 0.6, 1.0, 2.0, 4.0)}
    values = [measure[d] for d in sorted(measure)]
    assert all(a > b for a, b in zip(values, values[1:])), measure
    # symmetric about the truth (a thin lens: blur depends on |defocus|)
    nearer = gradient_energy(settled_frame(rig, 2.0 - 1.0).y)
    assert nearer == pytest.approx(measure[1.0], rel=0.05)
    assert rig.truth() == pytest.approx(2.0)


def test_lores_size_per_mode_and_oversized_lores_refused():
    scene = scenes.texture_scene("bricks", 2.0)
    for mode, lores in [((2304, 1296), (768, 432)), ((1536, 864), (768, 432)), ((1536, 864), (640, 360)),
                        ((4608, 2592), (1152, 648))]:
        frame = SimRig(scene, mode=mode, lores_size=lores, window=AF_WINDOW).next_frame()
        assert frame.y.shape == (lores[1], lores[0]) and frame.y.dtype == np.uint8
        assert frame.frame_duration_us == pytest.approx(1e6 / PROFILE.mode(mode).fps, rel=1e-3)
    with pytest.raises(ConfigError, match="lores_size"):
        SimRig(scene, mode=(1536, 864), lores_size=(1920, 1080))


@pytest.mark.parametrize("latency", [0, 1, 2, 3])
def test_latency_contract_exactly(latency):
    rig = SimRig(scenes.texture_scene("text", 1.0), light="bright", latency_frames=latency, start_lens=1.0,
                 window=AF_WINDOW)
    for _ in range(3):
        rig.next_frame()
    n = rig.next_frame().sequence
    rig.set_lens_position(2.5)  # within max_slew: one write takes it all the way
    later = [rig.next_frame() for _ in range(latency + 3)]
    for frame in later[:latency]:  # frames n+1 .. n+latency: the old position, exactly
        assert frame.lens_actual == 1.0
    # the metadata: the IPA's state after each frame's request; the write rides on request n+latency
    assert [f.lens_position for f in later[:max(latency - 1, 0)]] == [1.0] * max(latency - 1, 0)
    if latency:
        assert later[latency - 1].lens_position == 2.5
    first = later[latency]
    assert first.sequence == n + latency + 1
    assert first.lens_actual == pytest.approx(2.5)  # short daylight exposure, the move at the readout
    assert later[latency + 2].lens_actual == 2.5


@pytest.mark.parametrize("phase", [0.0, 0.5])
def test_exposure_during_a_move_is_a_blend(phase):
    rig = SimRig(scenes.texture_scene("natural", 1.0), light="indoor", latency_frames=2, start_lens=1.0,
                 lens=LensModel(move_phase=phase), window=AF_WINDOW)
    rig.next_frame()
    still = rig.next_frame()
    assert still.exposure_time_us > 0.9 * still.frame_duration_us  # indoors: exposure ~ frame time
    rig.set_lens_position(2.5)
    frames = [rig.next_frame() for _ in range(6)]
    first, second = frames[2], frames[3]
    assert first.lens_moving and 1.0 < first.lens_actual < 2.5
    if phase == 0.0:
        # the move at the readout: the window's rows (a third to two thirds down) half exposed before it
        assert 1.0 + 0.3 < first.lens_actual < 2.5 - 0.3
        assert second.lens_actual == 2.5 and not second.lens_moving
        # the mixed frame is sharper than the settled one at 2.5 D (part of it saw the lens at 1 D)
        assert gradient_energy(first.y) > 1.05 * gradient_energy(frames[5].y)
    else:
        # half a frame later: the first frame barely sees it and the move spills into the next
        assert first.lens_actual < 1.0 + 0.3
        assert second.lens_moving and 1.0 + 0.3 < second.lens_actual < 2.5
    assert frames[4].lens_actual == 2.5 and not frames[4].lens_moving


def test_metadata_reports_the_ipa_state_and_clamps():
    rig = SimRig(scenes.texture_scene("skin", 1.0), start_lens=2.0, latency_frames=1)
    assert rig.next_frame().lens_position == 2.0
    rig.set_lens_position(3.0)
    rig.set_lens_position(99.0)  # the later write to the same request wins: clamped, slewed
    frame = rig.next_frame()
    assert frame.lens_position == 2.0 + PROFILE.max_slew
    assert rig.ipa.target == PROFILE.lens_range[1]
    rig.set_lens_position(-1.0)
    rig.next_frame()
    assert rig.ipa.target == 0.0
    with pytest.raises(LensError):
        rig.set_lens_position(math.nan)


def test_timestamps_are_exposure_starts_on_the_virtual_clock():
    rig = SimRig(scenes.texture_scene("text", 1.0), light="indoor")
    duration = rig.frame_duration_ns
    for k in range(3):
        frame = rig.next_frame()
        assert frame.sequence == k
        assert frame.timestamp_ns == (k + 1) * duration - round(frame.exposure_time_us * 1e3)
        assert rig.now_ns() == (k + 1) * duration


def test_noise_grows_as_light_falls():
    relative = []
    for light in LIGHT_LEVELS:
        rig = SimRig(scenes.featureless_scene(0), light=light, window=AF_WINDOW)
        a, b = window_cut(rig.next_frame().y), window_cut(rig.next_frame().y)
        relative.append(float((a - b).std() / np.sqrt(2) / a.mean()))
    bright, indoor, dim, dark = relative
    assert bright <= indoor * 1.05  # both reach the AE target with gain ~1: the same electrons
    assert indoor < dim < dark
    assert dark > 0.3  # the dark is very noisy


def test_dark_featureless_has_no_reliable_peak():
    rig = SimRig(scenes.featureless_scene(0), light="dark", start_lens=0.0, window=AF_WINDOW)
    curve = [gradient_energy(settled_frame(rig, x, 2).y) for x in np.arange(0.0, 6.0, 0.5)]
    assert max(curve) / min(curve) < 1.1


def test_exposure_changes_the_mean_and_auto_exposure_follows_the_light():
    rig = SimRig(scenes.texture_scene("bricks", 2.0), light="indoor", window=AF_WINDOW)
    rig.set_exposure(2000)
    short = window_cut(rig.next_frame().y).mean()
    rig.set_exposure(8000)
    frame = rig.next_frame()
    assert frame.exposure_time_us == 8000
    assert window_cut(frame.y).mean() > short * 1.4
    rig.set_exposure(None)
    settled = window_cut(rig.next_frame().y).mean()
    rig.set_light("dim")  # the light falls: first darker, then the AE brings the level back
    first = window_cut(rig.next_frame().y).mean()
    for _ in range(30):
        last = rig.next_frame()
    assert first < settled * 0.8
    assert window_cut(last.y).mean() == pytest.approx(settled, rel=0.1)
    assert last.analogue_gain > 4


def test_two_depth_each_depth_sharp_at_its_own_position():
    scene = scenes.two_depth_scene(near="text", near_m=0.3, far="bricks", far_m=5.0, near_fraction=0.4, seed=1)
    assert scene.depths() == pytest.approx({"background": 0.2, "subject": 1 / 0.3})
    rig = SimRig(scene, light="bright", window=AF_WINDOW)
    centre = (0.45, 0.45, 0.1, 0.1)  # inside the subject
    corner = (0.26, 0.34, 0.05, 0.05)  # inside the window, outside the subject
    near = settled_frame(rig, 1 / 0.3).y
    far = settled_frame(rig, 0.2).y
    assert gradient_energy(near, centre) > 2 * gradient_energy(far, centre)
    assert gradient_energy(far, corner) > 2 * gradient_energy(near, corner)


@pytest.mark.parametrize("near, far, fraction, winner", [
    ("text", "bricks", 0.25, "subject"),  # a small patch of busy text beats plain bricks
    ("text", "bricks", 0.6, "subject"),
    ("skin", "foliage", 0.6, "background"),  # a large patch of smooth skin loses to leaves
    ("natural", "text", 0.4, "background"),
])
def test_two_depth_truth_is_the_depth_that_dominates_the_measure(near, far, fraction, winner):
    scene = scenes.two_depth_scene(near=near, near_m=0.5, far=far, far_m=4.0, near_fraction=fraction, seed=3)
    assert scene.truth_dioptres(0.0) == pytest.approx(scene.depths()[winner])
    measures = scene.layer_measures()
    assert measures[winner] == max(measures.values())
    # and it is where a sweep of the simulated camera finds its highest measure
    rig = SimRig(scene, light="bright", window=AF_WINDOW)
    positions = np.arange(0.0, 2.51, 0.25)
    curve = [gradient_energy(settled_frame(rig, x, 3).y) for x in positions]
    assert abs(positions[int(np.argmax(curve))] - rig.truth()) <= 0.25
    assert rig.truth() == pytest.approx(scene.truth_dioptres(0.0))


def test_moving_subject_truth_follows_time():
    scene = scenes.moving_scene("text", start_m=2.0, dioptres_per_s=2.0, seed=1)
    assert scene.truth_dioptres(0.0) == pytest.approx(0.5)
    assert scene.truth_dioptres(1.5) == pytest.approx(3.5)
    rig = SimRig(scene, light="bright")
    for _ in range(56):
        frame = rig.next_frame()
    assert rig.truth() == pytest.approx(0.5 + 2.0 * frame.time_s)


def test_window_mode_renders_the_window_like_the_full_frame():
    scene = scenes.texture_scene("text", 1.0, seed=4)
    full = SimRig(scene, light="indoor").next_frame().y
    windowed = SimRig(scene, light="indoor", window=AF_WINDOW).next_frame().y
    a, b = window_cut(full).ravel(), window_cut(windowed).ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.98
    assert windowed[:20, :20].std() == 0  # outside: flat


def test_main_image_is_rgb_at_twice_the_lores_size():
    rig = SimRig(scenes.texture_scene("foliage", 1.0), window=AF_WINDOW)
    with pytest.raises(ConfigError):
        rig.main_image()
    rig.next_frame()
    image = rig.main_image()
    assert image.shape == (864, 1536, 3) and image.dtype == np.uint8


def test_bad_scene_arguments_are_refused():
    with pytest.raises(ConfigError, match="texture"):
        scenes.texture_scene("marble")
    with pytest.raises(ConfigError, match="distance_m"):
        scenes.texture_scene("text", distance_m=0)
    with pytest.raises(ConfigError, match="near_fraction"):
        scenes.two_depth_scene(near_fraction=1.5)
    with pytest.raises(ConfigError, match="light"):
        SimRig(scenes.texture_scene("text"), light="twilight")
    assert scenes.texture_scene("text", distance_m=math.inf).truth_dioptres(0) == 0.0
    assert len(scenes.TEXTURES) >= 6


def test_dropped_frames_leave_a_gap_and_the_lens_keeps_time():
    rig = SimRig(scenes.texture_scene("text", 1.0), light="bright", latency_frames=2, start_lens=1.0)
    rig.next_frame()
    rig.set_lens_position(2.0)
    rig.skip_frames(3)  # the consumer missed three frames: the move happened meanwhile
    frame = rig.next_frame()
    assert frame.sequence == 4
    assert frame.lens_actual == 2.0 and frame.lens_position == 2.0
    assert frame.timestamp_ns == 5 * rig.frame_duration_ns - round(frame.exposure_time_us * 1e3)
