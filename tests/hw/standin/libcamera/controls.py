"""libcamera.controls stand-in: the binding names each enum ``<Control>Enum`` with the yaml's
``<Control><Member>`` names stripped of the control's name (AfModeManual -> AfModeEnum.Manual).
Draft controls (control_ids_draft.yaml) sit in ``controls.draft``, as in the binding."""

import enum


class AfModeEnum(enum.IntEnum):
    Manual = 0
    Auto = 1
    Continuous = 2


class AfStateEnum(enum.IntEnum):
    Idle = 0
    Scanning = 1
    Focused = 2
    Failed = 3


class AfRangeEnum(enum.IntEnum):
    Normal = 0
    Macro = 1
    Full = 2


class AfSpeedEnum(enum.IntEnum):
    Normal = 0
    Fast = 1


class AfTriggerEnum(enum.IntEnum):
    Start = 0
    Cancel = 1


class AfPauseEnum(enum.IntEnum):
    Immediate = 0
    Deferred = 1
    Resume = 2


class AeMeteringModeEnum(enum.IntEnum):
    CentreWeighted = 0
    Spot = 1
    Matrix = 2
    Custom = 3


class AwbModeEnum(enum.IntEnum):
    Auto = 0
    Incandescent = 1
    Tungsten = 2
    Fluorescent = 3
    Indoor = 4
    Daylight = 5
    Cloudy = 6
    Custom = 7


class draft:  # noqa: N801  (the binding's sub-namespace: controls.draft.NoiseReductionModeEnum)
    class NoiseReductionModeEnum(enum.IntEnum):
        Off = 0
        Fast = 1
        HighQuality = 2
        Minimal = 3
        ZSL = 4
