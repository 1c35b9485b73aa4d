"""Issue 15 end to end on a real devnet of 3 nodes (``$ENIGMA_BIN devnet``): numbers are stored at a
public decimal scale, so decimal data set by hand (integers, one-decimal values around 1.4, 10^6 plus
small spreads, values with 9 decimals under ``decimals=9``) gives mean / var / std / dot results that
match the exact rational values from ``fractions`` within 1e-12; ``exact=True`` refuses what the
scale cannot hold; a key stored at the old binary scale 2^-20 still loads and computes a mean, and
mixing it with a decimal key is refused with the fix; keys at two decimal scales compute together,
rescaled exactly inside the MPC, and a value beyond the finer scale's range is the clear error."""

import math
import os
import sys
import unittest
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _helpers import Devnet

import enigma

ENIGMA_BIN = os.environ.get("ENIGMA_BIN")


def exact_stats(values):
    """(mean, var, std) as exact Fractions (std as a float from the exact var) of the decimal texts."""
    xs = [Fraction(repr(v)) for v in values]
    n = len(xs)
    m = sum(xs) / n
    var = sum((x - m) ** 2 for x in xs) / n
    return m, var, math.sqrt(var)


def rel(got, want, scale=0.0):
    want = float(want)
    return abs(got - want) / max(abs(want), scale) if max(abs(want), scale) > 0 else abs(got - want)


@unittest.skipUnless(ENIGMA_BIN, "set ENIGMA_BIN to the enigma node binary to run the devnet tests")
class DecimalTest(unittest.TestCase):
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

    def check(self, values, decimals=None, tol=1e-12):
        key = self.client.store(values, decimals=decimals)
        m, var, std = exact_stats(values)
        mag = float(sum(abs(Fraction(repr(v))) for v in values) / len(values))
        got_m = self.client.stats.mean(key)[0]
        got_v = self.client.stats.var(key)[0]
        got_s = self.client.stats.std(key)[0]
        self.assertLessEqual(rel(got_m, m, mag), tol, "mean %r vs %s" % (got_m, float(m)))
        self.assertLessEqual(rel(got_v, var), tol, "var %r vs %s" % (got_v, float(var)))
        self.assertLessEqual(rel(got_s, std), tol, "std %r vs %s" % (got_s, std))
        return key

    def test_integers(self):
        self.check([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9])

    def test_one_decimal_values_around_1_4(self):
        vals = [[1.3, 1.5, 1.7, 1.2, 1.4, 1.6][i % 6] for i in range(600)]
        key = self.check(vals)
        # loads back exactly, and numpy's own float64 error is the only one left
        self.assertEqual(self.client.load(key), vals)

    def test_a_large_offset_with_a_small_spread(self):
        vals = [1_000_000 + d for d in (0.001, 0.002, 0.0015, 0.0005, 0.003, 0.0025, 0.001)]
        self.check(vals)

    def test_nine_decimals(self):
        vals = [0.123456789, 0.123456788, 0.123456787, 0.000000001, 0.5]
        key = self.check(vals, decimals=9)
        self.assertEqual(self.client.load(key), vals)
        # at the default 6 decimals the same data is rounded (and says so with exact=True)
        with self.assertRaises(enigma.Error) as cm:
            self.client.store(vals, exact=True)
        self.assertEqual(cm.exception.kind, "out_of_range")
        self.assertIn("more decimals", str(cm.exception))
        rounded = self.client.load(self.client.store(vals))
        self.assertEqual(rounded, [0.123457, 0.123457, 0.123457, 0.0, 0.5])

    def test_dot_of_decimals_is_exact(self):
        a = [0.1, 0.2, 0.3]
        b = [1.5, 2.25, -0.75]
        ka, kb = self.client.store(a), self.client.store(b)
        got = self.client.linalg.dot(ka, kb)
        want = sum(Fraction(repr(x)) * Fraction(repr(y)) for x, y in zip(a, b))
        self.assertEqual(got, float(want))

    def test_the_old_binary_scale_still_loads_and_computes(self):
        key = self.client.store([0.1, 0.2, 0.7], decimals="binary")
        self.assertEqual(self.client.load(key), [0.1, 0.2, 0.7])  # shortest decimals at 2^-20
        got = self.client.stats.mean(key)[0]
        self.assertLess(abs(got - 1.0 / 3.0), 2e-6)  # the binary approximation, as before
        # mixing it with a decimal key is refused with the reason and the fix
        other = self.client.store([1.0, 2.0])
        with self.assertRaises(enigma.Error) as cm:
            self.client.stats.mean(key, other)
        self.assertEqual(cm.exception.kind, "unsupported")
        self.assertIn("different scales", str(cm.exception))
        self.assertIn("store it again", str(cm.exception))

    def test_keys_at_two_decimal_scales_compute_together_exactly(self):
        a = [12.34, -5.5, 100.01, 7.0, 3.25, -0.07]  # 2 decimals
        b = [1.000001, 0.999999, 1.5, 0.25, 2.123456, 1.0]  # 6 decimals
        ka, kb = self.client.store(a, decimals=2), self.client.store(b)
        fa, fb = [Fraction(repr(v)) for v in a], [Fraction(repr(v)) for v in b]
        both = fa + fb
        m = sum(both) / len(both)
        var = sum((x - m) ** 2 for x in both) / len(both)
        mag = float(sum(abs(x) for x in both) / len(both))
        self.assertLessEqual(rel(self.client.stats.mean(ka, kb)[0], m, mag), 1e-12)
        self.assertLessEqual(rel(self.client.stats.var(ka, kb)[0], var), 1e-12)
        self.assertLessEqual(rel(self.client.stats.std(ka, kb)[0], math.sqrt(var)), 1e-12)
        # max over arrays is a new key, at the finer scale
        self.assertEqual(self.client.load(self.client.stats.max(ka, kb)), float(max(both)))
        # the dot product is exact at 10^-8 (no rescaling: the scales multiply)
        self.assertEqual(self.client.linalg.dot(ka, kb), float(sum(x * y for x, y in zip(fa, fb))))
        # linregress of b on a, against the exact least squares
        n = len(fa)
        mx, my = sum(fa) / n, sum(fb) / n
        sxx = sum((x - mx) ** 2 for x in fa)
        sxy = sum((x - mx) * (y - my) for x, y in zip(fa, fb))
        syy = sum((y - my) ** 2 for y in fb)
        slope, intercept, r = self.client.stats.linregress(ka, kb)[:3]
        self.assertLessEqual(rel(slope, sxy / sxx), 1e-9)
        self.assertLessEqual(rel(intercept, my - sxy / sxx * mx, float(abs(my))), 1e-9)
        self.assertLessEqual(abs(r - float(sxy) / math.sqrt(float(sxx * syy))), 1e-9)
        # the median of the twelve: the mean of the two middle values
        s = sorted(both)
        self.assertLessEqual(rel(self.client.stats.median(ka, kb), (s[5] + s[6]) / 2), 1e-15)
        # a stored result is at the finer scale 10^-6 (within t/2 + 1 units of it) and loads so
        km = self.client.stats.mean(ka, kb, store=True)
        self.assertLessEqual(abs(self.client.load(km) - float(m)), 1.5e-6)
        # a value of the coarser key beyond the finer scale's range (|x| < 4.6e12): the clear error
        big = self.client.store([3, 10**13], decimals=0)
        with self.assertRaises(enigma.Error) as cm:
            self.client.stats.mean(big, kb)
        self.assertEqual(cm.exception.kind, "out_of_range")
        self.assertIn("different decimal scales", str(cm.exception))

    def test_a_stored_lstsq_with_an_intercept_at_the_default_scale(self):
        # y = 1.0e7 + 0.75·x + noise at 10^-6; the stored array [intercept, slope] is at 2^-20
        xs = [0.5 * i - 2.0 for i in range(12)]
        ys = [round(1.0e7 + 0.75 * x + (0.0123, -0.0456, 0.0078)[i % 3], 6) for i, x in enumerate(xs)]
        kx = self.client.store([[x] for x in xs])
        ky = self.client.store(ys)
        fx, fy = [Fraction(repr(v)) for v in xs], [Fraction(repr(v)) for v in ys]
        n = len(fx)
        mx, my = sum(fx) / n, sum(fy) / n
        slope = sum((x - mx) * (y - my) for x, y in zip(fx, fy)) / sum((x - mx) ** 2 for x in fx)
        intercept = my - slope * mx
        back = self.client.load(self.client.stats.lstsq(kx, ky, intercept=True, store=True))
        self.assertEqual(len(back), 2)
        # 1e7 within a few units of 2^-20: brought from 10^-6 to 2^-20 inside the MPC
        err = abs(back[0] - float(intercept))
        self.assertLessEqual(err, 8 * 2**-20, "stored intercept %r vs %s" % (back[0], float(intercept)))
        self.assertLessEqual(abs(back[1] - float(slope)), 4 * 2**-20, "stored slope")

    def test_bad_decimals_are_clear_errors(self):
        for bad in (13, -1, "six", 1.5, True):
            with self.assertRaises(enigma.Error) as cm:
                self.client.store([1.0], decimals=bad)
            self.assertEqual(cm.exception.kind, "invalid_params", bad)
        with self.assertRaises(enigma.Error) as cm:
            self.client.store([5e9], decimals=9)  # beyond 2^62 / 10^9
        self.assertEqual(cm.exception.kind, "out_of_range")


if __name__ == "__main__":
    unittest.main()
