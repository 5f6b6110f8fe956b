"""Batched vs one-at-a-time generation in the agent loop, on held-out support-desk tasks.

Prints one JSON object: episodes per second both ways, the speedup, and whether outcomes agree.
Usage: python bench/agent_loop.py [--model smollm2|tiny|PATH] [--episodes 32] [--batch-size 16] [--dtype auto|float32|bfloat16]"""
import argparse, json, os, tempfile, time

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--model", default="smollm2", help="smollm2 | tiny | a local HF folder (untrained tiny works for timing)")
p.add_argument("--episodes", type=int, default=32)
p.add_argument("--batch-size", type=int, default=16)
p.add_argument("--max-new-tokens", type=int, default=64)
p.add_argument("--dtype", default="auto", help="auto | float32 | bfloat16 (HFPolicy's dtype)")
a = p.parse_args()
os.environ.setdefault("AGENTFACTORY_ARTIFACT_ROOT", os.path.join(tempfile.gettempdir(), "agentfactory-bench"))

from agentfactory.envs.supportdesk import SupportDesk
from agentfactory.envs.loop import run_episodes
from agentfactory.models.base import resolve_base
from agentfactory.models.policy import HFPolicy

desk = SupportDesk()
tasks = desk.tasks("heldout", levels=(1, 2), n=a.episodes, seed=0)
path = resolve_base(a.model, corpus=desk.corpus())
res = {"model": a.model, "episodes": len(tasks), "batch_size": a.batch_size, "max_new_tokens": a.max_new_tokens,
       "cpu_cores": os.cpu_count()}
outcomes = {}
for mode, bs in (("batched", a.batch_size), ("sequential", 1)):
    pol = HFPolicy(path, batch_size=bs, max_new_tokens=a.max_new_tokens, dtype=a.dtype)
    res["dtype"] = pol.dtype
    t0 = time.perf_counter()
    trajs = run_episodes(pol, desk, tasks, source="eval", progress=False)
    dt = time.perf_counter() - t0
    res[f"{mode}_s"] = round(dt, 2)
    res[f"{mode}_episodes_per_s"] = round(len(tasks) / dt, 3)
    outcomes[mode] = [(t.answer, t.success) for t in trajs]
res["speedup_x"] = round(res["sequential_s"] / res["batched_s"], 2)
res["same_outcomes_frac"] = round(sum(x == y for x, y in zip(outcomes["batched"], outcomes["sequential"])) / len(tasks), 3)
print(json.dumps(res))
