"""Stand-in for picamera2 0.3.38 on a desktop, for focusd's adapter tests.

Every public class, method and signature here also exists, identically, in picamera2's own
source: tests/hw/test_picamera2_contract.py checks that, so this cannot drift from the real
library. Behaviour follows picamera2's: an event-loop thread completes requests at the sensor
mode's frame rate, keeps the latest finished one when ``queue=True`` and ``buffer_count > 1``,
runs queued jobs (``wait_for_timestamp_`` then ``capture_request_``, i.e. flush semantics),
re-queues a released request with the controls set since, and drops a frame when every buffer is
held. The simulated module and what happened to each frame live in ``picamera2._standin``.
"""

from .picamera2 import Picamera2
from .request import CompletedRequest, MappedArray
from .sensor_format import SensorFormat

__all__ = ["CompletedRequest", "MappedArray", "Picamera2", "SensorFormat"]
