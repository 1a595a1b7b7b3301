"""``focusd probe`` on a Pi: what picamera2 says of each attached camera. Apart from the adapter
(focusd.hw.picamera2_camera), which re-exports it; tests/hw checks its picamera2 names too."""

from __future__ import annotations

from typing import Any

from focusd.errors import CameraError


def probe_cameras() -> list[dict[str, Any]]:
    """What ``focusd probe`` prints on a Pi: per attached camera its global info (Model, Id,
    Location, Rotation, Num), properties, sensor modes and LensPosition range (None: no lens
    control). Opens each camera in turn; must not run while the daemon holds the camera."""
    try:
        from picamera2 import Picamera2  # deferred: a device library, only on a Pi
    except ImportError as error:
        raise CameraError(f"picamera2 is not installed ({error}): no camera to probe on this machine") from None
    found = []
    # Picamera2(camera_num=i) means the i-th entry of global_camera_info(), not its "Num"
    for index, info in enumerate(Picamera2.global_camera_info()):
        entry: dict[str, Any] = {"info": dict(info), "camera_num": index}
        try:
            picam2 = Picamera2(camera_num=index)
        except (RuntimeError, IndexError) as error:
            entry["error"] = str(error)
            found.append(entry)
            continue
        try:
            entry["properties"] = dict(picam2.camera_properties)
            entry["lens_position"] = picam2.camera_controls.get("LensPosition")
            # reading sensor_modes configures the camera once per mode (picamera2 does so)
            entry["modes"] = [{"size": tuple(m["size"]), "fps": float(m["fps"]), "bit_depth": m.get("bit_depth")}
                              for m in picam2.sensor_modes if "size" in m]
        except RuntimeError as error:
            entry["error"] = str(error)
        finally:
            picam2.close()
        found.append(entry)
    return found
