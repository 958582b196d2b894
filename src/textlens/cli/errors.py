"""The one place where errors become messages and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape

from ..errors import TextlensError

_err = Console(stderr=True, highlight=False)


def run_guarded(main: Callable[[], object]) -> None:
    """Run the CLI; a TextlensError prints its message (no traceback) and sets the exit code."""
    try:
        main()
    except TextlensError as e:
        # escape(): messages hold paths and patterns ("[a-z]") that are not Rich markup.
        _err.print(f"[bold red]error:[/] {escape(str(e))}", markup=True, soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _err.print("interrupted; work done so far is saved — run the command again to go on")
        sys.exit(130)
