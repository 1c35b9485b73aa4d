"""numpy and pandas in and out: ``store`` of arrays, Series and DataFrames (a key per column, or one
2-D array), ``load(key, as_numpy=True)``, and the checks that name a bad cell's row and column before
anything is stored. numpy and pandas are optional: the tests that need them skip cleanly without
them, and the tests of the client without them run everywhere. Against a scripted fake node (the
exact requests) and, with ``ENIGMA_BIN``, a real devnet."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # finds _helpers however the tests are run
from _helpers import WAIT, Devnet, FakeNode

import enigma

try:
    import numpy
except ImportError:
    numpy = None
try:
    import pandas
except ImportError:
    pandas = None

ENIGMA_BIN = os.environ.get("ENIGMA_BIN")


class Recorder:
    """A fake node's handler: ``store`` answers a key per call (or fails on the n-th), ``load`` a
    typed value, ``delete`` True; every request is kept in order."""

    def __init__(self, fail_store_at=None, typed=None):
        self.fail_store_at = fail_store_at
        self.typed = typed
        self.stores = 0

    def __call__(self, req, send):
        m = req["method"]
        if m == "store":
            self.stores += 1
            if self.stores == self.fail_store_at:
                send({"jsonrpc": "2.0", "id": req["id"],
                      "error": {"code": 1004, "message": "not enough custody nodes online", "data": {}}})
                return FakeNode.NO_REPLY
            return "%064x" % self.stores
        if m == "delete":
            return True
        if m == "load":
            return self.typed
        return None


class WithoutOptionalPackagesTest(unittest.TestCase):
    """What works the same whether or not numpy and pandas are installed."""

    def test_the_package_does_not_import_numpy_or_pandas(self):
        import subprocess

        code = "import sys, enigma; enigma.Client('/x'); print('numpy' in sys.modules, 'pandas' in sys.modules)"
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(out.stdout.strip(), "False False", out.stderr)

    def test_gen_keys_is_gen_key(self):
        self.assertIs(enigma.gen_keys, enigma.gen_key)
        node = FakeNode(lambda req, send: ["aa", "bb"])
        self.addCleanup(node.stop)
        with enigma.Client(node.endpoint, timeout=WAIT) as c:
            self.assertEqual(c.gen_keys(), ("aa", "bb"))
        self.assertEqual(node.requests[-1]["method"], "gen_key")

    def test_as_numpy_without_numpy_says_so(self):
        node = FakeNode(Recorder(typed={"type": "int", "value": 3}))
        self.addCleanup(node.stop)
        with enigma.Client(node.endpoint, timeout=WAIT) as c:
            import builtins

            real_import = builtins.__import__

            def no_numpy(name, *args, **kwargs):
                if name == "numpy":
                    raise ImportError("no numpy here")
                return real_import(name, *args, **kwargs)

            builtins.__import__ = no_numpy
            try:
                with self.assertRaises(enigma.Error) as cm:
                    c.load("a" * 64, as_numpy=True)
            finally:
                builtins.__import__ = real_import
            self.assertEqual(cm.exception.kind, "unsupported")
            self.assertIn("pip install numpy", str(cm.exception))

    def test_new_methods_send_their_parameters(self):
        node = FakeNode(lambda req, send: {} if req["method"] == "manifest" else ([] if req["method"] == "custody_keys" else "t" * 64))
        self.addCleanup(node.stop)
        with enigma.Client(node.endpoint, timeout=WAIT) as c:
            c.manifest("a" * 64)
            c.custody_keys()
            c.revoke(["1A"], keys=["a" * 64], level="load")
        self.assertEqual([(r["method"], r["params"]) for r in node.requests], [
            ("manifest", {"key": "a" * 64}),
            ("custody_keys", {}),
            ("revoke", {"addresses": ["1A"], "keys": ["a" * 64], "level": "load"}),
        ])


@unittest.skipIf(numpy is None, "numpy is not installed (optional): pip install numpy")
class NumpyTest(unittest.TestCase):
    def test_store_sends_arrays_and_refuses_nan_by_index(self):
        node = FakeNode(Recorder())
        self.addCleanup(node.stop)
        with enigma.Client(node.endpoint, timeout=WAIT) as c:
            c.store(numpy.array([[1, 2], [3, 4]], dtype=numpy.int32))
            c.store(numpy.float64(2.5))
            with self.assertRaises(enigma.Error) as cm:
                c.store(numpy.array([[1.0, 2.0], [3.0, numpy.nan]]))
        self.assertEqual(cm.exception.kind, "out_of_range")
        self.assertIn("data[1][1]", str(cm.exception))
        self.assertEqual([r["params"] for r in node.requests], [{"data": [[1, 2], [3, 4]]}, {"data": 2.5}])

    def test_load_as_numpy_keeps_dtype_and_shape(self):
        cases = [
            ({"type": "array", "dtype": "int", "shape": [2, 2], "value": [[1, 2], [3, 4]]}, "int64", (2, 2)),
            ({"type": "array", "dtype": "float", "shape": [0, 3], "value": []}, "float64", (0, 3)),
            ({"type": "float", "value": 0.5}, "float64", ()),
            ({"type": "int", "value": 7}, "int64", ()),
        ]
        for typed, dtype, shape in cases:
            node = FakeNode(Recorder(typed=typed))
            self.addCleanup(node.stop)
            with enigma.Client(node.endpoint, timeout=WAIT) as c:
                a = c.load("a" * 64, as_numpy=True)
            self.assertEqual(str(a.dtype), dtype)
            self.assertEqual(numpy.shape(a), shape)
        node = FakeNode(Recorder(typed={"type": "string", "value": "x"}))
        self.addCleanup(node.stop)
        with enigma.Client(node.endpoint, timeout=WAIT) as c:
            with self.assertRaises(enigma.Error) as cm:
                c.load("a" * 64, as_numpy=True)
        self.assertEqual(cm.exception.kind, "invalid_params")


@unittest.skipIf(pandas is None, "pandas is not installed (optional): pip install pandas")
class PandasTest(unittest.TestCase):
    def frame(self):
        return pandas.DataFrame({"age": [45, 43, 23], "height": [1.5, 1.75, 2.0]}, index=["ann", "bob", "cy"])

    def test_a_frame_is_a_key_per_column_or_one_array(self):
        node = FakeNode(Recorder())
        self.addCleanup(node.stop)
        with enigma.Client(node.endpoint, timeout=WAIT) as c:
            keys = c.store(self.frame())
            self.assertEqual(list(keys), ["age", "height"])
            one = c.store(self.frame(), as_array=True)
            series = c.store(self.frame()["age"])
        self.assertIsInstance(one, str)
        self.assertIsInstance(series, str)
        self.assertEqual([r["params"] for r in node.requests], [
            {"data": [45, 43, 23]},
            {"data": [1.5, 1.75, 2.0]},
            {"data": [[45, 1.5], [43, 1.75], [23, 2.0]]},
            {"data": [45, 43, 23]},
        ])

    def test_bad_cells_name_row_and_column_and_nothing_is_sent(self):
        node = FakeNode(Recorder())
        self.addCleanup(node.stop)
        bad = self.frame()
        bad.loc["bob", "height"] = float("nan")
        text = pandas.DataFrame({"a": [1, 2], "b": ["x", "y"]})
        with enigma.Client(node.endpoint, timeout=WAIT) as c:
            for frame, kind, where in (
                (bad, "out_of_range", "column 'height', row 'bob': NaN"),
                (text, "invalid_params", "column 'b', row 0: 'x' is not a number"),
            ):
                for as_array in (False, True):
                    with self.assertRaises(enigma.Error) as cm:
                        c.store(frame, as_array=as_array)
                    self.assertEqual(cm.exception.kind, kind)
                    self.assertIn(where, str(cm.exception))
            with self.assertRaises(enigma.Error) as cm:
                c.store(pandas.Series([1.0, float("inf")], name="x"))
            self.assertIn("column 'x', row 1", str(cm.exception))
        self.assertEqual(node.requests, [], "nothing is sent for a bad frame")

    def test_a_failed_column_takes_back_the_stored_ones(self):
        rec = Recorder(fail_store_at=2)
        node = FakeNode(rec)
        self.addCleanup(node.stop)
        with enigma.Client(node.endpoint, timeout=WAIT) as c:
            with self.assertRaises(enigma.Error) as cm:
                c.store(self.frame())
        self.assertEqual(cm.exception.kind, "not_enough_nodes")
        self.assertEqual([r["method"] for r in node.requests], ["store", "store", "delete"])
        self.assertEqual(node.requests[-1]["params"], {"key": "%064x" % 1})


@unittest.skipUnless(ENIGMA_BIN, "set ENIGMA_BIN to the enigma node binary to run the devnet tests")
@unittest.skipIf(numpy is None or pandas is None, "numpy and pandas are not both installed (optional)")
class DevnetFramesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = Devnet(ENIGMA_BIN, nodes=3)
        try:
            cls.net.start()
        except BaseException:
            cls.net.stop(keep=True)
            raise
        cls.client = enigma.Client(cls.net.socket(0), timeout=60)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.client.close()
        finally:
            cls.net.stop()

    def test_frames_and_arrays_round_trip_and_compute(self):
        df = pandas.DataFrame({"age": [45, 43, 23, 15], "height": [1.5, 1.75, 2.0, 1.25]})
        keys = self.client.store(df)
        self.assertEqual(self.client.load(keys["age"]), [45, 43, 23, 15])
        self.assertEqual(self.client.stats.mean(keys["age"]), [31.5])
        whole = self.client.store(df, as_array=True)
        got = self.client.load(whole, as_numpy=True)
        self.assertEqual(got.shape, (4, 2))
        self.assertTrue(numpy.array_equal(got, df.to_numpy(dtype=float)))
        m = numpy.array([[4.0, 7.0], [2.0, 6.0]])
        inv = self.client.load(self.client.linalg.inv(self.client.store(m), store=True), as_numpy=True)
        self.assertTrue(numpy.allclose(inv, numpy.linalg.inv(m), atol=1e-4))
        ints = self.client.load(self.client.store(numpy.arange(6, dtype=numpy.int64).reshape(2, 3)), as_numpy=True)
        self.assertEqual((str(ints.dtype), ints.shape), ("int64", (2, 3)))
        self.assertEqual(self.client.load(self.client.store(numpy.float64(0.1)), as_numpy=True), numpy.float64(0.1))

    def test_a_bad_frame_stores_nothing(self):
        before = len(self.client.custody_keys())
        df = pandas.DataFrame({"a": [1.0, 2.0], "b": [3.0, float("nan")]})
        with self.assertRaises(enigma.Error) as cm:
            self.client.store(df)
        self.assertIn("column 'b', row 1", str(cm.exception))
        self.assertEqual(len(self.client.custody_keys()), before)


if __name__ == "__main__":
    unittest.main()
