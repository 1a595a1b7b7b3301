"""Every error focusd raises on purpose, in one flat module.

Each is also a standard exception, so callers that know nothing of focusd can still catch it
(``except ValueError`` catches a bad configuration), in the manner of gpiozero's exc module.
"""

from __future__ import annotations

#: Exit status for a configuration error (sysexits.h EX_CONFIG). The systemd unit lists it in
#: RestartPreventExitStatus so that a bad file does not restart in a loop.
EX_CONFIG = 78
#: Exit status when the camera can never work in this installation (sysexits.h EX_UNAVAILABLE:
#: picamera2 not installed). Also in RestartPreventExitStatus: a restart would fail the same way.
EX_UNAVAILABLE = 69


class FocusdError(Exception):
    """Base of every focusd error."""


class ConfigError(FocusdError, ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range.

    ``key`` is the dotted name of the offending key (``"pins.af_on"``); the message names it.
    """

    exit_status = EX_CONFIG

    def __init__(self, key: str, reason: str, path: str | None = None):
        self.key = key
        self.reason = reason
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{key}: {reason}")

    def __reduce__(self):
        # rebuilt from its own fields, not the message: a worker process (the bench's pool) can
        # send it back to the parent (the default pickling would call __init__ with one argument)
        return (type(self), (self.key, self.reason, self.path))


class ProfileError(FocusdError, ValueError):
    """A camera-module profile is malformed or unknown."""


class CameraError(FocusdError, RuntimeError):
    """The camera failed: it could not be opened, or stopped delivering frames."""


class CameraUnavailable(CameraError):
    """The camera cannot work in this installation at all (picamera2 is not installed): not a
    fault that retrying mends. ``focusd run`` exits with ``exit_status`` (69) at once."""

    exit_status = EX_UNAVAILABLE


class LensError(FocusdError, RuntimeError):
    """The lens could not be moved (I2C write failed, position refused)."""


class CaptureError(FocusdError, OSError):
    """A capture could not be written (disk full, folder missing, queue full)."""


class SweepError(FocusdError, ValueError):
    """A focus sweep on disk is malformed (bad sweep.json, unreadable frame)."""


class ScriptError(FocusdError, ValueError):
    """A button script (the demo's timed presses) has a malformed line."""
