"""``focusd bench --shutter``: how long after a shutter press the captured frame's exposure began.

The real daemon on the simulated camera in real-time pacing (the demo's conditions: the camera
thread, the writer thread and the simulator share this machine's cores), pressed through its
command inlet at random moments in four situations: idle (AF-ON not held), focused (held, locked),
during a scan, and the later frames of a burst (measured from the moment each was due). Per
situation: the median and the 99th percentile of press (or due time) to start of exposure, and
how many presses got a later frame than the first exposed after them ("frames missed": the
frames exposed in between were never delivered, as when the consumer falls behind).

A press can only wait for the next exposure to begin: up to a frame (17.8 ms at the default
56 fps), on average half of one. Anything beyond is frames missed. On the simulator a capture also
renders its main image on the camera thread (tens of ms, where a Pi copies a buffer), so a press
soon after a capture, and a burst's frames, can miss frames here that a Pi would not.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import tempfile
import threading
from pathlib import Path

from focusd.bench.metrics import percentile  # nearest rank, NaN when empty (bench.web uses it from here too)
from focusd.config.settings import default_config
from focusd.signals import ButtonId

#: the situations, in the report's order
SITUATIONS = ("idle", "focused", "scanning", "burst")
#: seconds any one wait may take before the run is abandoned (a stuck daemon)
WAIT_S = 30.0


@dataclasses.dataclass(frozen=True)
class Delay:
    situation: str
    delay_ns: int  #: start of the captured frame's exposure minus the press (burst: the due time)
    frames_missed: int  #: frames that began between the press and the captured frame's


def summarise(delays: list[Delay]) -> dict[str, dict]:
    """Per situation: n, median and p99 in ms, frames missed (presses and their share)."""
    out = {}
    for situation in SITUATIONS:
        mine = [d for d in delays if d.situation == situation]
        ms = [d.delay_ns / 1e6 for d in mine]
        missed = sum(d.frames_missed > 0 for d in mine)
        out[situation] = {"n": len(mine), "median_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99),
                          "max_ms": max(ms, default=math.nan), "missed": missed,
                          "missed_share": missed / len(mine) if mine else math.nan}
    return out


def format_report(summary: dict[str, dict], conditions: dict) -> str:
    lines = [f"press to start of exposure: the daemon on the simulated camera in real time, {conditions['profile']} "
             f"at {conditions['fps']:.1f} fps (a frame is {conditions['frame_ms']:.1f} ms), seed {conditions['seed']}",
             "", f"{'situation':<10} {'n':>4} {'median':>9} {'p99':>9} {'max':>9}  frames missed",
             ]
    for situation, row in summary.items():
        share = "-" if row["n"] == 0 else f"{row['missed']} of {row['n']} ({row['missed_share']:.0%})"
        lines.append(f"{situation:<10} {row['n']:>4} {row['median_ms']:>6.1f} ms {row['p99_ms']:>6.1f} ms "
                     f"{row['max_ms']:>6.1f} ms  {share}")
    lines += ["", "burst: from the moment each later frame of a held shutter was due. Frames missed: the captured",
              "frame was not the first exposed after the press (the simulator renders a capture's main image",
              "on the camera thread; a Pi copies a buffer)."]
    return "\n".join(lines)


class _Driver:
    """Presses through the daemon's command inlet and waits on its counters (no sleeps but the
    random moments between presses, which are the point: a press lands anywhere in a frame)."""

    def __init__(self, daemon, rng: random.Random, frame_s: float):
        self.daemon, self.rng, self.frame_s = daemon, rng, frame_s
        self._pause = threading.Event()  # never set: waits out the random moments

    def wait(self, predicate, what: str) -> None:
        if not self.daemon.wait_until(predicate, WAIT_S):
            raise RuntimeError(f"bench --shutter: the daemon did not get {what} within {WAIT_S:.0f} s")

    def moment(self, frames: float = 1.0) -> None:
        self._pause.wait(self.rng.uniform(0.0, frames * self.frame_s))

    def shot(self, hold_frames: float = 2.0) -> None:
        """One press and release, then wait until its capture is done."""
        inlet, stats = self.daemon.inlet, self.daemon.stats
        done = stats.captures_written + stats.captures_failed + 1
        inlet.press(ButtonId.SHUTTER)
        self._pause.wait(hold_frames * self.frame_s)
        inlet.release(ButtonId.SHUTTER)
        self.wait(lambda s: s.captures_written + s.captures_failed >= done, "a capture")


def run(presses: int = 30, seed: int = 0, progress=None) -> tuple[list[Delay], dict]:
    """Run the four situations with ``presses`` each (a burst: its later frames); the delays and
    the conditions."""
    from focusd.hw.gpio import mock_pin_factory
    from focusd.service.cameras import build_camera
    from focusd.service.daemon import Daemon
    from focusd.service import events as ev

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="focusd-bench-shutter-") as folder:
        config = default_config()
        config = dataclasses.replace(
            config, camera=dataclasses.replace(config.camera, backend="sim"),
            capture=dataclasses.replace(config.capture, directory=folder, queue_depth=64),
            # a burst frame every 100 ms while held; a shot is held 2 frames, too short for one
            shutter=dataclasses.replace(config.shutter, burst=True, burst_fps=10.0, burst_limit=0),
            # presses a few frames apart, each a photo: not the focus-bracketing double-press
            bracket=dataclasses.replace(config.bracket, gesture=False))
        camera = build_camera(config, pacing="realtime", seed=seed)
        daemon = Daemon(config, camera, pin_factory=mock_pin_factory())
        due: dict[tuple[int, int], int] = {}
        queued = daemon.events.listen(
            "bench-shutter", lambda e: due.__setitem__((e.press_id, e.burst_index), e.time_ns)
            if isinstance(e, ev.CaptureQueued) else None, depth=4096)
        thread = threading.Thread(target=daemon.run, name="focusd-camera", daemon=True)
        thread.start()
        situation_of: dict[int, str] = {}
        try:
            drive = _Driver(daemon, rng, camera.frame_duration_ns / 1e9)
            drive.wait(lambda s: s.frames > 5, "its first frames")
            inlet = daemon.inlet
            for situation in SITUATIONS:
                if progress:
                    progress(situation)
                first_press = daemon.stats.presses + 1
                if situation == "idle":
                    for _ in range(presses):
                        drive.moment(3)
                        drive.shot()
                elif situation == "focused":
                    inlet.press(ButtonId.AF_ON)
                    drive.wait(lambda s: s.af_state in ("FOCUSED", "FAILED"), "focus")
                    for _ in range(presses):
                        drive.moment(3)
                        drive.shot()
                    inlet.release(ButtonId.AF_ON)
                    drive.wait(lambda s: s.af_state == "IDLE", "AF-ON released")
                elif situation == "scanning":
                    for _ in range(presses):
                        inlet.press(ButtonId.AF_ON)
                        drive.wait(lambda s: s.af_state == "SCANNING", "a scan")
                        drive.moment(4)
                        drive.shot()
                        inlet.release(ButtonId.AF_ON)
                        drive.wait(lambda s: s.af_state == "IDLE", "AF-ON released")
                        drive.moment(6)
                else:  # burst: its frames after the first, each from when it was due
                    done = daemon.stats.captures_written + presses + 1
                    inlet.press(ButtonId.SHUTTER)
                    drive.wait(lambda s: s.captures_written >= done, "its burst")
                    inlet.release(ButtonId.SHUTTER)
                for press_id in range(first_press, daemon.stats.presses + 1):
                    situation_of[press_id] = situation
            daemon.events_handled(WAIT_S)
        finally:
            daemon.request_stop()
            thread.join(WAIT_S)
            queued.close()
        journal = [json.loads(line) for line in (Path(folder) / config.capture.journal).read_text().splitlines()]
    frame_ns = camera.frame_duration_ns
    delays = []
    for entry in journal:
        key = (entry["press_id"], entry["burst_index"])
        situation = situation_of.get(entry["press_id"])
        if entry["file"] is None or key not in due or situation is None:
            continue
        if situation == "burst" and not 1 <= entry["burst_index"] <= presses:
            # the first frame is an idle press; one more may be taken while the release travels
            continue
        if situation == "scanning" and entry["af_state"] != "SCANNING":
            continue  # the scan was over before the press landed
        delay = entry["frame_time_ns"] - due[key]
        delays.append(Delay(situation, delay, max(0, delay // frame_ns)))
    profile = camera.rig.profile
    conditions = {"profile": profile.name, "fps": 1e9 / frame_ns, "frame_ms": frame_ns / 1e6, "seed": seed,
                  "presses": presses, "pacing": "realtime", "camera_thread": "the real daemon"}
    return delays, conditions
