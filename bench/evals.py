"""An eval run end to end (episodes, metrics, redaction, storage): batched vs one episode at a time, and judge throughput.

Prints one JSON object: episodes per second of a whole eval run both ways and the speedup, and LLM-judge judgements
per second (uncached, then cached). Usage: python bench/evals.py [--model smollm2|tiny|PATH] [--tasks 32]"""
import argparse, json, os, tempfile, time

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--model", default="smollm2", help="smollm2 | tiny | a local HF folder (untrained works for timing)")
p.add_argument("--tasks", type=int, default=32, help="held-out L1/L2 support-desk tasks")
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--max-new-tokens", type=int, default=48)
a = p.parse_args()
home = tempfile.mkdtemp(prefix="af-bench-evals-")
os.environ.update(AGENTFACTORY_ARTIFACT_ROOT=home, AGENTFACTORY_DB_URL="", AGENTFACTORY_TRACKING="off")
os.environ.setdefault("AGENTFACTORY_BASE_CACHE", os.path.join(tempfile.gettempdir(), "agentfactory-bench-bases"))

from agentfactory.envs.supportdesk import SupportDesk
from agentfactory.evaluation.judges import LLMJudge
from agentfactory.evaluation.runs import create_eval_run, eval_rows, run_eval
from agentfactory.models.base import resolve_base
from agentfactory.models.policy import HFPolicy
from agentfactory.models.registry import ModelRegistry

desk = SupportDesk()
path = resolve_base(a.model, corpus=desk.corpus())
mv = ModelRegistry().register(path, kind="base")
from agentfactory.data.pii import redact
redact("warm up Presidio, Jane Doe")          # its ~8 s load belongs to neither mode
res = {"model": a.model, "tasks": a.tasks, "max_new_tokens": a.max_new_tokens, "cpu_cores": os.cpu_count()}
for mode, bs in (("batched", a.batch_size), ("one_at_a_time", 1)):
    run = create_eval_run(dict(models=[mv.ref], scenario="support-desk", levels=[1, 2], n=a.tasks, seed=0, batch_size=bs,
                               max_new_tokens=a.max_new_tokens, gate=False, champion=None))
    t0 = time.perf_counter()
    run = run_eval(run.id, progress=False)
    dt = time.perf_counter() - t0
    assert run.status == "done", run.error
    res[f"{mode}_s"] = round(dt, 2)
    res[f"{mode}_episodes_per_s"] = round(a.tasks / dt, 3)
res["speedup_x"] = round(res["one_at_a_time_s"] / res["batched_s"], 2)

from agentfactory.envs.loop import run_episodes
tasks = desk.tasks("heldout", levels=(1, 2), n=a.tasks, seed=0)
items = list(zip(tasks, run_episodes(desk.expert(), desk, tasks, source="eval", progress=False)))
judge = LLMJudge(HFPolicy(path, max_new_tokens=64, batch_size=a.batch_size), cache=True)
t0 = time.perf_counter(); js = judge.judge(items); dt = time.perf_counter() - t0
res["judge_judgements_per_s"] = round(len(items) / dt, 3)
res["judge_parsed_frac"] = round(sum(j.score is not None for j in js) / len(js), 3)
t0 = time.perf_counter(); judge.judge(items); dt = time.perf_counter() - t0
res["judge_cached_judgements_per_s"] = round(len(items) / dt, 1)
print(json.dumps(res))
