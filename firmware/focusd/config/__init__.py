"""Configuration: what the user sets and what each camera module is.

- ``settings``: the TOML file's sections as frozen dataclasses, loaded and checked (a bad value
  names its key; commands exit 78), and ``--set`` overrides laid over them.
- ``loader``: the one rule every command uses to find its file (``--config``, else the installed
  ``/etc/focusd/focusd.toml``, else the built-in defaults) and its ``--config``/``--set`` options.
- ``values``: the checks each kind of value gets (ranges, choices, paths).
- ``profiles``: the camera-module profiles (optics, sensor modes, lens range, latency, slew),
  shipped as package data in ``profiles/``.
"""
