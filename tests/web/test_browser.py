"""The viewfinder in a real headless Chromium (Debian's chromium and chromium-driver, which the
Makefile installs), driven by Selenium, against ``focusd demo --web`` on the simulated camera.

Every wait is an explicit WebDriverWait on what the page shows, with a timeout; no sleeps.
Screenshots of each state go to test-artefacts/web/ (or $FOCUSD_TEST_ARTEFACTS).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("FOCUSD_TEST_ARTEFACTS", REPO / "test-artefacts")) / "web"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
PASSWORD = "viewfinder-test-pass"
WAIT_S = 20

if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("headless Chromium is not installed (Debian packages chromium and chromium-driver; "
                "`make test` installs them with apt-get where it can)", allow_module_level=True)

from selenium import webdriver  # noqa: E402 - only where the browser is there
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_line_until(stream, needle: str, timeout: float, process) -> str:
    """Lines of ``stream`` until one holds ``needle`` (waiting on the pipe, up to ``timeout``)."""
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        if selector.select(max(0.0, deadline - time.monotonic())):
            line = stream.readline()
            if not line:
                break
            seen.append(line)
            if needle in line:
                return line
    raise AssertionError(f"no {needle!r} from the demo (exit {process.poll()}): {''.join(seen)}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, PYTHONPATH=str(REPO / "firmware"), GPIOZERO_PIN_FACTORY="mock")
    password_file = folder / "web-password"
    base = [sys.executable, "-m", "focusd.cli"]
    sets = ["--set", f'web.password_file="{password_file}"']
    subprocess.run([*base, "web-password", "--stdin", *sets], input=PASSWORD + "\n", text=True, env=env,
                   check=True, capture_output=True, timeout=60)
    port = free_port()
    captures = folder / "captures"
    config = folder / "focusd.toml"  # a copy: settings changed on the page are written back to it
    shutil.copy(REPO / "systemd/focusd.toml", config)
    process = subprocess.Popen(
        [*base, "demo", "--config", str(config), "--captures", str(captures), "--web",
         *sets, "--set", f"web.port={port}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = read_line_until(process.stdout, "viewfinder is at", 60, process)
        assert f"http://127.0.0.1:{port}/" in line and "password: from" in line
        yield f"http://127.0.0.1:{port}", captures
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=900,1400"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


def wait(driver, condition, message: str, shown=None):
    """Wait for ``condition(driver)``; on a timeout the message says what ``shown(driver)`` was."""
    try:
        # an element the page replaced meanwhile (the gallery redrawn) is looked up again next poll
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.05,
                             ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition(d), message)
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {message}" +
                             (f": shown {shown(driver)!r}" if shown else "")) from None


def screenshot(driver, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def log_in(driver, url: str, password: str = PASSWORD) -> None:
    driver.get(url + "/")
    wait(driver, lambda d: d.find_elements(By.ID, "password"), "the login page")
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login").click()


def frames_shown(driver) -> int:
    return int(driver.find_element(By.ID, "preview").get_attribute("data-frames") or 0)


def logged_in_with_preview(driver, url: str) -> None:
    log_in(driver, url)
    wait(driver, lambda d: frames_shown(d) >= 3, "preview frames drawn")


def test_a_wrong_password_is_refused(demo, browser):
    url, _ = demo
    log_in(browser, url, "not-the-password")
    wait(browser, lambda d: "Wrong password" in d.find_element(By.ID, "message").text, "the refusal")
    screenshot(browser, "01-wrong-password")
    assert browser.find_elements(By.ID, "password") and not browser.find_elements(By.ID, "preview")
    assert browser.get_cookie("focusd_session") is None


def display_ages_ms(driver) -> list[float]:
    """The page's ages of its last frames when drawn (ms from exposure to display), oldest first."""
    return driver.execute_script("return window.focusdDisplayAgesMs.slice()")


def test_log_in_and_the_preview_updates_at_ten_fps_or_more_shown_within_250_ms(demo, browser):
    url, _ = demo
    logged_in_with_preview(browser, url)
    cookie = browser.get_cookie("focusd_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    first, started = frames_shown(browser), time.monotonic()
    wait(browser, lambda d: frames_shown(d) >= first + 30, "30 more frames")
    shown = frames_shown(browser)
    fps = (shown - first) / (time.monotonic() - started)
    assert fps >= 10, f"{fps:.1f} fps"
    # the ages of the frames drawn since (the page keeps its last 100): exposure to display
    ages = sorted(display_ages_ms(browser)[-(shown - first):])
    assert len(ages) >= 20, ages
    median, p90 = ages[len(ages) // 2], ages[int(len(ages) * 0.9)]
    assert 0 < median <= 250 and p90 <= 250, (median, p90, ages)
    print(f"display age over {len(ages)} frames: median {median:.0f} ms, p90 {p90:.0f} ms; {fps:.1f} fps")
    # what the page shows: the last one (both read at once: a frame may come in between two reads)
    text, last = browser.execute_script(
        "return [document.getElementById('latency').textContent, window.focusdDisplayAgesMs.at(-1)]")
    assert float(text) == pytest.approx(last, abs=1), (text, last)
    screenshot(browser, "02-preview")


def test_the_on_screen_af_on_reaches_focused(demo, browser):
    url, _ = demo
    logged_in_with_preview(browser, url)
    af_on = browser.find_element(By.ID, "af-on")
    ActionChains(browser).click_and_hold(af_on).perform()
    wait(browser, lambda d: d.find_element(By.ID, "af-state").text == "FOCUSED", "AF FOCUSED while held")
    assert "D (" in browser.find_element(By.ID, "lens").text  # dioptres and metres
    screenshot(browser, "03-af-on-focused")
    ActionChains(browser).release(af_on).perform()
    wait(browser, lambda d: d.find_element(By.ID, "af-state").text in ("IDLE", "FOCUSED") and
         "held" not in af_on.get_attribute("class"), "AF-ON let go")


def test_the_shutter_writes_a_file_that_appears_in_the_gallery(demo, browser):
    url, captures = demo
    logged_in_with_preview(browser, url)
    before = set(captures.glob("*.jpg"))
    shutter = browser.find_element(By.ID, "shutter")
    ActionChains(browser).click_and_hold(shutter).release(shutter).perform()
    new = wait(browser, lambda d: set(captures.glob("*.jpg")) - before, "a new capture file")
    name = max(path.name for path in new)  # (a burst may have taken more than one)
    thumbnail = f'#gallery img[data-file="{name}"]'

    def loaded(driver) -> bool:
        found = driver.find_elements(By.CSS_SELECTOR, thumbnail)
        return bool(found) and driver.execute_script("return arguments[0].naturalWidth", found[0]) > 0

    wait(browser, loaded, "its thumbnail, loaded")
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, thumbnail).click() or True, "a click on it")
    wait(browser, lambda d: name in d.find_element(By.ID, "shot-info").text, "the shot's details")
    assert "lens" in browser.find_element(By.ID, "shot-info").text
    screenshot(browser, "04-gallery")


def test_peaking_and_magnify_toggle(demo, browser):
    url, _ = demo
    logged_in_with_preview(browser, url)
    peaking, magnify = browser.find_element(By.ID, "peaking"), browser.find_element(By.ID, "magnify")
    peaking.click()
    wait(browser, lambda d: peaking.get_attribute("aria-pressed") == "true", "peaking on")
    shown = frames_shown(browser)
    wait(browser, lambda d: frames_shown(d) > shown + 2, "frames with peaking")
    screenshot(browser, "05-peaking")
    peaking.click()
    wait(browser, lambda d: peaking.get_attribute("aria-pressed") == "false", "peaking off")
    preview = browser.find_element(By.ID, "preview")
    lores_width = int(preview.get_attribute("width"))  # the lores frame, drawn whole
    for factor in (2, 4):
        magnify.click()
        wait(browser, lambda d: preview.get_attribute("data-zoom") == str(factor), f"{factor}x")
        # from the main stream: twice the lores frame's pixels across the view, where a crop of the
        # lores frame would have 1/factor of them
        wait(browser, lambda d: preview.get_attribute("data-source") == "main" and
             int(preview.get_attribute("data-source-width")) == 2 * lores_width // factor,
             f"the {factor}x view drawn from a main-stream crop",
             lambda d: (preview.get_attribute("data-source"), preview.get_attribute("data-source-width")))
        assert int(preview.get_attribute("width")) == 2 * lores_width // factor  # shown 1:1
        screenshot(browser, f"06-magnify-{factor}x")
    # and sharper than the lores would show it: the main stream has twice the lores resolution,
    # so the view at its 1:1 pixels differs, neighbour to neighbour, clearly more than the same
    # view brought down to the lores resolution (2x2 averages) and back up would
    shown, as_lores = neighbour_differences(browser)
    assert shown > 1.2 * as_lores, (shown, as_lores)
    magnify.click()
    wait(browser, lambda d: d.find_element(By.ID, "preview").get_attribute("data-zoom") == "1", "back to 1x")
    wait(browser, lambda d: preview.get_attribute("data-source") == "lores", "the lores preview again")


def neighbour_differences(driver) -> tuple[float, float]:
    """Mean |difference| of horizontal neighbours in the preview canvas (green channel), as shown
    and after 2x2 averaging then doubling (what the canvas would hold at half its resolution)."""
    return driver.execute_script("""
        const c = document.getElementById("preview");
        const w = c.width & ~1, h = c.height & ~1;
        const d = c.getContext("2d").getImageData(0, 0, w, h).data;
        const g = (x, y) => d[(y * w + x) * 4 + 1];
        let shown = 0, halved = 0, n = 0;
        const block = (x, y) => { const bx = x & ~1, by = y & ~1;
          return (g(bx, by) + g(bx + 1, by) + g(bx, by + 1) + g(bx + 1, by + 1)) / 4; };
        for (let y = 0; y < h; y++) for (let x = 0; x + 1 < w; x++) {
          shown += Math.abs(g(x + 1, y) - g(x, y)); halved += Math.abs(block(x + 1, y) - block(x, y)); n++;
        }
        return [shown / n, halved / n];
    """)


def window_near(preview, expected, within: float = 0.005) -> bool:
    """The AF window the daemon sent with its last frame is ``expected`` (a tap lands on a whole pixel)."""
    shown = [float(v) for v in (preview.get_attribute("data-window") or "").split(",") if v]
    return len(shown) == 4 and all(abs(a - b) <= within for a, b in zip(shown, expected))


def test_a_tap_moves_the_af_window_in_the_daemon(demo, browser):
    url, _ = demo
    logged_in_with_preview(browser, url)
    preview = browser.find_element(By.ID, "preview")
    Select(browser.find_element(By.ID, "window-size")).select_by_value("0.25")
    width, height = preview.size["width"], preview.size["height"]
    # a tap at (20 %, 30 %) of the frame: the window (a quarter each way) centred there, as the
    # daemon reports it back on its frames
    ActionChains(browser).move_to_element_with_offset(preview, -width * 0.3, -height * 0.2).click().perform()
    wait(browser, lambda d: window_near(preview, (0.075, 0.175, 0.25, 0.25)), "the moved window",
         lambda d: preview.get_attribute("data-window"))
    screenshot(browser, "07-af-window-moved")
    browser.find_element(By.ID, "centre").click()
    wait(browser, lambda d: window_near(preview, (0.375, 0.375, 0.25, 0.25)), "centred",
         lambda d: preview.get_attribute("data-window"))


def test_a_cross_origin_post_is_refused(demo, browser):
    url, captures = demo
    logged_in_with_preview(browser, url)
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    cookie = browser.get_cookie("focusd_session")["value"]
    before = set(captures.glob("*.jpg"))
    for origin in ("http://evil.example", url):
        request = urllib.request.Request(url + "/api/press", method="POST",
                                         data=json.dumps({"button": "af_on", "pressed": False}).encode(),
                                         headers={"Origin": origin, "Cookie": f"focusd_session={cookie}",
                                                  "Content-Type": "application/json"})
        try:
            status = opener.open(request, timeout=10).status
        except urllib.error.HTTPError as error:
            status = error.code
        assert status == (403 if origin != url else 200), origin  # the session is good: the origin decides
    # and from a page of another origin in the browser itself: no cookie goes (SameSite=Strict)
    # and the Origin is refused, so nothing is pressed
    result = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(arguments[0] + '/api/press', {method: 'POST', mode: 'no-cors', credentials: 'include',
              body: JSON.stringify({button: 'shutter', pressed: true})}).then(() => done('sent'), (e) => done(String(e)));
    """, url.replace("127.0.0.1", "localhost"))
    assert result
    assert set(captures.glob("*.jpg")) == before


@pytest.mark.parametrize("orientation, width, height", [("portrait", 390, 844), ("landscape", 844, 390)])
def test_on_a_phone_screen_the_preview_and_both_buttons_fit_without_scrolling(demo, browser, orientation, width, height):
    url, _ = demo
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 3, "mobile": True})
    logged_in_with_preview(browser, url)
    fit = browser.execute_script("""
        const inside = (id) => { const r = document.getElementById(id).getBoundingClientRect();
            return r.width > 0 && r.left >= 0 && r.top >= 0 && r.right <= innerWidth + 0.5 && r.bottom <= innerHeight + 0.5; };
        return {viewport: [innerWidth, innerHeight], scrolls: document.documentElement.scrollWidth > innerWidth + 0.5,
                preview: inside("preview"), af_on: inside("af-on"), shutter: inside("shutter")};""")
    screenshot(browser, f"13-phone-{orientation}")
    assert fit["viewport"] == [width, height], fit
    assert not fit["scrolls"] and fit["preview"] and fit["af_on"] and fit["shutter"], fit
