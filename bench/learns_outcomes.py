"""Per-task held-out outcomes of a finished `bench/learns.py` run, from the M1 and M2 it registered.

`learns.py` keeps its artifacts (models, registry) under a temporary folder it names on stderr
(`agentfactory-bench-learns-*`). This evaluates that run's M1 and M2 again, greedily, on the same held-out tasks
(same scenario, levels, n and seed), and prints one JSON object with the success rates and the per-task outcomes
(`m1_solved`, `m2_solved`), which a pooled paired bootstrap across seeds needs. Greedy decoding of the same models on
the same tasks gives the run's own success rates back; the output says whether it did.
Usage: python bench/learns_outcomes.py HOME --seed N [--result learns.json]"""
import argparse, json, os, sys
from pathlib import Path

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("home", help="the run's artifact folder (agentfactory-bench-learns-*)")
p.add_argument("--seed", type=int, required=True, help="the --seed the run was made with")
p.add_argument("--scenario", default="support-desk")
p.add_argument("--levels", default="1,2,3,4")
p.add_argument("--n-eval", type=int, default=80)
p.add_argument("--result", help="the run's learns.json: its success rates are compared with these")
a = p.parse_args()
if not (Path(a.home) / "agentfactory.db").is_file(): sys.exit(f"{a.home} holds no agentfactory.db: not a bench/learns.py run folder")
os.environ["AGENTFACTORY_ARTIFACT_ROOT"] = a.home
os.environ["AGENTFACTORY_DB_URL"] = ""
os.environ.setdefault("AGENTFACTORY_TRACKING", "off")

from agentfactory.envs.spec import resolve_scenario
from agentfactory.evaluation.core import evaluate
from agentfactory.models.registry import ModelRegistry

desk = resolve_scenario(a.scenario)
held = desk.tasks("heldout", levels=tuple(int(x) for x in a.levels.split(",")), n=a.n_eval, seed=a.seed)
reg = ModelRegistry()
out = {"seed": a.seed, "heldout_task_ids": [t.id for t in held]}
for key, ref in (("m1", "support-agent:M1"), ("m2", "support-agent:M2")):
    rep, trajs = evaluate(reg.load_policy(ref), desk, held, model_version=ref, progress=False)
    ok = {t.task_id: bool(t.success) for t in trajs}
    out[f"{key}_success"], out[f"{key}_solved"] = round(rep.success_rate, 4), [ok[t.id] for t in held]
if a.result:
    run = json.loads(Path(a.result).read_text())
    out["matches_run"] = all(out[f"{k}_success"] == run[f"{k}_success"] for k in ("m1", "m2"))
print(json.dumps(out))
