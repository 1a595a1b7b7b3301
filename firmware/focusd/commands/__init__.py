"""One module per ``focusd`` sub-command: ``HELP``, ``add_arguments(parser)``, ``main(args)``.

Command modules import their heavy dependencies inside ``main`` so that building the parser
stays cheap.
"""
