"""Runs the quickstart N times on the native stack and prints, per run and as min/median/max,
the ratios its test asserts: dynamic-1 over static-4 latency and queue-wait p99, static-4 over
dynamic-1 burst-phase throughput, static-4's p99, and the CPU per request by /proc.
Usage: python3 scripts/quickstart_spread.py N [FPMLAB_BINARY]  (default target/release/fpmlab)."""
import json, os, subprocess, sys, tempfile, time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
n = int(sys.argv[1])
binp = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "target/release/fpmlab")
work = tempfile.mkdtemp(prefix="fpmlab-spread-")
rows = []
for i in range(n):
    out=os.path.join(work, f"run{i}")
    t0=time.time()
    r=subprocess.run([binp,"run",os.path.join(root, "scenarios/quickstart.toml"),"--stack","native","--quiet","--no-report","--out",out],capture_output=True,text=True)
    run=json.load(open(out+"/run.json"))
    c={x["name"]:x for x in run["configs"]}
    d,s=c["dynamic-1"],c["static-4"]
    def ph(x):
        return [p for p in x["phases"] if p["name"]=="bursts"][0]["summary"]["achieved_rps"]
    lat=d["summary"]["latency"]["p99_us"]/s["summary"]["latency"]["p99_us"]
    q=d["summary"]["queue_wait"]["p99_us"]/max(1,s["summary"]["queue_wait"]["p99_us"])
    thr=ph(s)/ph(d)
    sp=s["summary"]["latency"]["p99_us"]/1e6
    cpu={k:(v.get("cpu_per_request") or {}).get("measured_ms") for k,v in c.items()}
    ok=lat>=5 and q>=5 and sp<1.5 and thr>=1.3
    rows.append((lat,q,thr,sp,ok))
    print(f"run {i+1}: latency p99 ratio {lat:.1f}x, queue p99 ratio {q:.1f}x, burst rps ratio {thr:.2f}x, static p99 {sp:.2f} s, cpu/request {cpu}, {'PASS' if ok else 'FAIL'} ({time.time()-t0:.0f} s, exit {r.returncode})",flush=True)
for k,name in enumerate(["latency p99 ratio","queue p99 ratio","burst rps ratio","static p99 s"]):
    v=[r[k] for r in rows]; print(f"{name}: min {min(v):.2f} median {sorted(v)[len(v)//2]:.2f} max {max(v):.2f}")
print(f"{sum(r[4] for r in rows)} of {n} hold (runs kept in {work})")
