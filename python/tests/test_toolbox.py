"""Issue 16 end to end on a real devnet of 5 nodes (``$ENIGMA_BIN devnet``): stats.cov, corrcoef,
ttest_1samp / ttest_ind / ttest_rel, lstsq (with stats=True), histogram, median / percentile / quantile through ``enigma.Client`` and the module functions,
compared with numpy/scipy when they are installed and with the textbook definitions (pure Python,
float64) always; plus the compute-grant refusals and the clear errors."""

import math
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _helpers import Devnet

import enigma

try:  # optional: the references are also computed from the definitions below
    import numpy as np
    import scipy.stats as sps
except ImportError:  # pragma: no cover
    np = None
    sps = None

ENIGMA_BIN = os.environ.get("ENIGMA_BIN")
REL = 1e-6


def put(api, data):
    """Stores at the binary scale 2^-20, the grid the references below are computed on (``grid``);
    decimal scales have their own tests (test_decimal.py)."""
    return api.store(data, decimals="binary")


def grid(v):
    """The values as the nodes store them (fixed point, 2^-20)."""
    return [round(x * 2**20) / 2**20 for x in v]


def mean(v):
    return math.fsum(v) / len(v)


def cov(rows, ddof=1):
    n = len(rows[0])
    mu = [mean(r) for r in rows]
    return [
        [math.fsum((a - mu[i]) * (b - mu[j]) for a, b in zip(rows[i], rows[j])) / (n - ddof) for j in range(len(rows))]
        for i in range(len(rows))
    ]


def t1(x, mu0):
    n = len(x)
    m = mean(x)
    s2 = math.fsum((v - m) ** 2 for v in x) / (n - 1)
    return (m - mu0) / math.sqrt(s2 / n)


def tind(a, b):
    ma, mb = mean(a), mean(b)
    ss = math.fsum((v - ma) ** 2 for v in a) + math.fsum((v - mb) ** 2 for v in b)
    sp2 = ss / (len(a) + len(b) - 2)
    return (ma - mb) / math.sqrt(sp2 * (1 / len(a) + 1 / len(b)))


def twelch(a, b):
    """scipy.stats.ttest_ind(a, b, equal_var=False): (t, Welch–Satterthwaite df)."""
    ma, mb = mean(a), mean(b)
    qa = math.fsum((v - ma) ** 2 for v in a) / (len(a) - 1) / len(a)
    qb = math.fsum((v - mb) ** 2 for v in b) / (len(b) - 1) / len(b)
    return (ma - mb) / math.sqrt(qa + qb), (qa + qb) ** 2 / (qa**2 / (len(a) - 1) + qb**2 / (len(b) - 1))


def solve(a, b):
    """Gaussian elimination with partial pivoting (a small dense system)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] for i in range(n)]


def t_sf2(t, df):
    """Two-sided p-value of Student's t with an integer df (Abramowitz & Stegun 26.7.3–4), pure Python."""
    th = math.atan(abs(t) / math.sqrt(df))
    c, s = math.cos(th), math.sin(th)
    if df % 2 == 1:
        acc, term = 0.0, c
        for i in range(1, (df - 1) // 2 + 1):
            acc += term
            term *= c * c * (2 * i) / (2 * i + 1)
        a = 2 / math.pi * (th + (s * acc if df > 1 else 0.0))
    else:
        acc, term = 0.0, 1.0
        for i in range(1, df // 2 + 1):
            acc += term
            term *= c * c * (2 * i - 1) / (2 * i)
        a = s * acc
    return 1.0 - a


def ols(cols, y, intercept):
    """statsmodels OLS(y, [1, X] or X).fit() by the definitions: (params, bse, t, p, R², adj R²)."""
    n = len(y)
    if intercept:
        cols = [[1.0] * n] + cols
    p = len(cols)
    a = [[math.fsum(u * v for u, v in zip(ci, cj)) for cj in cols] for ci in cols]
    inv = [solve(a, [1.0 if i == j else 0.0 for i in range(p)]) for j in range(p)]  # columns of (XᵀX)^-1
    beta = solve(a, [math.fsum(u * v for u, v in zip(ci, y)) for ci in cols])
    rss = math.fsum((y[o] - math.fsum(beta[j] * cols[j][o] for j in range(p))) ** 2 for o in range(n))
    ybar = mean(y) if intercept else 0.0
    tss = math.fsum((v - ybar) ** 2 for v in y)
    df = n - p
    bse = [math.sqrt(rss / df * inv[j][j]) for j in range(p)]
    tv = [b / s for b, s in zip(beta, bse)]
    r2 = 1 - rss / tss
    return beta, bse, tv, [t_sf2(t, df) for t in tv], r2, 1 - (n - int(intercept)) / df * (1 - r2)


def lstsq(cols, y, intercept):
    if intercept:
        cols = [[1.0] * len(y)] + cols
    a = [[math.fsum(p * q for p, q in zip(ci, cj)) for cj in cols] for ci in cols]
    b = [math.fsum(p * q for p, q in zip(ci, y)) for ci in cols]
    return solve(a, b)


@unittest.skipUnless(ENIGMA_BIN, "set ENIGMA_BIN to the enigma node binary to run the devnet tests")
class ToolboxTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = Devnet(ENIGMA_BIN, nodes=5)
        try:
            cls.net.start()
        except BaseException:
            cls.net.stop(keep=True)
            raise
        cls._saved = os.environ.get("ENIGMA_SOCKET")
        os.environ["ENIGMA_SOCKET"] = cls.net.socket(0)
        enigma.set_default_client(None)
        cls.client = enigma.Client(cls.net.socket(0), timeout=60)

    @classmethod
    def tearDownClass(cls):
        try:
            for c in (getattr(cls, "client", None), enigma.default_client()):
                if c is not None:
                    c.close()
            if cls._saved is None:
                os.environ.pop("ENIGMA_SOCKET", None)
            else:
                os.environ["ENIGMA_SOCKET"] = cls._saved
        finally:
            cls.net.stop()

    def apis(self):
        return (("Client", self.client), ("module", enigma))

    def close(self, got, want, what, rel=REL, abs_=1e-9):
        self.assertLessEqual(abs(got - want), rel * max(abs(got), abs(want)) + abs_, "%s: %r vs %r" % (what, got, want))

    def kind(self, kind, f, *args, **kwargs):
        with self.assertRaises(enigma.Error) as cm:
            f(*args, **kwargs)
        self.assertEqual(cm.exception.kind, kind, str(cm.exception))
        return cm.exception

    def data(self, seed, k, n):
        rnd = random.Random(seed)
        base = [rnd.uniform(-1, 1) for _ in range(n)]
        return [grid([50 + 10 * (0.4 * i * base[o] + (1 + i) * rnd.uniform(-1, 1)) for o in range(n)]) for i in range(k)]

    def test_cov_and_corrcoef(self):
        rows = self.data(1, 3, 60)
        for name, api in self.apis():
            with self.subTest(api=name):
                key = put(api, rows)
                want = cov(rows)
                got = api.stats.cov(key)
                for i in range(3):
                    for j in range(3):
                        self.close(got[i][j], want[i][j], "cov[%d][%d]" % (i, j))
                cols = [list(r) for r in zip(*rows)]
                got0 = api.stats.cov(put(api, cols), rowvar=False, ddof=0)
                want0 = cov(rows, ddof=0)
                self.close(got0[1][2], want0[1][2], "cov rowvar=False ddof=0")
                corr = api.stats.corrcoef(key)
                for i in range(3):
                    for j in range(3):
                        self.close(corr[i][j], want[i][j] / math.sqrt(want[i][i] * want[j][j]), "corrcoef", abs_=1e-8)
                if np is not None:
                    npc = np.cov(np.array(rows))
                    self.close(got[0][1], float(npc[0][1]), "numpy.cov")
                    self.close(corr[0][2], float(np.corrcoef(np.array(rows))[0][2]), "numpy.corrcoef", abs_=1e-8)
                # a 1-D key: its variance (a float)
                v = api.stats.cov(put(api, rows[0]))
                self.close(v, want[0][0], "cov 1-D")
                # store=True: the covariance matrix under a new key
                k2 = api.stats.cov(key, store=True)
                back = api.load(k2)
                self.assertLessEqual(abs(back[0][1] - want[0][1]), 3 * 2**-20)
                self.kind("invalid_params", api.stats.cov, put(api, [[1.0], [2.0]]))  # too few observations
                self.kind("invalid_params", api.stats.corrcoef, put(api, [[1, 2, 3], [4, 4, 4]]))  # constant
                self.kind("invalid_params", api.stats.cov, put(api, [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]))

    def test_ttests(self):
        rnd = random.Random(2)
        a = grid([rnd.gauss(10, 2) for _ in range(40)])
        b = grid([rnd.gauss(11, 3) for _ in range(35)])
        c = grid([v + rnd.gauss(0.5, 1) for v in a])
        for name, api in self.apis():
            with self.subTest(api=name):
                ka, kb, kc = put(api, a), put(api, b), put(api, c)
                t, p, df = api.stats.ttest_1samp(ka, 10.0)
                self.close(t, t1(a, 10.0), "ttest_1samp t")
                self.assertEqual(df, 39.0)
                self.assertTrue(0.0 <= p <= 1.0)
                t, p, df = api.stats.ttest_ind(ka, kb)
                self.close(t, tind(a, b), "ttest_ind t")
                self.assertEqual(df, 73.0)
                t, p, df = api.stats.ttest_rel(ka, kc)
                self.close(t, t1([x - y for x, y in zip(a, c)], 0.0), "ttest_rel t")
                if sps is not None:
                    r = sps.ttest_ind(a, b)
                    self.close(api.stats.ttest_ind(ka, kb)[1], float(r.pvalue), "scipy ttest_ind p")
                    r = sps.ttest_1samp(a, 10.0)
                    self.close(api.stats.ttest_1samp(ka, 10.0)[1], float(r.pvalue), "scipy ttest_1samp p")
                t, p, df = api.stats.ttest_ind(ka, kb, equal_var=False)
                wt, wdf = twelch(a, b)
                self.close(t, wt, "Welch t")
                self.close(df, wdf, "Welch df")
                if sps is not None:
                    r = sps.ttest_ind(a, b, equal_var=False)
                    self.close(t, float(r.statistic), "scipy Welch t")
                    self.close(p, float(r.pvalue), "scipy Welch p")
                # stored Welch: [statistic, df] at the storage scale, df computed inside the MPC
                back = api.load(api.stats.ttest_ind(ka, kb, equal_var=False, store=True))
                self.assertEqual(len(back), 2)
                self.assertLessEqual(abs(back[0] - wt), 4 * 2**-20 + 1e-9 * abs(wt), "stored Welch t")
                self.close(back[1], wdf, "stored Welch df")
                if sps is not None:
                    r = sps.ttest_ind(a, b, equal_var=False)
                    self.close(back[0], float(r.statistic), "scipy stored Welch t", abs_=4 * 2**-20)
                    self.close(back[1], float(getattr(r, "df", wdf)), "scipy stored Welch df")
                # stored: [statistic, df] at the storage scale
                for call, want_t, want_df in (
                    (lambda: api.stats.ttest_rel(ka, kc, store=True), t1([x - y for x, y in zip(a, c)], 0.0), 39.0),
                    (lambda: api.stats.ttest_ind(ka, kb, store=True), tind(a, b), 73.0),
                    (lambda: api.stats.ttest_1samp(ka, 10.0, store=True), t1(a, 10.0), 39.0),
                ):
                    back = api.load(call())
                    self.assertEqual(len(back), 2)
                    self.assertLessEqual(abs(back[0] - want_t), 4 * 2**-20 + 1e-9 * abs(want_t), "stored t")
                    self.assertEqual(back[1], want_df)
                self.kind("invalid_params", api.stats.ttest_rel, ka, kb)  # lengths differ
                self.kind("invalid_params", api.stats.ttest_1samp, put(api, [1.0]), 0.0)

    def test_lstsq(self):
        rnd = random.Random(3)
        n, k = 80, 3
        cols = [grid([rnd.uniform(-5, 5) + 20 * j for _ in range(n)]) for j in range(k)]
        y = grid([2.5 - 0.7 * cols[0][o] + 1.3 * cols[1][o] + 0.05 * cols[2][o] + rnd.gauss(0, 0.2) for o in range(n)])
        x = [[cols[j][o] for j in range(k)] for o in range(n)]
        for name, api in self.apis():
            with self.subTest(api=name):
                kx, ky = put(api, x), put(api, y)
                got = api.stats.lstsq(kx, ky, intercept=True)
                want = lstsq(cols, y, True)
                self.assertEqual(len(got), k + 1)
                for g, w in zip(got, want):
                    self.close(g, w, "lstsq with intercept")
                got = api.stats.lstsq(kx, ky)
                for g, w in zip(got, lstsq(cols, y, False)):
                    self.close(g, w, "lstsq through the origin")
                if np is not None:
                    ref = np.linalg.lstsq(np.array(x), np.array(y), rcond=None)[0]
                    for g, w in zip(got, ref):
                        self.close(g, float(w), "numpy.linalg.lstsq")
                # store=True: the key of the coefficient array at the storage scale
                stored = api.stats.lstsq(kx, ky, intercept=True, store=True)
                back = api.load(stored)
                self.assertEqual(len(back), k + 1)
                for g, w in zip(back, want):
                    self.assertLessEqual(abs(g - w), 4 * 2**-20 + 1e-9 * abs(w), "stored lstsq")
                coll = put(api, [[o, 2 * o] for o in range(10)])
                self.kind("singular", api.stats.lstsq, coll, put(api, [float(o) for o in range(10)]), intercept=True)
                self.kind("invalid_params", api.stats.lstsq, kx, put(api, [1.0, 2.0]))

    def test_lstsq_stats_match_statsmodels_ols(self):
        rnd = random.Random(7)
        n, k = 60, 3
        cols = [grid([rnd.uniform(-5, 5) + 3 * j for _ in range(n)]) for j in range(k)]
        y = grid([2.5 - 0.4 * cols[0][o] + 0.3 * cols[1][o] + 0.05 * cols[2][o] + rnd.gauss(0, 3) for o in range(n)])
        x = [[cols[j][o] for j in range(k)] for o in range(n)]
        try:
            import statsmodels.api as sm
        except ImportError:  # pragma: no cover
            sm = None
        for name, api in self.apis():
            with self.subTest(api=name):
                kx, ky = put(api, x), put(api, y)
                for intercept in (True, False):
                    got = api.stats.lstsq(kx, ky, intercept=intercept, stats=True)
                    params, bse, tv, pv, r2, adj = ols(cols, y, intercept)
                    s = int(intercept)
                    what = "lstsq stats (intercept=%s)" % intercept
                    self.assertEqual(got["df_resid"], float(n - k - s))
                    for g, w in zip(got["params"], params):
                        self.close(g, w, what + " params")
                    # the intercept's too (first, as statsmodels' add_constant)
                    for key, want in (("bse", bse), ("tvalues", tv)):
                        self.assertEqual(len(got[key]), len(want), what + " " + key)
                        for g, w in zip(got[key], want):
                            self.close(g, w, what + " " + key)
                    for g, w in zip(got["pvalues"], pv):
                        self.close(g, w, what + " pvalues", abs_=1e-12)
                    self.close(got["rsquared"], r2, what + " R²", abs_=1e-8)
                    self.close(got["rsquared_adj"], adj, what + " adj R²", abs_=1e-8)
                    if sm is not None:
                        design = sm.add_constant(np.array(x)) if intercept else np.array(x)
                        res = sm.OLS(np.array(y), design).fit()
                        for g, w in zip(got["bse"], res.bse):
                            self.close(g, float(w), "statsmodels bse")
                        for g, w in zip(got["pvalues"], res.pvalues):
                            self.close(g, float(w), "statsmodels pvalues", abs_=1e-12)
                        self.close(got["rsquared"], float(res.rsquared), "statsmodels R²", abs_=1e-8)
                    elif sps is not None:
                        for g, t in zip(got["pvalues"], tv):
                            self.close(g, float(2 * sps.t.sf(abs(t), n - k - s)), "scipy t p", abs_=1e-12)
                self.kind("unsupported", api.stats.lstsq, kx, ky, stats=True, store=True)
                coll = put(api, [[o, 2 * o] for o in range(10)])
                self.kind("singular", api.stats.lstsq, coll, put(api, [float(o) for o in range(10)]), stats=True)

    def test_histogram(self):
        rnd = random.Random(5)
        x = grid([rnd.gauss(50, 15) for _ in range(300)]) + [0.0, 25.0, 100.0, 100.5, -3.0]
        edges = [0.0, 25.0, 50.0, 60.0, 100.0]

        def ref(values, e):
            c = [0] * (len(e) - 1)
            for v in values:
                for j in range(len(e) - 1):
                    if e[j] <= v < e[j + 1] or (j == len(e) - 2 and v == e[-1]):
                        c[j] += 1
                        break
            return c

        for name, api in self.apis():
            with self.subTest(api=name):
                k1, k2 = put(api, x[:150]), put(api, x[150:])
                counts, got_edges = api.stats.histogram(k1, k2, bins=edges)
                self.assertEqual(counts, ref(x, edges))
                self.assertEqual(got_edges, edges)
                counts, e = api.stats.histogram(k1, k2, bins=4, range=(0, 100))
                self.assertEqual(counts, ref(x, e))
                if np is not None:
                    h, ne = np.histogram(np.array(x), bins=4, range=(0, 100))
                    self.assertEqual(counts, [int(c) for c in h])
                    self.assertEqual(e, [float(v) for v in ne])
                kc = api.stats.histogram(k1, bins=edges, store=True)
                self.assertEqual(api.load(kc), ref(x[:150], edges))
                self.kind("invalid_params", api.stats.histogram, k1, bins=4)  # no range
                self.kind("invalid_params", api.stats.histogram, k1, bins=[3.0, 1.0])

    def test_at_the_default_decimal_scale(self):
        """median, histogram, cov and a t-test on keys stored at the default scale 10^-6 (``store``
        without ``decimals``), against exact references from ``fractions`` on the decimal texts."""
        from fractions import Fraction as F

        rnd = random.Random(8)
        a = [round(rnd.gauss(10, 2), 3) for _ in range(37)] + [9.0, 10.5, 12.0]  # three on the edges
        b = [round(rnd.gauss(11, 3), 3) for _ in range(36)]
        api = self.client
        ka, kb, kr = api.store(a), api.store(b), api.store([a[:36], b])
        fa, fb = [F(repr(v)) for v in a], [F(repr(v)) for v in b]
        # median of an even count: the mean of the two middle values
        s = sorted(fa + fb)
        self.close(api.stats.median(ka, kb), float((s[len(s) // 2 - 1] + s[len(s) // 2]) / 2), "median", 1e-14, 0)
        # histogram: the decimal edges are exact at 10^-6, so the counts are numpy's
        edges = [5.0, 9.0, 10.5, 12.0, 20.0]
        fe = [F(repr(e)) for e in edges]
        want = [0] * 4
        for v in fa + fb:
            for j in range(4):
                if fe[j] <= v < fe[j + 1] or (j == 3 and v == fe[4]):
                    want[j] += 1
                    break
        counts, _ = api.stats.histogram(ka, kb, bins=edges)
        self.assertEqual(counts, want)
        # cov (ddof = 1): exact sums at 10^-12, one division at the requester
        rows = [fa[:36], fb]
        mu = [sum(r) / 36 for r in rows]
        got = api.stats.cov(kr)
        for i in range(2):
            for j in range(2):
                c = sum((x - mu[i]) * (y - mu[j]) for x, y in zip(rows[i], rows[j])) / 35
                self.close(got[i][j], float(c), "cov[%d][%d]" % (i, j), 1e-12, 0)
        # the pooled two-sample t-test
        ma, mb = sum(fa) / len(fa), sum(fb) / len(fb)
        ss = sum((v - ma) ** 2 for v in fa) + sum((v - mb) ** 2 for v in fb)
        sp2 = ss / (len(fa) + len(fb) - 2)
        want_t = float(ma - mb) / math.sqrt(float(sp2 * (F(1, len(fa)) + F(1, len(fb)))))
        t, p, df = api.stats.ttest_ind(ka, kb)
        self.close(t, want_t, "ttest_ind t")
        self.assertEqual(df, float(len(fa) + len(fb) - 2))
        self.assertTrue(0.0 <= p <= 1.0)

    def test_median_percentile_quantile(self):
        rnd = random.Random(6)
        odd = grid([rnd.gauss(50, 15) for _ in range(101)])
        ties = [float(rnd.randint(0, 5)) for _ in range(40)]

        def ref(values, q):
            s = sorted(values)
            h = (len(s) - 1) * q
            k = min(int(math.floor(h)), len(s) - 1)
            f = h - k
            return s[k] if f == 0 or k + 1 >= len(s) else s[k] + f * (s[k + 1] - s[k])

        for name, api in self.apis():
            with self.subTest(api=name):
                k1, k2 = put(api, odd[:60]), put(api, odd[60:])
                # odd N: exactly numpy's median (the middle stored value)
                self.assertEqual(api.stats.median(k1, k2), ref(odd, 0.5))
                kt = put(api, ties)
                self.close(api.stats.median(kt), ref(ties, 0.5), "median of 40 values with ties")
                got = api.stats.percentile(k1, k2, q=[10, 25, 75, 99.5])
                for g, q in zip(got, [0.1, 0.25, 0.75, 0.995]):
                    self.close(g, ref(odd, q), "percentile %s" % q)
                one = api.stats.quantile(k1, k2, q=1 / 3)
                self.assertIsInstance(one, float)
                self.close(one, ref(odd, 1 / 3), "quantile 1/3")
                if np is not None:
                    self.assertEqual(api.stats.median(k1, k2), float(np.median(np.array(odd))))
                    for g, w in zip(got, np.percentile(np.array(odd), [10, 25, 75, 99.5])):
                        self.close(g, float(w), "numpy.percentile")
                    self.close(api.stats.quantile(kt, q=0.3), float(np.quantile(np.array(ties), 0.3)), "numpy.quantile")
                # store=True: at the storage scale, as for mean
                km = api.stats.median(k1, k2, store=True)
                self.assertLessEqual(abs(api.load(km) - ref(odd, 0.5)), 1e-6)  # load rounds to 6 decimals
                kq = api.stats.percentile(kt, q=[25, 50], store=True)
                back = api.load(kq)
                self.assertLessEqual(abs(back[1] - ref(ties, 0.5)), 3 * 2**-20)
                # clear errors
                self.kind("invalid_params", api.stats.percentile, k1, q=101)
                self.kind("invalid_params", api.stats.percentile, k1, q=[50, -1])
                self.kind("invalid_params", api.stats.quantile, k1, q=1.5)
                self.kind("invalid_params", api.stats.quantile, k1, q=[])
                self.kind("invalid_params", api.stats.median, put(api, []))

    def test_compute_grants_for_medians_and_quantiles(self):
        grantee = enigma.Client(self.net.socket(3), timeout=60)
        try:
            grantee.gen_key()
            address = grantee.get_address()
            few = put(self.client, [3.0, 1.0, 2.0, 5.0])
            many = put(self.client, [float(i) for i in range(50)])
            self.client.pair([address], keys=[few, many], level="compute", min_count=5)
            self.assertEqual(grantee.stats.median(many), 24.5)
            # a median over fewer than min_count values is refused
            self.kind("access_denied", grantee.stats.median, few)
            # quartiles of 50 values: each stands for ≥ 5 values
            self.assertEqual(grantee.stats.percentile(many, q=[25, 75]), [12.25, 36.75])
            # min and max as one list, and two quantiles one rank apart: refused
            self.kind("access_denied", grantee.stats.quantile, many, q=[0, 1])
            self.kind("access_denied", grantee.stats.quantile, many, q=[0.5, 0.52])
            # deciles of 50 values stand for 4 values each: refused at min_count 5
            self.kind("access_denied", grantee.stats.quantile, many, q=[i / 10 for i in range(1, 10)])
        finally:
            grantee.close()

    def test_compute_grants_cover_only_enough_observations(self):
        grantee = enigma.Client(self.net.socket(2), timeout=60)
        try:
            grantee.gen_key()
            address = grantee.get_address()
            rows = self.data(4, 2, 8)
            small = put(self.client, [r[:3] for r in rows])  # 3 observations
            big = put(self.client, rows)  # 8 observations
            a, b = put(self.client, rows[0]), put(self.client, rows[1][:2])
            self.client.pair([address], keys=[small, big, a, b], level="compute", min_count=5)
            got = grantee.stats.cov(big)
            self.close(got[0][1], cov(rows)[0][1], "cov under a compute grant")
            self.kind("access_denied", grantee.stats.cov, small)
            self.kind("access_denied", grantee.stats.corrcoef, small)
            grantee.stats.ttest_1samp(a, 0.0)
            # a group of 2 values next to 8: refused, each group must stand for min_count values
            self.kind("access_denied", grantee.stats.ttest_ind, a, b)
            self.kind("access_denied", grantee.load, big)
            h = put(self.client, [float(i) for i in range(20)])
            self.client.pair([address], keys=[h], level="compute", min_count=5)
            counts, _ = grantee.stats.histogram(h, bins=4, range=(0, 20))  # 5 values per bin
            self.assertEqual(counts, [5, 5, 5, 5])
            self.kind("access_denied", grantee.stats.histogram, h, bins=5, range=(0, 20))
            # the per-bin rule: 20 / 4 bins passes the static rule, but a bin of [0, 3) holds 3 < 5
            # values, found inside the MPC (one bit), stored or not; the owner's own call has no rule
            uneven = [0.0, 3.0, 10.0, 15.0, 20.0]
            e = self.kind("access_denied", grantee.stats.histogram, h, bins=uneven)
            self.assertIn("bin", str(e))
            self.kind("access_denied", grantee.stats.histogram, h, bins=uneven, store=True)
            counts, _ = grantee.stats.histogram(h, bins=[0.0, 5.0, 12.0, 20.0])  # 5, 7, 8
            self.assertEqual(counts, [5, 7, 8])
            self.assertEqual(self.client.stats.histogram(h, bins=uneven)[0], [3, 7, 5, 5])
        finally:
            grantee.close()


if __name__ == "__main__":
    unittest.main()
