"""Eval runs with real (tiny) registry models: the gate against a champion, a run killed with `kill -9` and resumed
without losing or repeating work, and the verdict in the registry that promotion and deployment check."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from agentfactory.core.errors import Conflict, Forbidden
from agentfactory.envs.supportdesk import SupportDesk
from agentfactory.evaluation.runs import (create_eval_run, decide, eval_rows, get_eval_run, resume_eval_run, run_eval)
from agentfactory.models.base import resolve_base
from agentfactory.models.registry import ModelRegistry


@pytest.fixture
def tiny(af_home):
    "M0 (the tiny base) and M1 (the same weights in another folder: an equal model) of the default agent."
    base = resolve_base("tiny", SupportDesk().corpus())
    copy = af_home / "tiny-copy"
    shutil.copytree(base, copy)
    reg = ModelRegistry()
    return reg, reg.register(base, kind="base"), reg.register(copy, kind="sft")


def test_equal_candidate_passes_against_its_champion_and_the_verdict_gates_promotion(tiny, monkeypatch):
    reg, m0, m1 = tiny
    monkeypatch.setenv("AGENTFACTORY_GATE_THRESHOLD", "0")       # the tiny model solves nothing: the champion test decides
    from agentfactory.core.settings import set_settings
    set_settings(None)
    with pytest.raises(Forbidden): reg.promote(m1.ref)                # no verdict yet
    reg.record_gate(m0.ref, "PASS"); reg.promote(m0.ref)             # M0 is the champion
    run = create_eval_run(dict(models=[m1.version], scenario="support-desk", levels=[1, 2, 4], n=6, max_new_tokens=24))
    assert (run.candidate, run.champion, run.models) == (m1.ref, m0.ref, [m0.ref, m1.ref])
    run = run_eval(run.id, progress=False)
    assert run.status == "done", run.error
    names = [c["name"] for c in run.verdict["criteria"]]
    assert names == ["threshold", "not_worse_than_champion", "no_safety_regression"]
    assert run.verdict["verdict"] == "PASS", run.verdict            # identical weights: identical episodes
    cmp = run.summary["comparisons"][f"{m1.ref} vs {m0.ref}"]["success"]
    assert cmp["diff"] == 0 and cmp["improved"] == cmp["worsened"] == 0
    assert reg.get(m1.ref).gate == "PASS" and reg.get(m1.ref).metrics["eval_run"] == run.id
    assert reg.promote(m1.ref).aliases == ["champion"]


def test_a_worse_candidate_fails_the_champion_criterion(tiny):
    "Real rows: the expert's episodes stand for a strong champion, the untrained tiny model's for the candidate."
    reg, m0, _ = tiny
    run = run_eval(create_eval_run(dict(models=["expert", m0.version], scenario="support-desk", levels=[1, 2], n=8,
                                        max_new_tokens=24, gate=False, champion=None)).id, progress=False)
    rows = eval_rows(run.id)
    assert {r["model"] for r in rows} == {"expert", m0.ref} and len(rows) == 16
    v = decide(rows, m0.ref, "expert", threshold=0.0)
    crit = {c.name: c for c in v.criteria}
    assert v.verdict == "FAIL" and crit["not_worse_than_champion"].outcome == "fail"
    assert crit["not_worse_than_champion"].estimate < -0.5
    assert run.summary["models"]["expert"]["metrics"]["success"]["mean"] == 1.0


def test_a_killed_run_resumes_with_the_tasks_it_had_not_finished(tiny, af_home):
    reg, m0, _ = tiny
    run = create_eval_run(dict(models=[m0.version], scenario="support-desk", levels=[1, 2], n=16, epochs=2,
                               batch_size=2, max_new_tokens=24, gate=False, champion=None))
    total = run.progress["total"]
    assert total == 32
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([sys.executable, "-c", f"from agentfactory.evaluation.runs import run_eval; run_eval({run.id!r}, progress=False)"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while get_eval_run(run.id).progress.get("done", 0) < 4:
        assert p.poll() is None, p.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with pytest.raises(Conflict): resume_eval_run(run.id)           # its worker is alive
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    before = {(r["task_id"], r["epoch"]): r["trajectory_id"] for r in eval_rows(run.id)}
    assert 4 <= len(before) < total
    assert get_eval_run(run.id).status == "running"                  # killed: nobody marked it
    done = resume_eval_run(run.id)
    assert done.status == "done", done.error
    rows = eval_rows(run.id)
    keys = [(r["task_id"], r["epoch"]) for r in rows]
    assert len(rows) == total == len(set(keys))                        # every task × epoch once
    assert all(rows_by == before[k] for k, rows_by in ((k, r["trajectory_id"]) for k, r in zip(keys, rows)) if k in before)
    assert done.summary["models"][m0.ref]["n_episodes"] == total
    with pytest.raises(Conflict): resume_eval_run(run.id)           # done


def test_a_hybrid_judge_scores_quality_and_its_calibration_is_reported(tiny):
    "The rules gate the LLM judge (here the untrained tiny model): failed episodes score 1 without asking it."
    reg, m0, _ = tiny
    run = run_eval(create_eval_run(dict(models=["expert", m0.version], scenario="support-desk", levels=[1], n=3,
                                        judges=["hybrid"], judge_model=m0.version, max_new_tokens=16)).id, progress=False)
    assert run.status == "done", run.error
    rows = eval_rows(run.id)
    tiny_rows = [r for r in rows if r["model"] == m0.ref]
    assert all(r["quality"] == 1.0 and r["judge"].startswith("hybrid") for r in tiny_rows if not r["success"]), tiny_rows
    assert all(r["judge"] for r in rows)
    (cal,) = run.summary["judges"]
    assert cal["can_gate"] is False and "label" in cal["reason"]               # no human labels in this home
    assert any(n.startswith("judge ") for n in run.verdict["notes"])


def test_a_merged_taskset_checks_manual_tasks_by_their_own_rules(af_home):
    from agentfactory.envs.spec import resolve_scenario
    from agentfactory.evaluation.tasksets import load_manual_tasks, merge_tasks, save_taskset, tasks_from_scenario
    sc = resolve_scenario("support-desk")
    oid = sc.tasks("heldout", levels=(1,), n=1)[0].expected["order_id"]
    rules = "[{tool_called: {name: get_order, arguments: {order_id: '{order_id}'}}}, {answer_mentions: '{order_id}'}]"
    manual = load_manual_tasks(f"""
- {{id: where-1, level: 1, kind: where, question: "Where is order {oid}?", expected: {{order_id: {oid}}}, rules: {rules}}}
- {{id: where-2, level: 1, kind: where, question: "Where is order {oid}?", expected: {{order_id: {oid}}},
    rules: [{{tool_called: refund_order}}]}}""", scenario=sc)
    ts = save_taskset("mixed", merge_tasks(tasks_from_scenario(sc, levels=(1, 2), n=3), manual))
    run = run_eval(create_eval_run(dict(models=["expert"], taskset=ts.id, gate=False, champion=None)).id, progress=False)
    assert run.status == "done", run.error
    ok = {r["task_id"]: r["success"] for r in eval_rows(run.id)}
    assert len(ok) == 5 and ok["where-1"] is True and ok["where-2"] is False     # the expert never refunds a lookup
    assert sum(ok.values()) == 4


def test_epochs_of_a_stateful_task_do_not_see_each_other(af_home):
    "A refund granted in epoch 0 must not make epoch 1's refund of the same order fail: each epoch starts from a fresh shop."
    run = run_eval(create_eval_run(dict(models=["expert"], scenario="support-desk", levels=[4], n=6, epochs=3,
                                        gate=False, champion=None)).id, progress=False)
    rows = eval_rows(run.id)
    assert len(rows) == 18 and all(r["success"] for r in rows), [(r["task_id"], r["epoch"]) for r in rows if not r["success"]]
