"""Focus bracketing's planes: where the lens goes for each shot of a focus-stacking series.

Pure arithmetic (docs/bracketing.md): the depth of field in dioptres from the camera profile's
optics and a circle of confusion, and the lens positions one step apart from the lock.
"""

from __future__ import annotations

from dataclasses import dataclass


def depth_of_field_dioptres(f_number: float, focal_length_mm: float, coc_um: float) -> float:
    """Total depth of field (dioptres) of a thin lens focused far compared to its focal length.

    The blur circle on the sensor is ``b = A * f * |dD|`` (A = f/N the aperture diameter, the same
    relation as CameraProfile.blur_um_per_dioptre and focusd.sim.optics); ``b <= c`` holds for
    ``|dD| <= c / (A f)``, so the field spans ``2 c N / f**2``.
    """
    f_m = focal_length_mm * 1e-3
    return 2.0 * coc_um * 1e-6 * f_number / (f_m * f_m)


@dataclass(frozen=True)
class BracketPlan:
    """The lens positions (dioptres) of one series, in shooting order (file counter order)."""

    planes: tuple[float, ...]
    depth_of_field: float  #: dioptres, total, at the configured circle of confusion
    step: float  #: dioptres between planes
    clipped: bool  #: the lens range ended the series early: fewer planes than asked


def plan_planes(start: float, shots: int, step_dof: float, direction: str, depth_of_field: float,
                lens_range: tuple[float, float]) -> BracketPlan:
    """Planes from ``start`` (the lock) towards infinity (lower D) or near (higher D), ``step_dof``
    depths of field apart, stopping at the end of ``lens_range`` (min D, max D)."""
    if direction not in ("infinity", "near"):
        raise ValueError(f"direction must be 'infinity' or 'near', not {direction!r}")
    low, high = min(lens_range), max(lens_range)
    step = step_dof * depth_of_field
    sign = -1.0 if direction == "infinity" else 1.0
    start = min(max(start, low), high)
    planes = []
    for index in range(shots):
        position = start + sign * step * index
        if position < low - 1e-9 or position > high + 1e-9:
            break
        planes.append(round(min(max(position, low), high), 6))
    return BracketPlan(tuple(planes), depth_of_field, step, len(planes) < shots)


def plan_for(profile, settings, start: float) -> BracketPlan:
    """The plan for a camera profile (focusd.config.profiles.CameraProfile) and the ``[bracket]``
    settings (focusd.config.schema.BracketConfig), from the lens position ``start``."""
    dof = depth_of_field_dioptres(profile.f_number, profile.focal_length_mm,
                                  settings.coc_px * profile.pixel_size_um)
    return plan_planes(start, settings.shots, settings.step, settings.direction, dof, profile.lens_range)
