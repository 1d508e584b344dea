"""``python -m mizulive``: the command line.

``python -m mizulive new NAME [--lang python|c|go] [--dir DIR]`` writes a runnable app
to start from: a counter at ``/counter``, a live list at ``/list``, their views, a
test and a README whose two commands are ``make run`` and ``make test``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import _lib


def _new(args: argparse.Namespace) -> int:
    dir = Path(args.dir or args.name)
    go_module = None if args.go_module is None else _lib.enc(str(args.go_module), "--go-module")
    rc = _lib.lib.lv_scaffold_write(
        _lib.enc(args.name, "name"), _lib.enc(args.lang, "--lang"), _lib.enc(str(dir), "--dir"), go_module
    )
    if rc != _lib.LV_OK:
        message = _lib.last_error().removeprefix("invalid options: ")
        print(f"mizulive: {message}", file=sys.stderr)
        return 2
    print(
        f"wrote the {args.lang} app {args.name} into {dir}; now\n"
        f"  cd {dir}\n"
        "  make run     # serves /counter and /list on $MIZULIVE_ADDR (default 127.0.0.1:3000)\n"
        "  make test"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mizulive")
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="write a new app to start from")
    new.add_argument("name", help="the app's name: lowercase letters, digits, '_' and '-'")
    new.add_argument("--lang", "-l", default="python", help="python (default), c or go")
    new.add_argument("--dir", "-d", help="where to write it (default: ./NAME)")
    new.add_argument("--go-module", help="Go only: the mizulive Go module's folder, for go.mod's replace line")
    new.set_defaults(run=_new)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
