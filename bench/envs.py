"""Environment benchmarks: step latency in-process and over HTTP on loopback, sandbox warm acquire vs cold start,
rollout throughput with the scripted expert.

- in-process step: `AgentEnv.step` with one `get_order` tool call on the support desk (shop over the in-process ASGI
  transport), and a final-answer step (checker only);
- HTTP step: the same tool-call step through `RemoteEnv` -> env server (uvicorn on 127.0.0.1);
- sandbox: `SandboxPool(size=8).acquire()` paced every 50 ms (fresh worker per acquisition) vs `cold_call` (start,
  call, stop), measured with the interpreter's default thread switch interval and with 0.2 ms;
- rollouts: the scripted expert over support-desk tasks with 1 and 2 workers (not stored), episodes/s.
Prints one JSON object. Usage: python bench/envs.py [--quick]"""
import argparse, json, os, platform, statistics, sys, tempfile, time

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--quick", action="store_true", help="fewer repetitions, for a smoke run")
a = p.parse_args()
os.environ["AGENTFACTORY_ARTIFACT_ROOT"] = tempfile.mkdtemp(prefix="agentfactory-bench-envs-")
os.environ["AGENTFACTORY_DB_URL"] = ""

from agentfactory.core.serving import serve_app
from agentfactory.envs.env import AgentEnv, rollout
from agentfactory.envs.sandbox import SandboxPool, cold_call
from agentfactory.envs.server import RemoteEnv
from agentfactory.api.env_server import create_env_app
from agentfactory.envs.supportdesk import SupportDesk

N = 100 if a.quick else 1000

def pct(xs, q):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 3)

def call(oid):
    return {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                 "function": {"name": "get_order", "arguments": {"order_id": oid}}}]}

out = {"machine": f"{platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}"}
desk = SupportDesk()
task = desk.tasks("train", n=1, seed=0)[0]
oid = task.expected["order_id"]

# ---- in-process steps
env = AgentEnv(desk, limits={"max_steps": 256})
env.reset(seed=0, options={"task": task})
for _ in range(20): env.step(call(oid))                     # warm up
tool = []
for i in range(N):
    if i % 200 == 0: env.reset(seed=0, options={"task": task, "reset_state": False})   # stay under max_steps
    t = time.perf_counter(); env.step(call(oid)); tool.append((time.perf_counter() - t) * 1000)
answer = []
for _ in range(min(N, 300)):
    env.reset(seed=0, options={"task": task, "reset_state": False})
    t = time.perf_counter(); env.step(task.expected["answer"]); answer.append((time.perf_counter() - t) * 1000)
out.update(inproc_tool_step_p50_ms=pct(tool, .5), inproc_tool_step_p99_ms=pct(tool, .99),
           inproc_answer_step_p50_ms=pct(answer, .5), inproc_answer_step_p99_ms=pct(answer, .99))

# ---- HTTP steps
url, stop = serve_app(create_env_app(store=False), name="bench-env-server")
try:
    renv = RemoteEnv(url, "support-desk", limits={"max_steps": 256})
    renv.reset(seed=0, options={"task": task.id})
    renv.client.post(f"/runs/{renv.run_id}/step", json={"action": call(oid)})   # creates nothing new: warm
    http = []
    for i in range(N):
        if i and i % 200 == 0:                                 # stay under max_steps
            renv.close(); renv.reset(seed=0, options={"task": task.id})
        t = time.perf_counter(); renv.step(call(oid)); http.append((time.perf_counter() - t) * 1000)
    renv.close()
finally:
    stop()
out.update(http_tool_step_p50_ms=pct(http, .5), http_tool_step_p99_ms=pct(http, .99))

# ---- sandbox: warm acquire vs cold start
cold = []
for _ in range(10 if a.quick else 30):
    t = time.perf_counter(); cold_call("def f():\n    return 1\n", "f"); cold.append((time.perf_counter() - t) * 1000)
out.update(sandbox_cold_call_p50_ms=pct(cold, .5), sandbox_cold_call_p99_ms=pct(cold, .99))
for label, switch in (("default_switch", None), ("switch_0_2ms", 0.0002)):
    old = sys.getswitchinterval()
    if switch: sys.setswitchinterval(switch)
    acq = []
    with SandboxPool(size=8) as pool:
        time.sleep(3)
        for _ in range(50 if a.quick else 200):
            t = time.perf_counter(); sb = pool.acquire(); acq.append((time.perf_counter() - t) * 1000)
            sb.call("def f():\n    return 1\n", "f"); pool.release(sb); time.sleep(0.05)
    sys.setswitchinterval(old)
    out[f"sandbox_warm_acquire_{label}_p50_ms"] = pct(acq, .5)
    out[f"sandbox_warm_acquire_{label}_p99_ms"] = pct(acq, .99)

# ---- rollout throughput with the scripted expert
tasks = desk.tasks("train", n=60 if a.quick else 240, seed=1)
for workers in (1, 2):
    t = time.perf_counter()
    runs = rollout(desk.expert(), desk if workers == 1 else "support-desk", tasks, workers=workers, store=False, progress=False)
    dt = time.perf_counter() - t
    assert all(r.success for r in runs)
    out[f"rollout_expert_{workers}w_episodes_per_s"] = round(len(tasks) / dt, 1)
desk.close()
print(json.dumps(out))
