"""focusd.hw.lens_watch: a lost LensPosition is sent again, a delivered one never (each extra write
would move libcamera's IPA lens another max_slew: docs/lens-path.md)."""

from __future__ import annotations

from focusd.hw.lens_watch import MAX_REPEATS, LensCommandWatch

FRAME_NS = 8_324_000  #: 120.13 fps: the IPA's controller runs every 4th frame
QUEUE = 2  #: requests queued ahead of the one carrying a command (buffer_count 3)


def repeats(watch: LensCommandWatch, shown: list[float], first_sequence: int = 1) -> list[int]:
    """The sequences at which ``watch`` asks for the command again, fed ``shown`` frame by frame."""
    return [sequence for sequence, position in enumerate(shown, first_sequence)
            if watch.observe(sequence, position, FRAME_NS)]


def test_a_delivered_command_slewing_there_is_never_sent_again():
    watch = LensCommandWatch(QUEUE)
    watch.commanded(7.0, 0)
    # 3 frames queued, then 1.5 D with the write and per controller run (every 4th frame), then at rest
    shown = [1.0] * 3 + [2.5] * 4 + [4.0] * 4 + [5.5] * 4 + [7.0] * 100
    assert repeats(watch, shown) == []


def test_a_lost_command_is_sent_again_once_the_lens_has_stayed_put_for_two_controller_runs():
    watch = LensCommandWatch(QUEUE)
    watch.commanded(5.0, 0)
    shown = [1.0] * 40
    # past the grace (4 frames) and still for 2 x 4 + 1 frames since first seen there (frame 1)
    assert repeats(watch, shown[:12]) == [10]
    # the repeat is watched afresh: a lens now moving there asks for nothing more
    assert repeats(watch, [2.5] * 4 + [4.0] * 4 + [5.0] * 40, 13) == []  # the repeat shows 3 frames on


def test_a_lens_slewing_through_the_command_to_an_older_target_is_caught_where_it_rests():
    watch = LensCommandWatch(QUEUE)
    watch.commanded(4.0, 0)  # lost: the lens goes on to the earlier 10 D
    shown = [1.0, 2.5, 2.5, 2.5, 4.0, 4.0, 4.0, 4.0, 5.5, 5.5, 5.5, 5.5, 7.0, 7.0, 7.0, 7.0,
             8.5, 8.5, 8.5, 8.5] + [10.0] * 10
    assert repeats(watch, shown) == [21 + 9]  # at rest from frame 21


def test_a_command_never_shown_is_given_up_after_a_few_repeats(caplog):
    watch = LensCommandWatch(QUEUE)
    watch.commanded(5.0, 0)
    assert len(repeats(watch, [1.0] * 200)) == MAX_REPEATS
    assert "given up" in caplog.text
