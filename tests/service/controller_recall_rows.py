"""Focus recall's part of the controller's table (tests/service/test_controller.py): its events
in every state, and the states a recall press leaves. Long press: 800 ms (RecallConfig's default)."""

from __future__ import annotations

from focusd.service.controller import ButtonEvent, FocusRecalled, RecallAsked, RecallFocus, StoreFocus, Tick
from focusd.signals import ButtonId, LedPattern

OFF, BLINK, STEADY, FLASH, ERROR = (LedPattern.OFF, LedPattern.BLINK, LedPattern.STEADY, LedPattern.FLASH,
                                    LedPattern.ERROR)
RECALL = ButtonId.RECALL


def recall_events(T: int) -> dict:
    return {
        "recall press": ButtonEvent(RECALL, True, T),
        "recall release": ButtonEvent(RECALL, False, T),
        "inlet: store focus": RecallAsked(True, T),
        "inlet: recall focus": RecallAsked(False, T),
        "recall arrived": FocusRecalled(True, T),
        "recall failed": FocusRecalled(False, T),
    }


RECALL_EVENT_NAMES = tuple(recall_events(0))


def recall_states(at) -> dict:
    """state -> (events from a new controller, the LED pattern that leaves shown)."""
    return {
        # recall pressed 100 ms before T: neither a press (not let go) nor a long press yet
        "recall held": ([ButtonEvent(RECALL, True, at(-100))], lambda s: OFF),
        # held 900 ms at T, but no tick has seen the 800 ms pass
        "recall held long, no tick": ([ButtonEvent(RECALL, True, at(-900))], lambda s: OFF),
        # held 900 ms, stored at the tick at -50 (its flash until +30), still held
        "recall stored, still held": ([ButtonEvent(RECALL, True, at(-900)), Tick(at(-50))], lambda s: FLASH),
        # pressed and let go: recalled; the lens arrived at -100 (the recalled lock)
        "recalled": ([ButtonEvent(RECALL, True, at(-300)), ButtonEvent(RECALL, False, at(-250)),
                      FocusRecalled(True, at(-100))], lambda s: STEADY),
    }


def with_recall(row, af_held_in, force: bool = False):
    """Recall's events in a state of the main table, from what its row says of an event that
    changes nothing ("capture ok"): the recall button neither held nor stored, no recalled lock.
    ``force``: replace entries the row already gives (a row that gives every event one answer)."""

    def full(s) -> dict:
        entries = row(s)
        af_held = af_held_in(s)
        quiet = entries["capture ok"][1]  # the LED after an event that changes nothing
        covered = quiet in (FLASH, ERROR)  # a flash or the error pattern covers the AF pattern
        if force:
            for name in RECALL_EVENT_NAMES:
                entries.pop(name, None)
        entries.setdefault("recall press", ([], quiet))
        entries.setdefault("recall release", ([], quiet))  # not held: no press to end
        entries.setdefault("inlet: store focus", ([StoreFocus()], ERROR if quiet == ERROR else FLASH))
        entries.setdefault("inlet: recall focus", ([] if af_held else [RecallFocus()], quiet))
        # a recalled lock only with AF-ON up; then steady unless a flash or an error covers it
        entries.setdefault("recall arrived", ([], quiet if af_held or covered else STEADY))
        entries.setdefault("recall failed", ([], ERROR))
        return entries

    return full


def recall_rows(row_idle, shot, LATE) -> dict:
    def held(s, long_done: bool, stored: bool) -> dict:
        rows = row_idle(s)
        late = ([], OFF) if stored else ([StoreFocus()], FLASH)  # held 2.6 s at the late tick
        rows.update({
            "tick": ([StoreFocus()], FLASH) if long_done and not stored else ([], FLASH if stored else OFF),
            "tick, 2.5 s later": late,
            "recall press": ([], FLASH if stored else OFF),
            # let go: a press (recall), or the long press no tick saw (store), or nothing (stored)
            "recall release": ([] if stored else [StoreFocus()] if long_done else [RecallFocus()],
                               FLASH if stored or long_done else OFF),
            "inlet: store focus": ([StoreFocus()], FLASH),
            "inlet: recall focus": ([RecallFocus()], FLASH if stored else OFF),
            "recall arrived": ([], FLASH if stored else STEADY),
            "recall failed": ([], ERROR),
        })
        if stored:  # the store's flash (until +30) covers what idle would show
            rows.update({name: (commands, FLASH if led in (OFF, STEADY, BLINK) else led)
                         for name, (commands, led) in rows.items() if name not in ("tick, 2.5 s later",)})
        return rows

    def recalled(s) -> dict:
        rows = row_idle(s)
        rows.update({name: (commands, STEADY if led == OFF else led) for name, (commands, led) in rows.items()
                     if name not in ("AF-ON press",)})
        rows.update({
            "AF-ON release": ([], STEADY),  # not held: nothing, the recalled lock stays
            "recall press": ([], STEADY),
            "recall release": ([], STEADY),  # not held: nothing
            "inlet: store focus": ([StoreFocus()], FLASH),
            "inlet: recall focus": ([RecallFocus()], STEADY),
            "recall arrived": ([], STEADY),
            "recall failed": ([], ERROR),
        })
        return rows

    return {
        "recall held": lambda s: held(s, long_done=False, stored=False),
        "recall held long, no tick": lambda s: held(s, long_done=True, stored=False),
        "recall stored, still held": lambda s: held(s, long_done=True, stored=True),
        "recalled": recalled,
    }
