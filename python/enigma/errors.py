"""Errors raised by the Enigma client.

Every failure is an :class:`Error` with a numeric ``code``, a stable snake_case ``kind`` and a one-line
``message`` (``str(e)``). Node errors carry the node's code and kind (the table mirrors
``protocol/src/api.rs``); trouble reaching the node is kind ``unavailable``; bad input caught before
anything is sent uses the kind the node would have used (``out_of_range``, ``invalid_params``).
"""

from __future__ import annotations

from typing import Optional

#: Error kinds and their codes on the wire (``ErrorCode::name()`` → ``ErrorCode::code()``).
CODES = {
    "parse_error": -32700,
    "invalid_request": -32600,
    "method_not_found": -32601,
    "invalid_params": -32602,
    "internal": -32603,
    "unknown_key": 1001,
    "access_denied": 1002,
    "out_of_range": 1003,
    "not_enough_nodes": 1004,
    "too_large": 1005,
    "singular": 1006,
    "timeout": 1007,
    "cancelled": 1008,
    "invalid_address": 1009,
    "unsupported": 1010,
    "unavailable": 1011,
    "busy": 1012,
    "unauthorized": 1013,
    "integrity_failed": 1014,
}

KINDS = {code: kind for kind, code in CODES.items()}


class Error(Exception):
    """An Enigma error: ``code`` (int), ``kind`` (e.g. ``"unknown_key"``) and ``message`` (one line).

    ``str(e)`` is the message. Compare ``e.kind`` (stable names) rather than the message text.
    """

    def __init__(self, message: str, code: Optional[int] = None, kind: Optional[str] = None):
        super().__init__(message)
        if kind is None:
            kind = KINDS.get(code, "internal") if code is not None else "internal"
        if code is None:
            code = CODES.get(kind, CODES["internal"])
        self.message = message
        self.code = code
        self.kind = kind

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return "enigma.Error(%r, kind=%r)" % (self.message, self.kind)

    def __reduce__(self):
        return (type(self), (self.message, self.code, self.kind))

    @classmethod
    def from_json(cls, obj) -> "Error":
        """Builds an error from a JSON-RPC error object ``{"code", "message", "data": {"kind"}}``."""
        if not isinstance(obj, dict):
            return cls("the node sent a malformed error: %r" % (obj,), kind="internal")
        code = obj.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            code = None
        data = obj.get("data")
        kind = data.get("kind") if isinstance(data, dict) else None
        if not isinstance(kind, str):
            kind = None
        message = obj.get("message")
        if not isinstance(message, str):
            message = "unknown error"
        if kind is None and code is None:
            kind = "internal"
        return cls(message, code=code, kind=kind)


Error.__module__ = "enigma"  # tracebacks show ``enigma.Error: unknown key …``
