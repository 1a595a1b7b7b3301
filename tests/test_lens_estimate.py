"""Where the lens was during a captured frame's exposure (focusd.lens_estimate), from the commands
sent and the metadata seen, as the daemon feeds it."""

from __future__ import annotations

import pytest

from focusd.lens_estimate import LensEstimate
from focusd.lens_path import LensPath

PATH = LensPath(latency_frames=2, max_slew=1.5)


def fed_as_a_pi(commands: dict[int, float], latency: int = 2, frames: int = 14, start: float = 1.0,
               dropped: tuple[int, ...] = ()) -> tuple[LensEstimate, dict]:
    """Frame k's metadata is the IPA's state after request k, which carries the command answering
    frame k - latency. As in the daemon, each frame is observed, asked about (a capture from it),
    then answered with a command. Returns the estimate and its answer for each frame."""
    estimate = LensEstimate(PATH)
    state, answers = start, {}
    for k in range(frames):
        if k - latency in commands:
            state = commands[k - latency]
        if k in dropped:
            continue
        estimate.observe(k, state)
        answers[k] = estimate.exposed(k)
        if k in commands:
            estimate.command(k, commands[k])
    return estimate, answers


def test_a_frame_exposed_while_the_lens_moved_says_so_and_where_it_was():
    _, exposed = fed_as_a_pi({3: 2.0})  # the metadata shows 2.0 from frame 5 on
    # frame 5's metadata already says 2.0, but it was exposed before the IPA took the command
    assert (exposed[5].position, exposed[5].low, exposed[5].high, exposed[5].moving) == (1.0, 1.0, 1.0, False)
    during = exposed[6]  # the glass moved during it: S(3), S(4), S(5) = 1, 1, 2
    assert during.moving and (during.low, during.high) == (1.0, 2.0)
    assert during.position == pytest.approx(1.5) and during.basis == "metadata"
    assert exposed[7].moving and exposed[7].position == 2.0  # S(4..6): a spill of 1.0 in a long exposure
    assert not exposed[8].moving and exposed[8].position == 2.0


def test_without_trusted_metadata_it_rests_on_the_commands_a_frame_wider_each_way():
    # an I2C lens: the metadata is the last position sent, at once (lag 1 where 3 is told)
    estimate = LensEstimate(LensPath(latency_frames=3, max_slew=None))
    answers = {}
    for k in range(14):
        estimate.observe(k, 1.0 if k <= 4 else 3.0)
        answers[k] = estimate.exposed(k)
        if k == 4:
            estimate.command(4, 3.0)
    # told 3: S(k) is the command answering frame k - 3, so 3.0 from S(7); frame j sees S(j-4..j)
    assert answers[6].basis == "commands" and not answers[6].moving and answers[6].position == 1.0
    assert answers[7].moving and (answers[7].low, answers[7].high) == (1.0, 3.0)
    assert answers[9].position == 3.0 and answers[10].moving and not answers[11].moving


def test_a_dropped_frame_before_the_capture_leaves_it_unknown_unless_the_lens_held():
    _, held = fed_as_a_pi({}, dropped=(3,))
    assert held[5].moving is False and held[5].position == 1.0  # the frames around the gap agree
    _, moved = fed_as_a_pi({1: 2.0}, dropped=(3,))  # the state changed at frame 3, never seen
    assert moved[4] is None and moved[5] is None and moved[6] is None  # no made-up answer
    assert moved[7].position == 2.0 and not moved[7].moving


def test_a_restarted_camera_starts_a_new_track():
    estimate, _ = fed_as_a_pi({3: 2.0}, frames=10)
    estimate.observe(0, 2.0)  # the camera came back: its frames are numbered anew
    exposed = estimate.exposed(0)
    assert (exposed.position, exposed.moving, exposed.basis) == (2.0, False, "metadata")


def test_nothing_observed_yet_is_unknown():
    assert LensEstimate(PATH).exposed(3) is None
