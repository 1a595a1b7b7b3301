"""The capture writer under the faults a camera in the field meets: a full card, a killed process.

- A full disk, for real: a small tmpfs mounted for the test (we run as root; without the right to
  mount, that test is skipped and says so), and RLIMIT_FSIZE in a child process, which makes the
  kernel refuse writes with EFBIG on any machine (that one always runs).
- SIGKILL at random moments, 200 times: a zygote process imports everything once and forks one
  writer child per round (a fresh interpreter per round would cost seconds); the test kills the
  child after a seeded number of finished captures plus a seeded delay, and checks the folder.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from focusd.capture.writer import CaptureRequest, CaptureWriter
from focusd.capture.files import read_metadata
from focusd.config.settings import CaptureConfig
from capture.capture_helpers import TIMEOUT_S, Results
from daemon_harness import fill_disk, small_disk as mounted_small_disk

KILLS = 200


def noisy_request(press_id: int, size=(120, 160)) -> CaptureRequest:
    """Seeded noise: JPEG cannot shrink it, so the file size is predictable (about 3 bytes a pixel)."""
    image = np.random.default_rng(press_id).integers(0, 256, size=(*size, 3), dtype=np.uint8)
    return CaptureRequest(image=image, press_id=press_id, press_time_ns=press_id, frame_time_ns=press_id + 5,
                          sequence=press_id, lens_reported=1.0, af_state="FOCUSED", reason="shutter priority release")


def final_names(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if not n.startswith(".") and n.endswith((".jpg", ".png")))


def temp_names(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


# ------------------------------------------------------------------------------ disk full: tmpfs


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs, unmounted afterwards; skipped where mounting is not permitted."""
    with mounted_small_disk(tmp_path / "disk", size="1m") as mount_point:
        yield mount_point


def test_full_disk_fails_the_capture_cleanly_and_the_next_works_once_space_returns(small_disk, caplog):
    caplog.set_level(logging.INFO, logger="focusd.capture")
    folder = small_disk / "captures"
    results = Results()
    writer = CaptureWriter(CaptureConfig(directory=str(folder), queue_depth=8), results)
    writer.start()
    ballast = fill_disk(small_disk)

    writer.submit(noisy_request(1))
    writer.submit(noisy_request(2))
    failed = results.wait(2)
    assert [r.path for r in failed] == [None, None]
    assert all(r.error.startswith("disk full: ") for r in failed), [r.error for r in failed]
    assert final_names(folder) == [] and temp_names(folder) == []  # no partial file, no leftovers
    assert writer.failed == 2 and writer.written == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and r.name == "focusd.capture"]
    assert any("press 1 failed: disk full" in m for m in errors)

    ballast.unlink()  # space returns
    writer.submit(noisy_request(3))
    third = results.wait(3)[2]
    writer.close()
    assert third.error is None, third.error
    assert final_names(folder) == [third.path.name] and temp_names(folder) == []
    with Image.open(third.path) as picture:
        picture.load()
    lines = [json.loads(line) for line in (folder / "captures.jsonl").read_text().splitlines()]
    assert lines[-1]["file"] == third.path.name and lines[-1]["press_id"] == 3
    assert all(line["file"] is None for line in lines[:-1])  # failure lines, where there was room for them


# ---------------------------------------------------------------------- disk full: RLIMIT_FSIZE

RLIMIT_CHILD = r'''
import json, logging, resource, signal, sys, threading
import numpy as np
from focusd.capture.writer import CaptureRequest, CaptureWriter
from focusd.config.settings import CaptureConfig

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed by the signal
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
folder, scenario = sys.argv[1], sys.argv[2]
results, arrived = [], threading.Semaphore(0)

def on_done(result):
    results.append({"press_id": result.request.press_id, "error": result.error,
                    "file": result.path.name if result.path else None})
    arrived.release()

def capture(press_id, size):
    image = np.random.default_rng(press_id).integers(0, 256, size=(*size, 3), dtype=np.uint8)
    writer.submit(CaptureRequest(image=image, press_id=press_id, press_time_ns=0, frame_time_ns=0,
                                 sequence=press_id, lens_reported=2.0, af_state="FOCUSED", reason="shutter priority release"))
    assert arrived.acquire(timeout=10)

writer = CaptureWriter(CaptureConfig(directory=folder, format="png"), on_done)
writer.start()
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
if scenario == "image":
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))
    capture(1, (120, 160))   # about 58 kB of noise: refused part-way
    capture(2, (8, 8))       # small: fits even now
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space returns
    capture(3, (120, 160))
elif scenario == "journal":
    for press_id in range(1, 6):  # the journal grows larger than a small image
        capture(press_id, (8, 8))
    journal_size = len(open(folder + "/captures.jsonl", "rb").read())
    # the next journal line fits only part-way; the image (small) still fits
    resource.setrlimit(resource.RLIMIT_FSIZE, (journal_size + 100, hard))
    capture(6, (8, 8))
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    capture(7, (8, 8))
writer.close()
print(json.dumps(results))
'''


def run_limited_child(tmp_path: Path, scenario: str) -> tuple[list[dict], str]:
    script = tmp_path / "rlimit_child.py"
    script.write_text(RLIMIT_CHILD)
    folder = tmp_path / "captures"
    done = subprocess.run([sys.executable, str(script), str(folder), scenario], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def test_file_size_limit_fails_the_capture_without_a_partial_file_and_the_writer_goes_on(tmp_path):
    results, log_text = run_limited_child(tmp_path, "image")
    folder = tmp_path / "captures"
    first, small, after = results
    assert first["file"] is None and first["error"].startswith("disk full: File too large")
    assert small["error"] is None and after["error"] is None
    assert final_names(folder) == sorted([small["file"], after["file"]])
    assert temp_names(folder) == []
    for name, press_id in ((small["file"], 2), (after["file"], 3)):
        with Image.open(folder / name) as picture:
            picture.load()
            size = (8, 8) if press_id == 2 else (120, 160)
            expected = np.random.default_rng(press_id).integers(0, 256, size=(*size, 3), dtype=np.uint8)
            assert np.array_equal(np.asarray(picture), expected)
    lines = [json.loads(line) for line in (folder / "captures.jsonl").read_text().splitlines()]
    assert [(line["press_id"], line["error"] is None) for line in lines] == [(1, False), (2, True), (3, True)]
    assert "press 1 failed: disk full" in log_text


def test_journal_line_that_does_not_fit_is_cut_back_not_left_torn(tmp_path):
    results, log_text = run_limited_child(tmp_path, "journal")
    folder = tmp_path / "captures"
    assert [r["error"] for r in results] == [None] * 7  # the images were published
    assert len(final_names(folder)) == 7
    text = (folder / "captures.jsonl").read_text()
    lines = [json.loads(line) for line in text.splitlines()]  # every line whole
    assert [line["press_id"] for line in lines] == [1, 2, 3, 4, 5, 7]
    assert "journal line for" in log_text and "lost" in log_text


# ------------------------------------------------------------------------------------- SIGKILL

ZYGOTE = r'''
import os, sys, threading
import numpy as np
from focusd.capture.writer import CaptureRequest, CaptureWriter
from focusd.config.settings import CaptureConfig

folder = sys.argv[1]

def say(text):
    os.write(1, (text + "\n").encode())

def image_for(press_id):  # the same as the test's blocky_image
    cells = np.random.default_rng(press_id).integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return cells.repeat(8, axis=0).repeat(8, axis=1)

def writer_child(round_number, fmt):
    slots = threading.Semaphore(2)  # two captures in flight: the writer is always busy

    def on_done(result):
        say(f"done {result.path.name if result.path else 'FAILED ' + result.error}")
        slots.release()

    writer = CaptureWriter(CaptureConfig(directory=folder, format=fmt, queue_depth=4,
                                         filename="IMG_{counter:05d}_{sequence}"), on_done)
    writer.start()
    say("started")
    for index in range(1_000_000):
        slots.acquire()
        press_id = round_number * 1000 + index + 1
        writer.submit(CaptureRequest(image=image_for(press_id), press_id=press_id, press_time_ns=press_id,
                                     frame_time_ns=press_id + 1, sequence=index, lens_reported=index / 4,
                                     af_state="FOCUSED", reason="shutter priority release"))

say("zygote ready")
for line in sys.stdin:
    round_number, fmt = line.split()
    pid = os.fork()
    if pid == 0:
        try:
            writer_child(int(round_number), fmt)
        finally:
            os._exit(3)  # never returns into the zygote's loop
    say(f"child {pid}")
    _, status = os.waitpid(pid, 0)
    say(f"reaped {pid} {status}")
'''


class Zygote:
    """The zygote process and a thread turning its output into a queue of lines."""

    def __init__(self, tmp_path: Path, folder: Path):
        self.log = open(tmp_path / "zygote.log", "w")  # the children's warnings, for a post-mortem
        script = tmp_path / "zygote.py"
        script.write_text(ZYGOTE)
        self.process = subprocess.Popen([sys.executable, str(script), str(folder)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.child: int | None = None
        self.child_started = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put("EOF")

    def next_line(self) -> str:
        try:
            line = self.lines.get(timeout=TIMEOUT_S)
        except queue.Empty:
            raise AssertionError(f"no output from the zygote; last lines: {self.seen[-5:]}") from None
        self.seen.append(line)
        assert line != "EOF" and not line.startswith("done FAILED"), self.seen[-5:]
        if line == "started":
            self.child_started = True
        return line

    def expect(self, prefix: str) -> str:
        """The next line starting with ``prefix``, skipping the child's own lines; within TIMEOUT_S
        in all (a child that never stops writing must not keep the test reading for ever)."""
        deadline = time.monotonic() + TIMEOUT_S
        line = self.next_line()
        while not line.startswith(prefix):
            assert line.startswith(("done ", "started")), f"expected {prefix!r}, got {line!r}"
            assert time.monotonic() < deadline, f"no {prefix!r} within {TIMEOUT_S} s: {self.seen[-5:]}"
            line = self.next_line()
        return line

    def expect_started(self) -> None:
        """The child's "started": it may come before the zygote's "child PID" line (both write to one
        pipe), in which case :meth:`expect` already read it."""
        if not self.child_started:
            self.expect("started")

    def start_child(self, round_number: int, fmt: str) -> int:
        self.child_started = False
        self.process.stdin.write(f"{round_number} {fmt}\n")
        self.process.stdin.flush()
        self.child = int(self.expect("child ").split()[1])
        return self.child

    def kill_child(self) -> int:
        """SIGKILL the child; its wait status, as the zygote reaped it."""
        os.kill(self.child, signal.SIGKILL)
        status = int(self.expect(f"reaped {self.child}").split()[2])
        self.child = None
        return status

    def close(self) -> None:
        """Also after a failed assertion: no writer child may go on filling the disk."""
        if self.child is not None:
            try:
                os.kill(self.child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.stdin.close()
        try:
            self.process.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def blocky_image(press_id: int) -> np.ndarray:
    """The zygote's image for a press: 8x8 blocks of seeded colour, which JPEG keeps close."""
    cells = np.random.default_rng(press_id).integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return cells.repeat(8, axis=0).repeat(8, axis=1)


def check_folder(folder: Path, checked: dict) -> None:
    """Every final-named file decodes completely, was never replaced, and matches its journal line."""
    for name in final_names(folder):
        path = folder / name
        stat = path.stat()
        identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if name in checked:
            assert checked[name] == identity, f"{name} was replaced or changed"
            continue
        with Image.open(path) as picture:
            picture.load()  # raises on a truncated file
            pixels = np.asarray(picture).astype(int)
        metadata = read_metadata(path)
        expected = blocky_image(metadata["press_id"]).astype(int)
        error = np.abs(pixels - expected).mean()
        assert error < (1e-9 if name.endswith(".png") else 12), f"{name}: pixels of another capture ({error:.1f})"
        checked[name] = identity
    journal = folder / "captures.jsonl"
    if journal.exists():
        named = []
        for line in journal.read_bytes().split(b"\n")[:-1]:  # only whole lines, ever
            record = json.loads(line)
            assert record["error"] is None, record
            named.append(record["file"])
            if ("line", line) in checked:
                continue  # lines are only appended: one check each is enough
            embedded = read_metadata(folder / record["file"])
            assert embedded == {key: record[key] for key in embedded}, record["file"]
            checked[("line", line)] = ()
        assert len(named) == len(set(named)), "one file journaled twice"


def test_sigkill_at_random_moments_never_leaves_a_partial_file_under_a_final_name(tmp_path):
    folder = tmp_path / "captures"
    rng = np.random.default_rng(20261125)
    zygote = Zygote(tmp_path, folder)
    checked: dict = {}  # file name -> (inode, size, mtime) once checked; ("line", bytes) -> () likewise
    kills_with_temp_left = awaited = 0
    try:
        assert zygote.next_line() == "zygote ready"
        for round_number in range(KILLS):
            fmt = "png" if round_number % 3 == 0 else "jpeg"
            zygote.start_child(round_number, fmt)
            if rng.random() < 0.1:
                threading.Event().wait(rng.uniform(0, 0.01))  # seeded: sometimes during start-up
            else:
                zygote.expect_started()
                for _ in range(int(rng.integers(0, 3))):
                    zygote.expect("done ")
                    awaited += 1
                threading.Event().wait(rng.uniform(0, 0.004))  # seeded: somewhere inside a write
            status = zygote.kill_child()
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, zygote.seen[-5:]
            kills_with_temp_left += bool(temp_names(folder))
            check_folder(folder, checked)
    finally:
        zygote.close()
    # one more start, not killed: it clears what the last kill left and journals any orphan image
    writer = CaptureWriter(CaptureConfig(directory=str(folder), filename="IMG_{counter:05d}_{sequence}"),
                           Results())
    writer.start()
    writer.close()
    assert temp_names(folder) == []
    check_folder(folder, checked)
    journaled = [json.loads(line)["file"] for line in (folder / "captures.jsonl").read_text().splitlines()]
    assert sorted(journaled) == final_names(folder)  # every image accounted for, exactly once
    reported = [line.split()[1] for line in zygote.seen if line.startswith("done ")]
    assert len(reported) >= awaited > KILLS / 2
    assert set(reported) <= set(final_names(folder))  # every capture reported written is there
    assert kills_with_temp_left > 0  # some kills did land inside a write
    print(f"{KILLS} kills, {len(final_names(folder))} images, {kills_with_temp_left} kills left a temporary file")
