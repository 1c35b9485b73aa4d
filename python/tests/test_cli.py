"""``python -m enigma`` (the CLI in Python) against a real devnet (``$ENIGMA_BIN devnet``): subcommands
with the Rust CLI's names and arguments, JSON output, and bad input (an unknown key, a wrong arity, a
malformed CSV) with a clear message and a non-zero exit. Also the Rust CLI's progress bar under a
pseudo-terminal (``pty``), and its absence when the output is not a terminal.

The method coverage (every API method reachable with its parameters) is checked against the API
table in tests/clients.rs, with a stand-in node."""

import json
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # finds _helpers however the tests are run
from _helpers import Devnet

ENIGMA_BIN = os.environ.get("ENIGMA_BIN")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CALL_TIMEOUT = 180


def py_cli(sock, *args, stdin=None):
    env = dict(os.environ, PYTHONPATH=PY)
    env.pop("ENIGMA_BIN", None)
    env["PATH"] = "/nonexistent"  # no binary: the Python CLI stands alone
    return subprocess.run([sys.executable, "-m", "enigma", "--socket", sock] + list(args), env=env,
                          capture_output=True, text=True, timeout=CALL_TIMEOUT, input=stdin)


def under_pty(argv, deadline):
    """Runs ``argv`` with stdin, stdout and stderr on a pseudo-terminal; returns (exit code, output)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    out = b""
    end = time.monotonic() + deadline
    while True:
        left = end - time.monotonic()
        if left <= 0:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError("%s did not finish within %ss: %r" % (argv, deadline, out[-2000:]))
        r, _, _ = select.select([fd], [], [], min(left, 1.0))
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


@unittest.skipUnless(ENIGMA_BIN, "set ENIGMA_BIN to the enigma node binary to run the devnet tests")
class PythonCliOnADevnet(unittest.TestCase):
    net = None

    @classmethod
    def setUpClass(cls):
        cls.net = Devnet(ENIGMA_BIN, nodes=5)
        try:
            cls.net.start()
        except BaseException:
            cls.net.stop(keep=True)
            raise
        cls.sock = cls.net.socket(0)

    @classmethod
    def tearDownClass(cls):
        if cls.net is not None:
            cls.net.stop()

    def ok(self, *args, stdin=None):
        r = py_cli(self.sock, *args, stdin=stdin)
        self.assertEqual(r.returncode, 0, "python -m enigma %s: %s" % (" ".join(args), r.stderr))
        return json.loads(r.stdout)

    def fails(self, code, want, *args):
        r = py_cli(self.sock, *args)
        self.assertEqual(r.returncode, code, "python -m enigma %s: %s %s" % (" ".join(args), r.stdout, r.stderr))
        self.assertIn(want, r.stderr)
        self.assertEqual(r.stdout, "", "nothing on stdout for a failure")
        return r

    def test_subcommands_with_json_output(self):
        status = self.ok("status")
        self.assertEqual(len(status["peers"]), 4)
        key = self.ok("store", "[1, 2, 3, 6]")
        self.assertRegex(key, HEX64)
        self.assertEqual(self.ok("load", key), [1, 2, 3, 6])
        self.assertEqual(self.ok("stats", "mean", key), [3.0])
        other = self.ok("store", "[5, 7]")
        self.assertEqual(self.ok("stats", "max", key, other, "--store") is not None, True)
        self.assertEqual(len(self.ok("stats", "linregress", key, self.ok("store", "[2, 4, 6, 12]"))), 5)
        self.assertIn(key, [k["key"] for k in self.ok("custody-keys")])
        self.assertEqual(self.ok("manifest", key)["owner"], status["pubkey"])
        r = py_cli(self.sock, "stats", "mean", key, "--format", "text")
        self.assertEqual((r.returncode, r.stdout), (0, "3.0\n"), r.stderr)
        # the method's own spelling works too
        self.assertRegex(self.ok("get_address"), r"^1")

    def test_csv_columns_and_load_out(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.csv")
            with open(path, "w") as f:
                f.write("age,height\n30,1.8\n40,1.6\n50,1.7\n")
            keys = self.ok("store", "--csv", path, "--columns", "age,height")
            self.assertEqual(sorted(keys), ["age", "height"])
            self.assertEqual(self.ok("load", keys["age"]), [30, 40, 50])
            out = os.path.join(d, "age.json")
            self.ok("load", keys["age"], "--out", out)
            with open(out) as f:
                self.assertEqual(json.load(f), [30, 40, 50])
            with open(path, "w") as f:
                f.write("age,height\n30,1.8\n40,x\n")
            before = len(self.ok("custody-keys"))
            self.fails(2, "row 3, column 'height'", "store", "--csv", path, "--columns", "age,height")
            self.fails(2, "no column 'weight'", "store", "--csv", path, "--column", "weight")
            self.assertEqual(len(self.ok("custody-keys")), before, "a bad file stores nothing")

    def test_bad_input_is_a_clear_error_and_a_non_zero_exit(self):
        self.fails(1, "unknown_key", "stats", "mean", "00" * 32)
        self.fails(1, "unknown_key", "load", "00" * 32)
        self.fails(2, "required", "stats", "linregress", "ab")  # wrong arity
        self.fails(2, "the following arguments are required", "linalg", "dot", "ab")
        self.fails(2, "unrecognized arguments", "linalg", "inv", "ab", "cd")
        self.fails(2, "invalid choice", "no-such-command")
        self.fails(2, "--bins needs --range", "stats", "histogram", "ab", "--bins", "4")

    def test_set_privkey_reads_stdin(self):
        r = py_cli(self.sock, "gen-key")
        self.assertEqual(r.returncode, 0, r.stderr)
        pair = json.loads(r.stdout)
        priv, pub = pair["private_key"], pair["public_key"]
        self.assertIs(self.ok("set-privkey", "-", stdin=priv + "\n"), True)
        self.assertEqual(self.ok("get-pubkey"), pub)

    def test_the_rust_cli_set_privkey_prompts_without_echo_on_a_terminal(self):
        pair = self.ok("gen-key")
        priv, pub = pair["private_key"], pair["public_key"]
        pid, fd = pty.fork()
        if pid == 0:  # the child
            try:
                os.execv(ENIGMA_BIN, [ENIGMA_BIN, "set-privkey", "--socket", self.sock])
            finally:
                os._exit(127)
        out = b""
        end = time.monotonic() + 60
        typed = False
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 1.0)
            if not r:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if not typed and b"not echoed" in out:
                os.write(fd, (priv + "\n").encode())
                typed = True
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        text = out.decode(errors="replace")
        self.assertTrue(typed, "no prompt: %r" % text)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, text)
        self.assertNotIn(priv, text, "the key was echoed")
        self.assertIn("true", text)
        self.assertEqual(self.ok("get-pubkey"), pub)

    def test_the_rust_cli_progress_bar_on_a_terminal_only(self):
        # a computation long enough to report progress: a 6x6 inverse (the Python client's progress test)
        n = 6
        m = [[(4.0 if i == j else 1.0 / (1 + i + j)) for j in range(n)] for i in range(n)]
        key = self.ok("store", json.dumps(m))
        argv = [ENIGMA_BIN, "linalg", "inv", key, "--socket", self.sock]
        code, out = under_pty(argv, CALL_TIMEOUT)
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"\[[=> ]{40}\] \d+/\d+", "the indicatif bar (template [{bar:40}] pos/len) was drawn")
        # stdout and stderr not terminals: no bar, only the JSON result
        r = subprocess.run(argv, capture_output=True, text=True, timeout=CALL_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotRegex(r.stderr, r"\[[=> ]{40}\]")
        self.assertNotIn("\x1b[", r.stderr, "no terminal control sequences either")
        self.assertEqual(len(json.loads(r.stdout)), n)


if __name__ == "__main__":
    unittest.main()
