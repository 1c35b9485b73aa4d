"""``python -m enigma …``: the command line in Python, over the node's socket, without the binary.

It has the Rust CLI's subcommands for the API methods, with the same names and arguments
(``gen-key``, ``store``, ``load``, ``pair``, ``stats mean KEY…``, ``linalg inv K``, …; the method's own
spelling ``gen_key`` works too), and prints results as JSON by default (``--format text`` for people).
The subcommands are generated from the Python client's own methods (:class:`enigma.Client`,
``client.stats``, ``client.linalg``): a positional parameter becomes a positional argument, ``*keys``
one or more, a keyword parameter an option (``min_count`` → ``--min-count``; a bool that defaults to
False a flag, one that defaults to True ``--rowvar true|false``). :data:`CLI_SHAPES` lists where the
command line spells an argument differently (``--key`` repeated for ``keys``, ``--range LO HI``).
Running a node, the devnet and the benchmarks stay in the binary.

    $ python -m enigma --socket ~/.enigma/enigma.sock stats mean 3f…
    [3.0]

Bad input (an unknown subcommand, a wrong number of arguments, an unknown key) prints a message on
stderr and exits non-zero (2 for usage errors, 1 for errors from the node, 130 on Ctrl-C, which
closes the connection, so the node cancels the computation).
"""

from __future__ import annotations

import argparse
import base64
import csv
import inspect
import json
import math
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .client import Client, Linalg, Stats, progress_bar
from .errors import Error

#: Client methods that are not API methods (connection handling, the generic call, aliases).
NOT_API = {"connect", "close", "call", "gen_keys"}

def _q_value(text: str) -> Any:
    """``--q 0.5`` is one quantile (a float), ``--q 25,75`` a list, as in the Rust CLI."""
    parts = [v.strip() for v in text.split(",")]
    try:
        vals = [float(v) for v in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--q wants numbers separated by commas, got {text!r}") from None
    return vals[0] if len(vals) == 1 and "," not in text else vals


#: Where the command line spells a parameter unlike the generic rule: method → param → argparse kwargs
#: (``flags`` names the option).
CLI_SHAPES: Dict[str, Dict[str, Dict[str, Any]]] = {
    "pair": {
        "addresses": {"nargs": "+"},
        "keys": {"flags": ["--key"], "action": "append", "dest": "keys", "metavar": "KEY"},
        "min_count": {"type": int},
    },
    "revoke": {
        "addresses": {"nargs": "+"},
        "keys": {"flags": ["--key"], "action": "append", "dest": "keys", "metavar": "KEY"},
    },
    "stats.ttest_1samp": {"popmean": {"type": float}},
    "stats.cov": {"ddof": {"type": int}},
    "stats.percentile": {"q": {"type": _q_value}},
    "stats.quantile": {"q": {"type": _q_value}},
    "stats.histogram": {
        "bins": {"type": int, "required": False},
        "range": {"nargs": 2, "type": float, "metavar": ("LO", "HI")},
    },
}

#: Subcommands spelled with a dash as well as with the method's underscore (as the Rust CLI does).
TTEST = ("ttest_1samp", "ttest_ind", "ttest_rel")


def api_methods() -> List[Tuple[str, Callable[..., Any]]]:
    """Every API method the Python client has, as ``(method name, unbound function)``.

    >>> names = [n for n, _ in api_methods()]; "stats.mean" in names and "linalg.inv" in names
    True
    """
    out: List[Tuple[str, Callable[..., Any]]] = []
    for prefix, cls in (("", Client), ("stats.", Stats), ("linalg.", Linalg)):
        for name, f in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_") or name in NOT_API:
                continue
            out.append((prefix + name, f))
    return out


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("true", "1", "yes"):
        return True
    if t in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError("%r is not true or false" % text)


def _floats(text: str) -> List[float]:
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a comma-separated list of numbers" % text) from None


def _add_generic(sub: argparse.ArgumentParser, method: str, f: Callable[..., Any]) -> None:
    shapes = CLI_SHAPES.get(method, {})
    for p in list(inspect.signature(f).parameters.values())[1:]:
        if p.name in ("progress", "as_numpy", "as_array"):
            continue
        kw = dict(shapes.get(p.name, {}))
        flags = kw.pop("flags", None)
        if p.kind == p.VAR_POSITIONAL:
            sub.add_argument(p.name, nargs="+", metavar="KEY", **kw)
        elif p.default is p.empty and p.kind != p.KEYWORD_ONLY:
            sub.add_argument(p.name, **kw)
        else:
            opt = flags or ["--" + p.name.replace("_", "-")]
            if "type" not in kw and type(p.default) in (int, float):
                kw["type"] = type(p.default)
            if isinstance(p.default, bool) and "type" not in kw:
                if p.default is False:
                    sub.add_argument(*opt, dest=p.name, action="store_true")
                else:
                    sub.add_argument(*opt, dest=p.name, type=_bool, default=True, metavar="true|false")
            else:
                kw.setdefault("dest", p.name)
                kw["default"] = None
                sub.add_argument(*opt, **kw)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m enigma`` argument parser, generated from :func:`api_methods`.

    >>> build_parser().parse_args(["stats", "mean", "ab", "--store"]).store
    True
    """
    top = argparse.ArgumentParser(prog="python -m enigma", description=__doc__.split("\n\n")[0] if __doc__ else None)
    _add_global(top, suppress=False)
    # the global options also after the subcommand, as the Rust CLI takes them (`stats mean K --format text`)
    common = argparse.ArgumentParser(add_help=False)
    _add_global(common, suppress=True)
    cmds = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=argparse.ArgumentParser)
    cmds.required = True
    groups: Dict[str, Any] = {}
    for method, f in api_methods():
        if "." in method:
            group, name = method.split(".", 1)
            if group not in groups:
                g = cmds.add_parser(group, help="%s.* computations" % group)
                groups[group] = g.add_subparsers(dest="sub", metavar="OP", parser_class=argparse.ArgumentParser)
                groups[group].required = True
            parent = groups[group]
        else:
            name, parent = method, cmds
        dashed = name.replace("_", "-")
        aliases = [a for a in {name, dashed} if a != (name if name in TTEST else dashed)]
        if method == "gen_key":
            aliases += ["gen-keys", "gen_keys"]
        doc = (inspect.getdoc(f) or "").split("\n\n")[0].replace("\n", " ")
        sub = parent.add_parser(
            name if name in TTEST else dashed, aliases=aliases, help=doc, description=doc, parents=[common]
        )
        sub.set_defaults(method=method)
        if method == "store":
            _add_store(sub)
        elif method == "load":
            sub.add_argument("key")
            sub.add_argument("--out", help="write the value to FILE.npy, FILE.csv or FILE.json (by extension)")
        elif method == "set_privkey":
            sub.add_argument("privkey", nargs="?", metavar="PRIVKEY | -", help="`-`: read from stdin")
            sub.add_argument("--file", help="read the key from this file (its first line)")
        elif method == "gen_key":
            sub.add_argument("--out", help="write the private key to this new file (mode 0600)")
        else:
            _add_generic(sub, method, f)
            if method == "stats.histogram":
                sub.add_argument("--edges", type=_floats, default=None, metavar="E0,E1,…")
    return top


def _add_global(p: argparse.ArgumentParser, suppress: bool) -> None:
    def d(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    p.add_argument("--socket", default=d(os.environ.get("ENIGMA_SOCKET")), help="the node's socket path or host:port")
    p.add_argument("--format", choices=["json", "text"], default=d("json"), help="print JSON (default) or text")
    p.add_argument("--progress", choices=["auto", "plain", "off"], default=d("auto"), help="progress of computations")
    p.add_argument("--rpc-cookie", default=d(None), help="over TCP: the file holding the node's token")
    p.add_argument("--rpc-fingerprint", default=d(None), help="over TCP: TLS, pinning this certificate SHA-256")
    p.add_argument("--timeout", type=float, default=d(None), help="seconds a call may take (default: no limit)")


def _add_store(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("data", nargs="?", help="the data as JSON, e.g. '[1,2,3]'")
    sub.add_argument("--file", help="store the contents of a file as bytes")
    sub.add_argument("--as", "--type", dest="store_as", default="auto", choices=["auto", "json", "string"])
    sub.add_argument("--csv", help="a CSV file with a header row")
    sub.add_argument("--column", help="with --csv: this column as one 1-D array")
    sub.add_argument("--columns", help="with --csv: one key per column, A,B,…")
    sub.add_argument("--npy", help="a NumPy .npy file (needs numpy)")
    sub.add_argument(
        "--decimals",
        help="keep numbers at the decimal scale 10^-N (0 to 12, default 6), or 'binary' (2^-20, the old scale)",
    )
    sub.add_argument("--exact", action="store_true", help="refuse numbers with more decimals than the scale holds")


class UsageError(Exception):
    """Bad arguments found after parsing (exit code 2)."""


def _read_csv(path: str, want: Optional[List[str]]) -> Tuple[List[str], List[List[float]]]:
    """The header and the numeric columns (one list per column) of a CSV file; every cell checked."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as e:
        raise UsageError("cannot read --csv %s: %s" % (path, e)) from None
    if not rows:
        raise UsageError("--csv %s: the file is empty (a header row is needed)" % path)
    header = [h.strip() for h in rows[0]]
    names = want or header
    for n in names:
        if n not in header:
            raise UsageError("--csv %s: no column %r (columns: %s)" % (path, n, ", ".join(header)))
    idx = [header.index(n) for n in names]
    cols: List[List[float]] = [[] for _ in names]
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise UsageError("--csv %s: row %d has %d cells, the header %d" % (path, r, len(row), len(header)))
        for c, i in enumerate(idx):
            cell = row[i].strip()
            try:
                v = float(cell)
            except ValueError:
                raise UsageError("--csv %s: row %d, column %r: %r is not a number" % (path, r, names[c], cell)) from None
            if not math.isfinite(v):
                raise UsageError("--csv %s: row %d, column %r: %r is not finite" % (path, r, names[c], cell))
            cols[c].append(int(v) if v.is_integer() and "." not in cell and "e" not in cell.lower() else v)
    return names, cols


def _store(client: Client, a: argparse.Namespace, progress: Any) -> Any:
    dec: Any = None
    if a.decimals is not None:
        if a.decimals == "binary":
            dec = "binary"
        else:
            try:
                dec = int(a.decimals)
            except ValueError:
                raise UsageError("--decimals takes 0 to 12 or binary, not %r" % a.decimals) from None
    sources = [s for s in (a.data, a.file, a.csv, a.npy) if s is not None]
    if len(sources) != 1:
        raise UsageError("store takes exactly one of DATA, --file, --csv, --npy")
    if (a.column or a.columns) and a.csv is None:
        raise UsageError("--column and --columns need --csv")
    if a.file is not None:
        try:
            with open(a.file, "rb") as fh:
                return client.store(fh.read(), progress=progress, decimals=dec, exact=a.exact)
        except OSError as e:
            raise UsageError("cannot read --file %s: %s" % (a.file, e)) from None
    if a.csv is not None:
        if a.column and a.columns:
            raise UsageError("--column and --columns exclude each other")
        if a.column:
            _, cols = _read_csv(a.csv, [a.column])
            return client.store(cols[0], progress=progress, decimals=dec, exact=a.exact)
        if a.columns:
            names, cols = _read_csv(a.csv, [c.strip() for c in a.columns.split(",") if c.strip()])
            keys: Dict[str, str] = {}
            try:
                for n, col in zip(names, cols):
                    keys[n] = client.store(col, progress=progress, decimals=dec, exact=a.exact)  # type: ignore[assignment]
            except BaseException:
                for k in keys.values():
                    try:
                        client.delete(k)
                    except Error:
                        pass
                raise
            return keys
        names, cols = _read_csv(a.csv, None)
        return client.store([list(r) for r in zip(*cols)], progress=progress, decimals=dec, exact=a.exact)
    if a.npy is not None:
        try:
            import numpy  # optional
        except ImportError:
            raise UsageError("--npy needs numpy (pip install numpy), or use the enigma binary") from None
        try:
            arr = numpy.load(a.npy, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise UsageError("cannot read --npy %s: %s" % (a.npy, e)) from None
        return client.store(arr, progress=progress, decimals=dec, exact=a.exact)
    text: str = a.data
    if a.store_as == "string":
        return client.store(text, progress=progress, decimals=dec, exact=a.exact)
    try:
        value = json.loads(text)
    except ValueError:
        if a.store_as == "json":
            raise UsageError("--as json: %r is not JSON" % text) from None
        value = text
    return client.store(value, progress=progress, decimals=dec, exact=a.exact)


def _load(client: Client, a: argparse.Namespace, progress: Any) -> Any:
    value = client.load(a.key, progress=progress)
    if a.out is None:
        return value
    out: str = a.out
    if out.endswith(".json"):
        with open(out, "w") as fh:
            json.dump(_jsonable(value), fh)
    elif out.endswith(".csv"):
        rows = value if isinstance(value, list) else [value]
        with open(out, "w", newline="") as fh:
            w = csv.writer(fh)
            for r in rows:
                w.writerow(r if isinstance(r, list) else [r])
    elif out.endswith(".npy"):
        try:
            import numpy  # optional
        except ImportError:
            raise UsageError("--out FILE.npy needs numpy (pip install numpy)") from None
        numpy.save(out, numpy.asarray(value))
    else:
        with open(out, "wb") as fh:
            fh.write(value if isinstance(value, (bytes, bytearray)) else str(value).encode())
    return {"key": a.key, "out": out}


def _set_privkey(client: Client, a: argparse.Namespace) -> Any:
    if a.file is not None:
        try:
            with open(a.file) as fh:
                key = fh.readline().strip()
        except OSError as e:
            raise UsageError("cannot read --file %s: %s" % (a.file, e)) from None
    elif a.privkey in (None, "-"):
        if a.privkey is None and sys.stdin.isatty():
            import getpass

            key = getpass.getpass("private key (hex or WIF): ").strip()
        else:
            key = sys.stdin.readline().strip()
    else:
        sys.stderr.write("warning: a private key given as an argument lands in shell history; use - or --file\n")
        key = a.privkey
    if not key:
        raise UsageError("set-privkey: no key given")
    return client.set_privkey(key)


def _gen_key(client: Client, a: argparse.Namespace) -> Any:
    priv, pub = client.gen_key()
    if a.out is None:
        return {"private_key": priv, "public_key": pub}
    try:
        fd = os.open(a.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise UsageError("--out %s: %s (an existing file is never overwritten)" % (a.out, e)) from None
    with os.fdopen(fd, "w") as fh:
        fh.write(priv + "\n")
    return {"private_key_file": a.out, "public_key": pub}


def _run(client: Client, a: argparse.Namespace, progress: Any) -> Any:
    method: str = a.method
    if method == "store":
        return _store(client, a, progress)
    if method == "load":
        return _load(client, a, progress)
    if method == "set_privkey":
        return _set_privkey(client, a)
    if method == "gen_key":
        return _gen_key(client, a)
    root: Any = client
    for part in method.split("."):
        root = getattr(root, part)
    sig = inspect.signature(root)
    args: List[Any] = []
    kwargs: Dict[str, Any] = {}
    for p in sig.parameters.values():
        if p.name in ("progress",):
            if "." in method:
                kwargs["progress"] = progress
            continue
        if not hasattr(a, p.name):
            continue
        v = getattr(a, p.name)
        if p.kind == p.VAR_POSITIONAL:
            args.extend(v)
        elif p.default is p.empty and p.kind != p.KEYWORD_ONLY:
            args.append(v)
        elif v is not None:
            kwargs[p.name] = v
    if method == "stats.histogram":
        edges = getattr(a, "edges", None)
        if edges is not None and kwargs.get("bins") is not None:
            raise UsageError("--bins and --edges exclude each other")
        if edges is not None:
            kwargs["bins"] = edges
        elif kwargs.get("bins") is None:
            raise UsageError("histogram needs --bins N --range LO HI, or --edges E0,E1,…")
        elif kwargs.get("range") is None:
            raise UsageError("--bins needs --range LO HI (the data's min and max are secret)")
        if "range" in kwargs:
            kwargs["range"] = tuple(kwargs["range"])
    return root(*args, **kwargs)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "tolist"):
        return v.tolist()
    return v


def _text(v: Any) -> str:
    v = _jsonable(v)
    if isinstance(v, dict):
        width = max((len(k) for k in v), default=0)
        return "".join("%s %s\n" % (k.ljust(width), x if isinstance(x, str) else json.dumps(x)) for k, x in v.items())
    if isinstance(v, list) and all(not isinstance(x, (list, dict)) for x in v):
        return "".join("%s\n" % (x if isinstance(x, str) else json.dumps(x)) for x in v)
    if isinstance(v, str):
        return v + "\n"
    return json.dumps(v, indent=2) + "\n"


def _progress(mode: str) -> Any:
    if mode == "off":
        return None
    if mode == "plain":

        def plain(done: int, total: int, stage: str) -> None:
            sys.stderr.write("progress %s/%s %s\n" % (done, total, stage))

        return plain
    if sys.stderr.isatty():
        return progress_bar("enigma")
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs one command (default: ``sys.argv[1:]``); returns the exit code.

    >>> main(["stats"])  # doctest: +SKIP
    """
    parser = build_parser()
    a = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        client = Client(a.socket, timeout=a.timeout, cookie=a.rpc_cookie, fingerprint=a.rpc_fingerprint)
    except Error as e:
        sys.stderr.write("python -m enigma: %s\n" % e)
        return 1
    try:
        with client:
            result = _run(client, a, _progress(a.progress))
    except UsageError as e:
        parser.exit(2, "python -m enigma: error: %s\n" % e)
    except Error as e:
        sys.stderr.write("python -m enigma: error (%s): %s\n" % (e.kind, e))
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("python -m enigma: interrupted; the node cancels the computation\n")
        return 130
    if a.format == "text":
        sys.stdout.write(_text(result))
    else:
        sys.stdout.write(json.dumps(_jsonable(result)) + "\n")
    return 0
