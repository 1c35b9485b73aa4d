"""Package polish (issue 14, item 7): type hints and ``py.typed``, a docstring with an example on every
public function, and ``python -m enigma`` as a front for the ``enigma`` binary."""

import inspect
import os
import subprocess
import sys
import tempfile
import unittest

import enigma
from enigma import client as client_mod

PKG = os.path.dirname(enigma.__file__)


def _public_functions():
    """(name, function) for every public function of the package and method of its client classes."""
    seen = []
    for name in enigma.__all__:
        obj = getattr(enigma, name)
        if inspect.isfunction(obj):
            seen.append(("enigma." + name, obj))
    for cls in (client_mod.Client, client_mod.Stats, client_mod.Linalg):
        for name, obj in vars(cls).items():
            if inspect.isfunction(obj) and not name.startswith("_"):
                seen.append((cls.__name__ + "." + name, obj))
    return seen



class Polish(unittest.TestCase):
    def test_py_typed_ships(self):
        self.assertTrue(os.path.isfile(os.path.join(PKG, "py.typed")), "py.typed is missing from " + PKG)

    def test_every_public_function_has_type_hints(self):
        missing = []
        for name, fn in _public_functions():
            sig = inspect.signature(fn)
            if sig.return_annotation is inspect.Signature.empty:
                missing.append(name + " -> ?")
            for p in sig.parameters.values():
                if p.name != "self" and p.annotation is inspect.Parameter.empty:
                    missing.append("%s(%s)" % (name, p.name))
        self.assertEqual(missing, [], "public functions without type hints")

    def test_every_public_function_has_a_docstring_with_an_example(self):
        missing = [n for n, fn in _public_functions() if not fn.__doc__ or "Example::" not in fn.__doc__
                   and not any(line.startswith("        ") for line in fn.__doc__.split("\n"))]
        self.assertEqual(missing, [], "public functions without a docstring example")


class ProgressBar(unittest.TestCase):
    def test_none_without_tqdm(self):
        import builtins
        real = builtins.__import__

        def no_tqdm(name, *a, **k):
            if name == "tqdm":
                raise ImportError("no tqdm")
            return real(name, *a, **k)

        builtins.__import__ = no_tqdm
        try:
            self.assertIsNone(enigma.progress_bar())
        finally:
            builtins.__import__ = real

    def test_a_tqdm_bar_follows_the_notifications(self):
        import types

        class FakeBar:
            def __init__(self, **kw):
                self.total, self.n, self.desc, self.closed, self.refreshed = kw.get("total"), 0, kw["desc"], False, 0

            def set_description(self, d, refresh=True):
                self.desc = d

            def refresh(self):
                self.refreshed += 1

            def close(self):
                self.closed = True

        bars = []
        fake = types.ModuleType("tqdm")
        fake.tqdm = lambda **kw: bars.append(FakeBar(**kw)) or bars[-1]
        saved = sys.modules.get("tqdm")
        sys.modules["tqdm"] = fake
        try:
            update = enigma.progress_bar("inv")
        finally:
            if saved is None:
                del sys.modules["tqdm"]
            else:
                sys.modules["tqdm"] = saved
        update(1, 4, "mul")
        (bar,) = bars
        self.assertEqual((bar.n, bar.total, bar.desc, bar.closed), (1, 4, "inv: mul", False))
        update(4, 4, "open")
        self.assertEqual((bar.n, bar.closed), (4, True))


def _run_main(args, env_bin):
    env = dict(os.environ)
    env.pop("ENIGMA_BIN", None)
    if env_bin is not None:
        env["ENIGMA_BIN"] = env_bin
    env["PATH"] = "/nonexistent"
    return subprocess.run([sys.executable, "-m", "enigma"] + args, env=env, capture_output=True, text=True,
                          timeout=60)


class MainFront(unittest.TestCase):
    def test_runs_the_binary_with_the_same_argv(self):
        with tempfile.TemporaryDirectory() as d:
            fake = os.path.join(d, "enigma")
            with open(fake, "w") as f:
                f.write('#!/bin/sh\necho "argv: $*"\nexit 3\n')
            os.chmod(fake, 0o755)
            r = _run_main(["stats", "mean", "ab", "--format", "text"], fake)
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertEqual(r.stdout, "argv: stats mean ab --format text\n")

    def test_a_missing_binary_is_a_clear_error(self):
        r = _run_main(["status"], None)
        self.assertEqual(r.returncode, 127)
        self.assertIn("no `enigma` on PATH", r.stderr)
        self.assertIn("front for the enigma binary", r.stderr)
        r = _run_main(["status"], "/nonexistent/enigma")
        self.assertEqual(r.returncode, 127)
        self.assertIn("ENIGMA_BIN", r.stderr)

    def test_the_real_binary_when_built(self):
        root = os.path.join(os.path.dirname(__file__), "..", "..", "target")
        real = next((p for p in (os.path.join(root, "release", "enigma"), os.path.join(root, "x86_64-unknown-linux-gnu", "release", "enigma")) if os.access(p, os.X_OK)), "")
        if not os.access(real, os.X_OK):
            self.skipTest("SKIPPED: no target/release/enigma (cargo build --release -p enigma)")
        r = _run_main(["--version"], os.path.abspath(real))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("enigma "), r.stdout)


if __name__ == "__main__":
    unittest.main()
