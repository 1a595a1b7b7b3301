"""Configuration: what the user sets and what each camera module is.

- ``settings``: the TOML file's sections as frozen dataclasses, loaded and checked (a bad value
  names its key; commands exit 78), ``--set`` overrides, and the one rule every command uses to
  find its file.
- ``values``: the checks each kind of value gets (ranges, choices, paths).
- ``profiles``: the camera-module profiles (optics, sensor modes, lens range, latency, slew),
  shipped as package data in ``profiles/``.
"""
