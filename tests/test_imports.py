"""What importing focusd loads: neither the command line nor any module may pull in matplotlib (an
optional dependency, for ``bench --plot``) or a device library (picamera2, libcamera, smbus2,
lgpio: only on a Pi). Each check runs in a fresh interpreter, so what another test imported does
not count, with the tests' picamera2/libcamera stand-ins importable, as on a Pi: a module that
imported one at its top would load it rather than fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import focusd

HEAVY = ("matplotlib", "picamera2", "libcamera", "smbus2", "lgpio")
STANDIN = Path(__file__).parent / "hw" / "standin"
PACKAGE_ROOT = Path(focusd.__file__).resolve().parent.parent


def heavy_modules_after(code: str) -> list[str]:
    """The HEAVY modules in sys.modules after a fresh interpreter has run ``code``."""
    script = textwrap.dedent(code) + textwrap.dedent(f"""
        import json as _json, sys as _sys
        print(_json.dumps(sorted(name for name in {HEAVY!r} if name in _sys.modules)))
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE_ROOT), str(STANDIN)]))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_the_command_line_and_every_command_module_load_no_heavy_module():
    assert heavy_modules_after("""
        import importlib, pkgutil
        import focusd.cli
        import focusd.commands
        focusd.cli.build_parser()  # what every invocation does before it runs a command
        for module in pkgutil.iter_modules(focusd.commands.__path__, "focusd.commands."):
            importlib.import_module(module.name)
    """) == []


def test_no_focusd_module_loads_a_heavy_module_when_imported():
    assert heavy_modules_after("""
        import importlib, pkgutil
        import focusd
        for module in pkgutil.walk_packages(focusd.__path__, "focusd."):
            if not module.name.endswith(".__main__"):  # those run a tool when imported
                importlib.import_module(module.name)
    """) == []


def test_the_check_sees_a_heavy_module_that_is_loaded():
    # without this the two tests above could pass on a check that never finds anything
    # (the picamera2 stand-in imports libcamera, as picamera2 does)
    assert heavy_modules_after("import matplotlib\nimport picamera2\n") == ["libcamera", "matplotlib", "picamera2"]
