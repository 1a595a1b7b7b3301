"""Trap focus's rows of the controller (focusd.service.controller): its event, its commands and
the armed trap's state. Pure, like the controller.

- With ``shutter.trap`` on, a capture input pressed while no focus input is held **arms** the trap
  (``ArmTrap``) instead of capturing: the press has its press id, and its capture is the trap's.
  With a focus input held the press is an ordinary one (release or focus priority).
- The camera thread reports the fire (``TrapTriggered``, with the time of the peak frame): the
  controller asks for the capture of that frame (reason ``"trap"``), and with ``shutter.burst``,
  while the input is still held, a burst follows exactly as after an ordinary press.
- Once per arming: after the fire the trap stays disarmed until the input is let go and pressed
  again. Letting go before a fire disarms it (``DisarmTrap``, reason "released").
- AF-ON (or the remote's half press) pressed while armed disarms it (reason "AF-ON") and focuses as
  usual: the photographer has taken the focus back, and a lens driven by AF would move the plane
  the trap watches. The input still held takes nothing more; a new press captures (with AF-ON
  held) or arms again (after AF-ON is let go).
"""

from __future__ import annotations

from dataclasses import dataclass

from focusd.signals import ButtonId

#: the journal's reason of a trap's capture
TRAP_REASON = "trap"


@dataclass(frozen=True, slots=True)
class TrapTriggered:
    """Event: the armed trap of press ``press_id`` fired; its capture is the frame exposed at
    ``peak_time_ns`` (the sharpest, already in hand: focusd.service.trap)."""

    press_id: int
    peak_time_ns: int
    time_ns: int


@dataclass(frozen=True, slots=True)
class ArmTrap:
    """Command: arm the trap at the lens position now, for press ``press_id``."""

    press_id: int
    time_ns: int


@dataclass(frozen=True, slots=True)
class DisarmTrap:
    """Command: the trap of press ``press_id`` is off ("released", "AF-ON")."""

    press_id: int
    reason: str
    time_ns: int


@dataclass
class ArmedTrap:
    press_id: int
    press_time_ns: int
    button: ButtonId | None


@dataclass
class TrapRows:
    """The armed trap, if any (part of the controller's state)."""

    armed: ArmedTrap | None = None

    def arm(self, press_id: int, t: int, button: ButtonId | None, commands: list) -> None:
        self.armed = ArmedTrap(press_id, t, button)
        commands.append(ArmTrap(press_id, t))

    def disarm(self, reason: str, t: int, commands: list) -> None:
        if self.armed is not None:
            commands.append(DisarmTrap(self.armed.press_id, reason, t))
            self.armed = None

    def fired(self, event: TrapTriggered) -> ArmedTrap | None:
        """The trap ``event`` fires (then no longer armed), or None: not the armed one (disarmed
        since the camera thread saw the fire)."""
        armed = self.armed
        if armed is None or armed.press_id != event.press_id:
            return None
        self.armed = None
        return armed
