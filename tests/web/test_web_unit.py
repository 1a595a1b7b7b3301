"""systemd/focusd-web.service, checked with systemd's own tools as the daemon's unit is
(tests/test_systemd_unit.py): `systemd-analyze verify` silent, `systemd-analyze security` at
most 3.0 (and more on a copy without its sandbox), and the split that keeps the daemon offline."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from focusd.config.settings import WebConfig
from focusd.service.bridge import SOCKET_NAME

REPO = Path(__file__).resolve().parents[2]
WEB_UNIT = REPO / "systemd/focusd-web.service"
DAEMON_UNIT = REPO / "systemd/focusd.service"
ANALYZE = shutil.which("systemd-analyze")
MAX_EXPOSURE = 3.0


def settings(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.fixture
def root(tmp_path) -> Path:
    if ANALYZE is None:
        pytest.fail("systemd-analyze is missing: install the Debian package 'systemd'")
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy2(WEB_UNIT, root / "etc/systemd/system")
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    focusd = root / "opt/focusd/venv/bin/focusd"  # the package's entry point, not installed here
    focusd.parent.mkdir(parents=True)
    focusd.write_text("#!/bin/sh\nexit 0\n")
    focusd.chmod(0o755)
    return root


def exposure(root: Path) -> float:
    result = subprocess.run([ANALYZE, "security", "--offline=true", f"--root={root}", "--no-pager",
                             "focusd-web.service"], capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for focusd-web\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr
    return float(match.group(1))


def test_the_web_unit_verifies_without_a_diagnostic(root):
    result = subprocess.run([ANALYZE, "verify", "--man=no", f"--root={root}", "focusd-web.service"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and (result.stdout + result.stderr).strip() == "", result.stderr


def test_the_web_unit_exposure_is_at_most_three_and_its_sandbox_is_what_makes_it(root):
    assert exposure(root) <= MAX_EXPOSURE
    unit = root / "etc/systemd/system/focusd-web.service"
    text = unit.read_text()
    unit.write_text(text[:text.index("# --- sandbox")] + text[text.index("[Install]"):])
    assert exposure(root) > MAX_EXPOSURE


def test_the_page_has_the_network_and_the_daemon_still_has_none():
    web, daemon = settings(WEB_UNIT.read_text()), settings(DAEMON_UNIT.read_text())
    assert daemon["PrivateNetwork"] == ["yes"] and "AF_INET" not in daemon["RestrictAddressFamilies"][0]
    assert web["User"] == ["focusd-web"] and web["User"] != daemon["User"]
    assert web["SupplementaryGroups"] == [daemon["Group"][0]]  # for the socket and the captures
    assert set(web["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert "78" in web["RestartPreventExitStatus"][0].split()  # off, or no password: no restart loop
    # what it may read of the disk: the captures (bound read-only into an empty /var/lib), /etc/focusd
    assert web["ProtectSystem"] == ["strict"] and web["TemporaryFileSystem"] == ["/var/lib"]
    assert web["BindReadOnlyPaths"] == ["-/var/lib/focusd/captures"]
    # the bridge socket lives in the daemon's runtime folder, which group focusd may enter
    assert WebConfig().runtime_dir.startswith("/run/" + daemon["RuntimeDirectory"][0] + "/")
    assert daemon["RuntimeDirectoryMode"] == ["0710"] and SOCKET_NAME.endswith(".sock")
