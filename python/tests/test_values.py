"""Offline tests: how Python values become ``store`` parameters, how typed values come back, errors."""


import array
import base64
import math
import os
import pickle
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # finds _helpers however the tests are run
import _helpers  # noqa: F401  (puts the package from this tree first on sys.path)
import enigma
from enigma._values import from_typed, store_params


class FakeArray:
    """Anything with ``.tolist()`` (numpy arrays and scalars) is stored as its list."""

    def __init__(self, items):
        self.items = items

    def tolist(self):
        return self.items


class StoreParamsTest(unittest.TestCase):
    def test_numbers_and_arrays_use_automatic_typing(self):
        self.assertEqual(store_params(24), {"data": 24})
        self.assertEqual(store_params(0.1), {"data": 0.1})
        self.assertEqual(store_params([[1, 2], [3, 4]]), {"data": [[1, 2], [3, 4]]})
        self.assertEqual(store_params(((1, 2), (3, 4))), {"data": [[1, 2], [3, 4]]})
        self.assertEqual(store_params(FakeArray([[1.5, 2.0]])), {"data": [[1.5, 2.0]]})
        self.assertEqual(store_params(array.array("i", [1, 2])), {"data": [1, 2]})
        self.assertEqual(store_params([FakeArray(3), FakeArray([4])]), {"data": [3, [4]]})

    def test_strings_bytes_json(self):
        self.assertEqual(store_params("héllo"), {"data": "héllo", "type": "string"})
        b64 = base64.b64encode(b"\x00\xff").decode()
        for b in (b"\x00\xff", bytearray(b"\x00\xff"), memoryview(b"\x00\xff")):
            self.assertEqual(store_params(b), {"data": b64, "type": "bytes"})
        self.assertEqual(store_params({"a": [1, None, True]}), {"data": {"a": [1, None, True]}})
        self.assertEqual(store_params(True), {"data": True})
        self.assertEqual(store_params(None), {"data": None})
        self.assertEqual(store_params([1, "x"]), {"data": [1, "x"]})

    def test_not_finite_is_out_of_range_before_sending(self):
        for bad in (math.nan, math.inf, -math.inf, [1.0, [2.0, math.nan]], {"a": [math.inf]}, FakeArray([math.nan])):
            with self.assertRaises(enigma.Error) as cm:
                store_params(bad)
            self.assertEqual(cm.exception.kind, "out_of_range")
            self.assertEqual(cm.exception.code, 1003)
        with self.assertRaises(enigma.Error) as cm:
            store_params([[1.0, math.nan]])
        self.assertIn("data[0][1]", str(cm.exception))

    def test_unrepresentable_values_are_refused(self):
        for bad in ({1: "a"}, {1, 2}, object(), [b"x"], {"a": b"x"}, complex(1, 2)):
            with self.assertRaises(enigma.Error) as cm:
                store_params(bad)
            self.assertEqual(cm.exception.kind, "invalid_params", bad)
        with self.assertRaises(enigma.Error) as cm:
            store_params({"a": 2**64})
        self.assertEqual(cm.exception.kind, "out_of_range")
        self.assertEqual(store_params(2**64 - 1), {"data": 2**64 - 1})  # the node decides its range


class FromTypedTest(unittest.TestCase):
    def test_native_values(self):
        self.assertIs(type(from_typed({"type": "int", "value": 24})), int)
        self.assertEqual(from_typed({"type": "float", "value": 0.1}), 0.1)
        self.assertIs(type(from_typed({"type": "float", "value": 2})), float)
        self.assertEqual(from_typed({"type": "string", "value": "s"}), "s")
        self.assertEqual(from_typed({"type": "bytes", "value": "AP8="}), b"\x00\xff")
        self.assertEqual(from_typed({"type": "json", "value": {"a": None}}), {"a": None})
        arr = from_typed({"type": "array", "dtype": "float", "shape": [2, 1], "value": [[1], [2.5]]})
        self.assertEqual(arr, [[1.0], [2.5]])
        self.assertIs(type(arr[0][0]), float)
        self.assertEqual(from_typed({"type": "array", "dtype": "int", "shape": [2, 0], "value": [[], []]}), [[], []])
        self.assertEqual(from_typed({"type": "array", "dtype": "int", "shape": [], "value": 7}), 7)

    def test_malformed_values_are_internal_errors(self):
        for bad in (
            None,
            {"value": 1},
            {"type": "int", "value": "1"},
            {"type": "int", "value": True},
            {"type": "bytes", "value": "!!"},
            {"type": "array", "dtype": "int", "shape": [3], "value": [1, 2]},
            {"type": "array", "dtype": "int", "shape": [1], "value": [1.5]},
            {"type": "array", "dtype": "complex", "shape": [1], "value": [1]},
            {"type": "tensor", "value": 1},
        ):
            with self.assertRaises(enigma.Error) as cm:
                from_typed(bad)
            self.assertEqual(cm.exception.kind, "internal", bad)


class ErrorTest(unittest.TestCase):
    def test_fields_str_and_pickle(self):
        e = enigma.Error("unknown key abc", code=1001)
        self.assertEqual((e.code, e.kind, e.message, str(e)), (1001, "unknown_key", "unknown key abc", "unknown key abc"))
        self.assertIsInstance(e, Exception)
        self.assertEqual(enigma.Error("x", kind="access_denied").code, 1002)
        e2 = pickle.loads(pickle.dumps(e))
        self.assertEqual((e2.code, e2.kind, str(e2)), (1001, "unknown_key", "unknown key abc"))
        self.assertIn("unknown key abc", repr(e))

    def test_from_json(self):
        e = enigma.Error.from_json({"code": -32601, "message": "method not found: x", "data": {"kind": "method_not_found"}})
        self.assertEqual((e.code, e.kind, str(e)), (-32601, "method_not_found", "method not found: x"))
        e = enigma.Error.from_json({"code": 1004, "message": "m"})
        self.assertEqual(e.kind, "not_enough_nodes")
        e = enigma.Error.from_json({"code": 4242, "message": "new", "data": {"kind": "brand_new"}})
        self.assertEqual((e.code, e.kind), (4242, "brand_new"))
        self.assertEqual(enigma.Error.from_json("junk").kind, "internal")

    def test_codes_match_the_protocol_table(self):
        self.assertEqual(len(enigma.CODES), 19)
        self.assertEqual(enigma.CODES["unknown_key"], 1001)
        self.assertEqual(enigma.CODES["busy"], 1012)
        self.assertEqual(enigma.CODES["unauthorized"], 1013)
        self.assertEqual(enigma.CODES["integrity_failed"], 1014)


if __name__ == "__main__":
    unittest.main()
