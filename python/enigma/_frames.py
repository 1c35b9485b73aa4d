"""numpy and pandas in and out, without requiring either.

Neither is imported unless it is used: a pandas object is recognised by its type's module and name,
numpy is imported only by ``load(..., as_numpy=True)``. ``store`` of a DataFrame stores each column
as one key (``{column: key}``), or with ``as_array=True`` the whole frame as one 2-D array; a Series is
one 1-D array. Every cell is checked before anything is sent: a NaN, an infinity or a non-number names
its row (index label) and column.
"""

from __future__ import annotations

import math
import numbers

from .errors import Error


def _pandas_kind(obj):
    """``"DataFrame"``, ``"Series"`` or None, without importing pandas."""
    t = type(obj)
    if not t.__module__.startswith("pandas"):
        return None
    if t.__name__ in ("DataFrame", "Series"):
        return t.__name__
    return None


def is_frame(obj) -> bool:
    return _pandas_kind(obj) == "DataFrame"


def is_series(obj) -> bool:
    return _pandas_kind(obj) == "Series"


def _cell(value, where: str):
    """A checked cell: an int or a finite float (numpy scalars become Python numbers)."""
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (int, float)):
        value = value.item()  # numpy scalar
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Error("%s: %r is not a number" % (where, value), kind="invalid_params")
    if isinstance(value, numbers.Integral):
        return int(value)
    x = float(value)
    if math.isnan(x):
        raise Error("%s: NaN (a missing value?) cannot be stored" % where, kind="out_of_range")
    if not math.isfinite(x):
        raise Error(
            "%s: value out of range for fixed-point: %r is not a finite number" % (where, x),
            kind="out_of_range",
        )
    return x


def series_values(series, column=None) -> list:
    """The checked values of a Series (row = index label)."""
    name = column if column is not None else series.name
    prefix = "" if name is None else "column %r, " % (name,)
    labels = list(series.index)
    return [_cell(v, "%srow %r" % (prefix, labels[i])) for i, v in enumerate(series.tolist())]


def frame_columns(frame) -> list:
    """``[(column, values)]`` for every column of a DataFrame, all checked first."""
    return [(c, series_values(frame[c], c)) for c in frame.columns]


def frame_rows(frame) -> list:
    """The DataFrame as a checked 2-D list (rows × columns)."""
    columns = frame_columns(frame)
    n = len(frame.index)
    return [[values[r] for _, values in columns] for r in range(n)]


def to_numpy(typed):
    """A typed value as numpy: an ndarray (int64 or float64, its shape kept) or a numpy scalar."""
    try:
        import numpy
    except ImportError:
        raise Error(
            "load(..., as_numpy=True) needs numpy, which is not installed (pip install numpy)",
            kind="unsupported",
        ) from None
    ty = typed.get("type") if isinstance(typed, dict) else None
    if ty == "int":
        return numpy.int64(typed["value"])
    if ty == "float":
        return numpy.float64(typed["value"])
    if ty == "array":
        dtype = numpy.int64 if typed.get("dtype") == "int" else numpy.float64
        return numpy.array(typed["value"], dtype=dtype).reshape(typed["shape"])
    raise Error(
        "as_numpy=True needs a number or a numeric array; this key holds %s" % (ty or "something else"),
        kind="invalid_params",
    )
