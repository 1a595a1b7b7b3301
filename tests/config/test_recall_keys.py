"""The recall section's keys: defaults, and bad values named in the ConfigError."""

import pytest

from focusd.config.settings import parse_config
from focusd.errors import ConfigError


def test_recall_defaults_to_the_state_directory():
    config = parse_config({})
    assert config.recall.state_file == "/var/lib/focusd/recall.json"
    assert config.recall.long_press_ms == 800.0


@pytest.mark.parametrize("key, value", [("state_file", "recall.json"), ("long_press_ms", 5), ("long_press_ms", "x")])
def test_a_bad_recall_key_is_named(key, value):
    with pytest.raises(ConfigError, match=f"recall.{key}"):
        parse_config({"recall": {key: value}})
