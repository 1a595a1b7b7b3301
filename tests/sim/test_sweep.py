"""Focus sweeps: the on-disk format, plain folders, replay with interpolation and blur past the ends."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from focusd.errors import SweepError
from focusd.sim import SimRig
from focusd.sim.geometry import Geometry
from focusd.sim.optics import OpticsModel
from focusd.sim.sweep import SweepScene, load_sweep, write_sweep
from focusd.config.profiles import load_profile

from shared_data import FOCALSTACKS
from sim.sim_helpers import AF_WINDOW, gradient_energy, settled_frame

PROFILE = load_profile("imx708")


def synthetic_images(sharpest: int, count: int = 7, size=(320, 180)) -> list[np.ndarray]:
    """Random detail box-blurred more the further a frame is from ``sharpest``."""
    rng = np.random.default_rng(0)
    base = rng.uniform(40, 220, size=(size[1], size[0])).astype(np.float32)
    images = []
    for index in range(count):
        radius = abs(index - sharpest)
        image = base.copy()
        for _ in range(radius):
            image = (image + np.roll(image, 1, 0) + np.roll(image, 1, 1) + np.roll(image, (1, 1), (0, 1))) / 4
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    return images


def test_write_then_load_round_trip(tmp_path):
    images = synthetic_images(sharpest=4)
    positions = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    path = write_sweep(tmp_path / "s", images, lens_positions=positions, lens_range=(0, 12), camera="imx708",
                       notes="test")
    meta = json.loads(path.read_text())
    assert meta["format"] == "focusd-sweep/1" and meta["frames"][0] == "000.png"
    sweep = load_sweep(tmp_path / "s")
    assert list(sweep.lens_positions) == positions
    assert sweep.lens_range == (0.0, 12.0) and sweep.camera == "imx708" and sweep.notes == "test"
    assert sweep.truth_dioptres == 4.0


def test_rgb_frames_and_even_spacing_from_lens_range(tmp_path):
    images = [np.repeat(i[:, :, None], 3, axis=2) for i in synthetic_images(sharpest=2, count=5)]
    write_sweep(tmp_path, images, lens_range=(2.0, 10.0))
    sweep = load_sweep(tmp_path)
    assert list(sweep.lens_positions) == [2.0, 4.0, 6.0, 8.0, 10.0]
    assert sweep.truth_dioptres == 6.0


def test_plain_folder_needs_a_lens_range(tmp_path):
    for index, image in enumerate(synthetic_images(sharpest=1, count=3)):
        Image.fromarray(image).save(tmp_path / f"f{index}.jpg")
    with pytest.raises(SweepError, match="lens_range"):
        load_sweep(tmp_path)
    sweep = load_sweep(tmp_path, lens_range=(0, 4))
    assert sweep.files == ["f0.jpg", "f1.jpg", "f2.jpg"] and list(sweep.lens_positions) == [0.0, 2.0, 4.0]


@pytest.mark.parametrize("meta, message", [
    ("not json", "JSON"),
    ({"format": "other/2", "frames": ["000.png"]}, "format"),
    ({"format": "focusd-sweep/1", "frames": []}, "frames"),
    ({"format": "focusd-sweep/1", "frames": ["000.png"], "lens_positions": [1, 2]}, "lens_positions"),
    ({"format": "focusd-sweep/1", "frames": ["000.png"], "lens_range": [1, 1]}, "lens_range"),
    ({"format": "focusd-sweep/1", "frames": ["000.png"], "lens_range": [-1, 1]}, "lens_range"),
    ({"format": "focusd-sweep/1", "frames": ["000.png", "999.png"], "lens_range": [0, 1]}, "999.png"),
    ({"format": "focusd-sweep/1", "frames": ["000.png"]}, "lens_range"),
])
def test_malformed_sweeps_are_refused_clearly(tmp_path, meta, message):
    Image.fromarray(synthetic_images(0, count=1)[0]).save(tmp_path / "000.png")
    (tmp_path / "sweep.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    with pytest.raises(SweepError, match=message):
        load_sweep(tmp_path)


def test_unreadable_frame_is_named(tmp_path):
    (tmp_path / "000.png").write_text("not an image")
    with pytest.raises(SweepError, match="000.png"):
        load_sweep(tmp_path, lens_range=(0, 1))


def renderer_for(tmp_path, positions):
    write_sweep(tmp_path, synthetic_images(sharpest=2, count=len(positions)), lens_positions=positions)
    scene = SweepScene(load_sweep(tmp_path))
    geometry = Geometry.build(PROFILE, (2304, 1296), (768, 432), OpticsModel(), None)
    return scene, scene.renderer(geometry)


def test_replay_interpolates_between_frames(tmp_path):
    _, renderer = renderer_for(tmp_path, [3.0, 4.0, 5.0, 6.0, 7.0])
    a = renderer.render([(4.0, 1.0)], 0.0)
    b = renderer.render([(5.0, 1.0)], 0.0)
    middle = renderer.render([(4.25, 1.0)], 0.0)
    np.testing.assert_allclose(middle, 0.75 * a + 0.25 * b, atol=1e-5)
    blend = renderer.render([(4.0, 0.5), (5.0, 0.5)], 0.0)
    np.testing.assert_allclose(blend, 0.5 * a + 0.5 * b, atol=1e-5)


def test_blur_continues_beyond_the_ends(tmp_path):
    scene, renderer = renderer_for(tmp_path, [3.0, 4.0, 5.0, 6.0, 7.0])

    def sharpness(position):
        return gradient_energy(renderer.render([(position, 1.0)], 0.0) * 255, AF_WINDOW)

    assert sharpness(3.0) == pytest.approx(sharpness(2.99), rel=0.02)  # continuous at the end
    assert sharpness(3.0) > sharpness(2.5) > sharpness(1.5) > sharpness(0.0)
    assert sharpness(7.0) > sharpness(8.0) > sharpness(10.0)


def peak_at_the_end(tmp_path, positions):
    """The sharpness, by lens position, of a replayed stack whose last two frames are equally
    sharp (the peak between them, at the end of the stack)."""
    images = synthetic_images(sharpest=5, count=7)
    write_sweep(tmp_path, images[:6] + [images[5]], lens_positions=positions)
    geometry = Geometry.build(PROFILE, (2304, 1296), (768, 432), OpticsModel(), None)
    renderer = SweepScene(load_sweep(tmp_path)).renderer(geometry)
    return lambda position: gradient_energy(renderer.render([(position, 1.0)], 0.0) * 255, AF_WINDOW)


def test_past_an_end_as_sharp_as_its_neighbour_focus_falls_as_fast_as_it_rose(tmp_path):
    # past the end the blur grows at the rate the stack rose towards it, not at the slowest rate
    # allowed (the old rule, from the last two frames alone, left a plateau a search locked on)
    sharpness = peak_at_the_end(tmp_path, [3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0])
    assert sharpness(6.0) == pytest.approx(sharpness(5.5), rel=0.02)
    assert sharpness(6.0) == pytest.approx(sharpness(6.01), rel=0.05)  # continuous at the end
    assert sharpness(6.5) < 0.5 * sharpness(6.0)
    assert sharpness(6.5) > sharpness(7.0)


def test_past_an_end_after_a_shorter_last_step_focus_falls_per_dioptre_as_it_rose(tmp_path):
    # the last step (0.25 D) is a quarter of the one before (1 D): the 1 D step's fall, taken per
    # dioptre, sets the rate past the end, not that fall over the short last step
    sharpness = peak_at_the_end(tmp_path, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 6.25])
    rose = sharpness(5.0) / sharpness(6.0)  # over 1 D
    fell = sharpness(6.5) / sharpness(6.25)  # over 0.25 D past the end
    assert fell == pytest.approx(rose ** 0.25, abs=0.1)


def test_replay_through_the_rig_is_seeded(tmp_path):
    write_sweep(tmp_path, synthetic_images(sharpest=3), lens_range=(0, 6))
    scene = SweepScene(load_sweep(tmp_path))
    a = SimRig(scene, light="dim", seed=2, window=AF_WINDOW)
    b = SimRig(scene, light="dim", seed=2, window=AF_WINDOW)
    for x in (0.0, 2.5, 3.0):
        assert np.array_equal(settled_frame(a, x).y, settled_frame(b, x).y)
    assert a.truth() == 3.0


@pytest.mark.parametrize("name, peak_frames", [("petteri_pcb_depthmap", (3, 4)), ("shinestacker_amber_flies", (2, 3))])
def test_real_focal_stacks_replay(name, peak_frames):
    folder = FOCALSTACKS / name
    sweep = load_sweep(folder, lens_range=(0, 12))
    step = 12 / (len(sweep.frames) - 1)
    assert sweep.truth_dioptres in [i * step for i in peak_frames]
    rig = SimRig(SweepScene(sweep), light="indoor", window=AF_WINDOW, start_lens=0.0)
    positions = np.arange(0.0, 14.01, step / 2)
    curve = [gradient_energy(settled_frame(rig, x, 3).y) for x in positions]
    assert abs(positions[int(np.argmax(curve))] - sweep.truth_dioptres) <= step
    assert curve[-1] < 0.3 * max(curve)  # past the near end, blur continues
