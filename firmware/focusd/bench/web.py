"""``focusd bench --web``: does a watched viewfinder cost the camera anything?

The real daemon on the simulated camera in real time with its bridge on, measured in phases of one
run: no web client (the baseline), then the page in a process of its own (as focusd-web is) with
three WebSocket clients reading every frame, then the same with one of them magnifying (the only
case where the daemon does more: a crop of the main stream, rendered on the simulator). In each
phase, the same work: AF-ON presses from the same lens position (frames from the press to FOCUSED
or FAILED), shutter presses at random moments (press to start of exposure) and the frame rate the
daemon kept; with clients, their preview rate and latency (receipt minus start of exposure).
The report gives each phase's figures as ratios to the baseline measured in the same run.

Frame counts on the stepped simulator are deterministic, and a test checks they are the same with
clients and without; the wall-clock figures here are measured, never asserted.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from focusd.bench.shutter import WAIT_S, _Driver, percentile
from focusd.config.settings import default_config
from focusd.signals import ButtonId

#: (name, clients, of which magnifying 2x)
PHASES = (("no clients", 0, 0), ("3 clients", 3, 0), ("3 clients, 1 magnifying", 3, 1))
#: frames let go by after the web process starts (its start-up is not what is measured)
SETTLE_FRAMES = 120
#: the lens position every AF trial starts from (dioptres: 0.2 m, far from the default scene's subject)
START_DIOPTRES = 5.0


@dataclasses.dataclass
class Phase:
    name: str
    clients: int
    magnifying: int
    af_frames: list[int] = dataclasses.field(default_factory=list)  #: per AF-ON press, frames to a result
    af_results: list[str] = dataclasses.field(default_factory=list)
    delays_ms: list[float] = dataclasses.field(default_factory=list)  #: shutter press to start of exposure
    fps: float = math.nan  #: frames the daemon processed a second over the phase
    dropped: int = 0  #: frames the camera skipped (the daemon was late for them)
    previews: list[dict] = dataclasses.field(default_factory=list)  #: per client (web_clients' summary)

    def summary(self) -> dict:
        latencies = [ms for client in self.previews for ms in client["latencies_ms"]]
        return {"name": self.name, "clients": self.clients, "magnifying": self.magnifying,
                "af_frames": self.af_frames, "af_frames_median": percentile(self.af_frames, 0.5),
                "af_results": self.af_results, "shutter_median_ms": percentile(self.delays_ms, 0.5),
                "shutter_p99_ms": percentile(self.delays_ms, 0.99), "fps": self.fps, "dropped": self.dropped,
                "preview_fps": [round(c["fps"], 1) for c in self.previews],
                "preview_latency_median_ms": percentile(latencies, 0.5),
                "preview_latency_p99_ms": percentile(latencies, 0.99)}


class WebClients:
    """focusd.bench.web_clients in a process of its own (the page and its clients)."""

    def __init__(self, socket_path: str, clients: int, magnifying: int):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(Path(__file__).parents[2]),
                                                                        os.environ.get("PYTHONPATH")) if p))
        self.process = subprocess.Popen([sys.executable, "-m", "focusd.bench.web_clients", socket_path,
                                         str(clients), str(magnifying)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env)
        line = self.process.stdout.readline()  # "ready", or nothing if it failed (its error on stderr)
        if line.strip() != "ready":
            self.process.kill()
            self.process.wait()
            raise RuntimeError("bench --web: the web clients did not start (see above)")

    def finish(self) -> list[dict]:
        out, _ = self.process.communicate(timeout=WAIT_S)  # closes its stdin: it reports and ends
        return json.loads(out.strip().splitlines()[-1])["clients"]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _af_trial(daemon, camera, drive: _Driver, results: list, listener) -> tuple[int, str]:
    """One AF-ON press from START_DIOPTRES: the sensor frames from the press to the result."""
    camera.set_lens_position(START_DIOPTRES)  # the engine is idle: nothing else commands the lens
    frames = daemon.stats.frames
    drive.wait(lambda s: s.frames >= frames + 10, "the lens at its start")
    count = len(results)
    drive.moment(1)
    daemon.inlet.press(ButtonId.AF_ON)
    drive.wait(lambda s: s.af_state in ("FOCUSED", "FAILED"), "a focus result")
    daemon.inlet.release(ButtonId.AF_ON)
    drive.wait(lambda s: s.af_state == "IDLE", "AF-ON released")
    if not listener.wait_idle(WAIT_S):
        raise RuntimeError("bench --web: the events of an AF-ON press did not arrive")
    press_ns, (state, result_ns) = results[count]
    return round((result_ns - press_ns) / camera.frame_duration_ns), state


def run(af_trials: int = 8, presses: int = 20, seed: int = 0, progress=None) -> tuple[list[Phase], dict]:
    from focusd.hw.gpio import mock_pin_factory
    from focusd.service import events as ev
    from focusd.service.cameras import build_camera
    from focusd.service.daemon import Daemon

    rng = random.Random(seed)
    phases = [Phase(name, clients, magnifying) for name, clients, magnifying in PHASES]
    with tempfile.TemporaryDirectory(prefix="focusd-bench-web-") as folder:
        runtime = tempfile.mkdtemp(prefix="fbw-")  # short: a socket path has at most 107 bytes
        config = default_config()
        config = dataclasses.replace(
            config, camera=dataclasses.replace(config.camera, backend="sim"),
            capture=dataclasses.replace(config.capture, directory=folder, queue_depth=64),
            web=dataclasses.replace(config.web, enabled=True, runtime_dir=runtime),
            bracket=dataclasses.replace(config.bracket, gesture=False))  # quick presses: photos, not a double-press
        camera = build_camera(config, pacing="realtime", seed=seed)
        daemon = Daemon(config, camera, pin_factory=mock_pin_factory())
        due: dict[int, int] = {}
        results: list = []  # (AF-ON press time, (result, its time)), in order
        pressed: list[int] = []
        drops: list[int] = []

        def heard(event) -> None:
            if isinstance(event, ev.CaptureQueued):
                due[event.press_id] = event.time_ns
            elif isinstance(event, ev.InputChanged) and event.button == ButtonId.AF_ON and event.pressed:
                pressed.append(event.time_ns)
            elif isinstance(event, ev.FocusChanged) and event.state in ("FOCUSED", "FAILED") and \
                    len(results) < len(pressed):
                results.append((pressed[len(results)], (event.state, event.time_ns)))
            elif isinstance(event, ev.FrameStatistics):
                drops.append(event.dropped)

        listener = daemon.events.listen("bench-web", heard, depth=4096)
        thread = threading.Thread(target=daemon.run, name="focusd-camera", daemon=True)
        thread.start()
        clients = None
        try:
            drive = _Driver(daemon, rng, camera.frame_duration_ns / 1e9)
            drive.wait(lambda s: s.frames > 5, "its first frames")
            for phase in phases:
                if progress:
                    progress(phase.name)
                if phase.clients:
                    clients = WebClients(daemon.bridge.path, phase.clients, phase.magnifying)
                    settled = daemon.stats.frames + SETTLE_FRAMES
                    drive.wait(lambda s: s.frames >= settled, "frames after the web process started")
                frames, began, dropped = daemon.stats.frames, time.monotonic(), drops[-1] if drops else 0
                for _ in range(af_trials):
                    count, state = _af_trial(daemon, camera, drive, results, listener)
                    phase.af_frames.append(count)
                    phase.af_results.append(state)
                first_press = daemon.stats.presses + 1
                for _ in range(presses):
                    drive.moment(3)
                    drive.shot()
                daemon.events_handled(WAIT_S)
                phase.fps = (daemon.stats.frames - frames) / (time.monotonic() - began)
                phase.dropped = (drops[-1] if drops else 0) - dropped
                journal = Path(folder) / config.capture.journal
                for line in journal.read_text().splitlines():
                    entry = json.loads(line)
                    if entry["file"] is not None and entry["press_id"] >= first_press and entry["press_id"] in due:
                        phase.delays_ms.append((entry["frame_time_ns"] - due[entry["press_id"]]) / 1e6)
                if clients is not None:
                    phase.previews = clients.finish()
                    clients = None
        finally:
            if clients is not None:
                clients.kill()
            daemon.request_stop()
            thread.join(WAIT_S)
            listener.close()
            shutil.rmtree(runtime, ignore_errors=True)
    frame_ns = camera.frame_duration_ns
    conditions = {"profile": camera.rig.profile.name, "fps": 1e9 / frame_ns, "frame_ms": frame_ns / 1e6,
                  "seed": seed, "af_trials": af_trials, "presses": presses, "pacing": "realtime",
                  "preview_fps_limit": config.web.preview_fps, "start_dioptres": START_DIOPTRES}
    return phases, conditions


def _ratio(value: float, baseline: float) -> str:
    if not (math.isfinite(value) and math.isfinite(baseline)) or baseline == 0:
        return "   -"
    return f"{value / baseline:4.2f}"


def format_report(phases: list[Phase], conditions: dict) -> str:
    base = phases[0].summary()
    lines = [f"a watched viewfinder: the daemon on the simulated camera in real time, {conditions['profile']} at "
             f"{conditions['fps']:.1f} fps, seed {conditions['seed']}; per phase {conditions['af_trials']} AF-ON "
             f"presses from {conditions['start_dioptres']:g} D and {conditions['presses']} shutter presses",
             "", f"{'phase':<24} {'AF frames':>9} {'ratio':>5}  {'shutter median':>14} {'ratio':>5} {'p99':>8}  "
             f"{'fps':>5} {'ratio':>5} {'dropped':>7}  preview fps, latency median/p99"]
    for phase in phases:
        s = phase.summary()
        preview = "-" if not s["preview_fps"] else (
            f"{'/'.join(f'{f:.0f}' for f in s['preview_fps'])}, "
            f"{s['preview_latency_median_ms']:.0f}/{s['preview_latency_p99_ms']:.0f} ms")
        lines.append(f"{s['name']:<24} {s['af_frames_median']:>9} {_ratio(s['af_frames_median'], base['af_frames_median']):>5}  "
                     f"{s['shutter_median_ms']:>11.1f} ms {_ratio(s['shutter_median_ms'], base['shutter_median_ms']):>5} "
                     f"{s['shutter_p99_ms']:>5.1f} ms  {s['fps']:>5.1f} {_ratio(s['fps'], base['fps']):>5} "
                     f"{s['dropped']:>7}  {preview}")
    lines += ["", "AF frames: sensor frames from the AF-ON press to FOCUSED/FAILED (median); shutter: press to start",
              "of exposure of the captured frame; fps: frames the daemon processed a second; dropped: frames the",
              "camera skipped for a late daemon. Ratios: to the no-client phase of this run. Preview: per client,",
              f"frames a second (the daemon sends at most {conditions['preview_fps_limit']:g}) and receipt minus start "
              "of exposure. Magnifying: the simulator renders its main image for each crop (a Pi copies a buffer)."]
    return "\n".join(lines)
