"""Where the project's shared data lives for the tests: ``../shared`` beside the clone (the
workspace lays it there, and so does CI), or wherever ``FOCUSD_SHARED`` says."""

import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("FOCUSD_SHARED") or Path(__file__).resolve().parents[2] / "shared")
FOCALSTACKS = SHARED / "focalstacks"

#: Marks a test that replays the real focal stacks; skipped, with the reason, where they are absent.
needs_focalstacks = pytest.mark.skipif(not FOCALSTACKS.is_dir(), reason=f"no focal stacks at {FOCALSTACKS}")
