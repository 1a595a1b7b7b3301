"""The double-press gesture that starts focus bracketing (focusd.service.bracket_gesture)."""

from focusd.service.bracket_gesture import DoublePressGesture


def test_second_press_within_the_window_starts():
    g = DoublePressGesture(0.4)
    assert not g.shutter_pressed(0.0, False)
    g.shutter_released(0.1, False)
    assert g.shutter_pressed(0.45, False)


def test_second_press_too_late_is_a_normal_press():
    g = DoublePressGesture(0.4)
    g.shutter_pressed(0.0, False)
    g.shutter_released(0.1, False)
    assert not g.shutter_pressed(0.51, False)


def test_af_on_held_or_pressed_between_breaks_it():
    g = DoublePressGesture(0.4)
    g.shutter_pressed(0.0, True)
    g.shutter_released(0.1, True)
    assert not g.shutter_pressed(0.2, True)
    g.shutter_released(0.3, False)
    assert not g.shutter_pressed(0.4, False)  # the first release came while AF-ON was held
    g.shutter_released(0.5, False)
    g.af_on_pressed()
    assert not g.shutter_pressed(0.6, False)


def test_a_triple_press_is_one_series():
    g = DoublePressGesture(0.4)
    g.shutter_pressed(0.0, False)
    g.shutter_released(0.1, False)
    assert g.shutter_pressed(0.2, False)
    g.shutter_released(0.3, False)
    assert not g.shutter_pressed(0.4, False)
