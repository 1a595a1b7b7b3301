"""The autofocus engine: pure and frame-driven (a frame in, a lens target out).

No threads, no clock, no hardware. See ``focusd.af.engine`` for the algorithm.
"""

from focusd.af.types import AfMode, AfState, Frame
from focusd.af.engine import AutofocusEngine

__all__ = ["AfMode", "AfState", "AutofocusEngine", "Frame"]
