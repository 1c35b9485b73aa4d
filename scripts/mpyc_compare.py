#!/usr/bin/env python3
"""MPyC beside Enigma on the same machine: median, quantiles and correlation with 3 local parties.

    .venv/bin/python scripts/mpyc_compare.py [--sizes 10000,100000] [--corr-n 100000]
        [--timeout 300] [--enigma FILE]

Runs MPyC's own `mpyc.statistics` (median, quantiles with n = 4, and `correlation` over the 45
pairs of 10 variables) as 3 parties on localhost (`-M3`: MPyC starts parties 1 and 2 as
subprocesses on ports 11365+), one process group per case, and times the computation at party 0
(after the inputs are secret-shared by party 0, which is not timed). Every result is checked
against Python's `statistics` on the same values. A case that does not finish within --timeout
seconds is reported as such (with the time it was given), not estimated.

Enigma's figures come from the output of `enigma bench mpc --toolbox` saved in --enigma FILE (the
"wall s" column of the rows whose names match: "median N", "quantile(s) N", "corrcoef 10 x N");
ops without an Enigma row in that file print "-".

MPyC (https://github.com/lschoe/mpyc) is an optional bench dependency: scripts/install.sh installs
it into .venv when it can; the tests never need it.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

WORKER_ENV = "ENIGMA_MPYC_CASE"


def data(n, seed):
    """Deterministic values in [0, 100) on a 2^-10 grid (exact in MPyC's and Enigma's fixed point)."""
    s = (seed * 0x9E3779B97F4A7C15) & (2**64 - 1) | 1
    out = []
    for _ in range(n):
        s ^= (s << 13) & (2**64 - 1)
        s ^= s >> 7
        s ^= (s << 17) & (2**64 - 1)
        out.append(((s >> 11) % (100 * 1024)) / 1024)
    return out


def worker(case):
    """One party of one case (MPyC parses its own -M/-I options from sys.argv)."""
    import statistics as pystat

    from mpyc import statistics as mstat
    from mpyc.runtime import mpc

    op, n = case.split(":")
    n = int(n)

    async def main():
        await mpc.start()
        if op in ("median", "quantiles"):
            secfxp = mpc.SecFxp(32, 10)
            vals = data(n, 1)
            x = mpc.input([secfxp(v) for v in vals] if mpc.pid == 0 else [secfxp(None)] * n, senders=0)
            t0 = time.perf_counter()
            if op == "median":
                r = [await mpc.output(mstat.median(x))]
                want = [pystat.median(vals)]
            else:
                r = [await mpc.output(q) for q in mstat.quantiles(x, n=4)]
                want = pystat.quantiles(vals, n=4)
            secs = time.perf_counter() - t0
        else:  # correlation matrix of 10 variables × n observations
            secfxp = mpc.SecFxp(64, 24)
            rows = [data(n, 10 + i) for i in range(10)]
            xs = [
                mpc.input([secfxp(v) for v in r] if mpc.pid == 0 else [secfxp(None)] * n, senders=0) for r in rows
            ]
            t0 = time.perf_counter()
            r, want = [], []
            for i in range(10):
                for j in range(i + 1, 10):
                    r.append(await mpc.output(mstat.correlation(xs[i], xs[j])))
                    want.append(pystat.correlation(rows[i], rows[j]))
            secs = time.perf_counter() - t0
        err = max(abs(float(a) - b) for a, b in zip(r, want))
        if mpc.pid == 0:
            print(f"RESULT op={op} n={n} seconds={secs:.3f} maxerr={err:.3g}", flush=True)
        await mpc.shutdown()

    mpc.run(main())


def run_case(case, timeout):
    env = dict(os.environ, **{WORKER_ENV: case})
    cmd = [sys.executable, os.path.abspath(__file__), "-M3"]
    t0 = time.perf_counter()
    # a session of its own: MPyC's parties 1 and 2 are children of party 0, in its process group
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None, f"timeout: not done after {timeout:.0f} s"
    except BaseException:
        # interrupted: never leave this case's parties running
        os.killpg(p.pid, signal.SIGKILL)
        raise
    wall = time.perf_counter() - t0
    m = re.search(r"RESULT .*seconds=([0-9.]+) maxerr=(\S+)", out)
    if not m:
        return None, "failed: " + (err.strip().splitlines() or ["no output"])[-1][:80]
    return float(m.group(1)), f"max |err| {m.group(2)}, process wall {wall:.1f} s"


def enigma_rows(path):
    """{(name, n, security): wall s} from `enigma bench mpc --toolbox` output."""
    rows = {}
    if not path:
        return rows
    sec = None
    nparties = None
    with open(path) as f:
        for line in f:
            h = re.match(r"in-memory MPC, n = (\d+), t = \d+, ([a-z-]+)", line)
            if h:
                nparties, sec = int(h.group(1)), h.group(2)
                continue
            parts = line.split()
            if len(parts) >= 8 and sec:
                try:
                    wall = float(parts[-4])
                except ValueError:
                    continue
                rows[(" ".join(parts[:-7]), nparties, sec)] = wall
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000", help="median/quantiles sizes")
    ap.add_argument("--corr-n", default="10000,100000", help="observations of the 10-variable correlation")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per case")
    ap.add_argument("--enigma", help="saved output of `enigma bench mpc --toolbox`")
    a = ap.parse_args()
    # a terminated driver unwinds (run_case then kills the running case's parties)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        import mpyc  # noqa: F401
    except ImportError:
        print("MPyC is not installed (pip install mpyc): nothing to compare", file=sys.stderr)
        return 2
    en = enigma_rows(a.enigma)
    cases = [("median", int(n)) for n in a.sizes.split(",")]
    cases += [("quantiles", int(n)) for n in a.sizes.split(",")]
    cases += [("correlation", int(n)) for n in a.corr_n.split(",")]
    print(f"MPyC {__import__('mpyc').__version__}, 3 parties (-M3, localhost), this machine ({os.cpu_count()} cores)")
    hdr = f"{'operation':<28} {'MPyC s':>10} {'Enigma n=3 semi s':>18} {'Enigma n=3 active s':>20}  notes"
    print(hdr)
    print("-" * len(hdr))
    for op, n in cases:
        secs, note = run_case(f"{op}:{n}", a.timeout)
        name = {"median": f"median {n}", "quantiles": f"quartiles {n}", "correlation": f"corrcoef 10 x {n}"}[op]
        keys = {"median": [f"median {n}"], "quantiles": [f"quantile {n}", f"quantiles {n}", f"quartiles {n}"],
                "correlation": [f"corrcoef 10 x {n}"]}[op]

        def find(sec):
            for k in keys:
                if (k, 3, sec) in en:
                    return f"{en[(k, 3, sec)]:.2f}"
            return "-"

        ms = f"{secs:.2f}" if secs is not None else "-"
        print(f"{name:<28} {ms:>10} {find('semi-honest'):>18} {find('active'):>20}  {note}", flush=True)
    return 0


if __name__ == "__main__":
    case = os.environ.get(WORKER_ENV)
    if case:
        worker(case)
    else:
        sys.exit(main())
