#!/usr/bin/env python3
"""The accuracy table of docs/accuracy.md (issue 15): every op × data family against an exact
reference, on a real devnet.

    ENIGMA_BIN=target/x86_64-unknown-linux-gnu/release/enigma \\
        PYTHONPATH=python python3 scripts/accuracy.py [--sizes 1,100,10000] [--nodes 3]

Starts `enigma devnet` (3 nodes by default), stores each family at its decimal scale, and prints a
markdown table: the worst relative error of Enigma's result against the exact value (Python's
`fractions`; roots from `decimal` at 60 digits; linregress's p_value and std_err from the exact
residual with `mpmath` at 50 digits), and numpy float64's error on the same data when numpy is
installed (for p_value and std_err: scipy.stats.linregress's float64 formulas). A relative error is taken against max(|exact|, the data's scale mean|x|) where
the exact value can be 0. A family out of range gives "clear error" and the error's text. Seeded:
the same command prints the same data."""

import argparse
import decimal
import math
import os
import random
import sys
from fractions import Fraction

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "tests"))
from _helpers import Devnet  # noqa: E402

import enigma  # noqa: E402

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None
try:
    import mpmath
except ImportError:  # pragma: no cover
    mpmath = None

decimal.getcontext().prec = 60


def fr(x):
    return Fraction(repr(x))


def dsqrt(q):
    return float(decimal.Decimal(q.numerator).sqrt() / decimal.Decimal(q.denominator).sqrt()) if q > 0 else 0.0


def exact(op, xs, ys=None):
    """The exact result of `op` (a float, or a tuple for linregress)."""
    a = [fr(v) for v in xs]
    n = len(a)
    m = sum(a) / n
    if op == "mean":
        return float(m)
    var = sum((v - m) ** 2 for v in a) / n
    if op == "var":
        return float(var)
    if op == "std":
        return dsqrt(var)
    b = [fr(v) for v in ys]
    if op == "dot":
        return float(sum(x * y for x, y in zip(a, b)))
    mb = sum(b) / n
    sxx = sum((v - m) ** 2 for v in a)
    syy = sum((v - mb) ** 2 for v in b)
    sxy = sum((x - m) * (y - mb) for x, y in zip(a, b))
    slope = sxy / sxx
    r = float(sxy) / dsqrt(sxx * syy) if syy > 0 else 0.0
    return float(slope), float(mb - slope * m), r


def exact_p_se(xs, ys):
    """linregress's (p_value, std_err), exact: ρ = 1 − r² from the exact residual (fractions),
    then the t distribution's tail with mpmath at 50 digits."""
    a, b = [fr(v) for v in xs], [fr(v) for v in ys]
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    sxx = sum((v - ma) ** 2 for v in a)
    syy = sum((v - mb) ** 2 for v in b)
    sxy = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    rss = syy - sxy * sxy / sxx  # the exact residual sum of squares
    df = n - 2
    mpmath.mp.dps = 50
    se = mpmath.sqrt(mpmath.mpf(rss.numerator) / rss.denominator / df / (mpmath.mpf(sxx.numerator) / sxx.denominator))
    if rss == 0:
        return 0.0, float(se)
    t2 = mpmath.mpf(df) * (mpmath.mpf((sxy * sxy).numerator) / (sxy * sxy).denominator) / (
        mpmath.mpf((rss * sxx).numerator) / (rss * sxx).denominator)
    return float(t_tail(t2, df)), float(se)


def t_tail(t2, df):
    """P(|T| ≥ t) for t² = t2 with df degrees of freedom (mpmath)."""
    return mpmath.betainc(mpmath.mpf(df) / 2, mpmath.mpf(1) / 2, 0, mpmath.mpf(df) / (df + t2), regularized=True)


def float64_p_se(xs, ys):
    """scipy.stats.linregress's float64 formulas for p_value and std_err with numpy (the t tail
    itself with mpmath, so only float64's r, 1 − r² and moments carry error)."""
    x, y = np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64)
    ssxm, ssxym, _, ssym = np.cov(x, y, bias=1).flat
    r = ssxym / np.sqrt(ssxm * ssym) if ssxm != 0 and ssym != 0 else 0.0
    r = max(min(r, 1.0), -1.0)
    df = len(xs) - 2
    tiny = 1.0e-20
    t = r * np.sqrt(df / ((1.0 - r + tiny) * (1.0 + r + tiny)))
    slope = ssxym / ssxm
    se = np.sqrt((1 - r**2) * ssym / ssxm / df)
    mpmath.mp.dps = 50
    return float(t_tail(mpmath.mpf(float(t)) ** 2, df)), float(se), slope


def numpy_result(op, xs, ys=None):
    if np is None:
        return None
    x = np.array(xs, dtype=np.float64)
    if op == "mean":
        return float(np.mean(x))
    if op == "var":
        return float(np.var(x))
    if op == "std":
        return float(np.std(x))
    y = np.array(ys, dtype=np.float64)
    if op == "dot":
        return float(np.dot(x, y))
    slope, icpt = np.polyfit(x, y, 1)
    return float(slope), float(icpt), float(np.corrcoef(x, y)[0, 1])


def err(got, want, scale):
    return abs(got - want) / max(abs(want), scale, 1e-300)


def families(sizes, rng):
    """(name, decimals, xs, ys) for each data family and size."""
    out = []
    for n in sizes:
        one = [round(1.4 + rng.choice([-3, -2, -1, 0, 1, 2, 3]) / 10, 1) for _ in range(n)]
        out.append(("one decimal around 1.4", 6, one, [round(2 * v + rng.choice([0, 0.1, -0.1]), 1) for v in one]))
        out.append(("integers", 6, [rng.randint(-1000, 1000) for _ in range(n)], [rng.randint(0, 50) for _ in range(n)]))
        wide = [round(10 ** rng.uniform(-6, 6), 6) * rng.choice([-1, 1]) for _ in range(n)]
        out.append(("wide range 1e-6..1e6", 6, wide, [round(v * 0.5 + 1, 6) for v in wide]))
        off = [round(1e9 + rng.randint(-1000, 1000) / 1000, 3) for _ in range(n)]
        out.append(("1e9 + spread 1e-3", 3, off, [round(v - 1e9 + rng.randint(0, 9) / 1000, 3) for v in off]))
        tiny = [rng.randint(1100, 1300) / 1e6 for _ in range(n)]
        out.append(("tiny ~0.00123 (9 decimals)", 9, tiny, [round(v * 3 + 1e-9, 9) for v in tiny]))
        const = [2.5] * n
        if n > 1:
            const[-1] = 2.500001
        out.append(("near-constant", 6, const, [float(i) for i in range(n)]))
        near = [round(rng.uniform(-5, 5), 3) for _ in range(n)]
        out.append(("|r| near 1: y = 3x + 1e-6 noise", 6, near, [round(3 * v + rng.choice([-1, 0, 1]) * 1e-6, 6) for v in near]))
        mid = [round(rng.uniform(0, 10), 2) for _ in range(n)]
        out.append(("r ≈ 0.9: y = x + noise", 6, mid, [round(v + rng.gauss(0, 1.5), 2) for v in mid]))
    out.append(("out of range 1e13 (6 decimals)", 6, [1e13, 1.0], [1.0, 2.0]))
    return out


def conditioned(d, kappa, rng):
    """A d×d matrix with condition number ≈ kappa, U·diag(1 … 1/kappa)·Vᵀ·30 for two Householder
    reflections of seeded unit vectors, rounded to 6 decimals."""
    def unit():
        v = [rng.random() - 0.5 for _ in range(d)]
        nv = math.sqrt(sum(x * x for x in v))
        return [x / nv for x in v]
    u, v = unit(), unit()
    sv = [kappa ** (-i / (d - 1)) for i in range(d)]
    h = lambda w, i, j: (1.0 if i == j else 0.0) - 2 * w[i] * w[j]  # noqa: E731
    return [[round(30 * sum(h(u, i, k) * sv[k] * h(v, j, k) for k in range(d)), 6) for j in range(d)] for i in range(d)]


def inv_residual(a, x):
    """‖A·X − I‖∞ in exact rational arithmetic (A as stored, X as returned)."""
    d = len(a)
    fa = [[fr(v) for v in row] for row in a]
    fx = [[Fraction(v) for v in row] for row in x]
    worst = Fraction(0)
    for i in range(d):
        row = sum(abs(sum(fa[i][k] * fx[k][j] for k in range(d)) - (1 if i == j else 0)) for j in range(d))
        worst = max(worst, row)
    return float(worst)


def inv_rows(c, rng, emit):
    """inv of seeded matrices of condition number 10, 10^3 and 10^6 at 10×10 and 32×32."""
    for d in (10, 32):
        for kappa in (10.0, 1e3, 1e6):
            a = conditioned(d, kappa, rng)
            name = "inv, κ = %.0e" % kappa
            k = c.store(a, decimals=6)
            try:
                x = c.linalg.inv(k)
            except enigma.Error as e:
                emit((name, "%d×%d" % (d, d), "‖A·inv(A) − I‖∞", "clear error: %s" % str(e)[:60], ""))
                continue
            ne = "%.1e" % inv_residual(a, np.linalg.inv(np.array(a)).tolist()) if np is not None else "no numpy"
            emit((name, "%d×%d" % (d, d), "‖A·inv(A) − I‖∞", "%.1e" % inv_residual(a, x), ne))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1,100,10000")
    ap.add_argument("--stats-sizes", default="", help="extra sizes for mean, var and std only")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--inv", action="store_true", help="only the inverse rows")
    ap.add_argument("--skip-inv", action="store_true", help="leave out the inverse rows")
    ap.add_argument("--security", choices=["active", "semi-honest"], default=None,
                    help="the devnet's MPC mode (default: the node's, active); the arithmetic, and so "
                         "every error, is the same in both, active only adds checks")
    a = ap.parse_args()
    binary = os.environ.get("ENIGMA_BIN")
    if not binary:
        sys.exit("set ENIGMA_BIN to the enigma binary")
    rng = random.Random(a.seed)
    sizes = [int(s) for s in a.sizes.split(",")]
    stats_sizes = [int(s) for s in a.stats_sizes.split(",") if s]
    if a.security:
        os.environ["ENIGMA_MPC_SECURITY"] = a.security  # the devnet's nodes inherit it
    net = Devnet(binary, nodes=a.nodes)
    net.start()
    print("| data | N | op | Enigma rel. error | numpy float64 rel. error |")
    print("|---|---|---|---|---|", flush=True)

    def emit(row):
        # each row as soon as it is measured, so that a long run shows its progress
        print("| %s | %s | %s | %s | %s |" % row, flush=True)

    try:
        c = enigma.Client(net.socket(0), timeout=600)
        if not a.skip_inv:
            inv_rows(c, random.Random(a.seed), emit)
        if a.inv:
            return
        fams = [f + (False,) for f in families(sizes, rng)]
        fams += [f + (True,) for f in families(stats_sizes, rng)[:-1] if not f[0].startswith(("|r|", "r ≈"))]
        for name, dec, xs, ys, stats_only in fams:
            n = len(xs)
            scale = sum(abs(v) for v in xs) / n
            try:
                kx = c.store(xs, decimals=dec)
                ky = c.store(ys, decimals=dec)
            except enigma.Error as e:
                emit((name, n, "store", "clear error: %s" % str(e)[:60], ""))
                continue
            if stats_only:
                ops = ["mean", "var", "std"]
            else:
                ops = ["mean", "var", "std", "dot"] + (["linregress"] if n >= 3 else [])
            for op in ops:
                try:
                    if op == "dot":
                        got = c.linalg.dot(kx, ky)
                    elif op == "linregress":
                        full = tuple(c.stats.linregress(kx, ky))
                        got = full[:3]
                    else:
                        got = getattr(c.stats, op)(kx)[0]
                except enigma.Error as e:
                    emit((name, n, op, "clear error: %s" % str(e)[:60], ""))
                    continue
                want = exact(op, xs, ys)
                npv = numpy_result(op, xs, ys)
                if op == "linregress":
                    e = max(err(g, w, 1.0 if i == 2 else scale) for i, (g, w) in enumerate(zip(got, want)))
                    ne = max(err(g, w, 1.0 if i == 2 else scale) for i, (g, w) in enumerate(zip(npv, want))) if npv else None
                else:
                    s = scale if op in ("mean", "dot") else 0.0
                    e = err(got, want, s)
                    ne = err(npv, want, s) if npv is not None else None
                emit((name, n, op, "%.1e" % e, "%.1e" % ne if ne is not None else "no numpy"))
                if op == "linregress" and mpmath is not None:
                    wp, wse = exact_p_se(xs, ys)
                    fp = float64_p_se(xs, ys) if np is not None else None
                    for i, (label, w) in enumerate((("p_value", wp), ("std_err", wse))):
                        g = full[3 + i]
                        # relative; an exact 0 (a perfect fit) is compared absolutely, against the
                        # std_err's scale |slope|·1e-16 for std_err
                        sc = 1e-300 if label == "p_value" else abs(want[0]) * 1e-16
                        ne = "%.1e" % err(fp[i], w, sc) if fp else "no numpy"
                        emit((name, n, "linregress " + label, "%.1e" % err(g, w, sc), ne))
    finally:
        net.stop()


if __name__ == "__main__":
    main()
