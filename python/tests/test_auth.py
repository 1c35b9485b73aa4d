"""The TCP client API's credential from Python, against real node processes (``$ENIGMA_BIN``) on
127.0.0.1: the token handshake (none, wrong, ``token=``, ``cookie=``, the environment, the default
cookie), TLS pinned to the certificate fingerprint (right, wrong, missing), and the client's refusal to
send a token in the clear off loopback. Every wait has a deadline."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # finds _helpers however the tests are run
import _helpers  # noqa: F401  (puts the package from this tree first on the path)

import enigma
from enigma.client import _plain_token_allowed, parse_fingerprint

ENIGMA_BIN = os.environ.get("ENIGMA_BIN")
START_DEADLINE = 30.0
CLEAN_ENV = {"ENIGMA_RPC_TOKEN": "", "ENIGMA_RPC_COOKIE": "", "ENIGMA_RPC_FINGERPRINT": ""}


class Node:
    """One `enigma 0 --rpc 127.0.0.1:0 …` process with its own data directory."""

    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="enigma-pa-")
        self.log = open(os.path.join(self.dir, "node.log"), "wb")
        args = [ENIGMA_BIN, "0", "--data-dir", self.dir, "--listen-ip", "127.0.0.1", "--rpc", "127.0.0.1:0"]
        self.proc = subprocess.Popen(
            args + list(extra), stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_DEADLINE
        path = os.path.join(self.dir, "node.json")
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("the node exited with %s: %s" % (self.proc.returncode, self._log()))
            try:
                with open(path) as f:
                    self.info = json.load(f)
                break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("no node.json within %gs: %s" % (START_DEADLINE, self._log()))
            time.sleep(0.02)
        self.endpoint = self.info["rpc"]
        self.cookie = os.path.join(self.dir, "rpc.cookie")
        self.socket = os.path.join(self.dir, "enigma.sock")

    def _log(self):
        with open(os.path.join(self.dir, "node.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-2000:]

    def token(self):
        with open(self.cookie) as f:
            return f.read().strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class PureChecks(unittest.TestCase):
    def test_fingerprint_spellings(self):
        fp = "ab" * 32
        self.assertEqual(parse_fingerprint(fp), bytes([0xAB]) * 32)
        self.assertEqual(parse_fingerprint(":".join(["AB"] * 32)), bytes([0xAB]) * 32)
        self.assertEqual(parse_fingerprint("sha256:" + fp + "\n"), bytes([0xAB]) * 32)
        for bad in ("", "zz", fp[:62]):
            with self.assertRaises(enigma.Error) as cm:
                parse_fingerprint(bad)
            self.assertEqual(cm.exception.kind, "unauthorized")

    def test_a_token_goes_in_the_clear_only_to_loopback(self):
        _plain_token_allowed(["127.0.0.1", "::1", "127.8.9.10", "::ffff:127.0.0.1"])
        with self.assertRaises(enigma.Error) as cm:
            _plain_token_allowed(["127.0.0.1", "192.0.2.1"])
        self.assertEqual(cm.exception.kind, "unauthorized")
        self.assertIn("in the clear to 192.0.2.1", cm.exception.message)

    def test_the_error_code(self):
        self.assertEqual(enigma.CODES["unauthorized"], 1013)


@unittest.skipUnless(ENIGMA_BIN, "set ENIGMA_BIN to the enigma node binary to run the node tests")
class TokenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node()
        with enigma.Client(cls.node.socket, timeout=15) as c:
            cls.pubkey = c.get_pubkey()

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def assertUnauthorized(self, client, contains=""):
        with self.assertRaises(enigma.Error) as cm:
            client.get_pubkey()
        client.close()
        self.assertEqual(cm.exception.kind, "unauthorized", str(cm.exception))
        self.assertEqual(cm.exception.code, 1013)
        self.assertIn(contains, cm.exception.message)

    def test_no_token_and_a_wrong_token_are_refused(self):
        home = tempfile.mkdtemp(prefix="enigma-ph-")  # no default cookie there
        try:
            with mock.patch.dict(os.environ, dict(CLEAN_ENV, ENIGMA_HOME=home, ENIGMA_DATA_DIR="")):
                self.assertUnauthorized(enigma.Client(self.node.endpoint, timeout=15), "the first request")
                self.assertUnauthorized(enigma.Client(self.node.endpoint, timeout=15, token="0" * 64), "wrong token")
                with mock.patch.dict(os.environ, {"ENIGMA_RPC_TOKEN": "1" * 64}):
                    self.assertUnauthorized(enigma.Client(self.node.endpoint, timeout=15), "wrong token")
        finally:
            shutil.rmtree(home, ignore_errors=True)
        with enigma.Client(self.node.socket, timeout=15) as c:
            self.assertEqual(c.get_pubkey(), self.pubkey, "nothing ran")

    def test_the_cookie_works_every_way(self):
        with mock.patch.dict(os.environ, CLEAN_ENV):
            for kwargs in ({"token": self.node.token()}, {"cookie": self.node.cookie}):
                with enigma.Client(self.node.endpoint, timeout=15, **kwargs) as c:
                    self.assertEqual(c.get_pubkey(), self.pubkey)
                    self.assertEqual(c.get_address()[0], "1", "the connection stays usable")
            with mock.patch.dict(os.environ, {"ENIGMA_RPC_COOKIE": self.node.cookie}):
                with enigma.Client(self.node.endpoint, timeout=15) as c:
                    self.assertEqual(c.get_pubkey(), self.pubkey)
            with mock.patch.dict(os.environ, {"ENIGMA_DATA_DIR": self.node.dir}):
                with enigma.Client(self.node.endpoint, timeout=15) as c:  # the default <data-dir>/rpc.cookie
                    self.assertEqual(c.get_pubkey(), self.pubkey)

    def test_an_unreadable_cookie_is_a_clear_error(self):
        c = enigma.Client(self.node.endpoint, timeout=15, cookie=os.path.join(self.node.dir, "nope"))
        self.assertUnauthorized(c, "cannot read the node's token")


@unittest.skipUnless(ENIGMA_BIN, "set ENIGMA_BIN to the enigma node binary to run the node tests")
class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node("--rpc-tls")
        cls.fp = cls.node.info["rpc_tls_fingerprint"]
        with enigma.Client(cls.node.socket, timeout=15) as c:
            cls.pubkey = c.get_pubkey()

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def test_the_pinned_fingerprint_works(self):
        self.assertRegex(self.fp, r"^[0-9a-f]{64}$")
        with mock.patch.dict(os.environ, CLEAN_ENV):
            with enigma.Client(self.node.endpoint, timeout=15, cookie=self.node.cookie, fingerprint=self.fp) as c:
                self.assertEqual(c.get_pubkey(), self.pubkey)
                self.assertEqual(c.get_pubkey(), self.pubkey, "the idle TLS connection is reused")
            env = {"ENIGMA_RPC_COOKIE": self.node.cookie, "ENIGMA_RPC_FINGERPRINT": self.fp.upper()}
            with mock.patch.dict(os.environ, env):
                with enigma.Client(self.node.endpoint, timeout=15) as c:
                    self.assertEqual(c.get_pubkey(), self.pubkey)

    def test_a_wrong_fingerprint_is_refused_by_the_client(self):
        c = enigma.Client(self.node.endpoint, timeout=15, token=self.node.token(), fingerprint="00" * 32)
        with self.assertRaises(enigma.Error) as cm:
            c.get_pubkey()
        c.close()
        self.assertEqual(cm.exception.kind, "unauthorized")
        self.assertIn("fingerprint %s, not the pinned" % self.fp, cm.exception.message)

    def test_plain_tcp_to_the_tls_port_is_told_so(self):
        with mock.patch.dict(os.environ, CLEAN_ENV):
            c = enigma.Client(self.node.endpoint, timeout=15, token=self.node.token())
            with self.assertRaises(enigma.Error) as cm:
                c.get_pubkey()
            c.close()
        self.assertEqual(cm.exception.kind, "unauthorized")
        self.assertIn("speaks TLS", cm.exception.message)


@unittest.skipUnless(ENIGMA_BIN, "set ENIGMA_BIN to the enigma node binary to run the node tests")
class DashboardOverTls(unittest.TestCase):
    """``--dashboard 0.0.0.0:0 --dashboard-tls``: HTTPS with the node's pinned certificate, and the token."""

    def get(self, port, path, token=None, pin=None):
        import hashlib
        import socket
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # self-signed: pinned by its SHA-256 below instead
        with socket.create_connection(("127.0.0.1", port), timeout=15) as raw:
            with ctx.wrap_socket(raw) as s:
                der = s.getpeercert(binary_form=True)
                self.assertEqual(hashlib.sha256(der).hexdigest(), pin, "the certificate node.json names")
                auth = "Authorization: Bearer %s\r\n" % token if token else ""
                s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n" % (path, auth)).encode())
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        head, _, body = data.decode().partition("\r\n\r\n")
        return head.split("\r\n")[0], body

    def test_https_with_the_token(self):
        node = Node("--dashboard", "0.0.0.0:0", "--dashboard-tls")
        try:
            port = int(node.info["metrics"].rsplit(":", 1)[1])
            pin = node.info["metrics_tls_fingerprint"]
            self.assertRegex(pin or "", r"^[0-9a-f]{64}$")
            self.assertEqual(self.get(port, "/healthz", pin=pin), ("HTTP/1.1 200 OK", "ok\n"))
            status, body = self.get(port, "/metrics", pin=pin)
            self.assertEqual(status, "HTTP/1.1 401 Unauthorized")
            self.assertNotIn("enigma_peers", body)
            status, body = self.get(port, "/metrics", token=node.token(), pin=pin)
            self.assertEqual(status, "HTTP/1.1 200 OK")
            self.assertIn("enigma_peers", body)
            # the same certificate as the TLS client API (--rpc-tls uses it too)
            self.assertTrue(os.path.exists(os.path.join(node.dir, "rpc-tls.crt")))
            # plain HTTP on the TLS port gets no page
            import socket

            with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                reply = b""
                try:
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        reply += chunk
                except OSError:
                    pass
            self.assertNotIn(b"200 OK", reply)
        finally:
            node.stop()


if __name__ == "__main__":
    unittest.main()
