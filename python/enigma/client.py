"""The connection to one Enigma node: JSON-RPC 2.0, one JSON object per line, over the node's Unix
socket (``<data-dir>/enigma.sock``) or ``host:port``.

:class:`Client` owns the socket, the TCP credential (the ``auth`` handshake with the node's token; TLS
pinned to the node's certificate fingerprint), request ids, progress notifications and typed wrappers
with the same names and results as every other Enigma client (DESIGN §1). It never retries a request
that may have had effects: a request is sent once; if the connection breaks, the caller gets an
:class:`Error` and the next call opens a new connection. Abandoning a call (Ctrl-C, a timeout, an
exception in a progress callback) closes the connection, which makes the node cancel what it was doing
for it. It never sends a token in the clear to a non-loopback address, and never accepts a TLS
certificate on anything but its pinned SHA-256 fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import socket
import ssl
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import _frames
from ._values import from_typed, store_params
from .errors import Error

ProgressCallback = Callable[[int, int, str], Any]
#: One Bitcoin address or key, or a list of them.
Names = Union[str, Sequence[str]]
#: A computation's result: the value, or with ``store=True`` the key of the stored result.
Moments = Union[List[float], str]

#: How long to wait for the node to accept a connection, in seconds.
CONNECT_TIMEOUT = 10.0


def progress_bar(desc: str = "enigma") -> Optional[ProgressCallback]:
    """A ``progress`` callback drawing a tqdm bar, or None when tqdm is not installed (optional).

    The bar follows the node's progress notifications (``done``/``total``, the stage as its label)
    and closes when ``done`` reaches ``total``. Without tqdm it returns None, so passing it is
    harmless.

    Example::

        enigma.linalg.inv(matrix_key, progress=enigma.progress_bar("inv"))
    """
    try:
        from tqdm import tqdm  # optional: pip install tqdm
    except ImportError:
        return None
    bar = tqdm(desc=desc, total=None, unit="step", leave=False)

    def update(done: int, total: int, stage: str) -> None:
        if total and bar.total != total:
            bar.total = total
        bar.n = done
        if stage:
            bar.set_description("%s: %s" % (desc, stage), refresh=False)
        bar.refresh()
        if total and done >= total:
            bar.close()

    return update


def enigma_home() -> str:
    """``$ENIGMA_HOME``, else ``~/.enigma``.

    Example::

        enigma.enigma_home()    # '/home/me/.enigma'
    """
    home = os.environ.get("ENIGMA_HOME")
    if home:
        return home
    return os.path.join(os.path.expanduser("~"), ".enigma")


def default_endpoint() -> str:
    """``$ENIGMA_SOCKET``, else the devnet's node 0 socket if it exists, else ``$ENIGMA_HOME/enigma.sock``.

    Example::

        enigma.default_endpoint()
    """
    env = os.environ.get("ENIGMA_SOCKET")
    if env:
        return env
    home = enigma_home()
    devnet = os.path.join(home, "devnet", "node0", "enigma.sock")
    if os.path.exists(devnet):
        return devnet
    return os.path.join(home, "enigma.sock")


#: The cookie the node writes in its data directory when it serves the client API on TCP.
COOKIE_FILE = "rpc.cookie"


def _read_token(path: str) -> str:
    try:
        with open(path, "r", encoding="utf-8") as f:
            return f.read().strip()
    except OSError as e:
        raise Error(
            "cannot read the node's token from %s: %s" % (path, e.strerror or e), kind="unauthorized"
        ) from None


def parse_fingerprint(text: str) -> bytes:
    """A certificate fingerprint as the node prints it (64 hex digits; ``:`` separators, upper case and a
    ``sha256:`` prefix are accepted) → its 32 bytes.

    Example::

        parse_fingerprint("AB:CD:…")   # 32 bytes
    """
    t = text.strip()
    for prefix in ("sha256:", "SHA256:"):
        if t.startswith(prefix):
            t = t[len(prefix):]
    t = t.replace(":", "")
    try:
        raw = bytes.fromhex(t)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise Error(
            "%r is not a certificate fingerprint: expected the SHA-256 the node prints (64 hex digits)" % text,
            kind="unauthorized",
        )
    return raw


def tcp_credential(
    token: Optional[str] = None, cookie: Optional[str] = None, fingerprint: Optional[str] = None
) -> Tuple[Optional[str], Optional[bytes]]:
    """The ``(token, fingerprint bytes)`` a TCP connection uses: the token is ``token``, else the content
    of the file ``cookie``, else ``$ENIGMA_RPC_TOKEN``, else the file ``$ENIGMA_RPC_COOKIE``, else
    ``<data-dir>/rpc.cookie`` if it exists (data dir: ``$ENIGMA_DATA_DIR``, else ``$ENIGMA_HOME``, else
    ``~/.enigma``); the fingerprint is ``fingerprint``, else ``$ENIGMA_RPC_FINGERPRINT`` (None: plain TCP).

    Example::

        token, pin = enigma.tcp_credential(cookie="/data/rpc.cookie")
    """

    def env(name):
        v = os.environ.get(name)
        return v if v and v.strip() else None

    if token is not None:
        tok = token.strip()
    elif cookie is not None:
        tok = _read_token(os.fspath(cookie))
    elif env("ENIGMA_RPC_TOKEN"):
        tok = env("ENIGMA_RPC_TOKEN").strip()
    elif env("ENIGMA_RPC_COOKIE"):
        tok = _read_token(env("ENIGMA_RPC_COOKIE"))
    else:
        # only a guess: a missing or unreadable default cookie means "no token"
        path = os.path.join(env("ENIGMA_DATA_DIR") or enigma_home(), COOKIE_FILE)
        tok = None
        if os.path.exists(path):
            try:
                tok = _read_token(path)
            except Error:
                tok = None
    fp = fingerprint if fingerprint is not None else env("ENIGMA_RPC_FINGERPRINT")
    pin = parse_fingerprint(fp) if fp is not None else None
    return tok, pin


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _plain_token_allowed(addresses) -> None:
    """A token travels without TLS only to loopback addresses (checked before connecting)."""
    for a in addresses:
        if not _is_loopback(a):
            raise Error(
                "refusing to send the token in the clear to %s: off loopback the node must serve TLS "
                "(--rpc-tls) and the client pin its certificate (fingerprint=, ENIGMA_RPC_FINGERPRINT)" % a,
                kind="unauthorized",
            )


def _is_tcp(endpoint: str) -> bool:
    # the Rust client's rule: anything with a ':' that is not an existing path is host:port
    return ":" in endpoint and not os.path.exists(endpoint)


def _host_port(endpoint: str) -> Tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not host or not 0 < number < 65536:
        raise Error(
            "cannot reach the Enigma node at %s: not a socket path or host:port" % endpoint,
            kind="unavailable",
        )
    return host, number


def _keys_list(keys) -> List[str]:
    """Variadic keys, also accepting one list or tuple of keys."""
    if len(keys) == 1 and isinstance(keys[0], (list, tuple)):
        keys = keys[0]
    return list(keys)


def _str_list(value) -> List[str]:
    """One string or an iterable of strings, as a list."""
    if isinstance(value, str):
        return [value]
    return list(value)


def _expect(result, kind, method: str):
    if isinstance(result, bool) and kind is not bool:
        ok = False
    else:
        ok = isinstance(result, kind)
    if not ok:
        raise Error(
            "the node sent an unexpected result for %s: %r" % (method, result), kind="internal"
        )
    return result


def _value_or_key(result):
    """A typed value (decoded) or, for ``store=True``, the key of the stored result."""
    if isinstance(result, str):
        return result
    return from_typed(result)


class Client:
    """A connection to one Enigma node.

    ``Client()`` uses the default endpoint (``$ENIGMA_SOCKET``, else the devnet's node 0, else
    ``$ENIGMA_HOME/enigma.sock``); ``Client("/path/enigma.sock")`` or ``Client("127.0.0.1:7000")``
    picks one. Over TCP the client first shows the node's token (``token=`` the value, ``cookie=`` a
    file holding it; default :func:`tcp_credential`: ``$ENIGMA_RPC_TOKEN``, ``$ENIGMA_RPC_COOKIE``,
    ``<data-dir>/rpc.cookie``); with ``fingerprint=`` (or ``$ENIGMA_RPC_FINGERPRINT``) it connects with
    TLS and accepts only the certificate with that SHA-256. The Unix socket needs neither. The connection opens on the first call and reopens after a failure. ``timeout`` (seconds,
    ``None`` = wait as long as the node works) bounds each call; a call that runs out of time is
    cancelled on the node and raises :class:`Error` with kind ``timeout``.

    One call runs at a time per client (calls from several threads wait for each other); use one client
    per thread for parallel calls. ``client.stats`` and ``client.linalg`` hold the computations.
    """

    def __init__(
        self,
        socket_path_or_host_port=None,
        *,
        timeout: Optional[float] = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        token: Optional[str] = None,
        cookie=None,
        fingerprint: Optional[str] = None,
    ):
        if socket_path_or_host_port is None:
            socket_path_or_host_port = default_endpoint()
        self.endpoint = os.fspath(socket_path_or_host_port)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._token, self._cookie, self._fingerprint = token, cookie, fingerprint
        #: The node's id of the operation in flight, from its latest progress notification (for ``cancel``).
        self.current_op: Optional[str] = None
        self._sock: Optional[socket.socket] = None
        self._buf = bytearray()
        self._scanned = 0
        self._next_id = 1
        self._lock = threading.RLock()
        self.stats = Stats(lambda: self)
        self.linalg = Linalg(lambda: self)

    def __repr__(self) -> str:
        state = "connected" if self._sock is not None else "not connected"
        return "enigma.Client(%r, %s)" % (self.endpoint, state)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- connection ----

    def connect(self) -> "Client":
        """Opens the connection now (calls open it on demand anyway); raises ``Error`` if the node is unreachable.

        Example::

            client = enigma.Client("127.0.0.1:7000", cookie="~/.enigma/rpc.cookie").connect()
        """
        with self._lock:
            self._ensure_connected()
        return self

    def close(self) -> None:
        """Closes the connection (the node cancels anything still running for it). The next call reconnects.

        Example::

            client.close()
        """
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        self._buf = bytearray()
        self._scanned = 0
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _unavailable(self, what: str, e: Optional[BaseException] = None) -> Error:
        detail = ""
        if e is not None:
            detail = ": %s" % (getattr(e, "strerror", None) or e or type(e).__name__)
        return Error("%s the Enigma node at %s%s" % (what, self.endpoint, detail), kind="unavailable")

    def _open(self) -> socket.socket:
        ep = self.endpoint
        try:
            if _is_tcp(ep):
                sock = self._open_tcp(ep)
            else:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(self.connect_timeout)
                    sock.connect(ep)
                except BaseException:
                    sock.close()
                    raise
        except Error:
            raise
        except ssl.SSLError as e:
            raise Error(
                "TLS with the Enigma node at %s failed: %s (does it serve TLS? started with --rpc-tls?)"
                % (ep, e.reason or e),
                kind="unavailable",
            ) from None
        except OSError as e:
            err = self._unavailable("cannot reach", e)
            if isinstance(e, (FileNotFoundError, ConnectionRefusedError)):
                err = Error(
                    err.message + " (is the node running? `enigma devnet` starts a local network; "
                    "$ENIGMA_SOCKET picks the socket)",
                    kind="unavailable",
                )
            raise err from None
        return sock

    def _open_tcp(self, ep: str) -> socket.socket:
        token, pin = tcp_credential(self._token, self._cookie, self._fingerprint)
        host, port = _host_port(ep)
        if token is not None and pin is None:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            _plain_token_allowed([info[4][0] for info in infos])
        sock = socket.create_connection((host, port), timeout=self.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if pin is not None:
                sock = self._tls(sock, pin)
            if token is not None:
                self._authenticate(sock, token)
        except BaseException:
            sock.close()
            raise
        return sock

    def _tls(self, sock: socket.socket, pin: bytes) -> socket.socket:
        # no CA and no host name: the node's certificate is self-signed and pinned by its SHA-256
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        tls = ctx.wrap_socket(sock, server_hostname="localhost")
        der = tls.getpeercert(binary_form=True) or b""
        got = hashlib.sha256(der).digest()
        if not hmac.compare_digest(got, pin):
            tls.close()
            raise Error(
                "the Enigma node at %s has a TLS certificate with fingerprint %s, not the pinned %s: "
                "refusing to send the token" % (self.endpoint, got.hex(), pin.hex()),
                kind="unauthorized",
            )
        return tls

    def _authenticate(self, sock: socket.socket, token: str) -> None:
        """The handshake: the token as the first request (id 0); the node closes the connection if it is wrong."""
        line = json.dumps(
            {"jsonrpc": "2.0", "method": "auth", "params": {"token": token}, "id": 0}, separators=(",", ":")
        ).encode("utf-8") + b"\n"
        sock.settimeout(self.connect_timeout)
        buf = bytearray()
        try:
            sock.sendall(line)
            while b"\n" not in buf:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise Error(
                        "the Enigma node at %s closed the connection during the auth handshake (does it "
                        "serve TLS? then give its fingerprint: ENIGMA_RPC_FINGERPRINT)" % self.endpoint,
                        kind="unavailable",
                    )
                buf += chunk
                if len(buf) > 1 << 16:
                    raise Error("the node sent an oversized answer to auth", kind="internal")
        except socket.timeout:
            raise Error(
                "no answer to the auth handshake from the Enigma node at %s within %gs"
                % (self.endpoint, self.connect_timeout),
                kind="timeout",
            ) from None
        raw, _, rest = bytes(buf).partition(b"\n")
        self._buf = bytearray(rest)
        self._scanned = 0
        try:
            msg = json.loads(raw.decode("utf-8"))
        except ValueError:
            raise Error("the node sent something that is not JSON-RPC: %r" % raw[:200], kind="internal") from None
        if isinstance(msg, dict) and "error" in msg:
            raise Error.from_json(msg["error"])
        if not (isinstance(msg, dict) and msg.get("result") is True):
            raise Error("the node sent an unexpected answer to auth: %r" % raw[:200], kind="internal")

    def _idle_connection_alive(self, sock: socket.socket) -> bool:
        """False when the node closed the idle connection (e.g. it restarted) or sent something unasked."""
        if isinstance(sock, ssl.SSLSocket):
            # TLS: peeking is not allowed; a non-blocking read of application data tells the same (TLS
            # records without data, such as a session ticket, only raise SSLWantReadError)
            try:
                sock.setblocking(False)
                try:
                    data = sock.recv(1)
                finally:
                    sock.setblocking(True)
            except (ssl.SSLWantReadError, BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            return False
        try:
            sock.setblocking(False)
            try:
                data = sock.recv(1, socket.MSG_PEEK)
            finally:
                sock.setblocking(True)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        return False  # EOF, or bytes nobody asked for

    def _ensure_connected(self) -> socket.socket:
        if self._sock is not None and not self._buf and self._idle_connection_alive(self._sock):
            return self._sock
        self._drop()
        self._sock = self._open()
        return self._sock

    # ---- calls ----

    def call(self, method: str, /, *, progress: Optional[ProgressCallback] = None, **params: Any) -> Any:
        """Calls any node method with named parameters and returns its raw JSON result.

        ``progress`` may be a callable ``progress(done, total, stage)``: the node is then asked for
        progress notifications and each is passed on. Raises :class:`Error` for the node's errors.
        """
        if progress is not None and not callable(progress):
            params["progress"] = progress
            progress = None
        return self._request(method, params, progress)

    def _request(self, method: str, params: dict, progress: Optional[ProgressCallback] = None):
        if progress is not None:
            params = dict(params, progress=True)
        with self._lock:
            request_id = self._next_id
            self._next_id += 1
            try:
                line = json.dumps(
                    {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params},
                    allow_nan=False,
                    separators=(",", ":"),
                    ensure_ascii=False,
                ).encode("utf-8") + b"\n"
            except ValueError as e:  # NaN or infinity
                raise Error("value out of range for fixed-point: %s" % e, kind="out_of_range") from None
            except TypeError as e:
                raise Error("invalid params for %s: %s" % (method, e), kind="invalid_params") from None
            deadline = None if self.timeout is None else time.monotonic() + self.timeout
            self.current_op = None
            sock = self._ensure_connected()
            try:
                self._send(sock, line, deadline)
                reply = self._wait_reply(sock, request_id, progress, deadline)
            except BaseException:
                # Ctrl-C, a timeout, a broken connection or a failing progress callback: the call is
                # abandoned, and closing the connection makes the node cancel it.
                self._drop()
                raise
            finally:
                self.current_op = None
        if "error" in reply:
            raise Error.from_json(reply["error"])
        return reply["result"]

    def _timeout_error(self) -> Error:
        return Error(
            "no answer from the Enigma node at %s within %gs; the call was cancelled"
            % (self.endpoint, self.timeout or 0.0),
            kind="timeout",
        )

    def _set_deadline(self, sock: socket.socket, deadline: Optional[float]) -> None:
        if deadline is None:
            sock.settimeout(None)
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout_error()
        sock.settimeout(remaining)

    def _send(self, sock: socket.socket, line: bytes, deadline: Optional[float]) -> None:
        try:
            self._set_deadline(sock, deadline)
            sock.sendall(line)
        except socket.timeout:
            raise self._timeout_error() from None
        except OSError as e:
            raise self._unavailable("lost the connection to", e) from None

    def _read_line(self, sock: socket.socket, deadline: Optional[float]) -> bytes:
        while True:
            i = self._buf.find(b"\n", self._scanned)
            if i >= 0:
                line = bytes(self._buf[:i])
                del self._buf[: i + 1]
                self._scanned = 0
                return line
            self._scanned = len(self._buf)
            try:
                self._set_deadline(sock, deadline)
                chunk = sock.recv(1 << 16)
            except socket.timeout:
                raise self._timeout_error() from None
            except OSError as e:
                raise self._unavailable("lost the connection to", e) from None
            if not chunk:
                raise self._unavailable("the connection was closed by")
            self._buf += chunk

    def _wait_reply(self, sock, request_id: int, progress, deadline) -> dict:
        while True:
            raw = self._read_line(sock, deadline)
            if not raw.strip():
                continue
            try:
                msg = json.loads(raw.decode("utf-8"))
            except ValueError:
                raise Error(
                    "the node sent something that is not JSON-RPC: %r" % raw[:200], kind="internal"
                ) from None
            if not isinstance(msg, dict):
                raise Error("the node sent an unexpected message: %r" % raw[:200], kind="internal")
            if "method" in msg:
                # a notification: only progress is defined
                if msg.get("method") == "progress":
                    p = msg.get("params")
                    p = p if isinstance(p, dict) else {}
                    if isinstance(p.get("op"), str):
                        self.current_op = p["op"]
                    if progress is not None:
                        progress(_int(p.get("done")), _int(p.get("total")), str(p.get("stage") or ""))
                continue
            mid = msg.get("id")
            if mid == request_id and not isinstance(mid, bool):
                if "error" not in msg and "result" not in msg:
                    raise Error("the node sent a response without a result", kind="internal")
                return msg
            if mid is None and "error" in msg:
                # the node could not read our request (too large, parse error): it has nothing more
                # to say about it, and may have closed the connection
                self._drop()
                return msg
            raise Error("the node sent a response for another request: %r" % raw[:200], kind="internal")

    # ---- identity ----

    def gen_key(self) -> Tuple[str, str]:
        """Generates a new secp256k1 identity for the node; returns ``(private_key_hex, public_key_hex)``.

        Example::

            private_hex, public_hex = client.gen_key()
        """
        r = self._request("gen_key", {})
        if not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, str) for x in r)):
            raise Error("the node sent an unexpected result for gen_key: %r" % (r,), kind="internal")
        return r[0], r[1]

    def gen_keys(self) -> Tuple[str, str]:
        """Alias of :meth:`gen_key` (the API doc spells both).

        Example::

            private_hex, public_hex = client.gen_keys()
        """
        return self.gen_key()

    def get_pubkey(self) -> str:
        """The node's compressed public key, hex.

        Example::

            client.get_pubkey()        # '02…' (66 hex)
        """
        return _expect(self._request("get_pubkey", {}), str, "get_pubkey")

    def get_address(self) -> str:
        """The node identity's Bitcoin P2PKH address (``1…``).

        Example::

            client.get_address()       # '1…'
        """
        return _expect(self._request("get_address", {}), str, "get_address")

    def set_privkey(self, privkey: str) -> bool:
        """Sets the node's identity from a private key (hex or WIF); False if it is not a valid key.

        Example::

            client.set_privkey(open("node.key").read().strip())   # True
        """
        return _expect(self._request("set_privkey", {"privkey": privkey}), bool, "set_privkey")

    # ---- data ----

    def store(
        self,
        data: Any,
        *,
        progress: Optional[ProgressCallback] = None,
        as_array: bool = False,
        decimals: Union[None, int, str] = None,
        exact: bool = False,
    ) -> Union[str, Dict[str, str]]:
        """Stores ``data`` as secret shares; returns its key (64 hex characters).

        Numbers are kept at a public decimal scale: every number with at most ``decimals`` decimal
        places (default 6, at most 12) is held exactly, and so are the sums and sums of squares the
        statistics are computed from. A float is read as its shortest round-trip decimal (``repr``),
        never scaled by float arithmetic. A number with more decimals is rounded to the nearest, or
        refused with ``exact=True`` (``Error`` kind ``out_of_range``). The range is
        ``|x| < 2**62 / 10**decimals`` (4.6e12 at 6 decimals). ``decimals="binary"`` keeps the old
        binary scale 2^-20. Keys at different decimal scales compute together, rescaled exactly to
        the finest one (a value beyond that scale's range is an ``out_of_range`` error); a 2^-20 key
        cannot be combined with a decimal one (load it and store it again with ``decimals``).

        Numbers and regular nested numeric lists/tuples (and anything with ``.tolist()``, e.g. numpy
        arrays) become computable numbers; ``str`` a string; ``bytes``/``bytearray``/``memoryview``
        bytes; dicts, bools, None and other lists JSON. NaN and infinities raise ``Error``
        (``out_of_range``) before anything is sent.

        A pandas Series is one 1-D array. A pandas DataFrame is one key per column, returned as
        ``{column: key}``; with ``as_array=True`` it is one 2-D array (rows × columns) and one key.
        Every cell is checked first (a NaN or a non-number names its row and column), and if storing
        a later column fails the columns already stored are deleted: all or nothing. numpy and pandas
        are optional; nothing imports them.

            key = client.store([[90, 60, 90], [88, 57, 89]])
            keys = client.store(df)            # {"age": "3f…", "height": "9a…"}
        """
        if _frames.is_frame(data):
            if as_array:
                return self.store(_frames.frame_rows(data), progress=progress, decimals=decimals, exact=exact)
            columns = _frames.frame_columns(data)  # every cell checked before anything is stored
            keys: Dict[Any, str] = {}
            try:
                for name, values in columns:
                    keys[name] = _expect(
                        self.store(values, progress=progress, decimals=decimals, exact=exact), str, "store"
                    )
            except BaseException:
                for key in keys.values():
                    try:
                        self.delete(key)
                    except Error:
                        pass
                raise
            return keys
        if _frames.is_series(data):
            data = _frames.series_values(data)
        params = store_params(data)
        if decimals is not None:
            if not (decimals == "binary" or (isinstance(decimals, int) and not isinstance(decimals, bool))):
                raise Error("decimals must be an int from 0 to 12 or 'binary', got %r" % (decimals,), kind="invalid_params")
            params["decimals"] = decimals
        if exact:
            params["exact"] = True
        return _expect(self._request("store", params, progress), str, "store")

    def load(self, key: str, *, progress: Optional[ProgressCallback] = None, as_numpy: bool = False) -> Any:
        """The data stored under ``key``, as stored: int, float, nested lists, str, bytes or a JSON value.

        ``as_numpy=True``: a numpy array (int64 or float64, with the stored shape) or numpy scalar;
        needs numpy (``Error`` kind ``unsupported`` without it) and a numeric value.

            client.load(key)                    # [[90, 60, 90], [88, 57, 89]]
            client.load(key, as_numpy=True)     # array([[90, 60, 90], [88, 57, 89]])
        """
        typed = self._request("load", {"key": key}, progress)
        if as_numpy:
            return _frames.to_numpy(typed)
        return from_typed(typed)

    def delete(self, key: str) -> bool:
        """Deletes ``key`` everywhere (owner only); False if there was nothing to delete.

        Example::

            client.delete(key)         # True
        """
        return _expect(self._request("delete", {"key": key}), bool, "delete")

    # ---- access control ----

    def pair(
        self,
        addresses: Names,
        keys: Optional[Names] = None,
        level: Optional[str] = None,
        min_count: Optional[int] = None,
    ) -> str:
        """Grants Bitcoin ``addresses`` (one or a list) access to ``keys`` (default: all of the owner's
        data); returns the policy transaction id (64 hex). ``level="compute"`` gives aggregates only,
        each over at least ``min_count`` of the owner's values (default 5)."""
        params: Dict[str, Any] = {"addresses": _str_list(addresses)}
        if keys is not None:
            params["keys"] = _str_list(keys)
        if level is not None:
            params["level"] = level
        if min_count is not None:
            params["min_count"] = min_count
        return _expect(self._request("pair", params), str, "pair")

    def revoke(self, addresses: Names, keys: Optional[Names] = None, level: Optional[str] = None) -> str:
        """Takes access back from ``addresses`` (all keys or ``keys``); returns the policy transaction
        id (64 hex). ``level`` ``compute`` (the default) removes every access, ``load`` leaves compute."""
        params: Dict[str, Any] = {"addresses": _str_list(addresses)}
        if keys is not None:
            params["keys"] = _str_list(keys)
        if level is not None:
            params["level"] = level
        return _expect(self._request("revoke", params), str, "revoke")

    def policy(self) -> list:
        """The grants in force for this identity's data.

        Example::

            for grant in client.policy(): print(grant)
        """
        return _expect(self._request("policy", {}), list, "policy")

    def ledger_tx(self, txid: str) -> dict:
        """A policy transaction on the ledger, by id.

        Example::

            client.ledger_tx(txid)["kind"]
        """
        return _expect(self._request("ledger_tx", {"txid": txid}), dict, "ledger_tx")

    def access_log(self, key: str) -> list:
        """Who used ``key``, and how.

        Example::

            client.access_log(key)     # [{'address': '1…', 'op': 'stats.mean', …}]
        """
        return _expect(self._request("access_log", {"key": key}), list, "access_log")

    # ---- network ----

    def peers(self) -> List[str]:
        """Peer ids the node sees.

        Example::

            len(client.peers())
        """
        return _expect(self._request("peers", {}), list, "peers")

    def status(self) -> dict:
        """The node's status.

        Example::

            client.status()["peer_id"]
        """
        return _expect(self._request("status", {}), dict, "status")

    def manifest(self, key: str) -> dict:
        """``key``'s manifest as this node sees it: owner, type, shape, threshold, epoch, holders.

        Example::

            client.manifest(key)["holders"]
        """
        return _expect(self._request("manifest", {"key": key}), dict, "manifest")

    def custody_keys(self) -> list:
        """Read-only, this node only: ``[{key, state, epoch}]`` for every key it holds a share of.

        Example::

            [k["key"] for k in client.custody_keys()]
        """
        return _expect(self._request("custody_keys", {}), list, "custody_keys")

    def group(self, key: str) -> dict:
        """The custody group this node's own lookup finds for ``key`` (stored or not):
        ``{key, view, group: [peer ids], reached: [bool]}``.

        Example::

            all(client.group(key)["reached"])
        """
        return _expect(self._request("group", {"key": key}), dict, "group")

    def cancel(self, op: str) -> bool:
        """Cancels a running operation by its id (see ``current_op``); False if it was not running.

        Example::

            client.cancel(op_id)       # False if it had already ended
        """
        return _expect(self._request("cancel", {"op": op}), bool, "cancel")


def _int(x) -> int:
    return x if isinstance(x, int) and not isinstance(x, bool) else 0


def _compute_params(store: bool, **params) -> dict:
    if store:
        params["store"] = True
    return params


builtins_range = range  # ``histogram`` takes a parameter named range


class Stats:
    """``stats.*`` computations on secret data (numpy / scipy semantics), run by MPC on the nodes.

    Every method takes ``store=False`` (``True``: keep the result secret on the network and return its
    key) and ``progress=None`` (a callable ``progress(done, total, stage)``).
    """

    def __init__(self, client: Callable[[], Client]):
        self._client = client

    def __repr__(self) -> str:
        return "<enigma stats>"

    def _keys_call(self, method: str, keys, store: bool, progress):
        params = _compute_params(store, keys=_keys_list(keys))
        return self._client()._request(method, params, progress)

    def max(self, *keys: str, store: bool = False, progress: Optional[ProgressCallback] = None) -> str:
        """The key holding the maximum over ``keys`` (scalars: one of the keys; arrays: a new secret key).

        Example::

            enigma.stats.max(key_a, key_b)   # the key holding the larger
        """
        return _expect(self._keys_call("stats.max", keys, store, progress), str, "stats.max")

    def min(self, *keys: str, store: bool = False, progress: Optional[ProgressCallback] = None) -> str:
        """The key holding the minimum over ``keys``.

        Example::

            enigma.stats.min(key_a, key_b)
        """
        return _expect(self._keys_call("stats.min", keys, store, progress), str, "stats.min")

    def _moment(self, method, keys, store, progress):
        r = self._keys_call(method, keys, store, progress)
        return r if isinstance(r, str) else _expect(r, list, method)

    def mean(self, *keys: str, store: bool = False, progress: Optional[ProgressCallback] = None) -> Moments:
        """``[mean]`` over the flattened data of all ``keys`` (or the result's key with ``store=True``).

        Example::

            enigma.stats.mean(key)           # [2.5]
        """
        return self._moment("stats.mean", keys, store, progress)

    def var(self, *keys: str, store: bool = False, progress: Optional[ProgressCallback] = None) -> Moments:
        """``[variance]`` (ddof=0) over the flattened data of all ``keys``.

        Example::

            enigma.stats.var(key, store=True)   # the key of the result
        """
        return self._moment("stats.var", keys, store, progress)

    def std(self, *keys: str, store: bool = False, progress: Optional[ProgressCallback] = None) -> Moments:
        """``[standard deviation]`` (ddof=0) over the flattened data of all ``keys``.

        Example::

            enigma.stats.std(key)
        """
        return self._moment("stats.std", keys, store, progress)

    def linregress(
        self, key_x: str, key_y: str, *, store: bool = False, progress: Optional[ProgressCallback] = None
    ) -> Union[Tuple[float, ...], str]:
        """``(slope, intercept, r_value, p_value, std_err)`` as scipy.stats.linregress.

        With ``store=True``: the key of the float array ``[slope, intercept, r_value]`` (p_value and
        std_err are derived in the clear from revealed values, so they are not stored).
        """
        params = _compute_params(store, key_x=key_x, key_y=key_y)
        r = self._client()._request("stats.linregress", params, progress)
        if isinstance(r, str):
            return r
        return tuple(_expect(r, list, "stats.linregress"))

    def cov(
        self,
        key: str,
        *,
        rowvar: bool = True,
        ddof: int = 1,
        store: bool = False,
        progress: Optional[ProgressCallback] = None,
    ) -> Any:
        """numpy.cov of the 1-D or 2-D array under ``key`` (``rowvar``: rows are variables).

        Returns the k × k covariance matrix as nested lists (a float for a 1-D key), or the result's
        key with ``store=True``.

        Example::

            enigma.stats.cov(key)                         # [[...], [...]]
            enigma.stats.cov(key, rowvar=False, ddof=0)
        """
        params = _compute_params(store, key=key, rowvar=rowvar, ddof=ddof)
        return _value_or_key(self._client()._request("stats.cov", params, progress))

    def corrcoef(
        self, key: str, *, rowvar: bool = True, store: bool = False, progress: Optional[ProgressCallback] = None
    ) -> Any:
        """numpy.corrcoef of the 1-D or 2-D array under ``key`` (a constant variable → ``Error``).

        Example::

            enigma.stats.corrcoef(key)                    # [[1.0, 0.3], [0.3, 1.0]]
        """
        params = _compute_params(store, key=key, rowvar=rowvar)
        return _value_or_key(self._client()._request("stats.corrcoef", params, progress))

    def _ttest(self, method: str, params: dict, progress) -> Tuple[float, ...]:
        # store=True: the node returns the key of the Float array [statistic, df] at the storage scale
        r = self._client()._request(method, params, progress)
        if isinstance(r, str):
            return r  # type: ignore[return-value]
        vals = _expect(r, list, method)
        return tuple(float("nan") if v is None else v for v in vals)

    def ttest_1samp(
        self, key: str, popmean: float, *, store: bool = False, progress: Optional[ProgressCallback] = None
    ) -> Tuple[float, ...]:
        """``(statistic, pvalue, df)`` as scipy.stats.ttest_1samp(data, popmean, axis=None), two-sided.

        With ``store=True``: the key of the Float array ``[statistic, df]`` at the storage scale (no
        p-value: it is formed at the requester). The same holds for ``ttest_ind`` (pooled, and Welch's
        with ``equal_var=False``, whose df is then a secret division inside the MPC) and ``ttest_rel``.

        Example::

            t, p, df = enigma.stats.ttest_1samp(key, 0.0)
        """
        params = _compute_params(store, key=key, popmean=float(popmean))
        return self._ttest("stats.ttest_1samp", params, progress)

    def ttest_ind(
        self,
        key_a: str,
        key_b: str,
        *,
        equal_var: bool = True,
        store: bool = False,
        progress: Optional[ProgressCallback] = None,
    ) -> Tuple[float, ...]:
        """``(statistic, pvalue, df)`` as scipy.stats.ttest_ind(a, b, equal_var, axis=None).

        ``equal_var=True`` pools the variances (df = N − 2); ``equal_var=False`` is Welch's test
        with the Welch–Satterthwaite df, as scipy.

        Example::

            t, p, df = enigma.stats.ttest_ind(key_a, key_b)
            t, p, df = enigma.stats.ttest_ind(key_a, key_b, equal_var=False)
        """
        params = _compute_params(store, key_a=key_a, key_b=key_b, equal_var=equal_var)
        return self._ttest("stats.ttest_ind", params, progress)

    def ttest_rel(
        self, key_a: str, key_b: str, *, store: bool = False, progress: Optional[ProgressCallback] = None
    ) -> Tuple[float, ...]:
        """``(statistic, pvalue, df)`` as scipy.stats.ttest_rel(a, b, axis=None).

        Example::

            t, p, df = enigma.stats.ttest_rel(before_key, after_key)
        """
        return self._ttest("stats.ttest_rel", _compute_params(store, key_a=key_a, key_b=key_b), progress)

    def histogram(
        self,
        *keys: str,
        bins: Union[int, Sequence[float]],
        range: Optional[Tuple[float, float]] = None,
        store: bool = False,
        progress: Optional[ProgressCallback] = None,
    ) -> Any:
        """``(counts, bin_edges)`` as numpy.histogram over the flattened data of all ``keys``.

        ``bins`` is a number of equal bins over ``range=(lo, hi)`` (required: the data's min and max
        are secret) or the list of edges. With ``store=True``: the key of the counts.

        Example::

            counts, edges = enigma.stats.histogram(key, bins=20, range=(0, 100))
        """
        if isinstance(bins, int):
            b: Any = bins
        else:
            b = [float(e) for e in bins]
        params = _compute_params(store, keys=_keys_list(keys), bins=b)
        if range is not None:
            params["range"] = [float(range[0]), float(range[1])]
        r = self._client()._request("stats.histogram", params, progress)
        if isinstance(r, str):
            return r
        counts = _value_or_key(r)
        if isinstance(bins, int):
            lo, hi = float(range[0]), float(range[1])  # type: ignore[index]
            if lo == hi:
                lo, hi = lo - 0.5, hi + 0.5
            step = (hi - lo) / bins
            edges = [lo + i * step for i in builtins_range(bins)] + [hi]
        else:
            edges = [float(e) for e in bins]
        return counts, edges

    def median(self, *keys: str, store: bool = False, progress: Optional[ProgressCallback] = None) -> Any:
        """numpy.median over the flattened data of all ``keys`` (a float; ``store=True``: its key).

        Example::

            m = enigma.stats.median(salaries_a, salaries_b)
        """
        return _value_or_key(self._keys_call("stats.median", keys, store, progress))

    def _q_call(self, method: str, keys, q, store: bool, progress) -> Any:
        if isinstance(q, bool):
            raise Error("q must be a number or a list of numbers", kind="invalid_params")
        qv: Any = float(q) if isinstance(q, (int, float)) else [float(v) for v in q]
        params = _compute_params(store, keys=_keys_list(keys), q=qv)
        return _value_or_key(self._client()._request(method, params, progress))

    def percentile(
        self,
        *keys: str,
        q: Union[float, Sequence[float]],
        store: bool = False,
        progress: Optional[ProgressCallback] = None,
    ) -> Any:
        """numpy.percentile (default linear method) over the flattened data of all ``keys``.

        ``q`` in [0, 100]: one number (a float) or a list (a list of floats).

        Example::

            q1, q3 = enigma.stats.percentile(key, q=[25, 75])
        """
        return self._q_call("stats.percentile", keys, q, store, progress)

    def quantile(
        self,
        *keys: str,
        q: Union[float, Sequence[float]],
        store: bool = False,
        progress: Optional[ProgressCallback] = None,
    ) -> Any:
        """numpy.quantile (default linear method) over the flattened data of all ``keys``.

        ``q`` in [0, 1]: one number (a float) or a list (a list of floats).

        Example::

            deciles = enigma.stats.quantile(key, q=[i / 10 for i in range(1, 10)])
        """
        return self._q_call("stats.quantile", keys, q, store, progress)

    def lstsq(
        self,
        key_x: str,
        key_y: str,
        *,
        intercept: bool = False,
        stats: bool = False,
        store: bool = False,
        progress: Optional[ProgressCallback] = None,
    ) -> Any:
        """The coefficients of numpy.linalg.lstsq(X, y) for a 2-D X (N × k) and a 1-D y.

        With ``intercept=True`` X gets a leading column of ones and the intercept is the first
        coefficient (as statsmodels' ``add_constant``). Collinear predictors → ``Error`` kind
        ``singular``. With ``store=True`` the result is the key of the Float array of the
        coefficients at the storage scale (``load`` returns that array); a coefficient beyond the
        storage range is ``Error`` kind ``out_of_range``.

        With ``stats=True`` the result is a dict of statsmodels OLS's results: ``params``, ``bse``
        (standard errors), ``tvalues``, ``pvalues`` (two-sided, ``df_resid`` degrees of freedom)
        per coefficient, ``rsquared`` and ``rsquared_adj`` (uncentred R² without an intercept, as
        statsmodels), the intercept's first when there is one. ``stats=True`` cannot be stored
        (``Error`` kind ``unsupported``).

        Example::

            b0, b1, b2 = enigma.stats.lstsq(x_key, y_key, intercept=True)
            ols = enigma.stats.lstsq(x_key, y_key, intercept=True, stats=True)
            ols["bse"][1], ols["pvalues"][1], ols["rsquared"]
        """
        if stats:
            params = _compute_params(store, key_x=key_x, key_y=key_y, intercept=intercept, stats=True)
            r = self._client()._request("stats.lstsq", params, progress)
            if isinstance(r, str):
                return r
            r = _expect(r, dict, "stats.lstsq")
            nan = float("nan")
            for name in ("params", "bse", "tvalues", "pvalues"):
                r[name] = [nan if v is None else float(v) for v in _expect(r.get(name), list, "stats.lstsq")]
            for name in ("rsquared", "rsquared_adj", "df_resid"):
                v = r.get(name)
                r[name] = nan if v is None else float(v)
            return r
        params = _compute_params(store, key_x=key_x, key_y=key_y, intercept=intercept)
        return _value_or_key(self._client()._request("stats.lstsq", params, progress))


class Linalg:
    """``linalg.*`` computations on secret arrays (numpy semantics), run by MPC on the nodes.

    Results are typed like ``load`` (an int/float or nested lists), or the result's key with
    ``store=True``; ``progress`` is a callable ``progress(done, total, stage)``.
    """

    def __init__(self, client: Callable[[], Client]):
        self._client = client

    def __repr__(self) -> str:
        return "<enigma linalg>"

    def dot(self, key_a: str, key_b: str, *, store: bool = False, progress: Optional[ProgressCallback] = None) -> Any:
        """numpy.dot of the arrays under ``key_a`` and ``key_b``.

        Example::

            enigma.linalg.dot(key_a, key_b)
        """
        params = _compute_params(store, key_a=key_a, key_b=key_b)
        return _value_or_key(self._client()._request("linalg.dot", params, progress))

    def inv(self, key: str, *, store: bool = False, progress: Optional[ProgressCallback] = None) -> Any:
        """numpy.linalg.inv of the square matrix under ``key`` (singular → ``Error`` kind ``singular``).

        Example::

            enigma.linalg.inv(matrix_key)
        """
        params = _compute_params(store, key=key)
        return _value_or_key(self._client()._request("linalg.inv", params, progress))
