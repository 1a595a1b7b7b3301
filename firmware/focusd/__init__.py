"""focusd: back-button focus firmware for a Raspberry Pi camera with a motorized-focus lens.

Layers (docs/design.md, "Layers"): hardware adapters (``focusd.hw``, the only code importing device
libraries) and the simulator (``focusd.sim``) feed frames and button edges to a pure controller
(``focusd.service.controller``) and a pure autofocus engine (``focusd.af``); ``focusd.service.daemon`` wires them.
"""

__version__ = "0.1.0"
