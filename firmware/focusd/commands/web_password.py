"""``focusd web-password``: set the viewfinder page's password (stored scrypt-hashed in
``web.password_file``)."""

from __future__ import annotations

import argparse
import getpass
import sys

from focusd.config import loader

HELP = "set the viewfinder page's password (stored scrypt-hashed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    loader.add_config_arguments(parser)
    parser.add_argument("--stdin", action="store_true", help="read the password from standard input "
                        "(one line) instead of asking twice on the terminal")


def main(args: argparse.Namespace) -> int:
    config = loader.load(args)
    from focusd.web.auth import MIN_PASSWORD, write_password_file

    path = config.web.password_file
    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        if not sys.stdin.isatty():
            print("focusd web-password: standard input is not a terminal; use --stdin", file=sys.stderr)
            return 2
        password = getpass.getpass("new password for the page: ")
        if getpass.getpass("again: ") != password:
            print("focusd web-password: the two passwords differ; nothing changed", file=sys.stderr)
            return 2
    if len(password) < MIN_PASSWORD:
        print(f"focusd web-password: the password must have at least {MIN_PASSWORD} characters", file=sys.stderr)
        return 2
    try:
        write_password_file(path, password)
    except OSError as error:
        print(f"focusd web-password: cannot write {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"password set in {path} (restart focusd-web to apply)")
    return 0
