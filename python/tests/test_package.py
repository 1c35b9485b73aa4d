"""Package polish (issue 14, item 7): type hints and ``py.typed``, a docstring with an example on every
public function, and ``python -m enigma`` as a CLI that needs no ``enigma`` binary."""

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


def _run_main(args):
    env = dict(os.environ)
    env.pop("ENIGMA_BIN", None)
    env["PATH"] = "/nonexistent"  # no enigma binary anywhere
    env["PYTHONPATH"] = os.path.dirname(PKG)
    return subprocess.run([sys.executable, "-m", "enigma"] + args, env=env, capture_output=True, text=True,
                          timeout=60)


class MainIsACli(unittest.TestCase):
    """``python -m enigma`` works without the binary (tests/clients.rs and test_cli.py run it on nodes)."""

    def test_help_lists_the_api_subcommands(self):
        r = _run_main(["--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("gen-key", "store", "load", "pair", "stats", "linalg", "custody-keys"):
            self.assertIn(name, r.stdout)
        r = _run_main(["stats", "--help"])
        for name in ("mean", "linregress", "ttest_1samp", "histogram", "lstsq"):
            self.assertIn(name, r.stdout)

    def test_no_node_is_a_clear_error(self):
        with tempfile.TemporaryDirectory() as d:
            r = _run_main(["--socket", os.path.join(d, "none.sock"), "status"])
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("none.sock", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_usage_errors_exit_2(self):
        self.assertEqual(_run_main(["no-such-command"]).returncode, 2)
        self.assertEqual(_run_main(["linalg", "inv"]).returncode, 2)


if __name__ == "__main__":
    unittest.main()
