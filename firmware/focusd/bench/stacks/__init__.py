"""Real focal stacks shipped with focusd: six scenes photographed by real cameras at a series of
focus distances, one folder each, frames as grey JPEGs at most 768 px wide (README.md here; each folder's
SOURCE.md names its upstream repository, commit and licence). ``focusd bench --sweep DIR`` and the
tests replay them through ``focusd.sim.sweep``.

The engine is tuned on the first three (``TUNING_STACKS``); the other three (``HELD_OUT_STACKS``)
are reported as a separate row.
"""

from __future__ import annotations

from pathlib import Path

#: the stacks the engine is tuned on
TUNING_STACKS = ("petteri_pcb_depthmap", "shinestacker_amber_flies", "dorinbotan_sony_keyboard")
#: held out from tuning, reported as a separate row
HELD_OUT_STACKS = ("noah_nikon_beetle", "petteri_pcb", "shinestacker_canon_img_jpg")


def stack_folders() -> list[Path]:
    """The stack folders (each holds numbered frames 000.jpg ..., SOURCE.md), sorted by name."""
    root = Path(__file__).resolve().parent  # package data beside this file (not zip-safe)
    return sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))),
                  key=lambda p: p.name)
