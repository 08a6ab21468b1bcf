"""``python -m physnet.experiments run|sweep|report|export ...``: the experiment commands on their own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from physnet.errors import PhysnetError
from physnet.experiments_cli import add_commands


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; bad input prints one line on stderr and returns 2."""
    parser = argparse.ArgumentParser(prog="python -m physnet.experiments")
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (PhysnetError, ValueError, OSError) as exc:
        print(f"physnet: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
