"""One module per ``focusd`` sub-command: ``HELP``, ``add_arguments(parser)``, ``main(args)``.

Every command module is imported to build the parser (``focusd --help``), so each imports at its
top only what is cheap (the standard library, focusd.errors, the profiles, the loader) and defers,
with a comment saying why, what pulls in numpy, gpiozero, picamera2 or matplotlib. Every command
that reads a configuration gets it from ``focusd.config.loader.load``.
"""
