"""The main stream's image where the blur rings: issue 13's `record-sweep --sim --texture text
--distance 0.3 --light indoor --main` warned "invalid value encountered in sqrt" and wrote black
pixels. The cause: an FFT blur of a hard-edged texture rings a little below zero beside dark strokes
(the truncated spectrum's Gibbs lobes), and the shot noise's sqrt took that negative light. Light is
clamped at zero before the noise (focusd.sim.sensor.expose); this pins it."""

from __future__ import annotations

import warnings

import numpy as np

from focusd.config.profiles import load_profile
from focusd.sim import SimRig, scenes


def test_text_at_30_cm_indoors_renders_without_negative_light():
    profile = load_profile("imx708")
    scene = scenes.texture_scene("text", distance_m=0.3, seed=0)
    # 3.0 D: just off the subject's 3.33 D, where the ringing dips deepest
    rig = SimRig(scene, profile=profile, mode=tuple(profile.focus_mode), lores_size=tuple(profile.lores_size),
                 light="indoor", latency_frames=2, start_lens=3.0, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the sqrt of negative light warned here
        rig.next_frame()
        image = rig.main_image()
    assert image.dtype == np.uint8 and image.shape[2] == 3
    # the texture's ink is 2% reflectance: a code-0 pixel is a noise tail, never a NaN cast to 0
    assert (image[:, :, 0] == 0).mean() < 1e-5
    assert np.median(image) > 60
