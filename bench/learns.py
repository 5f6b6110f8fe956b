"""Does a second stage beat SFT? M1 = LoRA SFT of SmolLM2 on a few expert demonstrations; M2 = GRPO from M1 with
rollouts in the support desk (reward: the env checker + rule verifiers). Both evaluated greedily on the same held-out
tasks (phrasings never seen in training); the gain is reported with a paired bootstrap 95 % CI over tasks.
GRPO trains on the levels where M1 sometimes succeeds (--rl-levels, default L1-L2): a group in which every episode
fails (M1 never solves L3) has no variance and teaches nothing, yet costs the longest rollouts.

Everything goes through the Training Factory's jobs (own processes, compute allocations, registry), so this is also
the end-to-end check of SFT -> GRPO -> registry -> evaluation. Prints one JSON object; writes the GRPO log
(reward, KL, lengths per step) next to it under --out. Usage: python bench/learns.py [--quick] [--out DIR]"""
import argparse, json, os, platform, random, shutil, sys, tempfile, time
from pathlib import Path

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run (numbers mean nothing)")
p.add_argument("--out", default="bench/results", help="where the GRPO log and the JSON result are written")
p.add_argument("--scenario", default="support-desk")
p.add_argument("--levels", default="1,2,3,4", help="support-desk levels trained and evaluated, comma-separated")
p.add_argument("--sft-steps", type=int, default=16)
p.add_argument("--grpo-steps", type=int, default=12)
p.add_argument("--n-eval", type=int, default=80)
p.add_argument("--rl-levels", default="1,2", help="levels GRPO trains on: where M1 sometimes succeeds, so groups have variance "
               "(M1 never solves L3; an all-fail group teaches nothing)")
p.add_argument("--grpo-lr", type=float, default=3e-4)
p.add_argument("--grpo-batch", type=int, default=4, help="episodes per GRPO micro-batch")
p.add_argument("--grpo-accum", type=int, default=4, help="micro-batches per GRPO step (a step samples batch x accum episodes)")
p.add_argument("--temperature", type=float, default=0.8, help="GRPO sampling temperature")
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
home = tempfile.mkdtemp(prefix="agentfactory-bench-learns-")
os.environ["AGENTFACTORY_ARTIFACT_ROOT"] = home
os.environ["AGENTFACTORY_DB_URL"] = ""
os.environ.setdefault("AGENTFACTORY_TRACKING", "off")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

from agentfactory.data.datasets import build_dataset
from agentfactory.data.ingest import ingest_trajectories
from agentfactory.envs.loop import run_episodes
from agentfactory.envs.spec import resolve_scenario
from agentfactory.evaluation.core import evaluate
from agentfactory.training.jobs import create_job, run_job
from agentfactory.models.registry import ModelRegistry

if a.quick: a.sft_steps, a.grpo_steps, a.n_eval = 2, 2, 8
desk = resolve_scenario(a.scenario)
levels = tuple(int(x) for x in a.levels.split(","))
rl_levels = tuple(int(x) for x in a.rl_levels.split(","))
# tool results count in TRL's completion budget: an L3 episode (three lookups) is ~500 SmolLM2 tokens, L1/L2 ~185
budget, max_calls = (512, 3) if max(rl_levels) >= 3 else (256, 2)
sft_tasks = desk.tasks("train", levels=levels, n=8 * a.sft_steps, seed=a.seed)
ingest_trajectories(run_episodes(desk.expert(), desk, sft_tasks, progress=False))
sft_ds = build_dataset("sft", tools=desk.tools)
rl_tasks = desk.tasks("train", levels=rl_levels, n=200, seed=a.seed + 1)
ingest_trajectories(run_episodes(desk.expert(), desk, rl_tasks, progress=False))
rl_ds = build_dataset("rl", tools=desk.tools, filters={"level": list(rl_levels)})
held = desk.tasks("heldout", levels=levels, n=a.n_eval, seed=a.seed)

t0 = time.time()
sft = run_job(create_job(dict(model_base="smollm2", dataset_ref=sft_ds.id, algorithm="sft", peft="lora", compute={"cpus": 2},
                              hyperparameters=dict(max_steps=a.sft_steps, batch_size=8, learning_rate=8e-4, lora_layers=20,
                                                   logging_steps=1, save_steps=1000, seed=a.seed, device="cpu"))).id)
assert sft.status == "succeeded", sft.error
sft_s = time.time() - t0
reg = ModelRegistry()

def ev(ref):
    pol = reg.load_policy(ref)
    rep, trajs = evaluate(pol, desk, held, model_version=ref, progress=False)
    by_task = {t.task_id: bool(t.success) for t in trajs}
    return rep, [by_task[t.id] for t in held]

m1, m1_ok = ev(sft.model_ref)
print(f"M1 ({sft.model_ref}, SFT {sft_s:.0f} s): held-out success {m1.success_rate:.3f}", {k: v.success_rate for k, v in m1.by_level.items()}, file=sys.stderr, flush=True)
t0 = time.time()
grpo = run_job(create_job(dict(model_base=sft.model_ref, dataset_ref=rl_ds.id, algorithm="grpo", peft="lora", compute={"cpus": 2},
                               reward={"env": 1.0, "rules": 0.25},
                               hyperparameters=dict(max_steps=a.grpo_steps, batch_size=a.grpo_batch, grad_accum=a.grpo_accum, num_generations=4, learning_rate=a.grpo_lr,
                                                    max_completion_length=budget, max_tool_calls=max_calls, beta=0.02, temperature=a.temperature,
                                                    logging_steps=1, save_steps=1000, seed=a.seed, device="cpu",
                                                    scenario=a.scenario))).id)
assert grpo.status == "succeeded", grpo.error
grpo_s = time.time() - t0
m2, m2_ok = ev(grpo.model_ref)

rng = random.Random(0)
n = len(held)
diffs = sorted(sum(m2_ok[i] - m1_ok[i] for i in idx) / n for idx in ([rng.randrange(n) for _ in range(n)] for _ in range(10000)))
out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
shutil.copy(Path(grpo.output_dir) / "loss.jsonl", out / "learns_grpo_log.jsonl")
result = {
    "machine": f"{platform.machine()} {os.cpu_count()} cores", "scenario": a.scenario, "levels": list(levels), "rl_levels": list(rl_levels), "seed": a.seed,
    "sft_demos": len(sft_tasks), "sft_steps": sft.step, "grpo_steps": grpo.step, "heldout_tasks": n,
    "m1_success": round(m1.success_rate, 4), "m1_ci95": [round(x, 4) for x in m1.success_ci95],
    "m2_success": round(m2.success_rate, 4), "m2_ci95": [round(x, 4) for x in m2.success_ci95],
    "m1_by_level": {k: round(v.success_rate, 4) for k, v in m1.by_level.items()},
    "m2_by_level": {k: round(v.success_rate, 4) for k, v in m2.by_level.items()},
    "gain": round(sum(m2_ok) / n - sum(m1_ok) / n, 4),
    "gain_ci95_paired_bootstrap": [round(diffs[249], 4), round(diffs[9749], 4)],
    "sft_seconds": round(sft_s, 1), "grpo_seconds": round(grpo_s, 1),
    "grpo_reward_first": grpo.metrics["first"].get("reward"), "grpo_reward_last": grpo.metrics["last"].get("reward"),
    "m1_ref": sft.model_ref, "m2_ref": grpo.model_ref, "cpu_seconds_grpo": grpo.usage.get("cpu_seconds"),
    "grpo_hyperparameters": {k: grpo.spec["hyperparameters"][k] for k in ("batch_size", "grad_accum", "num_generations",
                                                                          "max_completion_length", "learning_rate", "beta", "temperature")},
    "heldout_task_ids": [t.id for t in held], "m1_solved": m1_ok, "m2_solved": m2_ok,     # per task: pooled CIs across seeds
}
(out / "learns.json").write_text(json.dumps(result, indent=1))
print(json.dumps(result))
