"""Shared by every test: the machine's own installed configuration is never read."""

from __future__ import annotations

import pytest

from focusd.config import loader


@pytest.fixture(autouse=True)
def no_installed_configuration(tmp_path_factory, monkeypatch):
    # a command run in-process without --config would read /etc/focusd/focusd.toml on a device
    # with focusd installed; the tests expect the built-in defaults unless they install one
    monkeypatch.setattr(loader, "SYSTEM_CONFIG", str(tmp_path_factory.getbasetemp() / "no-etc" / "focusd.toml"))
