"""Conversion between Python values and the node's JSON forms.

``store_params`` turns what a user passes to ``store`` into the ``store`` method's parameters
(``{"data": ..., "type": ...}``), refusing anything the node could not keep exactly *before* it is
sent: NaN and infinities (``out_of_range``), integers beyond 64 bits, dict keys that are not strings,
and objects that have no JSON form (``invalid_params``). ``from_typed`` reads the typed value form
``{"type": "int"|"float"|"array"|"string"|"bytes"|"json", "value": ..., "dtype"?, "shape"?}`` that
``load`` and ``linalg.*`` return, giving native Python values: ints stay ints, bytes are ``bytes``,
arrays are nested lists.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import math
import numbers

from .errors import Error

_BYTES_LIKE = (bytes, bytearray, memoryview)

# serde_json keeps integers in [-2^63, 2^64) exactly; anything wider would silently become a float.
_INT_MIN = -(1 << 63)
_INT_END = 1 << 64


def _where(path: str) -> str:
    return " (at data%s)" % path if path else ""


def _plain(obj, path: str = ""):
    """``obj`` as plain JSON-able Python values (None, bool, int, float, str, list, dict)."""
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, int):
        i = int(obj)
        if not _INT_MIN <= i < _INT_END:
            raise Error(
                "value out of range: the integer %d does not fit in 64 bits%s" % (i, _where(path)),
                kind="out_of_range",
            )
        return i
    if isinstance(obj, decimal.Decimal):
        # its text is the decimal; a float carries it exactly when its repr gives the same digits
        if not obj.is_finite():
            raise Error("value out of range for fixed-point: %s is not a finite number%s" % (obj, _where(path)), kind="out_of_range")
        x = float(obj)
        if decimal.Decimal(repr(x)) != obj:
            raise Error(
                "value out of range: %s has more significant digits than a float64 keeps%s" % (obj, _where(path)),
                kind="out_of_range",
            )
        return x
    if isinstance(obj, float):
        x = float(obj)
        if not math.isfinite(x):
            raise Error(
                "value out of range for fixed-point: %r is not a finite number%s" % (x, _where(path)),
                kind="out_of_range",
            )
        return x
    if isinstance(obj, (list, tuple)):
        return [_plain(item, "%s[%d]" % (path, i)) for i, item in enumerate(obj)]
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise Error(
                    "cannot store a dict with a %s key (%r): JSON object keys are strings%s"
                    % (type(k).__name__, k, _where(path)),
                    kind="invalid_params",
                )
            out[str(k)] = _plain(v, "%s[%r]" % (path, k))
        return out
    if isinstance(obj, _BYTES_LIKE):
        raise Error(
            "bytes can be stored only on their own, not inside a list or dict%s" % _where(path),
            kind="invalid_params",
        )
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):  # numpy arrays and scalars, array.array, ... without importing numpy
        return _plain(tolist(), path)
    if isinstance(obj, numbers.Integral):
        return _plain(int(obj), path)
    if isinstance(obj, numbers.Real):
        return _plain(float(obj), path)
    raise Error(
        "cannot store a value of type %s%s" % (type(obj).__name__, _where(path)),
        kind="invalid_params",
    )


def store_params(data) -> dict:
    """The ``store`` parameters for ``data``.

    str → a string, bytes-like → bytes, anything else → the node's automatic typing (numbers and
    regular nested numeric lists become computable numbers, everything else JSON).
    """
    if isinstance(data, _BYTES_LIKE):
        raw = data.tobytes() if isinstance(data, memoryview) else bytes(data)
        return {"data": base64.b64encode(raw).decode("ascii"), "type": "bytes"}
    if isinstance(data, str):
        return {"data": str(data), "type": "string"}
    if not isinstance(data, (list, tuple, dict, int, float)) and callable(getattr(data, "tolist", None)):
        return store_params(data.tolist())  # a numpy bytes/str scalar lands in the branches above
    return {"data": _plain(data)}


def _malformed(what: str) -> Error:
    return Error("the node sent a malformed typed value: %s" % what, kind="internal")


def _array(value, shape, dtype: str):
    """Checks ``value`` against ``shape`` and gives every element the Python type of ``dtype``."""
    if not shape:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _malformed("array element %r" % (value,))
        if dtype == "int":
            if not isinstance(value, int):
                raise _malformed("float element %r in an int array" % (value,))
            return value
        return float(value)
    if not isinstance(value, list) or len(value) != shape[0]:
        raise _malformed("array does not match its shape")
    return [_array(item, shape[1:], dtype) for item in value]


def from_typed(t):
    """The Python value of a typed value ``{"type": ..., "value": ...}``."""
    if not isinstance(t, dict) or not isinstance(t.get("type"), str):
        raise _malformed("expected an object with a type, got %r" % (t,))
    ty = t["type"]
    v = t.get("value")
    if ty == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            raise _malformed("int %r" % (v,))
        return v
    if ty == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _malformed("float %r" % (v,))
        return float(v)
    if ty == "string":
        if not isinstance(v, str):
            raise _malformed("string %r" % (v,))
        return v
    if ty == "bytes":
        if not isinstance(v, str):
            raise _malformed("bytes %r" % (v,))
        try:
            return base64.b64decode(v.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError) as e:
            raise _malformed("bytes are not base64: %s" % e) from None
    if ty == "json":
        return v
    if ty == "array":
        shape = t.get("shape")
        dtype = t.get("dtype")
        if not isinstance(shape, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
        ):
            raise _malformed("array shape %r" % (shape,))
        if dtype not in ("int", "float"):
            raise _malformed("array dtype %r" % (dtype,))
        return _array(v, shape, dtype)
    raise _malformed("unknown type %r" % (ty,))
