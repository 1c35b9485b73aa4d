#!/usr/bin/env python3
"""Every size of issue 12 on a real devnet: max/min of 10^5 (and 10^6), mean/var/std/linregress of
10^6, dot 300x300 . 300x300, each checked against a reference computed here, with the wall time and
every node's peak RSS (VmHWM) after the run.

Usage: scripts/big_sizes.py [--nodes 5] [--million-max] [--bin target/x86_64-unknown-linux-gnu/release/enigma]
"""
import argparse, math, os, random, shutil, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import enigma  # noqa: E402


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def node_pids(root):
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if any(root.encode() in c for c in cmd) and b"devnet" not in cmd:
            pids.append(int(p))
    return sorted(pids)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--million-max", action="store_true", help="also max of 10^6 values")
    ap.add_argument("--only", default="", help="comma-separated subset: max5,min5,max6,mean6,var6,std6,lin6,dot300")
    ap.add_argument("--bin", default="target/x86_64-unknown-linux-gnu/release/enigma")
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="enig-sizes-", dir="/tmp")
    dev = subprocess.Popen([a.bin, "devnet", "--nodes", str(a.nodes), "--group-size", str(a.nodes), "--fresh",
                            "--data-dir", root], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        for line in dev.stdout:
            if "press Ctrl-C" in line:
                break
            if time.time() > deadline:
                raise SystemExit("devnet did not start")
        c = enigma.connect(os.path.join(root, "node0", "enigma.sock"))
        rng = random.Random(12)
        only = set(filter(None, a.only.split(",")))
        want = lambda k: not only or k in only
        results = []

        def run(name, f, check):
            t0 = time.time()
            try:
                r = f()
                ok = check(r)
                results.append((name, time.time() - t0, "ok" if ok else f"WRONG: {r}"))
            except Exception as e:  # noqa: BLE001 - a failing size is a row of the table
                results.append((name, time.time() - t0, f"error: {e}"))
            print(f"{results[-1][0]:<28} {results[-1][1]:8.1f} s  {results[-1][2]}", flush=True)

        x5 = [round(rng.uniform(-1e6, 1e6), 6) for _ in range(100_000)]
        k5 = c.store(x5) if (want("max5") or want("min5")) else None
        if want("max5"):
            run("max of 10^5", lambda: c.load(c.stats.max(k5)), lambda r: abs(r - max(x5)) < 1e-5)
        if want("min5"):
            run("min of 10^5", lambda: c.load(c.stats.min(k5)), lambda r: abs(r - min(x5)) < 1e-5)
        x6 = [round(rng.uniform(-1e3, 1e3), 6) for _ in range(1_000_000)]
        y6 = [round(2.5 * v + 1 + rng.uniform(-5, 5), 6) for v in x6]
        k6 = c.store(x6)
        m = sum(x6) / len(x6)
        v = sum((t - m) ** 2 for t in x6) / len(x6)
        if a.million_max or want("max6") and only:
            run("max of 10^6", lambda: c.load(c.stats.max(k6)), lambda r: abs(r - max(x6)) < 1e-5)
        if want("mean6"):
            run("mean of 10^6", lambda: c.stats.mean(k6)[0], lambda r: abs(r - m) < 1e-6 * max(1, abs(m)))
        if want("var6"):
            run("var of 10^6", lambda: c.stats.var(k6)[0], lambda r: abs(r - v) < 1e-6 * v)
        if want("std6"):
            run("std of 10^6", lambda: c.stats.std(k6)[0], lambda r: abs(r - math.sqrt(v)) < 1e-6 * math.sqrt(v))
        if want("lin6"):
            ky = c.store(y6)
            run("linregress of 10^6", lambda: c.stats.linregress(k6, ky), lambda r: abs(r[0] - 2.5) < 1e-3)
        if want("dot300"):
            A = [[round(rng.uniform(-10, 10), 3) for _ in range(300)] for _ in range(300)]
            ka = c.store(A)
            ref00 = sum(A[0][j] * A[j][0] for j in range(300))
            run("dot 300x300 . 300x300", lambda: c.linalg.dot(ka, ka), lambda r: abs(r[0][0] - ref00) < 1e-3 * max(1, abs(ref00)))
        print()
        for i, pid in enumerate(node_pids(root)):
            print(f"node pid {pid}: peak RSS {peak_rss_mib(pid):.0f} MiB")
    finally:
        dev.send_signal(signal.SIGINT)
        try:
            dev.wait(30)
        except subprocess.TimeoutExpired:
            dev.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
