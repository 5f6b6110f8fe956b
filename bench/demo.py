"""The whole pipeline, timed: runs `agentfactory demo` and prints its figures as one JSON object.

Usage: python bench/demo.py [--model tiny|smollm2] [--out DIR]"""
import argparse, json, subprocess, sys, time
from pathlib import Path

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--model", default="tiny")
p.add_argument("--out", default=None)
a = p.parse_args()
out = Path(a.out or f"bench_out/demo_{a.model}")
t0 = time.perf_counter()
rc = subprocess.run([str(Path(sys.executable).parent / "agentfactory"), "demo", "--model", a.model, "--out", str(out)]).returncode
wall = time.perf_counter() - t0
r = json.loads((out / "report.json").read_text())
res = {"model": a.model, "exit_code": rc, "demo_wall_s": round(wall, 1), "gate_verdict": r["gate"].get("verdict"),
       "session_check_success": (r.get("session_check") or {}).get("success")}
for name, m in r["models"].items():
    res[f"{name}_success_rate"] = m["success_rate"]
    res[f"{name}_tool_accuracy"] = m["tool_accuracy"]
    for lv, v in m["by_level"].items(): res[f"{name}_{lv}_success_rate"] = v["success_rate"]
for k, v in r["timings_s"].items(): res[f"{k}_s"] = v
print(json.dumps(res))
