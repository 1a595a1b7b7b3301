"""A short soak in the test suite (the hour-long one is `make soak`, figures in the README)."""

from soak import soak


def test_five_simulated_minutes_account_for_every_press_and_hold_memory(tmp_path):
    result = soak(minutes=5, folder=tmp_path, warmup_minutes=2)
    assert result["frames"] >= 5 * 60 * 120
    assert result["presses_seen"] == result["presses"] == 100
    assert result["captures_written"] + result["captures_failed"] == result["presses"]
    assert result["journal_presses"] == result["presses"]
    assert result["af_locks"] > 0
    assert result["rss_growth_kib"] <= 5 * 1024
