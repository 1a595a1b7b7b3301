"""systemd notification against real AF_UNIX datagram sockets (a path, and an abstract name).

The test plays systemd's part: it binds the socket, hands its address over as NOTIFY_SOCKET would,
and reads the datagrams. Receiving waits on the socket with a timeout, never on a sleep.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from focusd.service.notify import SystemdNotifier

RECEIVE_TIMEOUT_S = 5.0


class FakeClock:
    """A monotonic clock the test moves by hand (for the watchdog's ping spacing)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def receive(sock: socket.socket) -> dict[str, str]:
    sock.settimeout(RECEIVE_TIMEOUT_S)
    data = sock.recv(4096)
    lines = data.decode("utf-8").split("\n")
    return dict(line.split("=", 1) for line in lines)


def pending(sock: socket.socket) -> list[bytes]:
    """Every datagram already queued on the socket, without waiting."""
    sock.setblocking(False)
    out = []
    while True:
        try:
            out.append(sock.recv(4096))
        except BlockingIOError:
            return out


@pytest.fixture
def path_socket():
    # AF_UNIX paths are limited to 107 bytes: a short temporary folder, not pytest's tmp_path
    folder = tempfile.mkdtemp(prefix="focusd-n-")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    yield path, sock
    sock.close()
    shutil.rmtree(folder)


@pytest.fixture
def abstract_socket():
    name = f"focusd-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    yield "@" + name, sock
    sock.close()


# ----------------------------------------------------------------------------- environment


def test_no_notify_socket_means_a_quiet_no_op():
    notifier = SystemdNotifier.from_environment({})
    assert not notifier.enabled and not notifier.watchdog_enabled
    assert notifier.ready("x") is False
    assert notifier.watchdog() is False
    assert notifier.status("x") is False
    assert notifier.stopping() is False
    assert notifier.reloading() is False
    assert notifier.sent == 0 and notifier.failed == 0


def test_from_environment_reads_the_process_environment(monkeypatch, path_socket):
    path, _ = path_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    notifier = SystemdNotifier.from_environment()
    assert notifier.enabled and notifier.address == path
    assert notifier.watchdog_interval_s == pytest.approx(20.0)
    assert notifier.ping_spacing_s == pytest.approx(5.0)


@pytest.mark.parametrize(
    "env, interval",
    [
        ({"WATCHDOG_USEC": "2000000"}, 2.0),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}, 2.0),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),  # another process's
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "nope"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_from_environment(env, interval):
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": "@x", **env})
    assert notifier.watchdog_interval_s == (None if interval is None else pytest.approx(interval))
    assert notifier.watchdog_enabled == (interval is not None)


def test_an_address_that_is_neither_path_nor_abstract_disables_notification(caplog):
    with caplog.at_level(logging.WARNING, logger="focusd.notify"):
        notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": "relative/notify"})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert "not a path or an @abstract name" in caplog.text


# --------------------------------------------------------------------------- the messages


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_messages_arrive_on_a_real_socket(kind, request):
    address, sock = request.getfixturevalue(f"{kind}_socket")
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": address})
    try:
        assert notifier.ready("af=IDLE frames=0") is True
        assert receive(sock) == {"READY": "1", "STATUS": "af=IDLE frames=0"}
        assert notifier.watchdog() is True
        assert receive(sock) == {"WATCHDOG": "1"}
        assert notifier.status("frames=60 captures=2\nfailed=0") is True
        assert receive(sock) == {"STATUS": "frames=60 captures=2 failed=0"}  # one line, always
        before = time.monotonic_ns() // 1000
        assert notifier.reloading() is True
        message = receive(sock)
        after = time.monotonic_ns() // 1000
        assert message["RELOADING"] == "1"
        assert before <= int(message["MONOTONIC_USEC"]) <= after  # systemd 253's notify-reload wants it
        assert notifier.ready() is True
        assert receive(sock) == {"READY": "1"}
        assert notifier.extend_timeout(12.5) is True
        assert receive(sock) == {"EXTEND_TIMEOUT_USEC": "12500000"}
        assert notifier.stopping() is True
        assert receive(sock) == {"STOPPING": "1"}
        assert pending(sock) == []
        assert notifier.sent == 7 and notifier.failed == 0
    finally:
        notifier.close()


def test_watchdog_pings_are_spaced_by_a_quarter_of_the_interval(path_socket):
    path, sock = path_socket
    clock = FakeClock()
    notifier = SystemdNotifier(path, watchdog_interval_s=2.0, clock=clock)
    sent_at = []
    for _ in range(60):  # one call per frame at 30 fps for two seconds
        if notifier.watchdog():
            sent_at.append(round(clock.now - 100.0, 6))
        clock.now += 1 / 30
    gaps = [later - earlier for earlier, later in zip(sent_at, sent_at[1:])]
    assert sent_at[0] == 0.0
    # never closer than a quarter interval, never later than the first frame after it
    assert all(0.5 - 1e-6 <= gap <= 0.5 + 1 / 30 + 1e-6 for gap in gaps), gaps
    assert len(sent_at) == 4 and len(pending(sock)) == 4
    notifier.close()


def test_watchdog_without_interval_is_still_rate_limited(path_socket):
    path, sock = path_socket
    clock = FakeClock()
    notifier = SystemdNotifier(path, clock=clock)
    sent = sum(notifier.watchdog() for _ in range(120))  # 120 frames, no time passes
    assert sent == 1
    clock.now += 1.0
    assert notifier.watchdog() is True
    assert len(pending(sock)) == 2
    notifier.close()


# ------------------------------------------------------------------------------ failures


def test_a_missing_socket_never_raises_and_warns_once(caplog):
    folder = tempfile.mkdtemp(prefix="focusd-n-")
    try:
        notifier = SystemdNotifier(os.path.join(folder, "gone"))
        with caplog.at_level(logging.DEBUG, logger="focusd.notify"):
            assert notifier.ready("x") is False
            assert notifier.status("y") is False
            assert notifier.stopping() is False
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "cannot notify systemd" in warnings[0].getMessage()
        assert notifier.failed == 3 and notifier.sent == 0
    finally:
        shutil.rmtree(folder)


def test_a_receiver_that_goes_away_mid_run_is_survived(path_socket):
    path, sock = path_socket
    notifier = SystemdNotifier(path)
    assert notifier.ready() is True
    assert receive(sock) == {"READY": "1"}
    sock.close()
    Path(path).unlink()
    assert notifier.status("after") is False
    assert notifier.failed == 1
    # and a receiver that comes back is reached again (sendto names the address every time)
    again = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    again.bind(path)
    try:
        assert notifier.status("back") is True
        assert receive(again) == {"STATUS": "back"}
    finally:
        again.close()
        notifier.close()


def test_a_receiver_that_never_reads_does_not_block_the_caller(path_socket):
    """The camera thread pings the watchdog: a full socket queue must drop, not stall."""
    path, sock = path_socket
    notifier = SystemdNotifier(path)
    results = [notifier.status(f"n={index}") for index in range(5000)]
    assert results[0] is True
    assert False in results  # the queue filled and the send returned at once
    assert notifier.failed == results.count(False)
    notifier.close()


# ------------------------------------------------------------------ the daemon, end to end


def test_daemon_tells_systemd_ready_watchdog_status_and_stopping(tmp_path, path_socket):
    from daemon_harness import DaemonHarness, test_config as make_config
    from focusd.signals import ButtonId

    path, sock = path_socket
    clock = FakeClock()
    notifier = SystemdNotifier(path, watchdog_interval_s=1.0, clock=clock)
    with DaemonHarness(make_config(tmp_path), seed=1, notifier=notifier) as rig:
        ready = receive(sock)
        assert ready["READY"] == "1" and "frames=" in ready["STATUS"]
        assert receive(sock) == {"WATCHDOG": "1"}  # the first healthy frame
        clock.now += 1.0
        rig.step(1)
        assert receive(sock) == {"WATCHDOG": "1"}
        rig.step(60)  # the daemon reports its counters every 60 frames
        messages = [dict(line.split("=", 1) for line in m.decode().split("\n")) for m in pending(sock)]
        statuses = [m["STATUS"] for m in messages if "STATUS" in m]
        assert statuses and "frames=60" in statuses[0] and "captures=0" in statuses[0]
        rig.press(ButtonId.SHUTTER)  # a press just before SIGTERM (request_stop is its handler)
        rig.release(ButtonId.SHUTTER)
    # leaving the harness stops the daemon: the press is still captured and written, then STOPPING
    messages = [m.decode() for m in pending(sock)]
    assert messages[-1] == "STOPPING=1"
    assert rig.exit_status == 0
    assert rig.stats.captures_written == rig.stats.captures_requested == 1
    assert len(rig.journal()) == 1
    notifier.close()
