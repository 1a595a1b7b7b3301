"""The systemd unit and its installer, checked with systemd's own tools (issue: deployment).

- ``systemd/install.sh install --root R`` lays out a root the way ``make install`` lays out a Pi:
  the unit, the default configuration, the user and its groups, the enable link.
- ``systemd-analyze verify`` on that root must pass without a single diagnostic (the tool exits 0
  on settings it "ignores", so silence is the bar), and must fail on deliberately broken copies.
- ``systemd-analyze security`` must give an exposure of at most 3.0, the figure the README states.
- ``focusd run``, started with the unit's own command line and a real NOTIFY_SOCKET, says READY,
  pings the watchdog, and on SIGTERM says STOPPING and exits 0 within the unit's TimeoutStopSec;
  a bad configuration exits 78, the status the unit will not restart on.

The root is real except for the package's virtual environment (the tests do not run pip): a stub
stands at the unit's ExecStart path, and systemd's own units are copied in so that the default
dependencies (sysinit.target, ...) resolve.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import pytest

from focusd.config.loader import SYSTEM_CONFIG
from focusd.config.settings import CaptureConfig
from focusd.errors import EX_CONFIG, EX_UNAVAILABLE

REPO = Path(__file__).resolve().parents[1]
SYSTEMD_DIR = REPO / "systemd"
UNIT_FILE = SYSTEMD_DIR / "focusd.service"
ANALYZE = shutil.which("systemd-analyze")
SYSTEM_UNITS = Path("/usr/lib/systemd/system")
MAX_EXPOSURE = 3.0


def need_analyze() -> str:
    if ANALYZE is None:
        pytest.fail("systemd-analyze is missing: install the Debian package 'systemd'")
    return ANALYZE


# ------------------------------------------------------------------------------- the unit file


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value given (systemd keys may repeat); comments dropped."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"not a unit-file line: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def unit() -> dict[str, list[str]]:
    return parse_unit(UNIT_FILE.read_text())["Service"]


def one(service: dict[str, list[str]], key: str) -> str:
    (value,) = service[key]
    return value


def words(service: dict[str, list[str]], key: str) -> list[str]:
    return [word for value in service[key] for word in value.split()]


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|min|ms)?", value)
    assert match, f"not a simple time span: {value}"
    number, unit_name = float(match.group(1)), match.group(2) or "s"
    return number * {"s": 1.0, "min": 60.0, "ms": 0.001}[unit_name]


def test_unit_runs_the_daemon_as_the_issue_and_the_code_expect(unit):
    assert one(unit, "Type") == "notify"
    assert one(unit, "ExecStart").split() == [
        "/opt/focusd/venv/bin/focusd", "run", "--config", "/etc/focusd/focusd.toml"]
    assert one(unit, "ExecStart").split()[3] == SYSTEM_CONFIG  # what every command reads without --config
    assert one(unit, "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert seconds(one(unit, "WatchdogSec")) > 10.0  # longer than the camera's 10 s reopen back-off
    assert one(unit, "Restart") == "on-failure"
    assert str(EX_CONFIG) in words(unit, "RestartPreventExitStatus")
    assert str(EX_UNAVAILABLE) in words(unit, "RestartPreventExitStatus")  # picamera2 not installed
    assert seconds(one(unit, "TimeoutStopSec")) >= 10.0


def test_unit_identity_and_directories(unit):
    assert one(unit, "User") == "focusd"
    assert sorted(words(unit, "SupplementaryGroups")) == ["gpio", "i2c", "video"]
    state = words(unit, "StateDirectory")
    assert "focusd" in state
    # the captures folder, by default and in the shipped configuration, is inside the state directory
    assert CaptureConfig().directory == "/var/lib/focusd/captures"
    assert "focusd/captures" in state
    shipped = SYSTEMD_DIR / "focusd.toml"
    if shipped.exists():
        directory = tomllib.loads(shipped.read_text()).get("capture", {}).get("directory")
        assert directory is None or directory.startswith("/var/lib/focusd/")
    assert words(unit, "ConfigurationDirectory") == ["focusd"]


def test_unit_sandbox_settings(unit):
    for key, value in {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "PrivateNetwork": "yes", "DevicePolicy": "closed", "CapabilityBoundingSet": "",
    }.items():
        assert one(unit, key) == value, key
    # only local sockets: the notify socket and journald (AF_UNIX), libcamera's udev monitor (AF_NETLINK)
    assert sorted(words(unit, "RestrictAddressFamilies")) == ["AF_NETLINK", "AF_UNIX"]
    allowed = {value.split()[0] for value in unit["DeviceAllow"]}
    assert allowed == {"char-gpiochip", "char-video4linux", "char-media", "char-dma_heap", "char-i2c"}
    assert unit["SystemCallFilter"][0] == "@system-service"


# ------------------------------------------------------------------------ installer and root


def copy_checkout(destination: Path) -> Path:
    """What install.sh reads from a checkout, copied so the test can also run it with files missing."""
    (destination / "systemd").mkdir(parents=True)
    for name in ("install.sh", "focusd.service", "focusd-web.service", "README.md", "focusd.toml"):
        assert (SYSTEMD_DIR / name).exists(), f"systemd/{name} is missing"
        shutil.copy2(SYSTEMD_DIR / name, destination / "systemd" / name)
    return destination


def run_installer(checkout: Path, root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DESTDIR"}
    return subprocess.run(
        ["bash", str(checkout / "systemd" / "install.sh"), *args, "--root", str(root)],
        capture_output=True, text=True, env=env, timeout=60,
    )


def exec_paths(unit_text: str) -> list[str]:
    service = parse_unit(unit_text)["Service"]
    return [service[key][0].split()[0] for key in ("ExecStart", "ExecReload") if key in service]


def make_verifiable(root: Path) -> None:
    """Add what verify resolves that the installer does not put there: systemd's own units, the
    host's kill, and a stub standing for the package's entry point (the venv is not built here)."""
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True, dirs_exist_ok=True)
    unit_text = (root / "etc/systemd/system/focusd.service").read_text()
    for path in exec_paths(unit_text):
        target = root / path.lstrip("/")
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        host = shutil.which(Path(path).name)
        if path.startswith("/opt/focusd/"):
            target.write_text("#!/bin/sh\nexit 0\n")
        else:
            assert host, f"{path} not found on this machine"
            shutil.copy2(host, target)
        target.chmod(0o755)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    base = tmp_path_factory.mktemp("install")
    checkout = copy_checkout(base / "checkout")
    root = base / "root"
    root.mkdir()
    result = run_installer(checkout, root, "install", "--no-venv")
    return checkout, root, result


def test_install_lays_out_unit_config_user_and_enable_link(installed):
    checkout, root, result = installed
    assert result.returncode == 0, result.stderr
    unit_path = root / "etc/systemd/system/focusd.service"
    assert unit_path.read_text() == UNIT_FILE.read_text()
    assert (root / "etc/focusd/focusd.toml").read_text() == (SYSTEMD_DIR / "focusd.toml").read_text()
    link = root / "etc/systemd/system/multi-user.target.wants/focusd.service"
    assert link.is_symlink() and os.readlink(link) == "/etc/systemd/system/focusd.service"
    passwd = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    assert passwd["focusd"][5] == "/var/lib/focusd" and passwd["focusd"][6] == "/usr/sbin/nologin"
    assert int(passwd["focusd"][2]) < 1000  # a system user
    groups = {line.split(":")[0]: line.split(":")[3].split(",") for line in (root / "etc/group").read_text().splitlines()}
    for group in ("video", "gpio", "i2c"):
        assert "focusd" in groups[group], group
    assert (root / "opt/focusd/DEPLOYMENT.md").exists()  # the unit's Documentation=


def group_members(root: Path) -> dict[str, list[str]]:
    return {line.split(":")[0]: [m for m in line.split(":")[3].split(",") if m]
            for line in (root / "etc/group").read_text().splitlines()}


def test_install_puts_the_web_unit_and_its_user_in_place_but_does_not_enable_it(installed):
    _, root, result = installed
    assert result.returncode == 0, result.stderr
    web_unit = root / "etc/systemd/system/focusd-web.service"
    assert web_unit.read_text() == (SYSTEMD_DIR / "focusd-web.service").read_text()
    # off unless asked for: the shipped configuration says [web] enabled = false
    assert tomllib.loads((root / "etc/focusd/focusd.toml").read_text())["web"]["enabled"] is False
    assert not list(root.glob("etc/systemd/system/*.wants/focusd-web.service"))
    assert "not enabled" in result.stdout
    passwd = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    web = passwd["focusd-web"]
    assert int(web[2]) < 1000 and web[6] == "/usr/sbin/nologin" and web[2] != passwd["focusd"][2]
    assert parse_unit(web_unit.read_text())["Service"]["User"] == ["focusd-web"]
    members = group_members(root)
    assert "focusd-web" in members["focusd"]  # the bridge socket (0660) and the captures (0750)
    assert "focusd" not in members["focusd-web"]  # and not the other way round


def test_the_daemon_and_only_the_daemon_may_write_its_configuration_folder(installed):
    """The page's settings are written back by the daemon (focusd.config.writeback): /etc/focusd
    is the focusd user's and in its unit's ReadWritePaths=; focusd-web's unit keeps it read-only."""
    _, root, result = installed
    assert result.returncode == 0, result.stderr
    passwd = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    folder = (root / "etc/focusd").stat()
    assert folder.st_uid == int(passwd["focusd"][2]) and folder.st_mode & 0o777 == 0o755
    daemon = parse_unit(UNIT_FILE.read_text())["Service"]
    web = parse_unit((SYSTEMD_DIR / "focusd-web.service").read_text())["Service"]
    assert "/etc/focusd" in daemon["ReadWritePaths"][0].split()
    assert "ReadWritePaths" not in web and "/etc/focusd" in web["ReadOnlyPaths"][0].split()


def test_install_puts_the_focusd_command_on_the_path(installed):
    """hw/README.md has the builder run `focusd probe` and `sudo focusd check-config`: the command
    is a link on the default PATH (and sudo's secure_path) to the entry point the unit runs."""
    _, root, result = installed
    assert result.returncode == 0, result.stderr
    link = root / "usr/local/bin/focusd"
    exec_start = parse_unit(UNIT_FILE.read_text())["Service"]["ExecStart"][0].split()[0]
    assert link.is_symlink() and os.readlink(link) == exec_start


def test_reinstall_keeps_an_edited_configuration_and_uninstall_keeps_captures(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    root = tmp_path / "root"
    root.mkdir()
    assert run_installer(checkout, root, "install", "--no-venv").returncode == 0
    config = root / "etc/focusd/focusd.toml"
    config.write_text(config.read_text() + "\n# edited on the device\n")
    again = run_installer(checkout, root, "install", "--no-venv")
    assert again.returncode == 0, again.stderr
    assert config.read_text().endswith("# edited on the device\n")
    members = group_members(root)  # no duplicate memberships
    assert all(members[group] == ["focusd"] for group in ("video", "gpio", "i2c"))
    assert members["focusd"] == ["focusd-web"]
    photo = root / "var/lib/focusd/captures/IMG_0001.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8")

    removed = run_installer(checkout, root, "uninstall")
    assert removed.returncode == 0, removed.stderr
    assert not (root / "etc/systemd/system/focusd.service").exists()
    assert not (root / "etc/systemd/system/focusd-web.service").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/focusd.service").is_symlink()
    assert not (root / "opt/focusd").exists()
    assert not (root / "usr/local/bin/focusd").is_symlink()
    assert photo.exists() and config.exists()
    assert "focusd:" in (root / "etc/passwd").read_text() and "focusd-web:" in (root / "etc/passwd").read_text()

    purged = run_installer(checkout, root, "uninstall", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert not photo.exists() and not config.exists()
    assert "focusd" not in (root / "etc/passwd").read_text()
    assert not re.search(r"^focusd(-web)?:", (root / "etc/group").read_text(), re.M)


def test_install_refuses_without_the_default_configuration(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    (checkout / "systemd/focusd.toml").unlink()
    root = tmp_path / "root"
    root.mkdir()
    result = run_installer(checkout, root, "install", "--no-venv")
    assert result.returncode != 0 and "focusd.toml is missing" in result.stderr
    assert not (root / "etc/systemd/system/focusd.service").exists()


# ------------------------------------------------------------------- systemd-analyze verify


def verify(root: Path) -> tuple[bool, str]:
    """systemd-analyze verify on the root's focusd.service: passes only with exit 0 and no output."""
    result = subprocess.run(
        [need_analyze(), "verify", "--man=no", f"--root={root}", "focusd.service"],
        capture_output=True, text=True, timeout=60,
    )
    output = (result.stdout + result.stderr).strip()
    return result.returncode == 0 and output == "", output


@pytest.fixture(scope="module")
def verify_root(installed, tmp_path_factory) -> Path:
    _, root, result = installed
    assert result.returncode == 0, result.stderr
    copy = tmp_path_factory.mktemp("verify") / "root"
    shutil.copytree(root, copy, symlinks=True)
    make_verifiable(copy)
    return copy


def test_systemd_analyze_verify_passes_on_the_installed_unit(verify_root):
    ok, output = verify(verify_root)
    assert ok, output


BROKEN = {
    "unknown key": ("WatchdogSec=", "WatchdogSeconds="),
    "bad value": ("Type=notify", "Type=notfy"),
    "bad address family": ("RestrictAddressFamilies=AF_UNIX", "RestrictAddressFamilies=AF_UNIXX"),
    "relative ExecStart": ("ExecStart=/opt/", "ExecStart=opt/"),
    "no ExecStart": ("ExecStart=", "#ExecStart="),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_systemd_analyze_verify_fails_on_a_broken_copy(name, verify_root, tmp_path):
    old, new = BROKEN[name]
    root = tmp_path / "root"
    shutil.copytree(verify_root, root, symlinks=True)
    unit_path = root / "etc/systemd/system/focusd.service"
    text = unit_path.read_text()
    assert old in text
    unit_path.write_text(text.replace(old, new, 1))
    ok, output = verify(root)
    assert not ok and output


def test_systemd_analyze_verify_fails_when_the_daemon_is_not_installed(verify_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(verify_root, root, symlinks=True)
    (root / "opt/focusd/venv/bin/focusd").unlink()
    ok, output = verify(root)
    assert not ok and "/opt/focusd/venv/bin/focusd" in output


# ------------------------------------------------------------------ systemd-analyze security


def exposure(root: Path, threshold: float = MAX_EXPOSURE) -> tuple[float, int]:
    """The overall exposure of the root's focusd.service, and the exit status with --threshold."""
    command = [need_analyze(), "security", "--offline=true", f"--root={root}", "--no-pager"]
    result = subprocess.run(
        [*command, f"--threshold={round(threshold * 10)}", "focusd.service"],
        capture_output=True, text=True, timeout=60,
    )
    match = re.search(r"Overall exposure level for focusd\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr
    return float(match.group(1)), result.returncode


def test_security_exposure_is_at_most_three_and_is_the_figure_in_the_readme(installed):
    _, root, _ = installed
    measured, status = exposure(root)
    assert measured <= MAX_EXPOSURE
    assert status == 0  # systemd-analyze's own threshold check agrees
    readme = (SYSTEMD_DIR / "README.md").read_text()
    stated = re.search(r"exposure level \*\*(\d+\.\d+)\*\*", readme)
    assert stated, "systemd/README.md must state the measured exposure as 'exposure level **N.N**'"
    assert float(stated.group(1)) == measured


def test_security_check_fails_on_an_unsandboxed_copy(installed, tmp_path):
    _, root, _ = installed
    copy = tmp_path / "root"
    shutil.copytree(root, copy, symlinks=True)
    unit_path = copy / "etc/systemd/system/focusd.service"
    text = unit_path.read_text()
    start, end = text.index("# --- sandbox"), text.index("[Install]")
    unit_path.write_text(text[:start] + text[end:])
    measured, status = exposure(copy)
    assert measured > MAX_EXPOSURE
    assert status != 0


# ----------------------------------------------- the daemon under the unit's own command line


def unit_command(config_path: Path, *overrides: str) -> list[str]:
    """The unit's ExecStart, with this interpreter for the entry point and a test configuration."""
    argv = parse_unit(UNIT_FILE.read_text())["Service"]["ExecStart"][0].split()
    args = argv[1:]
    args[args.index("--config") + 1] = str(config_path)
    for override in overrides:
        args += ["--set", override]
    return [sys.executable, "-m", "focusd.cli", *args]


def receive_until(
    sock: socket.socket, key: str, deadline: float, process: subprocess.Popen, log_path: Path
) -> list[dict[str, str]]:
    """Datagrams until one carries ``key``, waiting on the socket up to the deadline; gives up at
    once if the process has exited."""
    seen = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {key} from focusd within the time; got {seen}")
        sock.settimeout(min(remaining, 0.5))
        try:
            data = sock.recv(4096).decode()
        except TimeoutError:
            if process.poll() is not None:
                output = log_path.read_text(errors="replace")
                raise AssertionError(f"focusd exited {process.returncode} before {key}; got {seen}\n{output}")
            continue
        message = dict(line.split("=", 1) for line in data.split("\n"))
        seen.append(message)
        if key in message:
            return seen


@pytest.fixture
def notify_socket():
    folder = tempfile.mkdtemp(prefix="focusd-u-")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    yield path, sock
    sock.close()
    shutil.rmtree(folder)


def daemon_env(notify_path: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WATCHDOG_PID", "JOURNAL_STREAM")}
    env.update(NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="2000000", GPIOZERO_PIN_FACTORY="mock",
               PYTHONPATH=str(REPO / "firmware"))
    return env


def test_focusd_run_notifies_and_stops_cleanly_on_sigterm(tmp_path, notify_socket):
    path, sock = notify_socket
    config = tmp_path / "focusd.toml"
    shutil.copy2(SYSTEMD_DIR / "focusd.toml", config)  # the shipped default, on the simulator
    command = unit_command(config, 'camera.backend="sim"', f'capture.directory="{tmp_path / "captures"}"')
    stop_timeout = seconds(one(parse_unit(UNIT_FILE.read_text())["Service"], "TimeoutStopSec"))
    log_path = tmp_path / "focusd.log"  # a file, not a pipe: a pipe nobody reads could fill and block it
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=daemon_env(path), stdout=log, stderr=subprocess.STDOUT)
    try:
        receive_until(sock, "READY", time.monotonic() + 60, process, log_path)
        receive_until(sock, "WATCHDOG", time.monotonic() + 30, process, log_path)  # frames are flowing
        process.send_signal(signal.SIGTERM)
        receive_until(sock, "STOPPING", time.monotonic() + stop_timeout, process, log_path)
        status = process.wait(timeout=stop_timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert status == 0, log_path.read_text(errors="replace")


def test_focusd_run_exits_78_on_a_bad_configuration_and_never_says_ready(tmp_path, notify_socket):
    path, sock = notify_socket
    config = tmp_path / "focusd.toml"
    config.write_text("[pins]\naf_on = \"seventeen\"\n")
    result = subprocess.run(unit_command(config), env=daemon_env(path), capture_output=True, text=True, timeout=60)
    assert result.returncode == EX_CONFIG == 78
    assert "pins.af_on" in result.stderr
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        sock.recv(4096)  # nothing was sent: systemd sees a failed start, not a ready service


def test_focusd_run_exits_69_at_once_without_picamera2_and_never_says_ready(tmp_path, notify_socket):
    """camera.backend = "picamera2" (the shipped default) where picamera2 cannot be imported: a
    permanent fault, not an outage to retry for ever. focusd exits 69 at once, saying why, and the
    unit does not restart on 69."""
    path, sock = notify_socket
    shadow = tmp_path / "site" / "picamera2"  # picamera2 missing, even on a machine that has it
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'picamera2'\", name='picamera2')\n")
    config = tmp_path / "focusd.toml"
    shutil.copy2(SYSTEMD_DIR / "focusd.toml", config)
    assert tomllib.loads(config.read_text())["camera"]["backend"] == "picamera2"
    env = daemon_env(path)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), env["PYTHONPATH"]])
    command = unit_command(config, f'capture.directory="{tmp_path / "captures"}"')
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == EX_UNAVAILABLE == 69, result.stderr
    assert "camera unavailable: picamera2 is not installed (No module named 'picamera2')" in result.stderr
    assert "retrying" not in result.stderr
    assert str(EX_UNAVAILABLE) in parse_unit(UNIT_FILE.read_text())["Service"]["RestartPreventExitStatus"][0].split()
    sock.setblocking(False)
    sent = []
    with contextlib.suppress(BlockingIOError):
        while True:
            sent.append(sock.recv(4096).decode())
    assert not any("READY=1" in message.split("\n") for message in sent), sent  # systemd sees a failed start


def reload_command(pid: int) -> list[str] | None:
    """What ``systemctl reload focusd`` does to the main process, read from the unit: its
    ExecReload with $MAINPID filled in (None: Type=notify-reload, where systemd sends the signal)."""
    service = parse_unit(UNIT_FILE.read_text())["Service"]
    if one(service, "Type") == "notify-reload":
        assert service.get("ReloadSignal", ["SIGHUP"]) == ["SIGHUP"]
        return None
    command = one(service, "ExecReload")
    assert command == "/bin/kill -HUP $MAINPID", f"ExecReload must send SIGHUP to the main process: {command}"
    return [word.replace("$MAINPID", str(pid)) for word in command.split()]


def systemctl_reload(process: subprocess.Popen) -> None:
    command = reload_command(process.pid)
    if command is None:
        process.send_signal(signal.SIGHUP)
    else:
        subprocess.run(command, check=True, timeout=10)


def test_focusd_run_reloads_on_the_units_reload_and_refuses_a_bad_value_keeping_the_old(tmp_path, notify_socket):
    path, sock = notify_socket
    config = tmp_path / "focusd.toml"
    text = (SYSTEMD_DIR / "focusd.toml").read_text()  # the shipped file, on the simulator
    for old, new in (('backend = "picamera2"', 'backend = "sim"'),
                     ('directory = "/var/lib/focusd/captures"', f'directory = "{tmp_path / "captures"}"'),
                     ("burst_fps = 5.0", "burst_fps = 4.0")):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    config.write_text(text)
    env = dict(daemon_env(path), JOURNAL_STREAM="0:0")  # logs as journald will see them
    log_path = tmp_path / "focusd.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(unit_command(config), env=env, stdout=log, stderr=subprocess.STDOUT)

    def log_lines() -> list[str]:
        return log_path.read_text(errors="replace").splitlines()

    try:
        receive_until(sock, "READY", time.monotonic() + 60, process, log_path)
        receive_until(sock, "WATCHDOG", time.monotonic() + 30, process, log_path)
        # an edited, valid file: RELOADING=1, re-read, READY=1
        config.write_text(text.replace("burst_fps = 4.0", "burst_fps = 6.0"))
        systemctl_reload(process)
        (reloading,) = [m for m in receive_until(sock, "RELOADING", time.monotonic() + 30, process, log_path)
                        if "RELOADING" in m]
        assert reloading["RELOADING"] == "1" and int(reloading["MONOTONIC_USEC"]) > 0
        assert receive_until(sock, "READY", time.monotonic() + 30, process, log_path)[-1]["READY"] == "1"
        assert sum("configuration re-read from" in line for line in log_lines()) == 1, log_lines()

        # valid TOML with a bad value: refused, named, the running configuration kept, still running
        config.write_text(text.replace("burst_fps = 4.0", "burst_fps = 99.0"))
        systemctl_reload(process)
        receive_until(sock, "RELOADING", time.monotonic() + 30, process, log_path)
        receive_until(sock, "READY", time.monotonic() + 30, process, log_path)
        refused = [line for line in log_lines() if "reload refused" in line]
        assert len(refused) == 1, log_lines()
        assert refused[0].startswith("<3>focusd.daemon: reload refused, keeping the running configuration: ")
        assert "shutter.burst_fps" in refused[0]
        assert sum("configuration re-read from" in line for line in log_lines()) == 1
        assert process.poll() is None
        receive_until(sock, "WATCHDOG", time.monotonic() + 30, process, log_path)  # frames still flow
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=seconds(one(parse_unit(UNIT_FILE.read_text())["Service"], "TimeoutStopSec")))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert status == 0, "\n".join(log_lines())
    # under journald every record is one line with its priority (no stray traceback lines at info)
    assert all(re.match(r"<[0-7]>focusd", line) for line in log_lines()), log_lines()
