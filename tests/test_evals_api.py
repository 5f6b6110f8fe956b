"""Train → evaluate → deploy → ask, over HTTP alone: a run's PASS is what promotion and deployment check. Spec
mistakes are 422s naming the field before anything runs; lifecycle mistakes are 404/409."""
import time

import httpx

from agentfactory.data.datasets import build_dataset
from agentfactory.data.ingest import ingest_trajectories
from agentfactory.envs.loop import run_episodes
from agentfactory.envs.supportdesk import SupportDesk
from agentfactory.models.base import resolve_base
from conftest import admin_headers, serve


def _wait(c, path, key="status", done=("succeeded", "failed", "done"), timeout=300):
    deadline = time.monotonic() + timeout
    while (body := c.get(path).json())[key] not in done:
        assert time.monotonic() < deadline, body
        time.sleep(0.3)
    return body


def test_train_evaluate_deploy_and_ask_over_http(af_home, monkeypatch):
    monkeypatch.setenv("AGENTFACTORY_GATE_THRESHOLD", "0")      # a 6-step tiny model solves nothing; the gate still runs
    from agentfactory.core.settings import set_settings
    set_settings(None)
    from agentfactory.api.app import create_app
    desk = SupportDesk()
    resolve_base("tiny", desk.corpus())
    ingest_trajectories(run_episodes(desk.expert(), desk, desk.tasks("train", n=6, seed=0), progress=False))
    ds = build_dataset("sft", tools=desk.tools)
    app = create_app()
    with serve(app) as url:
        c = httpx.Client(base_url=url, timeout=60, headers=admin_headers())
        r = c.post("/train/jobs", json=dict(model_base="tiny", dataset_ref=ds.id, algorithm="sft", peft="none",
                                            hyperparameters=dict(max_steps=4, batch_size=2, seed=0, device="cpu", max_length=512)))
        assert r.status_code == 201, r.text
        job = _wait(c, f"/train/jobs/{r.json()['id']}")
        assert job["status"] == "succeeded", job["error"]
        model = job["model_ref"]
        agent = c.post("/agents", json={"name": "support-agent", "scenario": "support-desk"}).json()
        assert c.post(f"/agents/{agent['id']}/deploy", json={"model": model}).status_code == 403       # no verdict yet

        # mistakes: 422 naming the field, nothing recorded
        bad = [({"models": ["M9"], "scenario": "support-desk"}, "models[0]"),
               ({"models": [model], "scenario": "support-desk", "taskset": "x"}, "either taskset or scenario"),
               ({"models": [model], "scenario": "/etc/passwd"}, "scenario"),
               ({"models": [model], "taskset": "nope"}, "taskset"),
               ({"models": [model], "scenario": "support-desk", "judges": ["llm"]}, "judge_model"),
               ({"models": [model], "scenario": "support-desk", "epochs": 0}, "epochs"),
               ({"models": [model], "scenario": "support-desk", "margin": 0.5}, "margin")]
        for spec, words in bad:
            r = c.post("/eval/run", json=spec)
            assert r.status_code == 422 and words in r.text, (spec, r.status_code, r.text)
        assert c.get("/eval/runs").json() == []
        r = c.post("/eval/taskset", json={"name": "m", "scenario": "support-desk",
                                          "tasks": [{"id": "q1", "level": 9, "question": "Where is A1001?"}]})
        assert r.status_code == 422 and "q1" in r.text, r.text

        r = c.post("/eval/run", json={"models": [model], "scenario": "support-desk", "levels": [1, 2], "n": 4,
                                      "max_new_tokens": 16})
        assert r.status_code == 201, r.text
        run = r.json()
        assert run["candidate"].endswith(model) and run["champion"] is None and run["progress"]["total"] == 4
        run = _wait(c, f"/eval/runs/{run['id']}")
        assert run["status"] == "done", run["error"]
        res = c.get(f"/eval/results/{run['id']}").json()
        assert res["verdict"]["verdict"] == "PASS" and [k["name"] for k in res["verdict"]["criteria"]] == ["threshold"]
        assert len(res["rows"]) == 4 and set(res["summary"]["models"][run["candidate"]]["metrics"]) == {
            "success", "tool_accuracy", "quality", "safety", "hallucination"}
        assert c.get(f"/eval/{run['id']}/results", params={"rows": False}).json()["rows"] is None
        assert c.get("/eval/runs", params={"status": "done"}).json()[0]["id"] == run["id"]
        assert c.get("/eval/runs", params={"status": "sideways"}).status_code == 422
        assert c.get("/eval/runs/eval_nope").status_code == 404 and c.get("/eval/results/eval_nope").status_code == 404
        assert c.post(f"/eval/runs/{run['id']}/resume").status_code == 409                             # done
        assert c.get(f"/models/{model}").json()["gate"] == "PASS"

        # the verdict written over HTTP is what promotion and deployment check
        assert c.post(f"/models/{model}/promote", json={"alias": "champion"}).status_code == 200
        assert c.post(f"/agents/{agent['id']}/deploy", json={"model": model}).status_code == 200
        sess = c.post(f"/agents/{agent['id']}/sessions").json()
        r = c.post(f"/agents/{agent['id']}/sessions/{sess['id']}/step", json={"message": "Where is order A1001?"})
        assert r.status_code == 200, r.text

        # the next run of the same model compares it with the champion it now is: no champion criterion for itself
        r = c.post("/eval/run", json={"models": [model], "scenario": "support-desk", "levels": [1], "n": 2, "start": False})
        assert r.status_code == 201 and r.json()["status"] == "queued" and r.json()["champion"] is None
