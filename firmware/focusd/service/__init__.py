"""The running service: the daemon and the parts it wires together on the camera thread.

- ``daemon``: start-up in one function, the frame loop, shutdown in reverse; the one place that
  wires the parts below to the camera, the capture path and the engine.
- ``controller``: the pure state machine from button and camera events to commands.
- ``buttons``: the edge queue the GPIO callbacks fill and the debouncer that drains it.
- ``events``: the event stream (what happened, to any subscriber) and the command inlet (virtual
  presses, from anywhere, through the same controller path as the buttons).
- ``cameras``: which camera and pins a configuration means (the Pi or the simulator).
- ``notify``, ``backoff``, ``logs``: systemd's sd_notify, the camera's restart backoff, logging.
"""
