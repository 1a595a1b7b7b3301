"""The capture folder as the page sees it: the journal's last shots, their files and thumbnails.

Only files directly in the capture folder, with an image extension and a plain name, are ever
served: a name with a "/" or a leading ".", or one that resolves elsewhere (a symlink), is not found.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
THUMBNAIL_PX = 240
#: thumbnails kept in memory (name, mtime) -> JPEG
THUMBNAIL_CACHE = 64
#: the journal's bytes read from its end for the last shots (a line is about 400 bytes)
JOURNAL_TAIL = 256 * 1024


class Gallery:
    def __init__(self, directory: str, journal: str):
        self.folder = Path(directory)
        self.journal = self.folder / journal
        self._thumbnails: dict[tuple[str, int], bytes] = {}

    def image_path(self, name: str) -> Path | None:
        """The file for ``name`` if it is an image directly in the capture folder, else None."""
        if not name or "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
            return None
        if not name.lower().endswith(IMAGE_SUFFIXES):
            return None
        path = self.folder / name
        try:
            if path.resolve().parent != self.folder.resolve() or not path.is_file():
                return None
        except OSError:
            return None
        return path

    def recent(self, count: int = 24) -> list[dict]:
        """The last ``count`` written shots, newest first, from the journal: file, time, lens
        position, AF state, reason (a missing or torn journal gives what it can)."""
        try:
            with open(self.journal, "rb") as file:
                file.seek(max(0, file.seek(0, os.SEEK_END) - JOURNAL_TAIL))
                lines = file.read().decode("utf-8", errors="replace").splitlines()
        except OSError:
            return []
        shots = []
        for line in reversed(lines):
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the first line of the tail is usually cut
            if not isinstance(record, dict) or not record.get("file") or record.get("error"):
                continue
            if self.image_path(record["file"]) is None:
                continue  # deleted since
            shots.append({key: record.get(key) for key in
                          ("file", "wall_time", "lens_position", "af_state", "reason", "press_id", "burst_index")})
            if len(shots) >= count:
                break
        return shots

    def thumbnail(self, path: Path) -> bytes:
        """A small JPEG of the image (Pillow; call from a worker thread)."""
        from PIL import Image

        key = (path.name, path.stat().st_mtime_ns)
        cached = self._thumbnails.get(key)
        if cached is not None:
            return cached
        with Image.open(path) as image:
            image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            out = io.BytesIO()
            image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(out, "JPEG", quality=80)
        if len(self._thumbnails) >= THUMBNAIL_CACHE:
            self._thumbnails.pop(next(iter(self._thumbnails)))
        self._thumbnails[key] = out.getvalue()
        return self._thumbnails[key]
