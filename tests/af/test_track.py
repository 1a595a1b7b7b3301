"""Where the lens was for each frame (focusd.af.track): the metadata's IPA state, the told latency
where the metadata does not follow the commands, and what a frame's exposure may have seen."""

from __future__ import annotations

import pytest
from focusd.af.state import Sample
from focusd.af.track import LensTrack


def device_track(latency: int, commands: dict[int, float], start: float = 1.0, frames: int = 12,
                 told: int | None = None) -> LensTrack:
    """A track fed as a Pi feeds it: frame k's metadata is the IPA's state after request k, which
    carries the command answering frame k - latency."""
    track = LensTrack(start, latency if told is None else told)
    state = start
    for k in range(frames):
        if k - latency in commands:
            state = commands[k - latency]
        if k - 1 in commands:
            track.command(k - 1, commands[k - 1])
        track.observe(k, state)
    return track


@pytest.mark.parametrize("latency, told", [(2, 2), (3, 2), (2, 3), (4, 4)])
def test_the_metadata_places_frames_whatever_the_told_latency(latency, told):
    track = device_track(latency, {2: 2.0, 3: 3.0}, told=told)
    assert track.trusted and track.metadata_lag == latency
    # S(k) changes at the frame whose request carried the command; frame j saw S(j-3)..S(j-1)
    shown = 2 + latency
    assert track.states(shown) == (1.0, 1.0, 1.0)  # exposed before the IPA took the command
    assert track.states(shown + 1) == (1.0, 1.0, 2.0)  # the glass moved during it
    assert track.states(shown + 3) == (2.0, 3.0, 3.0)
    assert track.states(shown + 4) == (3.0, 3.0, 3.0)


def test_metadata_that_does_not_follow_the_commands_falls_back_on_the_told_latency():
    # a lens on I2C: the metadata reports what was last sent, at once (lag 1 where 3 is told)
    track = LensTrack(1.0, told_latency=3)
    for k in range(10):
        if k == 2:
            track.command(2, 2.0)
        track.observe(k, 2.0 if k >= 3 else 1.0)
    assert track.trusted is False and track.margin == 1
    # frame j may have seen commands answering frames j - 4 - told ... j - told: five states (the
    # command answering frame 2 is first seen in frame 5, 6 or 7 with the latency 2, 3 or 4)
    assert track.states(4) == (1.0,) * 5
    assert track.states(5) == (1.0, 1.0, 1.0, 1.0, 2.0)
    assert track.states(9) == (2.0,) * 5
    assert Sample(9, 1.0, track.states(9), track.margin).clean == 2.0
    assert Sample(8, 1.0, track.states(8), track.margin).clean is None


def test_metadata_that_never_moves_is_not_trusted():
    track = LensTrack(1.0, told_latency=2)
    track.command(0, 2.0)
    for k in range(6):
        track.observe(k, 1.0)
    assert track.trusted is False


def test_a_dropped_frame_is_known_where_its_neighbours_agree_and_not_across_a_change():
    track = device_track(2, {2: 2.0})  # the IPA state is 2.0 from frame 4 on

    def without(dropped: int) -> LensTrack:
        lost = LensTrack(1.0, 2)
        for k in range(12):
            if k == 3:
                lost.command(2, 2.0)
            if k != dropped:
                lost.observe(k, track.reported(k))
        return lost

    steady = without(6)  # frames 5 and 7 agree: the state did not move at 6
    assert steady.states(7) == track.states(7) == (2.0, 2.0, 2.0)
    across = without(4)  # frames 3 and 5 differ: frame 4 may be either
    assert across.states(5) is None and across.states(6) is None and across.states(7) is None
    assert across.states(8) == track.states(8)


@pytest.mark.parametrize("states, clean, at_two, at_one", [
    ((2.0, 2.0, 2.0), 2.0, 2.0, 2.0),
    ((1.0, 2.0, 2.0), None, 2.0, 2.0),
    ((1.0, 1.0, 2.0), None, None, 2.0),
])
def test_a_sample_is_one_position_only_when_its_states_agree(states, clean, at_two, at_one):
    sample = Sample(0, 1.0, states, margin=0)
    assert sample.clean == clean and sample.at(3) == clean
    assert sample.at(2) == at_two and sample.at(1) == at_one
    if clean is None:
        assert sample.low < sample.high
