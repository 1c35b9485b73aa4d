"""Client plumbing against a scripted fake node on real sockets: progress notifications, the exact
requests every method sends (including methods the real node does not have yet), Ctrl-C and timeouts
cancelling by closing the connection, reconnection, connection errors and the default endpoint."""


import os
import signal
import tempfile
import sys
import threading
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # finds _helpers however the tests are run
from _helpers import WAIT, FakeNode, wait_until

import enigma

KEY_A = "a" * 64
KEY_B = "b" * 64


def progress_then(result):
    """A handler that sends two progress notifications, then ``result``."""

    def handler(req, send):
        for done, stage in ((1, "triples"), (2, "open")):
            send({"jsonrpc": "2.0", "method": "progress",
                  "params": {"done": done, "total": 2, "stage": stage, "op": "op-7"}})
        return result

    return handler


class ProgressTest(unittest.TestCase):
    def setUp(self):
        self.node = FakeNode(progress_then([3.5]))
        self.addCleanup(self.node.stop)
        self.client = enigma.Client(self.node.endpoint, timeout=WAIT)
        self.addCleanup(self.client.close)

    def test_two_notifications_then_result(self):
        seen = []
        ops = []

        def progress(done, total, stage):
            seen.append((done, total, stage))
            ops.append(self.client.current_op)

        self.assertEqual(self.client.stats.mean(KEY_A, KEY_B, progress=progress), [3.5])
        self.assertEqual(seen, [(1, 2, "triples"), (2, 2, "open")])
        self.assertEqual(ops, ["op-7", "op-7"])
        self.assertIsNone(self.client.current_op)
        req = self.node.requests[-1]
        self.assertEqual(req["method"], "stats.mean")
        self.assertEqual(req["params"], {"keys": [KEY_A, KEY_B], "progress": True})
        self.assertEqual(req["jsonrpc"], "2.0")

    def test_without_callback_progress_is_not_requested_and_notifications_are_skipped(self):
        self.assertEqual(self.client.stats.var(KEY_A), [3.5])
        self.assertEqual(self.node.requests[-1]["params"], {"keys": [KEY_A]})

    def test_call_and_module_level_functions_take_progress(self):
        seen = []
        self.assertEqual(self.client.call("stats.std", keys=[KEY_A], progress=lambda *a: seen.append(a)), [3.5])
        with mock.patch.dict(os.environ, {"ENIGMA_SOCKET": self.node.endpoint}):
            self.assertEqual(enigma.stats.mean(KEY_A, progress=lambda *a: seen.append(a)), [3.5])
            enigma.default_client().close()
        self.assertEqual(len(seen), 4)


class RequestShapeTest(unittest.TestCase):
    """What each wrapper sends and how it reads the answer (the node's side is in api.rs)."""

    RESULTS = {
        "pair": "c" * 64,
        "revoke": "d" * 64,
        "policy": [{"address": "1abc", "keys": None}],
        "ledger_tx": {"txid": "c" * 64},
        "access_log": [],
        "stats.max": KEY_B,
        "stats.min": KEY_A,
        "stats.linregress": [2.0, 1.0, 0.99, 0.001, 0.05],
        "linalg.dot": {"type": "array", "dtype": "int", "shape": [2, 2], "value": [[1, 2], [3, 4]]},
        "linalg.inv": {"type": "array", "dtype": "float", "shape": [1, 1], "value": [[0.5]]},
        "cancel": True,
        "gen_key": ["1" * 64, "02" + "2" * 64],
        "delete": False,
    }

    def setUp(self):
        def handler(req, send):
            if req["params"].get("store"):
                return "e" * 64
            return self.RESULTS[req["method"]]

        self.node = FakeNode(handler)
        self.addCleanup(self.node.stop)
        self.c = enigma.Client(self.node.endpoint, timeout=WAIT)
        self.addCleanup(self.c.close)

    def sent(self):
        req = self.node.requests[-1]
        return req["method"], req["params"]

    def test_access_control(self):
        self.assertEqual(self.c.pair("1abc"), "c" * 64)
        self.assertEqual(self.sent(), ("pair", {"addresses": ["1abc"]}))
        self.c.pair(["1abc", "3def"], keys=[KEY_A], level="read")
        self.assertEqual(self.sent(), ("pair", {"addresses": ["1abc", "3def"], "keys": [KEY_A], "level": "read"}))
        self.assertEqual(self.c.revoke(["1abc"], keys=KEY_A), "d" * 64)
        self.assertEqual(self.sent(), ("revoke", {"addresses": ["1abc"], "keys": [KEY_A]}))
        self.assertEqual(self.c.policy(), self.RESULTS["policy"])
        self.assertEqual(self.c.ledger_tx("c" * 64), {"txid": "c" * 64})
        self.assertEqual(self.sent(), ("ledger_tx", {"txid": "c" * 64}))
        self.assertEqual(self.c.access_log(KEY_A), [])
        self.assertEqual(self.sent(), ("access_log", {"key": KEY_A}))
        self.assertIs(self.c.cancel("op-7"), True)
        self.assertEqual(self.sent(), ("cancel", {"op": "op-7"}))

    def test_computations(self):
        self.assertEqual(self.c.stats.max(KEY_A, KEY_B), KEY_B)
        self.assertEqual(self.sent(), ("stats.max", {"keys": [KEY_A, KEY_B]}))
        self.assertEqual(self.c.stats.min([KEY_A, KEY_B]), KEY_A)  # one list works as well
        self.assertEqual(self.sent(), ("stats.min", {"keys": [KEY_A, KEY_B]}))
        self.assertEqual(self.c.stats.linregress(KEY_A, KEY_B), (2.0, 1.0, 0.99, 0.001, 0.05))
        self.assertEqual(self.sent(), ("stats.linregress", {"key_x": KEY_A, "key_y": KEY_B}))
        self.assertEqual(self.c.linalg.dot(KEY_A, KEY_B), [[1, 2], [3, 4]])
        self.assertEqual(self.sent(), ("linalg.dot", {"key_a": KEY_A, "key_b": KEY_B}))
        self.assertEqual(self.c.linalg.inv(KEY_A), [[0.5]])
        self.assertEqual(self.sent(), ("linalg.inv", {"key": KEY_A}))

    def test_store_true_returns_the_result_key(self):
        for f in (
            lambda: self.c.stats.mean(KEY_A, store=True),
            lambda: self.c.stats.max(KEY_A, store=True),
            lambda: self.c.stats.linregress(KEY_A, KEY_B, store=True),
            lambda: self.c.linalg.dot(KEY_A, KEY_B, store=True),
            lambda: self.c.linalg.inv(KEY_A, store=True),
        ):
            self.assertEqual(f(), "e" * 64)
            self.assertIs(self.node.requests[-1]["params"]["store"], True)

    def test_result_shapes_are_checked(self):
        self.assertEqual(self.c.gen_key(), ("1" * 64, "02" + "2" * 64))
        self.assertIs(self.c.delete(KEY_A), False)
        self.RESULTS["delete"] = "yes"
        self.addCleanup(self.RESULTS.__setitem__, "delete", False)
        with self.assertRaises(enigma.Error) as cm:
            self.c.delete(KEY_A)
        self.assertEqual(cm.exception.kind, "internal")


class CancelAndReconnectTest(unittest.TestCase):
    """Abandoning a call closes the connection (the node cancels it); the next call reconnects."""

    def setUp(self):
        def handler(req, send):
            if req["method"] == "slow":
                send({"jsonrpc": "2.0", "method": "progress",
                      "params": {"done": 0, "total": 9, "stage": "s", "op": "op-1"}})
                return FakeNode.NO_REPLY  # never answers
            if req["method"] == "hangup":
                raise OSError("the fake node drops the connection")
            return "pong"

        self.node = FakeNode(handler)
        self.addCleanup(self.node.stop)

    def test_keyboard_interrupt_closes_the_connection_and_reraises(self):
        c = enigma.Client(self.node.endpoint, timeout=WAIT)
        self.addCleanup(c.close)
        main = threading.get_ident()
        old = signal.signal(signal.SIGINT, signal.default_int_handler)
        self.addCleanup(signal.signal, signal.SIGINT, old)

        def interrupt(done, total, stage):
            # a real SIGINT to the main thread while it blocks reading the socket
            threading.Timer(0.1, signal.pthread_kill, (main, signal.SIGINT)).start()

        with self.assertRaises(KeyboardInterrupt):
            c.call("slow", progress=interrupt)
        wait_until(lambda: self.node.closed_count == 1, what="the node to see the connection close")
        self.assertEqual(c.call("ping"), "pong")
        self.assertEqual(self.node.connections, 2)

    def test_exception_in_progress_callback_cancels(self):
        c = enigma.Client(self.node.endpoint, timeout=WAIT)
        self.addCleanup(c.close)

        def boom(done, total, stage):
            raise ValueError("stop")

        with self.assertRaises(ValueError):
            c.call("slow", progress=boom)
        wait_until(lambda: self.node.closed_count == 1, what="the node to see the connection close")
        self.assertEqual(c.call("ping"), "pong")

    def test_timeout_cancels_and_reports(self):
        c = enigma.Client(self.node.endpoint, timeout=0.2)
        self.addCleanup(c.close)
        with self.assertRaises(enigma.Error) as cm:
            c.call("slow")
        self.assertEqual((cm.exception.kind, cm.exception.code), ("timeout", 1007))
        wait_until(lambda: self.node.closed_count == 1, what="the node to see the connection close")
        self.assertEqual(c.call("ping"), "pong")

    def test_node_dropping_a_call_is_unavailable_and_the_next_call_reconnects(self):
        c = enigma.Client(self.node.endpoint, timeout=WAIT)
        self.addCleanup(c.close)
        with self.assertRaises(enigma.Error) as cm:
            c.call("hangup")
        self.assertEqual(cm.exception.kind, "unavailable")
        self.assertIn(self.node.endpoint, str(cm.exception))
        self.assertEqual(c.call("ping"), "pong")

    def test_idle_connection_closed_by_the_node_is_reopened(self):
        c = enigma.Client(self.node.endpoint, timeout=WAIT)
        self.addCleanup(c.close)
        self.assertEqual(c.call("ping"), "pong")
        self.node._conns[0].shutdown(2)  # the node restarts, say
        wait_until(lambda: self.node.closed_count == 1, what="the fake node to close")
        self.assertEqual(c.call("ping"), "pong")
        self.assertEqual(self.node.connections, 2)


class ProtocolErrorsTest(unittest.TestCase):
    def test_error_responses(self):
        def handler(req, send):
            if req["method"] == "unreadable":
                send({"jsonrpc": "2.0", "id": None,
                      "error": {"code": -32700, "message": "parse error: x", "data": {"kind": "parse_error"}}})
                return FakeNode.NO_REPLY
            send({"jsonrpc": "2.0", "id": req["id"],
                  "error": {"code": 1002, "message": "access denied", "data": {"kind": "access_denied"}}})
            return FakeNode.NO_REPLY

        node = FakeNode(handler)
        self.addCleanup(node.stop)
        c = enigma.Client(node.endpoint, timeout=WAIT)
        self.addCleanup(c.close)
        with self.assertRaises(enigma.Error) as cm:
            c.load(KEY_A)
        self.assertEqual((cm.exception.code, cm.exception.kind, str(cm.exception)), (1002, "access_denied", "access denied"))
        with self.assertRaises(enigma.Error) as cm:
            c.call("unreadable")
        self.assertEqual(cm.exception.kind, "parse_error")

    def test_tcp_endpoint(self):
        node = FakeNode(lambda req, send: {"type": "int", "value": 24}, tcp=True)
        self.addCleanup(node.stop)
        with enigma.Client(node.endpoint, timeout=WAIT) as c:
            self.assertEqual(c.load(KEY_A), 24)

    def test_unreachable_node_names_the_socket(self):
        path = os.path.join(tempfile.gettempdir(), "no-such-enigma-dir", "enigma.sock")
        c = enigma.Client(path)
        with self.assertRaises(enigma.Error) as cm:
            c.status()
        self.assertEqual((cm.exception.kind, cm.exception.code), ("unavailable", 1011))
        self.assertIn(path, str(cm.exception))
        with self.assertRaises(enigma.Error) as cm:
            enigma.connect("127.0.0.1:notaport")
        self.assertEqual(cm.exception.kind, "unavailable")

    def test_nan_is_refused_before_connecting(self):
        c = enigma.Client(os.path.join(tempfile.gettempdir(), "no-such-enigma-dir", "enigma.sock"))
        with self.assertRaises(enigma.Error) as cm:
            c.store([1.0, float("nan")])
        self.assertEqual(cm.exception.kind, "out_of_range")
        with self.assertRaises(enigma.Error) as cm:
            c.call("store", data=float("inf"))
        self.assertEqual(cm.exception.kind, "out_of_range")


class DefaultEndpointTest(unittest.TestCase):
    def test_resolution_order(self):
        with tempfile.TemporaryDirectory() as home:
            with mock.patch.dict(os.environ, {"ENIGMA_HOME": home}):
                os.environ.pop("ENIGMA_SOCKET", None)
                self.assertEqual(enigma.default_endpoint(), os.path.join(home, "enigma.sock"))
                devnet = os.path.join(home, "devnet", "node0", "enigma.sock")
                os.makedirs(os.path.dirname(devnet))
                open(devnet, "w").close()
                self.assertEqual(enigma.default_endpoint(), devnet)
                os.environ["ENIGMA_SOCKET"] = "/x/enigma.sock"
                self.assertEqual(enigma.default_endpoint(), "/x/enigma.sock")
                self.assertEqual(enigma.Client().endpoint, "/x/enigma.sock")
            with mock.patch.dict(os.environ, {"HOME": home}):
                os.environ.pop("ENIGMA_HOME", None)
                os.environ.pop("ENIGMA_SOCKET", None)
                self.assertEqual(enigma.default_endpoint(), os.path.join(home, ".enigma", "enigma.sock"))

    def test_module_functions_follow_the_default_endpoint(self):
        a = FakeNode(lambda req, send: "node a")
        b = FakeNode(lambda req, send: "node b")
        self.addCleanup(a.stop)
        self.addCleanup(b.stop)
        self.addCleanup(enigma.set_default_client, None)
        with mock.patch.dict(os.environ, {"ENIGMA_SOCKET": a.endpoint}):
            self.assertEqual(enigma.get_pubkey(), "node a")
            os.environ["ENIGMA_SOCKET"] = b.endpoint
            self.assertEqual(enigma.get_pubkey(), "node b")
            enigma.set_default_client(a.endpoint)  # pinned: the environment no longer matters
            self.assertEqual(enigma.get_pubkey(), "node a")
            enigma.set_default_client(None)
            self.assertEqual(enigma.get_pubkey(), "node b")
        enigma.default_client().close()


if __name__ == "__main__":
    unittest.main()
