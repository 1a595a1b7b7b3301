"""``focusd probe``: which camera module is attached, its sensor modes and its lens range.

Run it once when building the camera (hw/README.md): on the Pi it asks picamera2 (through
``focusd.hw.picamera2_camera``, the only module that may) and names the matching profile; with
``camera.backend = "sim"`` it prints the simulated module the profile describes. The daemon must
not be running: probing opens the camera.
"""

from __future__ import annotations

import argparse
import sys

from focusd.config import loader
from focusd.config.profiles import available_profiles, load_profile
from focusd.errors import EX_UNAVAILABLE, CameraError

HELP = "print the camera module, its sensor modes and lens range"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    loader.add_config_arguments(parser)


def main(args: argparse.Namespace) -> int:
    config = loader.load(args)  # a ConfigError becomes exit status 78 in focusd.cli
    profile = load_profile(config.camera.profile)
    if config.camera.backend == "sim":
        print(describe_simulated(profile, config))
        return 0
    try:
        # only to probe a real camera: the adapter imports numpy, and picamera2 (on a Pi only) itself
        from focusd.hw.picamera2_camera import probe_cameras

        cameras = probe_cameras()
    except CameraError as error:
        print(f"focusd probe: {error}", file=sys.stderr)
        print("focusd probe: on a desktop, probe the simulated module: focusd probe --set camera.backend=sim",
              file=sys.stderr)
        return EX_UNAVAILABLE
    if not cameras:
        print("focusd probe: no camera found (check the ribbon cable and hw/config-txt.md)", file=sys.stderr)
        return EX_UNAVAILABLE
    print(describe_detected(cameras, profile))
    return 0


def _profile_lines(profile, focus_size, lores) -> list[str]:
    lines = [f"  lens: {profile.lens_range[0]:g}-{profile.lens_range[1]:g} D ({profile.lens_driver}), "
             f"latency {profile.lens_latency_frames} frames at the ISP; AF ranges "
             + ", ".join(f"{k} {a:g}-{b:g} D" for k, (a, b) in profile.af_ranges.items())]
    lines.append("  sensor modes:")
    for mode in profile.modes:
        mark = "  <- focusing and captures" if tuple(mode.size) == tuple(focus_size) else ""
        lines.append(f"    {mode.size[0]}x{mode.size[1]} @ {mode.fps:g} fps ({mode.name or f'binning {mode.binning}'}){mark}")
    lines.append(f"  lores (autofocus) stream: {lores[0]}x{lores[1]} YUV420")
    return lines


def describe_simulated(profile, config) -> str:
    focus = config.camera.sensor_mode or profile.focus_mode
    lores = config.camera.lores_size or profile.lores_size
    lines = [f"camera: sim:{profile.name} (simulated {profile.display_name}, sensor {profile.sensor}; "
             f"camera.backend = \"sim\", no picamera2)"]
    lines += _profile_lines(profile, focus, lores)
    lines.append(f"  optics: f = {profile.focal_length_mm:g} mm, f/{profile.f_number:g}, pixel {profile.pixel_size_um:g} um, "
                 f"blur {profile.blur_um_per_dioptre:.1f} um per dioptre of defocus")
    return "\n".join(lines)


#: the suffix libcamera gives a sensor's NoIR variant (no infrared filter; same sensor, lens and VCM)
NOIR_SUFFIX = "_noir"


def matching_profile(model: str) -> str | None:
    """The shipped profile whose sensor is ``model`` (picamera2's camera_properties["Model"]);
    a NoIR variant ("imx708_noir", "imx708_wide_noir") matches its module's profile."""
    wanted = {model, model.removesuffix(NOIR_SUFFIX)}
    for name in available_profiles():
        if load_profile(name).sensor == model:
            return name
    for name in available_profiles():
        if load_profile(name).sensor in wanted:
            return name
    return None


def describe_detected(cameras: list[dict], configured) -> str:
    lines = []
    for entry in cameras:
        info = entry["info"]
        model = str(info.get("Model", "?"))
        lines.append(f"camera {entry.get('camera_num', '?')}: {model} (id {info.get('Id', '?')}, "
                     f"location {info.get('Location', '?')}, rotation {info.get('Rotation', '?')})")
        if "error" in entry:
            lines.append(f"  could not be opened: {entry['error']}")
            continue
        size = entry.get("properties", {}).get("PixelArraySize")
        if size:
            lines.append(f"  pixel array: {size[0]}x{size[1]}")
        lines.append("  sensor modes:")
        for mode in entry.get("modes", []):
            depth = f", {mode['bit_depth']}-bit" if mode.get("bit_depth") else ""
            lines.append(f"    {mode['size'][0]}x{mode['size'][1]} @ {mode['fps']:g} fps{depth}")
        lens = entry.get("lens_position")
        if lens:
            lines.append(f"  lens: LensPosition {lens[0]:g}-{lens[1]:g} D, default {lens[2]:g} D (libcamera)")
        else:
            lines.append("  lens: no LensPosition control (no libcamera lens control: an i2c-* profile, "
                         "or the module's tuning file is missing)")
        profile = matching_profile(model)
        if profile is None:
            lines.append("  profile: none shipped for this sensor (see hw/MODULES.md)")
        elif profile == configured.name:
            lines.append(f"  profile: {profile} (configured)")
            if lens and (float(lens[0]), float(lens[1])) != tuple(configured.lens_range):
                lines.append(f"  note: the profile's lens range {configured.lens_range[0]:g}-{configured.lens_range[1]:g} D "
                             f"differs; focusd uses the camera's")
        else:
            lines.append(f"  profile: {profile} (configured: {configured.name}; set camera.profile = \"{profile}\")")
    return "\n".join(lines)
