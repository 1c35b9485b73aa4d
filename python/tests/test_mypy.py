"""The package type-checks with mypy (its configuration: python/pyproject.toml). mypy comes from
PyPI into the venv of scripts/install.sh; without it the test prints ``SKIPPED: …`` and skips."""

import os
import subprocess
import sys
import unittest

PYTHON_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


class Mypy(unittest.TestCase):
    def test_the_package_type_checks(self):
        try:
            import mypy  # noqa: F401
        except ImportError:
            print("SKIPPED: mypy is not installed (scripts/install.sh installs it into .venv)")
            self.skipTest("SKIPPED: mypy is not installed")
        r = subprocess.run(
            [sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", "--no-incremental", "enigma"],
            cwd=PYTHON_DIR, capture_output=True, text=True, timeout=600,
        )
        self.assertEqual(r.returncode, 0, "mypy reports:\n" + r.stdout + r.stderr)
        self.assertIn("Success", r.stdout)


if __name__ == "__main__":
    unittest.main()
