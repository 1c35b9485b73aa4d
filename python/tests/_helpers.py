"""Test helpers: the package from this source tree, a scripted fake node, and a real devnet.

``FakeNode`` is a real JSON-RPC server on a real socket (Unix or TCP) whose answers a test scripts, so
client behaviour the node cannot produce on demand (progress, silence, a dropped connection) is tested
without mocking the client. ``Devnet`` runs ``$ENIGMA_BIN devnet --nodes N --data-dir <tmp> --fresh``,
waits for its ``ready`` line and ``nodeN socket <path>`` lines (with a deadline), and stops it.
"""

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

# the package under test is the one next to these tests, installed or not
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WAIT = 10.0  # seconds: the deadline of every wait in the fake-node tests


class FakeNode:
    """A JSON-RPC server in a thread; ``handler(request, send)`` answers each request.

    ``handler`` gets the parsed request and ``send(obj)``; it returns the result to send back (sent as
    a response to the request's id), or ``FakeNode.NO_REPLY``. Events are recorded: ``requests``,
    ``connections`` (count) and ``closed`` (set when a client closes its connection).
    """

    NO_REPLY = object()

    def __init__(self, handler, tcp=False):
        self.handler = handler
        self.requests = []
        self.connections = 0
        self.closed = threading.Event()
        self.closed_count = 0
        self._conns = []
        self._dir = tempfile.mkdtemp(prefix="enigma-fake-")
        if tcp:
            self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.listener.bind(("127.0.0.1", 0))
            self.endpoint = "127.0.0.1:%d" % self.listener.getsockname()[1]
        else:
            self.endpoint = os.path.join(self._dir, "enigma.sock")
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(self.endpoint)
        self.listener.listen(8)
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self._stopping:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        lock = threading.Lock()

        def send(obj):
            with lock:
                conn.sendall(json.dumps(obj).encode() + b"\n")

        reader = conn.makefile("rb")
        try:
            for line in reader:
                req = json.loads(line)
                self.requests.append(req)
                result = self.handler(req, send)
                if result is not FakeNode.NO_REPLY:
                    send({"jsonrpc": "2.0", "id": req["id"], "result": result})
        except (OSError, ValueError):
            pass
        finally:
            self.closed_count += 1
            self.closed.set()
            try:
                conn.close()
            except OSError:
                pass

    def stop(self):
        self._stopping = True
        self.listener.close()
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        shutil.rmtree(self._dir, ignore_errors=True)


def wait_until(predicate, timeout=WAIT, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %gs waiting for %s" % (timeout, what))
        time.sleep(0.01)


def _die_with_parent():
    """Linux: the devnet gets SIGTERM if the test process dies (best effort)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Devnet:
    """``enigma devnet`` as a background process."""

    START_DEADLINE = 90.0
    STOP_DEADLINE = 20.0

    def __init__(self, binary, nodes=5):
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            raise RuntimeError("ENIGMA_BIN=%s is not an executable file" % binary)
        self.binary = binary
        self.nodes = nodes
        self.root = tempfile.mkdtemp(prefix="enigma-py-")  # short: Unix socket paths are limited
        self.sockets = {}
        self.output = []
        self.proc = None
        self._lines = queue.Queue()

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "devnet", "--nodes", str(self.nodes), "--data-dir", self.root, "--fresh"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_die_with_parent,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.START_DEADLINE
        ready = False
        while len(self.sockets) < self.nodes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail("the devnet was not ready within %gs" % self.START_DEADLINE)
            try:
                line = self._lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None and self._lines.empty():
                    self._fail("the devnet exited with status %s before it was ready" % self.proc.returncode)
                continue
            if line is None:
                try:
                    status = self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    status = "still running"
                self._fail("the devnet closed its output before it was ready (exit status %s)" % status)
            if line.startswith("ready"):
                ready = True
            parts = line.split(" ", 2)
            if ready and len(parts) == 3 and parts[0].startswith("node") and parts[1] == "socket":
                self.sockets[int(parts[0][4:])] = parts[2]
        return self

    def socket(self, i):
        return self.sockets[i]

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def _fail(self, why):
        logs = ", ".join(
            os.path.join(self.root, "node%d" % i, "node.log") for i in range(self.nodes)
        )
        out = "\n".join(self.output[-40:])
        self.stop(keep=True)
        raise RuntimeError("%s\n--- devnet output ---\n%s\n--- node logs (kept): %s" % (why, out, logs))

    def stop(self, keep=False):
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                proc.kill()  # its nodes get SIGTERM through their parent-death signal
                proc.wait(timeout=self.STOP_DEADLINE)
        if proc is not None:
            self._reader.join(timeout=self.STOP_DEADLINE)  # ends at the devnet's end of output
            if not self._reader.is_alive():
                proc.stdout.close()
        if not keep and not os.environ.get("ENIGMA_KEEP_DEVNET"):
            shutil.rmtree(self.root, ignore_errors=True)
