"""End to end with the tiny model: the seed's acceptance criteria, walked through the library and over HTTP.

scenario created -> agent acts in the env -> trajectory -> events in Data (PII redacted) -> dataset D1 ->
training job writes a checkpoint -> evaluation gives a success rate -> gate -> deployed -> a user asks over
HTTP and gets the agent's answer; bad input gets 4xx, never a 500.

The ~1M-parameter model trained from scratch for a couple of minutes learns the format (loss falls) but not to copy
order ids, so it cannot pass the real gate: this test gates with an explicit threshold of 0 to walk the deploy path.
That a deployed agent answers a user *correctly* over HTTP is asserted with SmolLM2 in test_smollm2.py."""
import json
from pathlib import Path

import httpx
import pytest

from agentfactory.core.records import Message, Trajectory
from agentfactory.core.settings import get_settings
from agentfactory.data.datasets import build_dataset, dataset_lineage
from agentfactory.data.ingest import count_events, ingest_trajectories, load_trajectories
from agentfactory.envs.loop import run_episodes
from agentfactory.envs.supportdesk import SupportDesk
from agentfactory.evaluation.core import Gate, evaluate
from agentfactory.models.base import resolve_base
from agentfactory.models.policy import HFPolicy
from agentfactory.pipeline import PRESETS
from agentfactory.models.registry import ModelRegistry
from agentfactory.training.jobs import create_job, run_job
from agentfactory.api.app import create_app
from agentfactory.core.auth import read_admin_key
from agentfactory.runtime.core import Runtime
from conftest import serve


def test_zero_to_deployed_tiny(af_home, monkeypatch):
    monkeypatch.setenv("AGENTFACTORY_TRACKING", "wandb-offline")
    from agentfactory.core.settings import set_settings
    set_settings(None)
    # a scenario can be created
    desk = SupportDesk()
    assert desk.version and {t["function"]["name"] for t in desk.tools} >= {"get_order", "get_customer", "search_orders", "refund_order"}

    # an agent acts in the environment and produces a trajectory (the untrained tiny model, then the expert)
    base = resolve_base("tiny", corpus=desk.corpus())
    tasks = desk.tasks("train", levels=(1, 2), n=PRESETS["tiny"]["n_train"], seed=0)
    raw = run_episodes(HFPolicy(base, max_new_tokens=24), desk, tasks[:2], source="rollout", model_version="M0")
    assert len(raw) == 2 and raw[0].messages[0].role == "system" and raw[0].steps
    demos = run_episodes(desk.expert(), desk, tasks, source="rollout", model_version="expert")
    assert all(t.success for t in demos)

    # events are written to Data, PII redacted before storage
    ids = ingest_trajectories(demos)
    assert count_events() > len(demos)
    stored = load_trajectories(ids=ids)
    raw_names = {json.loads(m.content)["customer"][f] for t in demos[:5] for m in t.messages if m.role == "tool"
                 for f in ("name", "email")}
    blob = json.dumps([t.model_dump(mode="json") for t in stored])
    assert raw_names and not any(n in blob for n in raw_names), "customer names and emails must be redacted before storage"
    d1 = build_dataset("sft", stored, tools=desk.tools)
    assert d1.id == "D1" and d1.rows == len(demos)
    assert build_dataset("sft", stored, tools=desk.tools).hash == d1.hash            # same inputs, same version
    assert set(dataset_lineage(d1.id)) == set(ids)

    # a training job runs and writes a checkpoint
    reg = ModelRegistry()
    m0 = reg.register(base, kind="base")
    p = PRESETS["tiny"]
    job = run_job(create_job(dict(model_base=m0.ref, dataset_ref=d1.id, algorithm="sft", compute={"cpus": 2},
                                  hyperparameters=dict(epochs=p["epochs"], batch_size=p["batch_size"],
                                                       learning_rate=p["learning_rate"]))).id)
    assert job.status == "succeeded" and job.metrics["checkpoints"], job.error
    assert job.metrics["final_loss"] < job.metrics["first_loss"]
    assert job.usage["cpu_seconds"] > 0
    assert list((get_settings().artifacts / "wandb").glob("**/offline-run-*")), "W&B offline run must be written"
    m1 = reg.get(job.model_ref)                                            # the job registered what it trained
    assert (m1.version, m1.kind, Path(m1.path)) == ("M1", "sft", job.model_dir.resolve())
    assert m1.lineage["base"] == m0.ref and m1.lineage["job"] == job.id and m1.lineage["datasets"] == [d1.id]
    assert m1.metrics["train"]["steps"] == job.metrics["steps"]

    # evaluation gives a success rate; the gate decides
    heldout = desk.tasks("heldout", levels=(1, 2), n=40, seed=1)
    report, _ = evaluate(reg.load_policy(m1.version), desk, heldout, model_version=m1.version)
    assert 0.0 <= report.success_rate <= 1.0 and set(report.by_level) == {"L1", "L2"}
    real = Gate().decide(report)                                              # settings.ini: gate_threshold = 0.8
    assert real.threshold == 0.8 and real.verdict == ("PASS" if report.success_rate >= 0.8 else "FAIL")
    gate = Gate(threshold=0.0).decide(report)
    assert gate.verdict == "PASS"
    reg.record_gate(m1.version, gate.verdict, {"success_rate": report.success_rate})
    reg.record_gate(m0.version, "FAIL")

    # deployed; a user calls it over HTTP and gets a correct answer
    api = create_app(Runtime())                                               # its first start wrote the admin key
    with serve(api) as url:
        c = httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {read_admin_key()}"})
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}             # the one route without a key
        assert httpx.post(f"{url}/agents", json={"name": "support"}).status_code == 401
        agent = c.post("/agents", json={"name": "support"}).json()
        r = c.post(f"/agents/{agent['id']}/deploy", json={"model": m0.version})
        assert r.status_code == 403 and "gate verdict is FAIL" in r.json()["detail"]                      # an admin key, but the gate failed
        r = c.post(f"/agents/{agent['id']}/deploy", json={"model": m1.version})
        assert r.status_code == 200, r.text
        assert api.state.runtime.health()["models_loaded"] == [m1.ref]
        sid = c.post(f"/agents/{agent['id']}/sessions").json()["id"]
        task = next(t for t in heldout if t.level == 1)
        r = c.post(f"/agents/{agent['id']}/sessions/{sid}/step", json={"message": task.question})
        assert r.status_code == 200, r.text
        turn = r.json()
        assert (turn["messages"][0]["role"], turn["messages"][0]["content"]) == ("user", task.question) and turn["steps"]
        hist = c.get(f"/agents/{agent['id']}/sessions/{sid}/history").json()
        assert [m["role"] for m in hist["messages"]][:2] == ["system", "user"] and hist["turns"] == 1
        # the session flowed back into Data: one trajectory per session, a second turn adds only its own events
        assert turn["trajectory_id"] == sid and sid in {t.id for t in load_trajectories(source="runtime")}
        n_actions = count_events(type="agent_action", trajectory_id=sid)
        turn2 = c.post(f"/agents/{agent['id']}/sessions/{sid}/step", json={"message": "Thanks! And its total?"}).json()
        stored, = load_trajectories(ids=[sid])
        assert len(stored.messages) == len(turn["messages"]) + len(turn2["messages"]) + 1           # + the system prompt
        assert count_events(type="agent_action", trajectory_id=sid) == n_actions + sum(m["role"] == "assistant" for m in turn2["messages"])

        # bad input: 404 with a message, 422 for malformed bodies, never a 500
        r = c.post(f"/agents/nope/sessions/{sid}/step", json={"message": "hi"})
        assert r.status_code == 404 and "not found" in r.json()["detail"]
        assert c.post(f"/agents/{agent['id']}/sessions/nope/step", json={"message": "hi"}).status_code == 404
        assert c.get(f"/agents/{agent['id']}/sessions/nope/history").status_code == 404
        r = c.post(f"/agents/{agent['id']}/sessions/{sid}/step", json={"msg": "hi"})
        assert r.status_code == 422 and "message" in r.text
        assert c.post(f"/agents/{agent['id']}/sessions/{sid}/step", content=b"{not json",
                      headers={"content-type": "application/json"}).status_code == 422
        assert c.post(f"/agents/{agent['id']}/deploy", json={"model": "M99"}).status_code == 404
