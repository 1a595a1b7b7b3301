"""The page in a real headless Chromium while its web process (``focusd web``, a process of its own
as on the camera) is killed and started again: the page says it lost the connection, finds its
session gone with the process (the login page), and after logging in shows live preview again;
the daemon's frames go on throughout. Explicit waits, no sleeps."""

from __future__ import annotations

import shutil
import tempfile
import threading

from daemon_harness import DaemonHarness
from daemon_harness import test_config as harness_config
from test_browser import By, browser, frames_shown, screenshot, wait  # noqa: F401
from test_web_killed import WebProcess, free_port
from focusd.web.auth import write_password_file

__all__ = ["browser"]  # a fixture, used by name

PASSWORD = "reconnecting-page"
FRAME_PERIOD_S = 1 / 30  # the stepped camera's pace here: the sensor's


class FreeRunningCamera:
    """Steps the harness's camera a frame per period on a thread of its own, as a live sensor runs."""

    def __init__(self, harness: DaemonHarness):
        self.harness, self.stopped = harness, threading.Event()
        self.thread = threading.Thread(target=self._run, name="free-running-camera", daemon=True)

    def _run(self) -> None:
        while not self.stopped.wait(FRAME_PERIOD_S):  # the pace of frames, not a wait for a thread
            self.harness.step(1)

    def __enter__(self) -> "FreeRunningCamera":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join(30)


def log_in(driver) -> None:
    wait(driver, lambda d: d.find_elements(By.ID, "password"), "the login page", lambda d: d.current_url)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()


def preview_grows(driver, more: int, what: str) -> None:
    wait(driver, lambda d: d.find_elements(By.ID, "preview"), "the viewfinder page", lambda d: d.current_url)
    first = frames_shown(driver)
    wait(driver, lambda d: frames_shown(d) >= first + more, what, frames_shown)


def offline_shown(driver, saying: str = "") -> bool:
    found = driver.find_elements(By.ID, "offline")
    return bool(found) and found[0].is_displayed() and saying in found[0].text


def test_the_page_shows_the_web_process_gone_then_logs_in_again_to_live_preview(tmp_path, browser):
    runtime_dir = tempfile.mkdtemp(prefix="fw-")
    password_file = tmp_path / "web-password"
    write_password_file(str(password_file), PASSWORD)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = harness_config(tmp_path, web={"enabled": True, "runtime_dir": runtime_dir})
    web = restarted = None
    try:
        with DaemonHarness(config) as harness, FreeRunningCamera(harness):
            web = WebProcess(runtime_dir, password_file, port)
            browser.get(base + "/")
            log_in(browser)
            preview_grows(browser, 5, "live preview")
            assert not offline_shown(browser)

            web.kill()
            wait(browser, lambda d: offline_shown(d, "connection to the camera lost"),
                 "the page saying it lost the connection", lambda d: d.find_element(By.ID, "offline").text)
            screenshot(browser, "10-web-process-gone")
            # the daemon does not notice: its frames go on with no page to send them to
            frames = harness.stats.frames
            assert harness.daemon.wait_until(lambda s: s.frames >= frames + 30, 30), "the daemon's frames stopped"

            restarted = WebProcess(runtime_dir, password_file, port)
            # the page comes back by itself: its session went with the old process, so the login page
            wait(browser, lambda d: d.current_url.rstrip("/").endswith("/login"), "the login page again",
                 lambda d: d.current_url)
            screenshot(browser, "11-web-process-back-login")
            log_in(browser)
            preview_grows(browser, 5, "live preview after the restart")
            assert not offline_shown(browser)
            screenshot(browser, "12-web-process-back-preview")
            assert harness.stats.frames > frames + 30 and harness.stats.camera_faults == 0
    finally:
        for process in (web, restarted):
            if process is not None:
                process.kill()
        shutil.rmtree(runtime_dir, ignore_errors=True)
