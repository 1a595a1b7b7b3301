"""hw/WIRING.md: the pin table and the diagram must tell a builder the same thing."""

from __future__ import annotations

import re
from pathlib import Path

WIRING = Path(__file__).resolve().parents[2] / "hw" / "WIRING.md"
#: the ground pins of the Raspberry Pi 40-pin header (physical numbers)
GROUND_PINS = {6, 9, 14, 20, 25, 30, 34, 39}


def _sections() -> tuple[str, str]:
    text = WIRING.read_text()
    table = text.split("## Pin table", 1)[1].split("##", 1)[0]
    diagram = text.split("## Diagram", 1)[1].split("```", 2)[1]
    return table, diagram


def test_every_ground_in_the_pin_table_is_drawn_in_the_diagram():
    table, diagram = _sections()
    rows = [line for line in table.splitlines() if line.startswith("|") and "ground" in line]
    table_grounds = {int(pin) for row in rows for pin in re.findall(r"ground[^|]*?pin (\d+)", row)}
    drawn_grounds = {int(pin) for pin in re.findall(r"pin (\d+)\s+GND", diagram)}
    assert len(table_grounds) >= 3, rows  # the AF-ON, shutter, remote and LED grounds were read
    assert table_grounds <= GROUND_PINS and drawn_grounds <= GROUND_PINS
    assert table_grounds == drawn_grounds

