"""The simulated camera: scenes, optics, sensor noise, lens timing, and a Camera adapter.

Why this package exists: focusd's AF is tuned and tested on a desktop, so the desktop must make
frames the way a Raspberry Pi camera does -- blur that follows the module's optics, noise that
follows the light, a lens that answers commands late and slew-limited, metadata that reports the
IPA's slewed lens state rather than the commanded position (docs/lens-path.md) -- or the engine
would be tuned to a kinder camera than the device.

Public API (see the modules' docstrings): ``scenes``, ``SimRig``, ``SimFrame``, ``SimCamera``,
``LIGHT_LEVELS``; ``focusd.sim.sweep`` replays real focal stacks through the same path.
"""

from focusd.sim import scenes
from focusd.sim.camera import SimCamera
from focusd.sim.rig import SimFrame, SimRig
from focusd.sim.sensor import LIGHT_LEVELS

__all__ = ["scenes", "SimRig", "SimFrame", "SimCamera", "LIGHT_LEVELS"]
