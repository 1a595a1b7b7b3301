"""Two independent models of libcamera's lens path must agree: the picamera2 stand-in's
(tests/hw/standin/picamera2/_standin.py, transcribed from af.cpp and ipa_base.cpp on its own) and
focusd's simulator (focusd.sim.SimRig over focusd.lens_path), for the same series of LensPosition
writes, frame by frame.

What libcamera's Raspberry Pi IPA does with a LensPosition (AfMode Manual): each write moves its
lens state at most max_slew (imx708: 1.5 D) towards the target (af.cpp ``setLensPosition`` ->
``updateLensPosition``); the controller (``Af::prepare``) moves it another max_slew on the frames
ipa_base.cpp lets it run on (at least 0.9 x 1/30 s apart: every 4th frame at 120 fps, every 2nd at
56 fps); a frame's metadata LensPosition is the state after its request's controls, before the
controller runs.

The two count latency from different points (the stand-in from the request picamera2 queues, the
rig from the frame after which the command was set), so the runs are aligned on the frame whose
metadata first shows the first write, found in each; and the controller's phase there must be the
same for the paths to be comparable, so the rig's run is started at the offset that gives it the
stand-in's phase. Then, from that frame on:

- the metadata LensPosition sequences must be equal;
- the true lens positions (the stand-in's ``FrameRecord.true_lens_position``, the rig's
  ``SimFrame.lens_actual``) must follow the same path. The glass moves at a different point in the
  two: the stand-in puts it at the IPA's state ``LENS_DELAY_FRAMES`` (2) frames after the frame
  whose request changed it (the first frame wholly exposed there: the imx708 profile's
  lens_latency_frames), the rig at ``move_phase`` frames after that frame's readout, so that with
  move_phase 0 the next frame is already there. Each delay is measured and checked against its own
  model, and the paths are compared with the difference (one frame) taken out; with move_phase 1
  the rig's glass is the stand-in's frame for frame.

The stand-in runs a real-time sensor thread: the test thread commands from inside a held frame, as
the daemon does, and reads what happened from the stand-in's ``history``; a run disturbed by a
slow test thread (a frame dropped, a write landing on another request than meant) is run again.
"""

from __future__ import annotations

import pytest

from focusd.config.settings import CameraConfig
from focusd.hw.picamera2_camera import Picamera2Camera, Picamera2Tuning
from focusd.config.profiles import load_profile
from focusd.sim import SimRig, scenes
from focusd.sim.lens import LensModel

TIMEOUT = 5.0
START = 1.0  #: D: where the lens is when each run starts (the lens control's default)
EXPOSURE_US = 1000  #: short: no frame of the rig is exposed across a move of the glass (no blend)
WINDOW = (0.25, 1 / 3, 0.5, 1 / 3)
LORES = (224, 126)
LEAD_FRAMES = 10  #: frames before the first write: the request queue is full and steady
ATTEMPTS = 3

#: sensor mode -> every how many frames ipa_base.cpp runs the controller at its frame rate
MODES = {(1536, 864): 4, (2304, 1296): 2}  # 120.13 fps, 56.03 fps

#: each a series of writes: step (frames after the first write was set) -> LensPosition
SCENARIOS = {
    "6 D jump written once": {0: 7.0},
    "6 D jump written with every request": {step: 7.0 for step in range(10)},
    "small steps within max_slew": {0: 2.0, 3: 3.0, 6: 4.0, 7: 5.5, 12: 4.5, 13: 3.5},
    "reversal mid-slew": {0: 10.0, 5: 2.0},
}
#: step of a segment at which the lens is sent back to START (every scenario's slew is over by then)
RETURN_STEP = 16
#: steps from one segment to the next: the return's slew is over (at most 6 D: 12 frames at 120 fps),
#: and one more than a multiple of every controller period, so each segment's first write lands one
#: frame later in the controller's cycle than the one before
SEGMENT_STEPS = 33
TAIL_FRAMES = 20  #: frames run after the last write: its slew is over


def session(scenario: str, mode) -> dict[int, float]:
    """The scenario once at each phase of the controller's cycle, the lens back at START between."""
    writes = {}
    for segment in range(MODES[mode]):
        base = segment * SEGMENT_STEPS
        writes.update({base + step: position for step, position in SCENARIOS[scenario].items()})
        writes[base + RETURN_STEP] = START
    return writes


def controller_runs(timestamps_ns: list[int]) -> list[bool]:
    """Which of a run of prepared frames the IPA's controller runs on (ipa_base.cpp prepareIsp:
    the first, then each one whose timestamp is at least 0.9 x 1/30 s after the last run)."""
    runs, last = [], 0
    for timestamp in timestamps_ns:
        run = not (last and timestamp - last < 1e9 / 30 * 0.9)
        if run:
            last = timestamp
        runs.append(run)
    return runs


def phase(runs: list[bool], frame: int) -> int:
    """Frames since the controller last ran, at ``frame`` (0: it runs on that frame)."""
    return next(back for back in range(frame + 1) if runs[frame - back])


# ------------------------------------------------------------------------------- the stand-in


def standin_run(standin, mode, writes: dict[int, float]):
    """The writes through the picamera2 adapter, each set from inside a held frame; returns the
    stand-in's history (delivered frames only, sensor order) or None if the run was disturbed."""
    standin.use_module(standin.ModuleSpec(exposure_us=EXPOSURE_US))
    camera = Picamera2Camera(CameraConfig(sensor_mode=mode, lores_size=LORES), load_profile("imx708"),
                             tuning=Picamera2Tuning(buffer_count=3, start_lens_position=START))
    camera.start()
    try:
        for _ in range(LEAD_FRAMES):
            camera.next_frame(TIMEOUT).release()
        for step in range(max(writes) + 1 + TAIL_FRAMES):
            with camera.next_frame(TIMEOUT):
                if step in writes:
                    camera.set_lens_position(writes[step])
        history = list(camera._picam2.sensors_used[-1].history)  # the stand-in's truth, behind the adapter
    finally:
        camera.stop()
    if not all(record.delivered for record in history):
        return None  # a frame without a request: the IPA never prepared it
    carried = [(record.sequence, record.controls["LensPosition"]) for record in history
               if "LensPosition" in record.controls]
    first = carried[0][0]
    if [(sequence - first, value) for sequence, value in carried] != sorted(writes.items()):
        return None  # the test thread fell behind: a write went out with another request
    return history


def standin_history(standin, mode, writes):
    for _ in range(ATTEMPTS):
        history = standin_run(standin, mode, writes)
        if history is not None:
            return history
    pytest.fail(f"the test thread could not keep up with the stand-in in {ATTEMPTS} runs")


# ------------------------------------------------------------------------------------ the rig


def rig_frames(mode, writes: dict[int, float], lead: int, move_phase: float):
    rig = SimRig(scenes.texture_scene("bricks", 1.0), profile=load_profile("imx708"), mode=mode,
                 start_lens=START, window=WINDOW, lens=LensModel(move_phase=move_phase))
    rig.set_exposure(EXPOSURE_US)
    frames = [rig.next_frame() for _ in range(lead)]
    for step in range(max(writes) + 1 + TAIL_FRAMES):
        frames.append(rig.next_frame())
        if step in writes:
            rig.set_lens_position(writes[step])
    return frames


def rig_in_phase(mode, writes, move_phase: float, wanted_phase: int):
    """The rig's run whose first write shows in a frame at ``wanted_phase`` of the controller's
    cycle, and that frame (the runs differ only in the number of idle frames before it)."""
    for lead in range(LEAD_FRAMES, LEAD_FRAMES + MODES[mode]):
        frames = rig_frames(mode, writes, lead, move_phase)
        aligned = first_change([frame.lens_position for frame in frames])
        if phase(controller_runs([frame.timestamp_ns for frame in frames]), aligned) == wanted_phase:
            return frames, aligned
    raise AssertionError(f"no rig run has the controller at phase {wanted_phase}")


def first_change(values: list[float], start: int = 0) -> int:
    return next(index for index in range(start, len(values)) if values[index] != START)


# ---------------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("mode", list(MODES), ids=["120fps", "56fps"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_standin_and_focusds_simulator_move_the_lens_alike(standin, mode, scenario):
    writes = session(scenario, mode)
    history = standin_history(standin, mode, writes)
    runs = controller_runs([record.sensor_timestamp_ns for record in history])
    # the stand-in's controller runs where ipa_base.cpp's rate limit says: every 4th / 2nd frame
    assert [record.controller_ran for record in history] == runs
    assert [i for i, run in enumerate(runs) if run][:4] == [0, MODES[mode], 2 * MODES[mode], 3 * MODES[mode]]

    # align: the frame whose metadata first shows the first write, in each
    standin_metadata = [record.lens_position for record in history]
    aligned = first_change(standin_metadata)
    first_write = next(record for record in history if "LensPosition" in record.controls)
    assert aligned == first_write.sequence  # its own request's write: ipa_base.cpp fills the metadata after it
    frames, rig_aligned = rig_in_phase(mode, writes, 0.0, phase(runs, aligned))
    # the segments' first writes land at every phase of the controller's cycle
    starts = [aligned + segment * SEGMENT_STEPS for segment in range(MODES[mode])]
    assert sorted(phase(runs, frame) for frame in starts) == list(range(MODES[mode]))

    # the metadata: the IPA's state after each request's write, frame for frame
    compared = max(writes) + TAIL_FRAMES - 4
    ours = standin_metadata[aligned:aligned + compared]
    theirs = [frame.lens_position for frame in frames[rig_aligned:rig_aligned + compared]]
    assert len(ours) == len(theirs) == compared
    assert ours == theirs
    assert len(set(ours)) > 2 and ours[-1] == START  # it went somewhere, and back

    # the glass: the same path, each model moving it at its own point after the aligned frame
    true = [record.true_lens_position for record in history]
    actual = [frame.lens_actual for frame in frames]
    assert not any(frame.lens_moving for frame in frames)  # every rig frame at one position, no blend
    standin_delay = first_change(true, aligned) - aligned
    rig_delay = first_change(actual, rig_aligned) - rig_aligned
    assert standin_delay == standin.LENS_DELAY_FRAMES  # the first frame wholly exposed at the new state
    assert rig_delay == 1  # move_phase 0: the glass moves at the aligned frame's readout
    glass = compared - standin_delay
    assert true[aligned + standin_delay:][:glass] == actual[rig_aligned + rig_delay:][:glass]
    # and with the glass moving a whole frame after that readout, the rig's is the stand-in's
    late, late_aligned = rig_in_phase(mode, writes, 1.0, phase(runs, aligned))
    assert [frame.lens_position for frame in late[late_aligned:late_aligned + compared]] == ours
    assert [frame.lens_actual for frame in late[late_aligned:late_aligned + compared]] == true[aligned:aligned + compared]


def test_a_6_dioptre_jump_written_once_arrives_when_af_cpp_says(standin):
    """af.cpp at 120 fps: the write moves the IPA's lens state 1.5 D, then each controller run
    another 1.5 D; ipa_base.cpp runs the controller on the first frame and every 4th after (4 x
    8.324 ms is the first multiple at least 0.9 x 1/30 s). So a 6 D jump written once takes the
    write and three runs, the first of them on the write's own frame if the controller runs on it:
    checked for each of the 4 frames of the controller's cycle the write can land on, up and down."""
    history = standin_history(standin, (1536, 864), session("6 D jump written once", (1536, 864)))
    assert all(record.controller_ran == (record.sequence % 4 == 0) for record in history)
    metadata = {record.sequence: record.lens_position for record in history}
    true = {record.sequence: record.true_lens_position for record in history}
    jumps = [(record.sequence, record.controls["LensPosition"]) for record in history if "LensPosition" in record.controls]
    assert sorted(written % 4 for written, target in jumps if target == 7.0) == [0, 1, 2, 3]
    for written, target in jumps:
        origin = metadata[written - 1]
        assert abs(target - origin) == 6.0 and true[written - 1] == origin  # from rest
        sign = 1.0 if target > origin else -1.0
        runs = [frame for frame in range(written, written + 16) if frame % 4 == 0][:3]
        expected, state = {}, origin + sign * 1.5  # the write
        for frame in range(written, runs[-1] + 2):
            expected[frame] = state  # the metadata: after the write, before that frame's controller run
            if frame in runs:
                state += sign * 1.5
        assert {frame: metadata[frame] for frame in expected} == expected, (written, target)
        arrives = runs[-1] + 1  # the frame after the third run is the first whose metadata says the target
        assert expected[arrives] == target and arrives - written in range(9, 13)
        # the glass: at the target LENS_DELAY_FRAMES after the third run's frame, not before
        reached = runs[-1] + standin.LENS_DELAY_FRAMES
        assert true[reached] == target and true[reached - 1] != target, (written, target)
