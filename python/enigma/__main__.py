"""``python -m enigma …``: the command line in Python over the node's socket (:mod:`enigma.cli`).

It needs no ``enigma`` binary: the API subcommands (``status``, ``store``, ``stats mean KEY…``, …) have
the Rust CLI's names and arguments and print JSON. Running a node, the devnet and the benchmarks are
the binary's alone (``enigma 6655``, ``enigma devnet``).

    $ python -m enigma --socket ~/.enigma/enigma.sock status
"""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
