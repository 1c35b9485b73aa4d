"""Measures a running `enigma devnet`: connections per node (`peers`), idle RSS per node process,
and optionally (`store`) 10 stores and 10 loads from random nodes sharing one identity.

Usage: python3 scripts/devnet_measure.py DEVNET_DIR NODES [store]
(docs/placement.md, "Measured").
"""
import json, socket, sys, time, os, subprocess, re
root, n = sys.argv[1], int(sys.argv[2])
def call(i, method, params={}):
    s = socket.socket(socket.AF_UNIX); s.settimeout(60)
    s.connect(f"{root}/node{i}/enigma.sock")
    s.sendall((json.dumps({"jsonrpc":"2.0","id":1,"method":method,"params":params})+"\n").encode())
    buf=b""
    while not buf.endswith(b"\n"):
        c=s.recv(65536)
        if not c: break
        buf+=c
    s.close()
    r=json.loads(buf)
    if "error" in r: raise Exception(r["error"])
    return r["result"]
def rss_by_dir():
    out={}
    for pid in os.listdir("/proc"):
        if not pid.isdigit(): continue
        try:
            cmd=open(f"/proc/{pid}/cmdline").read().split("\0")
            if "--data-dir" in cmd:
                d=cmd[cmd.index("--data-dir")+1]
                if d.startswith(root+"/node"):
                    st=open(f"/proc/{pid}/status").read()
                    out[d]=int(re.search(r"VmRSS:\s+(\d+)",st).group(1))
        except Exception: pass
    return out
peers=[len(call(i,"peers")) for i in range(n)]
rss=rss_by_dir()
vals=sorted(rss.values())
print("load", open("/proc/loadavg").read().strip())
print(f"connections per node: min {min(peers)} median {sorted(peers)[n//2]} max {max(peers)} mean {sum(peers)/n:.1f}")
if vals: print(f"RSS KiB: min {vals[0]} median {vals[len(vals)//2]} max {vals[-1]} mean {sum(vals)/len(vals):.0f} ({len(vals)} procs)")
if len(sys.argv)>3 and sys.argv[3]=="store":
    import random
    random.seed(1)
    sk=call(0,"gen_key")[0]
    picks=[random.randrange(n) for _ in range(20)]
    for i in set(picks): call(i,"set_privkey",{"privkey":sk})
    t=time.time(); keys=[]
    for j in range(10):
        i=picks[j]
        keys.append((call(i,"store",{"data":j*7}),j*7))
    ts=time.time()-t; t=time.time()
    ok=0
    for j,(k,v) in enumerate(keys):
        i=picks[10+j]
        r=call(i,"load",{"key":k}); ok+= (r["value"]==v)
    print(f"10 stores from random nodes {ts:.1f}s, 10 loads from random nodes {time.time()-t:.1f}s, {ok}/10 correct")
