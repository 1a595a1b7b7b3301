"""The settings section in a real headless Chromium, against ``focusd demo --web`` (a demo of its
own: the settings changed here do not reach test_browser.py's page). Explicit waits, no sleeps."""

from __future__ import annotations

import tomllib

from test_browser import By, Select, browser, demo, logged_in_with_preview, screenshot, wait  # noqa: F401

__all__ = ["browser", "demo"]  # fixtures, used by name


def message(driver) -> str:
    return driver.find_element(By.ID, "settings-message").text


def test_a_setting_changed_on_the_page_is_applied_and_saved_and_a_bad_one_refused(demo, browser):
    url, captures = demo
    config_file = captures.parent / "focusd.toml"
    logged_in_with_preview(browser, url)
    form = browser.find_element(By.ID, "settings")
    wait(browser, lambda d: '"af.mode":"continuous"' in (form.get_attribute("data-settings") or ""),
         "the running settings in the form")
    Select(form.find_element(By.NAME, "af.mode")).select_by_value("single")
    limit = form.find_element(By.NAME, "shutter.burst_limit")
    limit.clear()
    limit.send_keys("4")
    browser.find_element(By.ID, "settings-apply").click()
    wait(browser, lambda d: message(d) == "applied and saved", "the daemon's answer", message)
    saved = tomllib.loads(config_file.read_text())
    assert (saved["af"]["mode"], saved["shutter"]["burst_limit"]) == ("single", 4)
    assert "# the autofocus window on the lores frame" in config_file.read_text()  # comments kept
    screenshot(browser, "08-settings-applied")

    threshold = form.find_element(By.NAME, "af.lock_on_threshold")
    threshold.clear()
    threshold.send_keys("0.9")  # above refocus_threshold (0.5): the file's check across keys refuses it
    browser.find_element(By.ID, "settings-apply").click()
    wait(browser, lambda d: "af.lock_on_threshold" in message(d), "the refusal naming the key", message)
    assert "refused" in browser.find_element(By.ID, "settings-message").get_attribute("class")
    assert tomllib.loads(config_file.read_text())["af"]["lock_on_threshold"] == 0.12
    screenshot(browser, "09-settings-refused")
