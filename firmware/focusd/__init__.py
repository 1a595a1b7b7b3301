"""focusd: back-button focus firmware for a Raspberry Pi camera with a motorized-focus lens.

Layers (docs/design.md, "Layers"), bottom up: ``signals``, ``errors`` and ``lens_path`` (types and
the lens model everything speaks); ``af`` (the pure autofocus engine) and ``config`` (settings and
camera profiles); ``hw`` (the only code importing device libraries) and ``sim`` (the simulated
camera) behind the same adapter interfaces; ``capture`` (a press to a file) and ``service`` (the
daemon that wires them, its pure controller, the event stream and the command inlet); on top
``commands`` (one per ``focusd`` sub-command), ``bench``, ``tools`` and ``demo``.
"""

__version__ = "0.1.0"
