"""The error module: every error is also a standard exception, and survives a process boundary."""

import pickle

import pytest

from focusd import errors


def test_config_error_names_the_key_and_exits_78():
    error = errors.ConfigError("pins.af_on", "pin 27 is already the shutter", path="/etc/focusd/focusd.toml")
    assert isinstance(error, ValueError)
    assert error.exit_status == 78
    assert str(error) == "/etc/focusd/focusd.toml: pins.af_on: pin 27 is already the shutter"


@pytest.mark.parametrize("error", [
    errors.ConfigError("af.window", "is not inside the frame", path="focusd.toml"),
    errors.ConfigError("capture.queue_depth", "must be >= 1"),
    errors.ProfileError("imx708: lens range is empty"),
    errors.CameraError("camera vanished"),
    errors.CaptureError("disk full"),
    errors.SweepError("sweep.json: no frames"),
])
def test_errors_survive_pickling(error):
    # the bench's worker processes send errors back to the parent through a pickle
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)
