"""How the picamera2 adapter (focusd.hw.picamera2_camera) configures the camera: apart so that the
adapter stays one concern, and importable where picamera2 is not."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Picamera2Tuning:
    """How the picamera2 adapter configures the camera. Units in the names or comments."""

    camera_num: int = 0  #: picamera2's camera index (global_camera_info order)
    #: requests allocated per stream: one held by the camera thread while it processes a frame, one
    #: kept finished by picamera2 (queue=True), one being filled by the sensor and the ISP. No more:
    #: a LensPosition set while a frame is held travels with that frame's request when it is
    #: released, behind the buffer_count - 1 others, so every buffer adds a frame of lens latency
    #: (measured on the checked stand-in, end to end: 2 buffers -> 3 frames, 3 -> 4, 4 -> 5, 6 -> 7).
    #: Fewer (2) leave no slack: a frame is dropped whenever the camera thread holds one for longer
    #: than a frame period. focusd measure-latency measures what a device really does.
    buffer_count: int = 3
    #: picamera2's "BGR888" is R, G, B byte order in numpy: what the capture writer expects
    main_format: str = "BGR888"
    #: pin the frame rate to the sensor mode's (True): AF time is counted in frames, and a dark
    #: scene must not slow focusing down; False lets AE stretch frames up to 1 s
    fixed_frame_rate: bool = True
    #: where the lens starts, dioptres; None: the profile's normal range start + 1 D (about 1 m)
    start_lens_position: float | None = None
    #: longest wait for the full-resolution capture's mode switches and frame, seconds
    full_resolution_timeout_s: float = 10.0
    #: stream the raw (Bayer) frames too, unpacked (capture.raw: focusd.hw.picamera2_raw); costs a
    #: 16-bit buffer of the mode's size per request
    raw_stream: bool = False
