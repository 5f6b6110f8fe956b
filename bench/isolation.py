"""The isolation walk's size and time: tests/test_platform.py walks every route of the OpenAPI schema with every
role of two tenants (tenant B with tenant A's ids; tenant A against the permission matrix). This runs that test and
prints one JSON object: routes, roles, tenants, object kinds, calls made, seconds. Usage: python bench/isolation.py"""
import json, os, subprocess, sys, tempfile, time
from pathlib import Path

root = Path(__file__).resolve().parents[1]
out = Path(tempfile.mkdtemp(prefix="agentfactory-bench-walk-")) / "walk.json"
t0 = time.perf_counter()
r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "tests/test_platform.py::test_openapi_walk_isolation_and_permissions"],
                   cwd=root, env={**os.environ, "AGENTFACTORY_WALK_SUMMARY": str(out), "OMP_NUM_THREADS": "1"},
                   capture_output=True, text=True)
if r.returncode != 0: sys.exit(f"the walk failed:\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
s = json.loads(out.read_text())
print(json.dumps({"walk_routes": s["routes"], "walk_roles": s["roles"], "walk_tenants": s["tenants"],
                  "walk_object_kinds": s["object_kinds"], "walk_calls": s["calls"],
                  "walk_seconds": round(time.perf_counter() - t0, 1), "cpu_count": os.cpu_count()}))
