"""Enigma from Python: store data as Shamir secret shares on an Enigma network and compute on it by MPC.

    import enigma
    key = enigma.store([[90, 60, 90], [88, 57, 89]])
    enigma.load(key)                 # [[90, 60, 90], [88, 57, 89]]
    enigma.stats.mean(key)           # [79.0]

The module-level functions use a default :class:`Client`, created on first use for the default endpoint:
``$ENIGMA_SOCKET``, else ``$ENIGMA_HOME/devnet/node0/enigma.sock`` if it exists, else
``$ENIGMA_HOME/enigma.sock`` (``ENIGMA_HOME`` defaults to ``~/.enigma``). If that endpoint changes (say
``ENIGMA_SOCKET`` is set later) the next call follows it, unless :func:`set_default_client` pinned a
client. ``enigma.Client(path_or_host_port)`` talks to a node of your choice; over TCP it shows the
node's token (``token=``/``cookie=``, else ``$ENIGMA_RPC_TOKEN``, ``$ENIGMA_RPC_COOKIE``,
``<data-dir>/rpc.cookie``) and, with ``fingerprint=`` or ``$ENIGMA_RPC_FINGERPRINT``, uses TLS pinned to
that certificate. Every failure raises :class:`enigma.Error` with ``.code``, ``.kind`` and ``.message``.
Standard library only.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Tuple, Union

from .client import Client, Names, ProgressCallback, progress_bar, Linalg, Stats, default_endpoint, enigma_home, tcp_credential
from .errors import CODES, Error

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Error",
    "CODES",
    "connect",
    "default_client",
    "set_default_client",
    "default_endpoint",
    "enigma_home",
    "tcp_credential",
    "progress_bar",
    "gen_key",
    "gen_keys",
    "get_pubkey",
    "get_address",
    "set_privkey",
    "store",
    "load",
    "delete",
    "pair",
    "revoke",
    "policy",
    "ledger_tx",
    "access_log",
    "peers",
    "status",
    "cancel",
    "manifest",
    "custody_keys",
    "group",
    "call",
    "stats",
    "linalg",
]

_default: Optional[Client] = None
_pinned = False
_default_lock = threading.Lock()


def connect(socket_path_or_host_port: Optional[str] = None, **kwargs: Any) -> Client:
    """A new :class:`Client` (same arguments), connected now so an unreachable node shows at once.

    Example::

        client = enigma.connect("/tmp/enigma-devnet/node0/enigma.sock")
    """
    return Client(socket_path_or_host_port, **kwargs).connect()


def default_client() -> Client:
    """The client the module-level functions use (created lazily for :func:`default_endpoint`).

    Example::

        enigma.default_client().status()
    """
    global _default
    with _default_lock:
        if _pinned and _default is not None:
            return _default
        endpoint = default_endpoint()
        if _default is None or _default.endpoint != endpoint:
            old, _default = _default, Client(endpoint)
            if old is not None:
                old.close()
        return _default


def set_default_client(client: Union[Client, str, None] = None) -> Optional[Client]:
    """Makes the module-level functions use ``client`` (a :class:`Client` or an endpoint string).

    ``None`` goes back to following the default endpoint. Returns the client now pinned, if any.

    Example::

        enigma.set_default_client("127.0.0.1:7000")
    """
    global _default, _pinned
    if client is not None and not isinstance(client, Client):
        client = Client(client)
    with _default_lock:
        old, _default, _pinned = _default, client, client is not None
    if old is not None and old is not client:
        old.close()
    return client


def gen_key() -> Tuple[str, str]:
    """Generates a new identity for the node; returns ``(private_key_hex, public_key_hex)``.

    Example::

        private_hex, public_hex = enigma.gen_key()
    """
    return default_client().gen_key()


#: Alias of :func:`gen_key` (the API doc spells both).
gen_keys = gen_key


def get_pubkey() -> str:
    """The node's compressed public key, hex.

    Example::

        enigma.get_pubkey()        # '02…' (66 hex)
    """
    return default_client().get_pubkey()


def get_address() -> str:
    """The node identity's Bitcoin P2PKH address (``1…``).

    Example::

        enigma.get_address()       # '1…'
    """
    return default_client().get_address()


def set_privkey(privkey: str) -> bool:
    """Sets the node's identity (hex or WIF private key); False if the key is not valid.

    Example::

        enigma.set_privkey(open("node.key").read().strip())   # True
    """
    return default_client().set_privkey(privkey)


def store(
    data: Any,
    *,
    progress: Optional[ProgressCallback] = None,
    as_array: bool = False,
    decimals: Union[None, int, str] = None,
    exact: bool = False,
) -> Union[str, Dict[str, str]]:
    """Stores ``data`` as secret shares; returns its key (64 hex). See :meth:`Client.store`.

    numpy arrays and pandas Series are one key; a pandas DataFrame is ``{column: key}``, or one 2-D
    array with ``as_array=True``.

    Example::

        key = enigma.store([1.5, 2.5, 3.5])
        key = enigma.store([0.123456789], decimals=9, exact=True)
    """
    return default_client().store(data, progress=progress, as_array=as_array, decimals=decimals, exact=exact)


def load(key: str, *, progress: Optional[ProgressCallback] = None, as_numpy: bool = False) -> Any:
    """The data stored under ``key``, as stored (ints stay ints, bytes are bytes, arrays nested lists);
    ``as_numpy=True`` gives a numpy array or scalar (needs numpy).

    Example::

        enigma.load(key)           # [1.5, 2.5, 3.5]
    """
    return default_client().load(key, progress=progress, as_numpy=as_numpy)


def delete(key: str) -> bool:
    """Deletes ``key`` on every node (owner only).

    Example::

        enigma.delete(key)         # True
    """
    return default_client().delete(key)


def pair(
    addresses: Names, keys: Optional[Names] = None, level: Optional[str] = None, min_count: Optional[int] = None
) -> str:
    """Grants Bitcoin ``addresses`` access; returns the policy transaction id. A compute grant covers
    aggregates of at least ``min_count`` (default 5) of the owner's values.

    Example::

        txid = enigma.pair("1BoatSLRHtKNngkdXEeobR76b53LETtpyT", keys=[key], level="compute")
    """
    return default_client().pair(addresses, keys=keys, level=level, min_count=min_count)


def revoke(addresses: Names, keys: Optional[Names] = None, level: Optional[str] = None) -> str:
    """Takes access back from ``addresses``; returns the policy transaction id.

    Example::

        txid = enigma.revoke("1BoatSLRHtKNngkdXEeobR76b53LETtpyT", keys=[key])
    """
    return default_client().revoke(addresses, keys=keys, level=level)


def policy() -> list:
    """The grants in force for this identity's data.

    Example::

        for grant in enigma.policy(): print(grant)
    """
    return default_client().policy()


def ledger_tx(txid: str) -> dict:
    """A policy transaction on the ledger, by id.

    Example::

        enigma.ledger_tx(txid)["kind"]
    """
    return default_client().ledger_tx(txid)


def access_log(key: str) -> list:
    """Who used ``key``, and how.

    Example::

        enigma.access_log(key)     # [{'address': '1…', 'op': 'stats.mean', …}]
    """
    return default_client().access_log(key)


def peers() -> List[str]:
    """Peer ids the node sees.

    Example::

        len(enigma.peers())
    """
    return default_client().peers()


def status() -> dict:
    """The node's status.

    Example::

        enigma.status()["peer_id"]
    """
    return default_client().status()


def cancel(op: str) -> bool:
    """Cancels a running operation by id.

    Example::

        enigma.cancel(op_id)       # False if it had already ended
    """
    return default_client().cancel(op)


def manifest(key: str) -> dict:
    """``key``'s manifest as the node sees it (owner, type, shape, threshold, epoch, holders).

    Example::

        enigma.manifest(key)["holders"]
    """
    return default_client().manifest(key)


def group(key: str) -> dict:
    """The custody group the node's own lookup finds for ``key``, and which members answer.

    Example::

        enigma.group(key)["group"]
    """
    return default_client().group(key)


def custody_keys() -> list:
    """The keys the node holds a share of: ``[{key, state, epoch}]``.

    Example::

        [k["key"] for k in enigma.custody_keys()]
    """
    return default_client().custody_keys()


def call(method: str, /, *, progress: Optional[ProgressCallback] = None, **params: Any) -> Any:
    """Calls any node method with named parameters; returns its raw JSON result.

    Example::

        enigma.call("stats.mean", keys=[key])
    """
    return default_client().call(method, progress=progress, **params)


#: ``enigma.stats.mean(key, ...)`` and friends, on the default client.
stats = Stats(default_client)
#: ``enigma.linalg.dot(key_a, key_b)`` and ``enigma.linalg.inv(key)``, on the default client.
linalg = Linalg(default_client)
