"""End to end against a real devnet of 5 nodes (``$ENIGMA_BIN devnet``): every call the node answers
today, through ``enigma.Client(path)`` and through the module-level functions (``$ENIGMA_SOCKET``)."""


import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # finds _helpers however the tests are run
from _helpers import Devnet

import enigma

ENIGMA_BIN = os.environ.get("ENIGMA_BIN")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
BODY = [[90, 60, 90], [88, 57, 89], [92, 64, 91]]


class Listy:
    """Stands in for a numpy array: stored through ``.tolist()``."""

    def tolist(self):
        return [[1.25, -2.5], [3.0, 4.75]]


@unittest.skipUnless(ENIGMA_BIN, "set ENIGMA_BIN to the enigma node binary to run the devnet tests")
class DevnetTest(unittest.TestCase):
    net = None

    @classmethod
    def setUpClass(cls):
        cls.net = Devnet(ENIGMA_BIN, nodes=5)
        try:
            cls.net.start()
        except BaseException:
            cls.net.stop(keep=True)
            raise
        cls._saved_socket = os.environ.get("ENIGMA_SOCKET")
        os.environ["ENIGMA_SOCKET"] = cls.net.socket(0)
        enigma.set_default_client(None)
        cls.client = enigma.Client(cls.net.socket(0), timeout=30)
        cls.client1 = enigma.Client(cls.net.socket(1), timeout=30)

    @classmethod
    def tearDownClass(cls):
        try:
            for c in (getattr(cls, "client", None), getattr(cls, "client1", None), enigma.default_client()):
                if c is not None:
                    c.close()
            if cls._saved_socket is None:
                os.environ.pop("ENIGMA_SOCKET", None)
            else:
                os.environ["ENIGMA_SOCKET"] = cls._saved_socket
        finally:
            cls.net.stop()

    def apis(self):
        """The same calls through a Client and through the module (its default client is node 0)."""
        return (("Client", self.client), ("module", enigma))

    def assertSameValue(self, got, want):
        """Equal, and the same Python types all the way down (ints stay ints)."""
        if isinstance(want, tuple):
            want = list(want)
        self.assertEqual(got, want)
        self.assertIs(type(got), type(want), "%r is a %s, expected %s" % (got, type(got).__name__, type(want).__name__))
        if isinstance(want, list):
            for g, w in zip(got, want):
                self.assertSameValue(g, w)
        elif isinstance(want, dict):
            for k in want:
                self.assertSameValue(got[k], want[k])

    def assertKind(self, kind, f, *args, **kwargs):
        with self.assertRaises(enigma.Error) as cm:
            f(*args, **kwargs)
        self.assertEqual(cm.exception.kind, kind, str(cm.exception))
        self.assertEqual(cm.exception.code, enigma.CODES[kind])
        self.assertTrue(cm.exception.message and "\n" not in cm.exception.message)
        return cm.exception

    def test_readme_walkthrough(self):
        for name, api in self.apis():
            with self.subTest(api=name):
                private_key, public_key = api.gen_key()
                self.assertRegex(private_key, HEX64)
                self.assertRegex(public_key, r"^0[23][0-9a-f]{64}$")
                self.assertEqual(api.get_pubkey(), public_key)
                address = api.get_address()
                self.assertTrue(address.startswith("1"), address)
                self.assertIs(api.set_privkey(private_key), True)
                self.assertIs(api.set_privkey("not a key"), False)
                self.assertEqual(api.get_pubkey(), public_key)

                key_age = api.store(24)
                self.assertRegex(key_age, HEX64)
                key_body = api.store(BODY)
                self.assertRegex(key_body, HEX64)
                self.assertSameValue(api.load(key_body), BODY)
                self.assertSameValue(api.load(key_age), 24)

                self.assertIs(api.delete(key_age), True)
                err = self.assertKind("unknown_key", api.load, key_age)
                self.assertIn(key_age, str(err))
                self.assertIs(api.delete(key_age), False)
                self.assertSameValue(api.load(key_body), BODY)

    def test_every_type_round_trips(self):
        values = [
            24,
            -7,
            2**42 - 1,
            0.1,
            -2.5,
            1.0,
            [[[1, 2], [3, 4]], [[5, 6], [7, 8]]],
            [[[0.5, 1.5]], [[2.5, 3.5]]],
            [],
            "a string",
            "héllo ✓",
            "",
            b"\x00\xffbytes",
            bytes(range(256)),
            b"",
            {"name": "alice", "tags": [1, "x"], "nested": {"ok": True, "none": None}},
            [1, "x", 2.5, None, [1, 2]],
            [[1, 2], [3]],
            True,
            None,
        ]
        for name, api in self.apis():
            for v in values:
                with self.subTest(api=name, value=v):
                    self.assertSameValue(api.load(api.store(v)), v)
            with self.subTest(api=name, value="other containers"):
                self.assertSameValue(api.load(api.store(bytearray(b"\x01\x02"))), b"\x01\x02")
                self.assertSameValue(api.load(api.store(memoryview(b"\x03"))), b"\x03")
                self.assertSameValue(api.load(api.store(((1, 2), (3, 4)))), [[1, 2], [3, 4]])
                self.assertSameValue(api.load(api.store(Listy())), Listy().tolist())
                self.assertSameValue(api.load(api.store([1.0, 2.0])), [1.0, 2.0])  # floats stay floats
                self.assertSameValue(api.load(api.store([1, 2.5])), [1.0, 2.5])  # one dtype, as numpy

    def test_second_identity_is_denied(self):
        self.client1.gen_key()  # a fresh identity on node 1
        for name, api in self.apis():
            with self.subTest(api=name):
                key = api.store(BODY)
                self.assertKind("access_denied", self.client1.load, key)
                self.assertKind("access_denied", self.client1.delete, key)
                os.environ["ENIGMA_SOCKET"] = self.net.socket(1)  # module functions now use node 1
                try:
                    self.assertEqual(enigma.default_client().endpoint, self.net.socket(1))
                    self.assertKind("access_denied", enigma.load, key)
                finally:
                    os.environ["ENIGMA_SOCKET"] = self.net.socket(0)
                self.assertSameValue(api.load(key), BODY)  # the owner still can
                self.assertIs(api.delete(key), True)

    def test_bad_input(self):
        for name, api in self.apis():
            with self.subTest(api=name):
                self.assertKind("out_of_range", api.store, float("nan"))
                self.assertKind("out_of_range", api.store, [[1.0, float("inf")]])
                self.assertKind("out_of_range", api.store, {"x": float("-inf")})
                self.assertKind("out_of_range", api.store, 5 * 10**12)  # beyond 2^62 / 10^6, the default scale's range
                self.assertKind("out_of_range", api.store, [1, -(2**50)])
                self.assertKind("invalid_params", api.store, {1, 2})
                self.assertKind("invalid_params", api.load, "not-hex")
                self.assertKind("invalid_params", api.load, "ab" * 31)
                self.assertKind("invalid_params", api.delete, "zz")
                self.assertKind("invalid_params", api.load, 5)
                self.assertKind("unknown_key", api.load, "0" * 64)
                self.assertKind("method_not_found", api.call, "no.such.method")
                key = api.store(1)
                self.assertKind("invalid_params", api.call, "load", key=key, bogus=1)
                # the connection survives errors
                self.assertSameValue(api.load(key), 1)

    def test_raw_call_and_progress_flag(self):
        for name, api in self.apis():
            with self.subTest(api=name):
                key = api.store(BODY)
                typed = api.call("load", key=key)
                self.assertEqual(typed, {"type": "array", "dtype": "int", "shape": [3, 3], "value": BODY})
                seen = []
                self.assertSameValue(api.load(key, progress=lambda *a: seen.append(a)), BODY)
                for done, total, stage in seen:  # a short load may report nothing
                    self.assertIsInstance(done, int)
                    self.assertIsInstance(stage, str)
                self.assertRegex(api.store(5, progress=lambda *a: None), HEX64)

    def test_status_and_peers(self):
        for name, api in self.apis():
            with self.subTest(api=name):
                peers = api.peers()
                self.assertEqual(len(peers), 4)
                self.assertTrue(all(isinstance(p, str) for p in peers))
                status = api.status()
                self.assertIsInstance(status, dict)
                self.assertEqual(status.get("pubkey"), api.get_pubkey())
                self.assertNotIn(status.get("peer_id"), peers)

    def test_pair_revoke_policy_ledger_tx_access_log(self):
        grantee = enigma.Client(self.net.socket(2), timeout=30)
        try:
            grantee.gen_key()  # a fresh identity on node 2
            address = grantee.get_address()
            for name, api in self.apis():
                with self.subTest(api=name):
                    key = api.store([4, 5, 6])
                    self.assertKind("access_denied", grantee.load, key)
                    txid = api.pair([address])
                    self.assertRegex(txid, HEX64)
                    self.assertSameValue(grantee.load(key), [4, 5, 6])
                    grants = api.policy()
                    self.assertIn(address, str(grants))
                    tx = api.ledger_tx(txid)
                    self.assertEqual(tx["txid"], txid)
                    self.assertTrue(tx["hex"].startswith("02000000"))
                    log = api.access_log(key)
                    self.assertTrue(any(e["address"] == address and e["action"] == "load" for e in log), log)
                    rtxid = api.revoke([address])
                    self.assertRegex(rtxid, HEX64)
                    self.assertNotEqual(rtxid, txid)
                    self.assertKind("access_denied", grantee.load, key)
                    # scoped, compute-level grants: no raw data
                    api.pair([address], keys=[key], level="compute")
                    self.assertKind("access_denied", grantee.load, key)
                    api.revoke([address])
                    err = self.assertKind("invalid_address", api.pair, ["1DEP8i3QJCsomS4BSMY2RpU1upv62aGvhE"])
                    self.assertIn("1DEP8i3QJCsomS4BSMY2RpU1upv62aGvhE", str(err))
                    self.assertKind("invalid_params", api.ledger_tx, "xyz")
                    self.assertKind("unknown_key", api.ledger_tx, "0" * 64)
        finally:
            grantee.close()

    def test_stats_and_linalg(self):
        # the examples of the data-processing API, through a Client and through the module
        for name, api in self.apis():
            with self.subTest(api=name):
                alice = api.store(10000000)
                bob = api.store(30000)
                self.assertEqual(api.stats.max(alice, bob), alice)
                self.assertEqual(api.stats.min(alice, bob), bob)
                ages = api.store([45, 43, 23, 15, 67, 32, 28, 98, 55, 14])
                self.assertEqual(api.stats.mean(ages), [42.0])
                (var,) = api.stats.var(ages)
                (std,) = api.stats.std(ages)
                self.assertAlmostEqual(var, 611.0, places=6)
                self.assertAlmostEqual(std, 611.0 ** 0.5, places=6)
                x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
                y = [2.1, 3.9, 6.2, 7.8, 10.1, 12.2, 13.8, 16.1, 18.0, 20.2]
                slope, intercept, r_value, p_value, std_err = api.stats.linregress(api.store(x), api.store(y))
                mx, my = sum(x) / 10, sum(y) / 10
                sxx = sum((a - mx) ** 2 for a in x)
                sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
                syy = sum((b - my) ** 2 for b in y)
                self.assertAlmostEqual(slope, sxy / sxx, places=6)
                self.assertAlmostEqual(intercept, my - sxy / sxx * mx, places=5)
                self.assertAlmostEqual(r_value, sxy / (sxx * syy) ** 0.5, places=6)
                self.assertLess(p_value, 1e-10)
                self.assertGreater(std_err, 0.0)
                a = api.store([[1, 2], [3, 4]])
                b = api.store([[5, 6], [7, 8]])
                self.assertSameValue(api.linalg.dot(a, b), [[19, 22], [43, 50]])
                self.assertSameValue(api.linalg.dot(api.store([1, 2, 3]), api.store([4, 5, 6])), 32)
                inv = api.linalg.inv(api.store([[4, 7], [2, 6]]), progress=lambda done, total, stage: None)
                for row, want in zip(inv, [[0.6, -0.7], [-0.2, 0.4]]):
                    for got, w in zip(row, want):
                        self.assertAlmostEqual(got, w, places=6)
                self.assertKind("singular", api.linalg.inv, api.store([[1, 2], [2, 4]]))
                m = api.stats.max(api.store([3, 99, -4, 17]))
                self.assertRegex(m, HEX64)
                self.assertSameValue(api.load(m), 99)
                self.assertEqual(api.stats.mean(api.linalg.dot(a, b, store=True)), [33.5])
                std_key = api.stats.std(api.store([1, 2, 3, 4]), store=True)
                self.assertRegex(std_key, HEX64)
                self.assertAlmostEqual(api.load(std_key), 1.25 ** 0.5, places=5)
                self.assertAlmostEqual(api.stats.mean(std_key)[0], 1.25 ** 0.5, places=5)
                self.assertKind("invalid_params", api.stats.mean, api.store("text"))

    def test_progress_callback_and_cancel(self):
        # small: in active mode (the default) an inverse costs many checked truncations
        size = 6
        m = [[(30.0 if i == j else float((i * 7 + j * 3) % 11 - 5)) for j in range(size)] for i in range(size)]
        key = self.client.store(m)
        calls = []
        inv = self.client.linalg.inv(key, progress=lambda done, total, stage: calls.append((done, total, stage)))
        self.assertEqual(len(inv), size)
        self.assertTrue(calls, "no progress reported")
        self.assertTrue(all(d <= t for d, t, _ in calls))
        self.assertIs(self.client.cancel("no-such-op"), False)


if __name__ == "__main__":
    unittest.main()
