"""``python -m enigma …``: a front for the ``enigma`` binary, with the same arguments.

It runs the binary named by ``$ENIGMA_BIN``, else the ``enigma`` found on ``PATH``, with the same
argv (``python -m enigma status`` is ``enigma status``). The CLI itself is the Rust binary; this
package does not reimplement it, so the binary must be installed (or named by ``ENIGMA_BIN``).

    $ ENIGMA_BIN=~/enigma/target/release/enigma python -m enigma status
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import List, Optional


def find_binary() -> Optional[str]:
    """The ``enigma`` binary this front runs: ``$ENIGMA_BIN``, else ``enigma`` on ``PATH``; None if absent.

    >>> import os; os.environ["ENIGMA_BIN"] = "/bin/true"; find_binary()
    '/bin/true'
    """
    named = os.environ.get("ENIGMA_BIN")
    if named:
        return named if os.path.isfile(named) and os.access(named, os.X_OK) else None
    return shutil.which("enigma")


def main(argv: Optional[List[str]] = None) -> int:
    """Replaces this process with the ``enigma`` binary and ``argv`` (default: ``sys.argv[1:]``).

    Returns 127 with a message on stderr when no binary is found (it does not return otherwise).

    >>> main(["status"])  # doctest: +SKIP
    """
    args = sys.argv[1:] if argv is None else list(argv)
    binary = find_binary()
    if binary is None:
        named = os.environ.get("ENIGMA_BIN")
        where = f"ENIGMA_BIN={named!r} is not an executable file" if named else "no `enigma` on PATH"
        sys.stderr.write(
            f"python -m enigma: {where}. `python -m enigma` is a front for the enigma binary (the Rust CLI), "
            "not a reimplementation: build it (cargo build --release -p enigma) and put it on PATH or set ENIGMA_BIN.\n"
        )
        return 127
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(binary, [binary] + args)
    except OSError as e:
        sys.stderr.write(f"python -m enigma: cannot run {binary}: {e}\n")
        return 126
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
