"""The capture path: from a Capture command to a file on the card.

- ``path``: on the camera thread, which frame a press takes, what it records, the optional
  full-resolution switch, and a writer replaced by a reload; it owns the captures waiting for a
  frame and returns what became of each.
- ``writer``: the writer thread behind a bounded queue, so a slow card never stalls focusing.
- ``files``: one file written atomically (temporary file, fsync, link, fsync of the folder), its
  EXIF, and the capture journal.
"""
