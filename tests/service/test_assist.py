"""The AF-assist lamp: its rules (focusd.service.assist), its GPIO output, the daemon's wiring on
the simulator (whose camera sees the lamp's mock pin), its configuration, and the simulator's
light of it on near and far layers."""

from __future__ import annotations

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from daemon_harness import DaemonHarness, test_config as make_config
from focusd.config.schema import AfAssistConfig
from focusd.config.settings import parse_config
from focusd.errors import ConfigError
from focusd.hw.assist_lamp import GpioAssistLamp, mock_pin_level
from focusd.service import events as ev
from focusd.service.assist import SETTLE_FRAMES, AssistLampRules, LampChange, Rescan
from focusd.signals import ButtonId
from focusd.sim import SimRig, scenes
from focusd.sim.geometry import AF_WINDOW

FRAME_NS = 17_857_143
WINDOW = (0.25, 1 / 3, 0.5, 1 / 3)
LAMP_PIN = 25


def flat(level: int) -> np.ndarray:
    return np.full((48, 64), level, dtype=np.uint8)


def feed(rules, level, t, **state):
    kwargs = {"held": True, "scanning": True, "continuous": False} | state
    return rules.frame(flat(level), t, window=WINDOW, now_ns=t + FRAME_NS, **kwargs)


# ------------------------------------------------------------------------------------ rules


def test_lit_only_when_a_held_scan_sees_a_dark_window():
    rules = AssistLampRules(AfAssistConfig(threshold=48), FRAME_NS)
    assert feed(rules, 120, 0) is None and not rules.lit  # bright scan: no lamp
    assert feed(rules, 10, FRAME_NS, scanning=False) is None and not rules.lit  # dark, not scanning
    assert feed(rules, 10, FRAME_NS, held=False) is None and not rules.lit  # dark, no input held
    change = feed(rules, 47, 2 * FRAME_NS)
    assert change == LampChange(True, 47.0, 3 * FRAME_NS) and rules.lit


def test_single_scan_end_and_release_turn_it_off():
    rules = AssistLampRules(AfAssistConfig(), FRAME_NS)
    feed(rules, 10, 0)
    assert feed(rules, 200, FRAME_NS) is None and rules.lit  # its own light is not judged: no flicker
    assert feed(rules, 200, 2 * FRAME_NS, scanning=False) == LampChange(False, None, 3 * FRAME_NS)
    feed(rules, 10, 10 * FRAME_NS)
    feed(rules, 10, 11 * FRAME_NS, scanning=False, continuous=True)
    assert rules.lit  # continuous AF's lock keeps it while held
    feed(rules, 10, 12 * FRAME_NS, held=False, continuous=True)
    assert not rules.lit


def test_the_scan_starts_again_once_the_light_is_in():
    rules = AssistLampRules(AfAssistConfig(), FRAME_NS)
    on = feed(rules, 10, 0).time_ns
    outcomes = [feed(rules, 100, on + k * FRAME_NS) for k in range(SETTLE_FRAMES + 3)]
    rescans = [k for k, o in enumerate(outcomes) if isinstance(o, Rescan)]
    assert rescans == [SETTLE_FRAMES + 1]  # once, when the first wholly lit frame and the settling are over


def test_a_capture_turns_it_off_and_waits_for_a_frame_exposed_wholly_after():
    rules = AssistLampRules(AfAssistConfig(), FRAME_NS)
    feed(rules, 10, 0)
    off_ns = 5 * FRAME_NS
    due, change = rules.capture(due_ns=4 * FRAME_NS, now_ns=off_ns)
    assert change == LampChange(False, 10.0, off_ns) and not rules.lit
    assert due == off_ns + FRAME_NS  # the first rows of a frame stamped earlier were exposed under it
    assert rules.lit_during(due - 1, 10_000) and not rules.lit_during(due, 10_000)
    assert feed(rules, 10, 20 * FRAME_NS) is None and not rules.lit  # held off for the rest of the press
    feed(rules, 10, 21 * FRAME_NS, held=False)
    assert feed(rules, 10, 22 * FRAME_NS) is not None  # a new press may light it again


def test_a_capture_with_the_lamp_never_lit_is_not_delayed():
    rules = AssistLampRules(AfAssistConfig(), FRAME_NS)
    assert rules.capture(due_ns=1234, now_ns=5000) == (1234, None)


def test_during_capture_leaves_it_lit_and_the_moment_alone():
    rules = AssistLampRules(AfAssistConfig(during_capture=True), FRAME_NS)
    feed(rules, 10, 0)
    assert rules.capture(due_ns=3 * FRAME_NS, now_ns=4 * FRAME_NS) == (3 * FRAME_NS, None)
    assert rules.lit and rules.lit_during(3 * FRAME_NS, 10_000)


# ------------------------------------------------------------------------------- GPIO output


def test_the_lamp_pin_follows_on_mock_pins():
    factory = MockFactory()
    lamp = GpioAssistLamp(LAMP_PIN, pin_factory=factory)
    read = mock_pin_level(LAMP_PIN, factory)
    assert not read()
    lamp.set(True)
    assert read() and lamp.lit
    lamp.set(False)
    assert not read()
    lamp.set(True)
    lamp.close()  # off when closed
    assert not factory.pin(LAMP_PIN).state


# --------------------------------------------------------------------------------- the daemon


def run_dark_capture(tmp_path, **assist):
    """AF-ON held in the dark, the shutter pressed while the lamp is lit; (journal, lamp events,
    pin levels seen before the capture, after it)."""
    config = make_config(tmp_path, pins={"af_assist": LAMP_PIN}, af={"mode": "single"}, af_assist=assist,
                         shutter={"burst": False})
    scene = scenes.texture_scene("bricks", distance_m=1.0, seed=3)
    harness = DaemonHarness(config, scene=scene, light="dark")
    pin = mock_pin_level(LAMP_PIN, harness.factory)
    harness.sim.watch_lamp(pin)  # the simulated sensor sees this lamp's light
    changes = []
    harness.daemon.events.listen("test", lambda e: changes.append(e) if isinstance(e, ev.AssistLampChanged) else None)
    with harness:
        harness.step(3)
        assert not pin()
        harness.press(ButtonId.AF_ON)
        assert harness.wait(lambda s: pin(), 5)  # the dark window lights the lamp
        harness.step(3)
        before = pin()
        harness.press(ButtonId.SHUTTER)
        harness.step(1)
        harness.release(ButtonId.SHUTTER)
        assert harness.wait(lambda s: s.captures_written == 1)
        after = pin()
        harness.release(ButtonId.AF_ON)
        harness.step(2)
        released = pin()
        assert harness.daemon.events_handled(5)
    return harness.journal(), changes, (before, after, released)


def test_daemon_lights_the_lamp_in_a_dark_scan_and_captures_an_unlit_frame(tmp_path):
    journal, changes, (before, after, released) = run_dark_capture(tmp_path)
    assert before and not after and not released
    assert [c.lit for c in changes][:2] == [True, False] and changes[0].level < 48
    (row,) = journal
    assert row["af_assist_lit"] is False
    assert row["extra"]["SimAssistLit"] == 0.0  # the simulator's truth: no light of the lamp in that exposure


def test_with_during_capture_the_captured_frame_is_lit(tmp_path):
    journal, _, (before, after, _) = run_dark_capture(tmp_path, during_capture=True)
    assert before and after
    (row,) = journal
    assert row["af_assist_lit"] is True and row["extra"]["SimAssistLit"] > 0.5


def test_daemon_leaves_the_lamp_off_in_a_bright_scan(tmp_path):
    config = make_config(tmp_path, pins={"af_assist": LAMP_PIN})
    harness = DaemonHarness(config, light="indoor")
    pin = mock_pin_level(LAMP_PIN, harness.factory)
    harness.sim.watch_lamp(pin)
    with harness:
        harness.press(ButtonId.AF_ON)
        for _ in range(20):
            harness.step(1)
            assert not pin()
        harness.release(ButtonId.AF_ON)


# ------------------------------------------------------------------------------------ config


def test_config_keys_and_errors_name_the_key():
    config = parse_config({"pins": {"af_assist": 25}, "af_assist": {"threshold": 30, "during_capture": True}})
    assert config.pins.af_assist == 25 and config.af_assist == AfAssistConfig(30.0, True)
    assert parse_config({"pins": {"af_assist": "none"}}).pins.af_assist is None
    assert parse_config({}).pins.af_assist is None
    for document, key in (({"pins": {"af_assist": 23}}, "pins.af_assist"),  # the LED's pin
                          ({"pins": {"af_assist": 40}}, "pins.af_assist"),
                          ({"af_assist": {"threshold": 300}}, "af_assist.threshold"),
                          ({"af_assist": {"during_capture": "yes"}}, "af_assist.during_capture")):
        with pytest.raises(ConfigError) as raised:
            parse_config(document)
        assert key in str(raised.value)


# ------------------------------------------------------------------------------- simulator


def window_mean(rig) -> float:
    h, w = rig.last_frame.y.shape
    x, y, ww, wh = AF_WINDOW
    return float(rig.last_frame.y[int(y * h):int((y + wh) * h), int(x * w):int((x + ww) * w)].mean())


def test_the_lamp_lifts_a_near_subject_much_more_than_a_far_one():
    def lifted(distance_m):
        rig = SimRig(scenes.texture_scene("bricks", distance_m=distance_m), light="dark", start_lens=1 / distance_m,
                     seed=1)
        rig.set_exposure(17_000, 4.0)  # fixed: the lamp's light itself, not the AE's answer to it
        rig.next_frame()
        dark = window_mean(rig)
        rig.set_assist_lamp(True)
        rig.next_frame()
        rig.next_frame()
        assert rig.last_frame.assist_lit == 1.0
        return window_mean(rig) - dark

    near, far = lifted(0.5), lifted(4.0)
    assert near > 3 * far > 0


def test_a_frame_gets_the_share_of_its_exposure_the_lamp_was_lit():
    rig = SimRig(scenes.texture_scene("bricks", distance_m=1.0), light="dark")
    rig.next_frame()
    rig.set_assist_lamp(True)
    first = rig.next_frame().assist_lit  # its first rows began before the switch
    assert 0.0 < first < 1.0 and rig.next_frame().assist_lit == 1.0
    rig.set_assist_lamp(False)
    assert 0.0 < rig.next_frame().assist_lit < 1.0 and rig.next_frame().assist_lit == 0.0
