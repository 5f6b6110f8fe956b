"""The Training Factory over HTTP on a real uvicorn server: a tiny-model SFT job submitted as a spec, run in its own
process, watched until it succeeds, its model registered with checkpoints, gated and promoted; spec mistakes are
422s before anything runs; lifecycle mistakes are 4xx."""
import time

import httpx

from agentfactory.data.datasets import build_dataset
from agentfactory.data.ingest import ingest_trajectories
from agentfactory.envs.loop import run_episodes
from agentfactory.envs.supportdesk import SupportDesk
from agentfactory.models.base import resolve_base
from conftest import admin_headers, serve


def test_train_job_over_http_to_a_promoted_model(af_home):
    from agentfactory.api.app import create_app
    desk = SupportDesk()
    resolve_base("tiny", desk.corpus())
    ingest_trajectories(run_episodes(desk.expert(), desk, desk.tasks("train", n=6, seed=0), progress=False))
    ds = build_dataset("sft", tools=desk.tools)
    app = create_app()
    with serve(app) as url:
        c = httpx.Client(base_url=url, timeout=60, headers=admin_headers())
        spec = dict(model_base="tiny", dataset_ref=ds.id, algorithm="sft", peft="none", compute={"cpus": 1},
                    hyperparameters=dict(max_steps=6, batch_size=2, learning_rate=3e-3, save_steps=3, logging_steps=1,
                                         seed=0, device="cpu", max_length=512))
        # mistakes first: nothing is recorded
        assert c.post("/train/jobs", json={**spec, "algorithm": "dpo"}).status_code == 422           # sft data
        r = c.post("/train/jobs", json={**spec, "hyperparameters": {"epochz": 1}})
        assert r.status_code == 422 and "epochz" in r.text
        assert c.post("/train/jobs", json={**spec, "dataset_ref": "D99"}).status_code == 422
        assert c.post("/train/jobs", json={**spec, "reward": {"env": 1.0}}).status_code == 422       # grpo only
        assert c.get("/train/jobs").json() == []
        r = c.post("/train/jobs", json=spec)
        assert r.status_code == 201, r.text
        jid = r.json()["id"]
        deadline = time.monotonic() + 300
        while (job := c.get(f"/train/{jid}/status").json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.5)
        assert job["status"] == "succeeded", job["error"]
        while "cpu_seconds" not in job["usage"]:          # recorded when the job's process has exited
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
            job = c.get(f"/train/jobs/{jid}").json()
        assert job["step"] == 6 and job["usage"]["cpu_seconds"] > 0 and job["model_ref"]
        assert c.post(f"/train/{jid}/reward-config", json={"env": 1.0}).status_code == 422            # an sft job
        assert c.post(f"/train/jobs/{jid}/resume").status_code == 409                               # finished
        assert c.get("/train/jobs/job_nope").status_code == 404
        model = c.get(f"/models/{job['model_ref']}").json()
        assert model["lineage"]["job"] == jid and model["lineage"]["datasets"] == [ds.id]
        cks = c.get(f"/models/{job['model_ref']}/checkpoints").json()
        assert [k["step"] for k in cks] == [3, 6]
        assert c.post(f"/models/{job['model_ref']}/promote", json={"alias": "champion"}).status_code == 403
        app.state.runtime.registry.record_gate(job["model_ref"], "PASS")
        assert c.post("/models/promote", json={"model": job["model_ref"], "alias": "canary"}).json()["aliases"] == ["canary"]
        assert c.get("/rm/models").json() == []
