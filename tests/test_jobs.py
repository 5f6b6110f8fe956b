"""Training jobs: validation before anything runs; pause -> resume ends where an uninterrupted run ends; recovery after
`kill -9` of the worker and its orchestrator; stop; RM, DPO and GRPO jobs end to end with TRL on the tiny model (CPU)."""
import json, math, os, signal, subprocess, sys, time

import pytest

from agentfactory.compute.core import Pool
from agentfactory.core.errors import InvalidInput
from agentfactory.core.records import Message, Reply
from agentfactory.data.datasets import build_dataset
from agentfactory.data.ingest import ingest_trajectories, load_trajectories
from agentfactory.data.labels import create_batch, submit_label
from agentfactory.envs.loop import run_episodes
from agentfactory.envs.supportdesk import SupportDesk
from agentfactory.models.base import resolve_base
from agentfactory.training.jobs import (create_job, get_job, list_jobs, pause_job, recover_jobs, resume_job, run_job,
                                        score, stop_job, wait_job)
from agentfactory.models.registry import ModelRegistry

# one thread per worker (a 1-CPU allocation) keeps the runs reproducible and the CI machine responsive
SFT_HP = dict(max_steps=16, batch_size=2, learning_rate=3e-3, save_steps=4, logging_steps=1, seed=0, device="cpu",
              max_length=512)


class ShrugPolicy:
    "A deliberately useless support agent (the rejected side of the pairs)."
    name = "shrug"

    def act(self, conversations, tools):
        return [Reply(message=Message(role="assistant", content="I am not sure, please check later.")) for _ in conversations]


@pytest.fixture
def desk(af_home):
    d = SupportDesk()
    resolve_base("tiny", d.corpus())
    return d


@pytest.fixture
def sft_data(desk):
    ingest_trajectories(run_episodes(desk.expert(), desk, desk.tasks("train", n=6, seed=0), progress=False))
    return build_dataset("sft", tools=desk.tools)


@pytest.fixture
def pair_data(desk):
    "A DPO dataset from pairwise labels (expert vs shrug), built as tests/test_preference.py does."
    tasks = desk.tasks("train", n=6, seed=0)
    good = run_episodes(desk.expert(), desk, tasks, model_version="expert", progress=False)
    bad = run_episodes(ShrugPolicy(), desk, tasks, model_version="shrug", progress=False)
    ingest_trajectories(good + bad)
    by_id = {t.id: t for t in load_trajectories()}
    for task in create_batch("pairwise", {"source": "rollout"}, min_annotations=1):
        submit_label(task.id, "ana", {"choice": "a" if by_id[task.trajectory_ids[0]].success else "b"})
    return build_dataset("dpo", tools=desk.tools), good, bad


def _spec(ds, **kw):
    return dict(model_base="tiny", dataset_ref=ds.id, algorithm="sft", hyperparameters=dict(SFT_HP), peft="none",
                compute={"cpus": 1}, **kw)


def _losses(job):
    return {r["step"]: r["loss"] for r in map(json.loads, open(os.path.join(job.output_dir, "loss.jsonl"))) if "loss" in r}


def _wait_step(job_id, step, timeout=120):
    t0 = time.monotonic()
    while (j := get_job(job_id)).step < step:
        assert j.status in ("queued", "running"), (j.status, j.error)   # queued: a separate orchestrator has not claimed it yet
        assert time.monotonic() - t0 < timeout, f"job {job_id} did not reach step {step}"
        time.sleep(0.05)
    return j


def test_invalid_specs_are_refused_before_anything_runs(sft_data, pair_data):
    dpo = pair_data[0]
    bad = [
        (dict(_spec(sft_data), epochz=2), "epochz"),                                     # unknown field
        (dict(_spec(sft_data), hyperparameters={"lr": 1e-3}), "bad sft hyperparameters"),  # unknown hyperparameter
        (dict(_spec(dpo)), "needs a sft dataset"),                                       # sft on a dpo dataset
        (dict(_spec(sft_data), algorithm="dpo", hyperparameters={}), "needs a dpo or rm dataset"),
        (dict(_spec(sft_data), algorithm="grpo", hyperparameters={}), "needs a rl dataset"),
        (dict(_spec(sft_data), algorithm="ppo"), "not available"),
        (dict(_spec(sft_data), model_base="M3"), "unknown model_base"),
        (dict(_spec(sft_data), model_base="/nonexistent/model"), "unknown model_base"),
        (dict(_spec(sft_data), dataset_ref="D99"), "not found"),
        (dict(_spec(sft_data), reward={"env": 1.0}), "GRPO setting"),
        (dict(_spec(sft_data), peft="qlora"), "peft"),
    ]
    for spec, msg in bad:
        with pytest.raises(InvalidInput, match=msg): create_job(spec)
    assert list_jobs() == [] and Pool().in_use().cpus == 0          # nothing recorded, nothing allocated
    reg = ModelRegistry()
    m0 = reg.register(resolve_base("tiny"), kind="base")
    assert create_job(dict(_spec(sft_data), model_base=m0.ref)).base_path == m0.path   # a registry ref resolves
    assert create_job(dict(_spec(dpo), algorithm="rm", hyperparameters={})).status == "queued"


def test_pause_then_resume_matches_an_uninterrupted_run(sft_data):
    ref = run_job(create_job(_spec(sft_data)).id, wait=False)        # the uninterrupted run, alongside
    job = run_job(create_job(_spec(sft_data)).id, wait=False)
    _wait_step(job.id, 6)
    pause_job(job.id)
    paused = wait_job(job.id, timeout=120)
    assert paused.status == "paused", paused.error
    at = paused.step
    assert 6 <= at < SFT_HP["max_steps"] and paused.checkpoints[-1].name == f"checkpoint-{at}"
    assert paused.model_ref is None and not paused.model_dir.exists()
    done = resume_job(job.id)
    ref = wait_job(ref.id, timeout=180)
    assert ref.status == done.status == "succeeded", (ref.error, done.error)
    assert done.runs[-1]["resumed_from"] == f"checkpoint-{at}" and done.runs[-1]["start_step"] == at
    assert done.step == ref.step == SFT_HP["max_steps"]
    # same optimizer, scheduler, RNG and data position: the final loss agrees (identical here; 0.5 % allowed for bf16)
    a, b = _losses(ref), _losses(done)
    assert sorted(a) == sorted(b) == list(range(1, SFT_HP["max_steps"] + 1))
    assert b[SFT_HP["max_steps"]] == pytest.approx(a[SFT_HP["max_steps"]], rel=0.005)
    assert b[SFT_HP["max_steps"]] < b[1]                                    # and it learned
    assert done.usage["cpu_seconds"] > 0 and len(done.usage["allocations"]) == 2 and done.usage["cost_usd"] >= 0
    print("final loss uninterrupted %.5f, paused+resumed %.5f" % (a[SFT_HP["max_steps"]], b[SFT_HP["max_steps"]]))
    assert {done.model_ref, ref.model_ref} == {"support-agent:M1", "support-agent:M2"}   # M0: the base, registered once
    assert ModelRegistry().get("M0").kind == "base"
    assert ModelRegistry().get(done.model_ref).lineage["job"] == done.id


def test_kill_9_then_recover_continues_from_the_last_checkpoint(sft_data, af_home):
    job = create_job(_spec(sft_data))
    # the orchestrator in a process of its own, so the whole host side can die
    orch = subprocess.Popen([sys.executable, "-c", f"from agentfactory.training.jobs import run_job; run_job({job.id!r})"],
                            env={**os.environ})
    try:
        j = _wait_step(job.id, 6)                       # checkpoint-4 is written before step 5 starts
        worker = j.pid
        os.kill(orch.pid, signal.SIGKILL); orch.wait()
        os.kill(worker, signal.SIGKILL)
        time.sleep(0.5)
    finally:
        if orch.poll() is None: orch.kill()
    killed = get_job(job.id)
    assert killed.status == "running" and killed.step < SFT_HP["max_steps"]   # nobody could record the death
    assert Pool().in_use().cpus == 1                                           # and the allocation is still held
    last = killed.checkpoints[-1].name
    recovered = recover_jobs()
    assert [r.id for r in recovered] == [job.id]
    done = recovered[0]
    assert done.status == "succeeded", done.error
    assert done.runs[-1]["resumed_from"] == last != "checkpoint-0" and done.runs[-1]["start_step"] == int(last.split("-")[1]) > 0
    assert done.step == SFT_HP["max_steps"]
    assert sorted(_losses(done)) == list(range(1, SFT_HP["max_steps"] + 1))   # each step logged once
    assert Pool().in_use().cpus == 0


def test_stop_ends_the_job_without_a_model(sft_data):
    queued = create_job(_spec(sft_data))
    assert stop_job(queued.id).status == "stopped"                    # never ran
    job = run_job(create_job(_spec(sft_data)).id, wait=False)
    _wait_step(job.id, 2)
    stop_job(job.id)
    job = wait_job(job.id, timeout=120)
    assert job.status == "stopped" and job.step < SFT_HP["max_steps"]
    assert job.model_ref is None and not job.model_dir.exists() and ModelRegistry().list() == []
    with pytest.raises(Exception, match="stopped"): resume_job(job.id)


def test_rm_and_dpo_jobs_train_and_the_rm_scores(pair_data):
    ds, good, bad = pair_data
    hp = dict(max_steps=4, batch_size=2, save_steps=2, logging_steps=1, max_length=1024, device="cpu")
    rm = run_job(create_job(dict(model_base="tiny", dataset_ref=ds.id, algorithm="rm", hyperparameters=hp, peft="none",
                                 compute={"cpus": 1})).id)
    assert rm.status == "succeeded", rm.error
    assert rm.step == 4 and math.isfinite(rm.metrics["final_loss"]) and rm.model_ref == "support-agent-rm:M0"
    assert rm.usage["cpu_seconds"] > 0
    r_good, r_bad = score(rm.model_ref, good[0]), score(rm.model_ref, bad[0])
    assert isinstance(r_good, float) and math.isfinite(r_good) and math.isfinite(r_bad) and r_good != r_bad

    dpo = run_job(create_job(dict(model_base="tiny", dataset_ref=ds.id, algorithm="dpo",
                                  hyperparameters={**hp, "beta": 0.1}, peft="none", compute={"cpus": 1})).id)
    assert dpo.status == "succeeded", dpo.error
    assert dpo.step == 4 and math.isfinite(dpo.metrics["final_loss"])
    assert (dpo.model_dir / "config.json").exists() and dpo.model_ref == "support-agent:M1"
    assert ModelRegistry().get(dpo.model_ref).lineage["datasets"] == [ds.id]


def test_grpo_job_rolls_out_in_the_scenario(desk):
    "A GRPO job with TRL on the tiny model: episodes in the support desk, env + rule rewards, logs, a registered M1."
    ingest_trajectories(run_episodes(desk.expert(), desk, desk.tasks("train", n=4, seed=0), progress=False))
    rl = build_dataset("rl", tools=desk.tools)
    for hp, msg in [(dict(batch_size=6, num_generations=4), "multiple of num_generations"),
                    (dict(batch_size=2, grad_accum=3, num_generations=4), r"2 × 3\) must be a multiple of num_generations \(4\)"),
                    (dict(scenario="no-such-scenario"), "hyperparameters.scenario"),
                    (dict(limits={"max_stepz": 3}), "max_stepz")]:
        with pytest.raises(InvalidInput, match=msg):
            create_job(dict(model_base="tiny", dataset_ref=rl.id, algorithm="grpo", hyperparameters=hp))
    with pytest.raises(InvalidInput, match="rm_ref"):
        create_job(dict(model_base="tiny", dataset_ref=rl.id, algorithm="grpo", reward={"env": 1.0, "rm": 0.5}))
    # micro-batches: each step generates 4 episodes (one group) and computes the loss 2 at a time
    hp = dict(max_steps=2, batch_size=2, grad_accum=2, num_generations=4, max_completion_length=24, learning_rate=1e-4, logging_steps=1,
              save_steps=1, seed=0, device="cpu")
    job = create_job(dict(model_base="tiny", dataset_ref=rl.id, algorithm="grpo", peft="none", compute={"cpus": 1},
                          reward={"env": 1.0, "rules": 0.5}, hyperparameters=hp))
    done = run_job(job.id)
    assert done.status == "succeeded", done.error
    assert done.step == 2 and done.model_ref == "support-agent:M1"
    m = done.metrics
    assert m["reward_functions"] == ["env_reward", "rules_reward"] and m["reward_weights"] == [1.0, 0.5]
    assert m["scenario"] == "support-desk" and m["scenario_version"] == desk.version
    logs = [json.loads(l) for l in open(os.path.join(done.output_dir, "loss.jsonl"))]
    steps = [r for r in logs if "reward" in r]
    assert len(steps) == 2
    for key in ("rewards/env_reward/mean", "rewards/rules_reward/mean", "reward_std", "kl", "completions/mean_length",
                "frac_reward_zero_std", "frac_groups_skipped", "tools/call_frequency"):
        assert all(key in r for r in steps), key
    for r in steps:    # rewards are composed with the weights; a group that all scored alike is skipped
        assert r["reward"] == pytest.approx(r["rewards/env_reward/mean"] + 0.5 * r["rewards/rules_reward/mean"], abs=1e-5)
        assert r["frac_groups_skipped"] == r["frac_reward_zero_std"]
    mv = ModelRegistry().get(done.model_ref)
    assert mv.lineage["algorithm"] == "grpo" and mv.lineage["datasets"] == [rl.id]
    assert (mv.lineage["scenario"], mv.lineage["scenario_version"]) == ("support-desk", desk.version)
    assert mv.metrics["train"]["steps"] == 2 and mv.lineage["code_commit"]
    assert [c.name for c in done.checkpoints] == ["checkpoint-1", "checkpoint-2"]


def test_grpo_tool_calls_parse_and_run_through_the_env(desk):
    "What TRL does with a generated tool call: parse it with the tokenizer and our tool methods, then call the method."
    from transformers import AutoTokenizer
    from trl.chat_template_utils import parse_response
    from agentfactory.models.chat import prepare_tokenizer
    from agentfactory.training.grpo import episode_env_class, schema_tokenizer
    tok = schema_tokenizer(prepare_tokenizer(AutoTokenizer.from_pretrained(resolve_base("tiny"))))
    task = desk.tasks("train", levels=(1,), n=1, seed=0)[0]
    env = episode_env_class("support-desk")()
    env.reset(task_id=task.id, scenario_id=desk.id, scenario_version=desk.version)
    tools = [getattr(env, t["function"]["name"]) for t in desk.tools]
    prompt = tok.apply_chat_template([{"role": "user", "content": task.question}], tools=tools, add_generation_prompt=True,
                                     tokenize=True, return_dict=True)["input_ids"]
    text = '<tool_call>\n{"name": "get_order", "arguments": {"order_id": "%s"}}\n</tool_call><|im_end|>' % task.expected["order_id"]
    ids = tok(text, add_special_tokens=False)["input_ids"]
    msg = parse_response(tok, ids, prefix=prompt, tools=tools)
    call = msg["tool_calls"][0]["function"]
    assert call["name"] == "get_order" and call["arguments"] == {"order_id": task.expected["order_id"]}
    obs = getattr(env, call["name"])(**call["arguments"])
    assert task.expected["order_id"] in obs and task.expected["status"] in obs
    assert env._env.recording[-1]["tool"] == "get_order" and env._env.recording[-1]["error"] is None
    assert "not found" in env.get_order(order_id="Z0000").lower()   # a wrong id is an observation, not an exception
    assert len(env._env.recording) == 2
