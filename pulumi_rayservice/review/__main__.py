"""``python -m pulumi_rayservice.review PREVIEW.json``: the pull-request summary of a preview.

Exit status, for a policy gate in CI:

- 0: nothing is replaced or deleted (creates, in-place updates, or no change);
- 2: at least one resource is replaced or deleted;
- 1: the document could not be read or summarized, or the command line is wrong.

argparse's own usage errors exit 2, which here means "replaces or deletes": the parser is made to
exit 1 instead, so a typo in a workflow can never pass for a destructive change.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import summarize
from .digest import PreviewReadError
from .report import EXIT_ERROR


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = _Parser(
        prog="python -m pulumi_rayservice.review",
        description="Summarize `pulumi preview --json` output for a pull-request comment.",
        epilog="exit status: 0 nothing replaced or deleted, 2 replaces or deletes, 1 error",
    )
    parser.add_argument("preview", help="the file `pulumi preview --json` wrote")
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    parser.add_argument("--title", default="Pulumi preview", help="the comment's heading")
    args = parser.parse_args(argv)
    try:
        text, status = summarize(args.preview, output=args.format, title=args.title)
    except PreviewReadError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # any failure is exit 1: never a pass, never a traceback
        # Only the kind of failure: its message may quote a value of the document.
        print(
            f"error: {args.preview} could not be summarized ({type(error).__name__}); "
            "is it the output of `pulumi preview --json`?",
            file=sys.stderr,
        )
        return EXIT_ERROR
    sys.stdout.write(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
