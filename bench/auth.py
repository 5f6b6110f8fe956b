"""Authentication overhead per request: the real app served by uvicorn on 127.0.0.1, cheap authenticated GETs against
the open /healthz, and `authenticate()` alone in-process.

Every route but /healthz goes through the guard: it reads the key from the headers, looks its hash up in the platform
store (one primary-key read, in a worker thread), checks revocation and expiry, and scopes the request to the key's
tenant. This measures what that adds. The client (httpx, one keep-alive connection) and the server share this
process, so absolute latencies include the client's own cost; the difference between the routes is the guard's.
/healthz also pings the store, so the overhead shown is a slight underestimate. Prints one JSON object.
Usage: python bench/auth.py [--n 1000]"""
import argparse, json, logging, os, platform, shutil, statistics, tempfile, time

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--n", type=int, default=1000, help="timed requests per route (and in-process calls)")
a = p.parse_args()
tmp = tempfile.mkdtemp(prefix="agentfactory-bench-auth-")
os.environ.update(AGENTFACTORY_ARTIFACT_ROOT=tmp, AGENTFACTORY_DB_URL="", AGENTFACTORY_TRACKING="off")
os.environ.pop("AGENTFACTORY_API_KEY", None)
logging.getLogger("agentfactory.core.auth").setLevel(logging.ERROR)        # the bootstrap's "admin key written" line

import httpx
from agentfactory.api.app import create_app
from agentfactory.core.auth import authenticate, create_key, record_audit
from agentfactory.core.serving import serve_app
from agentfactory.runtime.core import Runtime

def pct(xs: list[float], q: float) -> float: return sorted(xs)[round(q * (len(xs) - 1))]

t_all, load0 = time.perf_counter(), os.getloadavg()[0]
app = create_app(Runtime(ingest=False))
store = app.state.platform.store
_, token = create_key("default", "researcher", name="bench", store=store)

# authenticate() alone: parse, one read by primary key, constant-time hash compare, revocation/expiry checks
for _ in range(200): authenticate(token, store)
auth_us = []
for _ in range(a.n):
    t0 = time.perf_counter_ns(); authenticate(token, store); auth_us.append((time.perf_counter_ns() - t0) / 1e3)

# one audit row, what each mutating or denied request adds after its response
principal = authenticate(token, store)
audit_us = []
for i in range(min(a.n, 500)):
    t0 = time.perf_counter_ns()
    record_audit("POST", "/agents", 201, principal, f"bench-{i}", {"agent_id": "agent_1"}, store=store)
    audit_us.append((time.perf_counter_ns() - t0) / 1e3)

url, stop = serve_app(app, name="bench-auth")
routes = {"healthz": ("/healthz", {}), "whoami": ("/whoami", {"Authorization": f"Bearer {token}"}),
          "events": ("/events?limit=1", {"X-API-Key": token})}
ms = {k: [] for k in routes}
try:
    with httpx.Client(base_url=url, timeout=30) as c:
        for _ in range(100):                                                    # warm-up: connection, imports, caches
            for path, h in routes.values(): assert c.get(path, headers=h).status_code == 200
        for _ in range(a.n):                                                    # interleaved, so drift hits all alike
            for k, (path, h) in routes.items():
                t0 = time.perf_counter_ns()
                r = c.get(path, headers=h)
                ms[k].append((time.perf_counter_ns() - t0) / 1e6)
                assert r.status_code == 200, r.text
finally:
    stop()

out = {"auth_p50_us": round(pct(auth_us, .5), 1), "auth_p99_us": round(pct(auth_us, .99), 1),
       "whoami_p50_ms": round(pct(ms["whoami"], .5), 3), "whoami_p99_ms": round(pct(ms["whoami"], .99), 3),
       "events_p50_ms": round(pct(ms["events"], .5), 3), "events_p99_ms": round(pct(ms["events"], .99), 3),
       "healthz_p50_ms": round(pct(ms["healthz"], .5), 3), "healthz_p99_ms": round(pct(ms["healthz"], .99), 3),
       "overhead_p50_us": round((pct(ms["whoami"], .5) - pct(ms["healthz"], .5)) * 1e3, 1),
       "audit_row_p50_us": round(pct(audit_us, .5), 1),
       "requests": sum(len(v) for v in ms.values()), "in_process_calls": len(auth_us),
       "whoami_mean_ms": round(statistics.fmean(ms["whoami"]), 3), "healthz_mean_ms": round(statistics.fmean(ms["healthz"]), 3),
       "setup": "SQLite platform store; uvicorn in a thread of this process; httpx keep-alive client, one connection",
       "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_implementation()} {platform.python_version()}",
       "cpu_count": os.cpu_count(),
       "load_avg_1m": {"start": round(load0, 2), "end": round(os.getloadavg()[0], 2)},   # other work on the same cores slows every figure
       "bench_s": round(time.perf_counter() - t_all, 1)}
print(json.dumps(out))
shutil.rmtree(tmp, ignore_errors=True)
