"""Device libraries are imported only in focusd/hw (docs/design.md, "Layers"): picamera2
and libcamera only by the picamera2 adapter's modules, smbus2 only by the VCM driver, gpiozero only under
hw/. Read with ast (every import statement, at any depth) and with a plain text search (an
``import_module("picamera2")`` would hide from ast's import nodes)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "firmware" / "focusd"
#: library -> the only package-relative paths allowed to import it
#: the picamera2 adapter's modules, each checked against picamera2's source (picamera2_api.ADAPTER_MODULES)
PICAMERA2_ADAPTER = {"hw/picamera2_camera.py", "hw/picamera2_exposure.py", "hw/picamera2_raw.py", "hw/picamera2_probe.py"}
ALLOWED = {
    "picamera2": PICAMERA2_ADAPTER,
    "libcamera": PICAMERA2_ADAPTER,
    "smbus2": {"hw/vcm.py"},
    "gpiozero": None,  # anywhere under hw/
}


def imported_libraries(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    for library in ALLOWED:  # dynamic imports by name
        if re.search(rf"""import_module\(\s*["']{library}\b|__import__\(\s*["']{library}\b""", source):
            found.add(library)
    return found & set(ALLOWED)


def violations(package: Path) -> list[str]:
    problems = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        for library in sorted(imported_libraries(path.read_text())):
            allowed = ALLOWED[library]
            ok = relative.startswith("hw/") if allowed is None else relative in allowed
            if not ok:
                problems.append(f"{relative} imports {library}")
    return problems


def test_device_libraries_are_imported_only_in_their_adapters():
    assert list(PACKAGE.rglob("*.py")), PACKAGE
    assert violations(PACKAGE) == []


def test_the_adapters_do_import_them():
    # the boundary test must see the real imports, or it proves nothing
    assert imported_libraries((PACKAGE / "hw" / "picamera2_camera.py").read_text()) == {"picamera2", "libcamera"}
    assert imported_libraries((PACKAGE / "hw" / "vcm.py").read_text()) == {"smbus2"}
    assert "gpiozero" in imported_libraries((PACKAGE / "hw" / "gpio.py").read_text())


@pytest.mark.parametrize("line, library", [
    ("import picamera2\n", "picamera2"),
    ("from picamera2.request import MappedArray\n", "picamera2"),
    ("def f():\n    from smbus2 import SMBus\n", "smbus2"),
    ("import gpiozero.pins.mock as m\n", "gpiozero"),
    ("import importlib\nimportlib.import_module('libcamera')\n", "libcamera"),
])
def test_an_import_outside_hw_is_caught(tmp_path, line, library):
    (tmp_path / "hw").mkdir()
    (tmp_path / "daemon.py").write_text(line)
    assert violations(tmp_path) == [f"daemon.py imports {library}"]


def test_the_adapters_import_without_loading_device_libraries():
    # lazy imports: the modules load on a desktop, and loading them pulls in no device library
    import subprocess
    import sys

    code = ("import sys, focusd.hw.picamera2_camera, focusd.hw.vcm, focusd.commands.probe; "
            "print(sorted(m for m in ('picamera2', 'libcamera', 'smbus2') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
