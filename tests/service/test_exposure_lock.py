"""exposure.lock_in_bursts: a burst's frames keep the exposure of its first, on the daemon."""

from __future__ import annotations

import pytest

from daemon_harness import DaemonHarness, test_config as make_config
from focusd.config.settings import load_config
from focusd.errors import ConfigError
from focusd.signals import ButtonId

SHUT = ButtonId.SHUTTER


def burst_exposures(tmp_path, lock: bool):
    config = make_config(tmp_path, shutter={"burst": True, "burst_fps": 10.0, "burst_limit": 6},
                         exposure={"lock_in_bursts": lock})
    with DaemonHarness(config, seed=3, light="indoor") as rig:
        rig.step(10)
        rig.press(SHUT)
        rig.step(3)
        rig.sim.rig.set_light(20000.0)  # the light changes in the middle of the burst
        rig.step(40)
        rig.release(SHUT)
        rig.step(3)
        assert rig.wait(lambda s: s.captures_written == s.captures_requested and s.captures_written >= 6)
        held_after = rig.daemon.burst_exposure.held
        rig.step(20)
        journal = rig.journal()
    return [(round(r["exposure_time_us"], 2), round(r["analogue_gain"], 6)) for r in journal], held_after


def test_locked_burst_keeps_one_exposure_and_releases_it_after(tmp_path):
    exposures, held_after = burst_exposures(tmp_path / "a", lock=True)
    assert len(exposures) >= 6
    assert len(set(exposures)) == 1
    assert held_after is False
    free, _ = burst_exposures(tmp_path / "b", lock=False)
    assert len(set(free)) > 1  # without the lock the auto exposure follows the light


def test_bad_lock_in_bursts_names_the_key(tmp_path):
    path = tmp_path / "focusd.toml"
    path.write_text('[exposure]\nlock_in_bursts = "maybe"\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "exposure.lock_in_bursts" in str(error.value)


def test_a_reload_turns_the_burst_lock_on(tmp_path):
    """SIGHUP with exposure.lock_in_bursts = true: the next burst holds its exposure."""
    path = tmp_path / "focusd.toml"
    base = (f'[camera]\nbackend = "sim"\n[capture]\ndirectory = "{tmp_path / "c"}"\n'
            '[shutter]\nburst = true\nburst_fps = 10.0\nburst_limit = 6\n')
    path.write_text(base)
    with DaemonHarness(load_config(path), seed=3, light="indoor") as rig:
        rig.step(5)
        path.write_text(base + "[exposure]\nlock_in_bursts = true\n")
        rig.daemon.request_reload()
        rig.step(2)
        assert rig.stats.reloads == 1
        rig.press(SHUT)
        rig.step(3)
        assert rig.daemon.burst_exposure.held  # the burst holds, as the re-read file says
        rig.release(SHUT)
        rig.step(3)
        assert not rig.daemon.burst_exposure.held
