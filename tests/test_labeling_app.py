"""Labeling end to end. In real Chromium: a store seeded with support-desk episodes (the scripted expert and a
deliberately worse policy), `apps/labeling.py` served by Panel on 127.0.0.1 behind its sign-in page: a wrong and a
revoked key refused, another tenant's key sees none of the tasks, a viewer sees them read-only, the labeler `ann`
labels its three assigned tasks (and nothing else) with keys and clicks, as `ann`; the labels and audit rows found in
the store, the checker's suggestions compared with them. Over HTTP: the label routes of a real uvicorn server on a
SQLite file, with API keys."""
import json, os, socket, subprocess, sys, time
from pathlib import Path

import httpx
import pytest

from agentfactory.core.records import FunctionCall, Message, Reply, ToolCall
from conftest import free_port, sign_in, wait_up

ROOT = Path(__file__).resolve().parents[1]


class CarelessPolicy:
    "A deliberately worse scripted support agent: it looks up the next order id, then answers without reading the result."
    name = "careless"

    def act(self, conversations, tools):
        from agentfactory.envs.supportdesk import ORDER_ID_RE
        out = []
        for conv in conversations:
            if conv[-1].role == "user":
                m = ORDER_ID_RE.search(conv[-1].content or "")
                wrong = f"A{(int(m.group(1)[1:]) + 1) % 10000:04d}" if m else "A0000"
                call = ToolCall(function=FunctionCall(name="get_order", arguments={"order_id": wrong}))
                out.append(Reply(message=Message(role="assistant", tool_calls=[call])))
            else:
                out.append(Reply(message=Message(role="assistant", content="Your order is on its way.")))
        return out


def _seed():
    "Expert and careless episodes for the same three support-desk tasks, ingested (PII-redacted) into the store."
    from agentfactory.data.ingest import ingest_trajectories
    from agentfactory.envs.loop import run_episodes
    from agentfactory.envs.supportdesk import SupportDesk
    with SupportDesk() as desk:
        tasks = desk.tasks("train", n=3, seed=1)
        good = run_episodes(desk.expert(), desk, tasks, model_version="expert", progress=False)
        bad = run_episodes(CarelessPolicy(), desk, tasks, model_version="careless", progress=False)
    assert all(t.success for t in good) and not any(t.success for t in bad)
    ingest_trajectories(good + bad)
    return good, bad


@pytest.mark.browser
def test_label_three_items_in_chromium(af_home, tmp_path, chromium):
    from agentfactory.core.auth import audit_log, create_key, revoke_key
    from agentfactory.data.labels import (assign, create_batch, create_label_tasks, get_task, labels, progress,
                                          task_status)
    good, bad = _seed()
    pair, = create_batch("pairwise", {"scenario_id": "support-desk"}, limit=1, min_annotations=1, batch="ui")
    rated, = create_label_tasks("rating", [good[1].id], min_annotations=1, batch="ui")
    calls, = create_label_tasks("tool_calls", [bad[2].id], min_annotations=1, batch="ui")
    bobs, = create_label_tasks("rating", [good[0].id], min_annotations=1, batch="ui")       # bob's, not ann's
    free, = create_label_tasks("rating", [good[2].id], min_annotations=1, batch="ui")       # assigned to nobody
    assign([pair.id, rated.id, calls.id], ["ann"]); assign([bobs.id], ["bob"])
    assert {t.model_version for t in good + bad if t.id in pair.trajectory_ids} == {"expert", "careless"}
    expert_side = "a" if pair.trajectory_ids[0] in {t.id for t in good} else "b"
    # keys in the store the app uses (the settings'): tenant default's labeler ann and viewer vic, another
    # tenant's researcher, and a revoked key
    ann_key, ann = create_key("default", "labeler", name="ann")
    _, vic = create_key("default", "viewer", name="vic")
    _, eve = create_key("acme", "researcher", name="eve")
    gone, gone_token = create_key("default", "labeler", name="gone")
    revoke_key(gone.id)

    port, log = free_port(), tmp_path / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "apps" / "labeling.py"), "--port", str(port)], cwd=ROOT,
                                env=os.environ.copy(), stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/labeling"
        wait_up(url, proc, log)
        page = chromium.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        # 0. a wrong key and a revoked key: the reason and nothing else
        sign_in(page, f"{url}?batch=ui", "af_0123456789abcdef_not-a-key")
        page.get_by_text("unknown API key").wait_for(timeout=60_000)
        shot_login = tmp_path / "labeling-login-refused.png"
        page.screenshot(path=str(shot_login), full_page=True)
        sign_in(page, f"{url}?batch=ui", gone_token)
        page.get_by_text(f"API key {gone.id} was revoked").wait_for(timeout=60_000)
        assert page.locator(".af-current").count() == 0 and page.get_by_text("Queue").count() == 0

        # 1. another tenant's key: none of default's tasks
        sign_in(page, f"{url}?batch=ui", eve)
        page.get_by_text("Signed in as eve").wait_for(timeout=60_000)
        page.get_by_text("Nothing left to label").wait_for()
        page.get_by_text("0 labeled · 0 to go").wait_for()
        assert page.locator(".af-current").count() == 0

        # 2. the viewer: the open tasks, read-only — no answer buttons, and a key press labels nothing
        sign_in(page, f"{url}?batch=ui", vic)
        page.locator(".af-current", has_text=pair.id).wait_for(timeout=60_000)
        page.get_by_text("may read label tasks but not label them").wait_for()
        assert page.get_by_role("button", name="A is better (a)").count() == 0
        page.keyboard.press(expert_side)
        page.get_by_role("button", name="Next (s)").click()
        page.locator(".af-current", has_text=rated.id).wait_for()
        shot_viewer = tmp_path / "labeling-viewer.png"
        page.screenshot(path=str(shot_viewer), full_page=True)
        assert labels() == []

        # 3. the labeler ann: only its three assigned tasks, labeled as ann with keys and clicks; no annotator field
        sign_in(page, f"{url}?batch=ui", ann)
        page.locator(".af-current", has_text=pair.id).wait_for(timeout=60_000)
        page.get_by_text("Labeling as ann").wait_for()
        page.get_by_text("0 labeled · 3 to go").wait_for()
        assert page.locator("input[type=text], input[type=password], input:not([type])").count() == 0
        page.get_by_text(rated.id).wait_for()                                # next in the queue
        assert page.get_by_text(bobs.id).count() == 0 and page.get_by_text(free.id).count() == 0
        assert page.get_by_text("get_order(order_id=").count() >= 2          # one call on each side
        for side in ("A", "B"): page.locator("h4", has_text=side).first.wait_for()
        shot_pair = tmp_path / "labeling-pairwise.png"
        page.screenshot(path=str(shot_pair), full_page=True)
        page.keyboard.press(expert_side)

        # rating: the key 4
        page.locator(".af-current", has_text=rated.id).wait_for()
        page.keyboard.press("4")

        # tool calls: a click on "Wrong (n)" for the careless lookup, then Enter
        page.locator(".af-current", has_text=calls.id).wait_for()
        page.get_by_role("button", name="Wrong (n)").click()
        page.get_by_text("✗ wrong").wait_for()
        shot_calls = tmp_path / "labeling-tool-calls.png"
        page.screenshot(path=str(shot_calls), full_page=True)
        page.keyboard.press("Enter")

        page.get_by_text("Nothing left to label").wait_for()
        page.get_by_text("3 labeled · 0 to go").wait_for()
        shot = tmp_path / "labeling.png"
        page.screenshot(path=str(shot), full_page=True)
        assert not errors, errors
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    got = {l.task_id: l.value for l in labels(annotator="ann")}
    assert got == {pair.id: {"choice": expert_side}, rated.id: {"rating": 4}, calls.id: {"calls": [False]}}
    assert {l.annotator for l in labels()} == {"ann"}                    # nobody else, nothing on bob's or the free task
    assert [task_status(t.id) for t in (pair, rated, calls, bobs, free)] == ["done"] * 3 + ["open"] * 2
    assert progress("ann", batch="ui")["labeled"] == 3
    rows = audit_log("default")
    assert sorted(r.object_ids["task_id"] for r in rows if r.method == "LABEL") == sorted([pair.id, rated.id, calls.id])
    assert {r.key_id for r in rows if r.method == "LABEL"} == {ann_key.id}
    assert all(p.stat().st_size > 10_000 for p in (shot_login, shot_viewer, shot_pair, shot_calls, shot))
    print(f"screenshots: {shot_login} {shot_viewer} {shot_pair} {shot_calls} {shot}")

    # the environment's checker as a judge: its suggestions never count as labels, and it agrees with ann
    from agentfactory.data.labels import judge_agreement, suggest
    from agentfactory.envs.supportdesk import SupportDesk
    from agentfactory.evaluation.judges import checker_judge
    with SupportDesk() as desk:
        judge = checker_judge(desk)
        got = {l.task_id: l.value for l in suggest(judge, [pair.id, rated.id, calls.id])}
    assert got == {pair.id: {"choice": expert_side}, rated.id: {"rating": 5}, calls.id: {"calls": [False]}}
    assert get_task(pair.id).annotators == ["ann"]
    assert [judge_agreement(judge, k).accuracy for k in ("pairwise", "rating", "tool_calls")] == [1.0, 0.0, 1.0]


def test_label_routes_over_http(af_home):
    "POST /data/label from a filter with assignment, labels from two labelers' keys, 409/422/404, agreement."
    from agentfactory.api.app import create_app
    from agentfactory.core.auth import create_key, read_admin_key
    from agentfactory.core.store import Store
    from agentfactory.runtime.core import Runtime
    from conftest import serve
    good, bad = _seed()
    app = create_app(Runtime(Store(f"sqlite:///{af_home / 'factory.db'}"), ingest=False))
    keys = {who: create_key("default", "labeler", name=who, store=app.state.platform.store)[1] for who in ("ann", "bob")}
    with serve(app) as url, httpx.Client(base_url=url, timeout=60, headers={"X-API-Key": read_admin_key()}) as c:
        as_ = lambda who: {"X-API-Key": keys[who]}
        trajs = [t.model_dump(mode="json") for t in good + bad]
        assert c.post("/trajectories", json=trajs).json()["new"] == 6
        r = c.post("/data/label", json={"kind": "pairwise", "filters": {"scenario_id": "support-desk"},
                                        "annotators": ["ann", "bob"], "batch": "http"})
        assert r.status_code == 201, r.text
        tasks = r.json()["tasks"]
        assert len(tasks) == 3 and all(t["assigned_to"] == ["ann", "bob"] and t["batch"] == "http" for t in tasks)
        experts = {t.id for t in good}
        for t in tasks:
            side = "a" if t["trajectory_ids"][0] in experts else "b"
            for who in ("ann", "bob"):          # each labeler's key labels as its name
                r = c.post(f"/label-tasks/{t['id']}/labels", json={"value": {"choice": side}}, headers=as_(who))
                assert r.status_code == 201 and r.json()["annotator"] == who, r.text
        one = tasks[0]["id"]
        assert c.post(f"/label-tasks/{one}/labels", json={"value": {"choice": "tie"}}, headers=as_("ann")).status_code == 409
        r = c.post(f"/label-tasks/{one}/labels", json={"value": {"choice": "tie"}, "overwrite": True}, headers=as_("ann"))
        assert r.status_code == 201 and r.json()["value"] == {"choice": "tie"}
        r = c.post(f"/label-tasks/{one}/labels", json={"annotator": "bob", "value": {"choice": "a"}}, headers=as_("ann"))
        assert r.status_code == 422 and "you label as 'ann'" in r.text            # never as someone else
        assert c.post(f"/label-tasks/{one}/labels", json={"annotator": "cy", "value": {"rating": 3}}).status_code == 422
        assert c.post("/label-tasks/lt_nope/labels", json={"annotator": "cy", "value": {"choice": "a"}}).status_code == 404
        assert c.post("/label-tasks", json={"kind": "pairwise", "items": [[good[0].id, good[1].id]]}).status_code == 422
        detail = c.get(f"/label-tasks/{one}").json()
        assert detail["task"]["status"] == "done" and len(detail["trajectories"]) == 2
        assert "<PERSON_1>" in json.dumps(detail["trajectories"])            # shown as stored: redacted
        ag = c.get("/labels/agreement", params={"kind": "pairwise", "batch": "http"}).json()
        assert (ag["units"], ag["labels"], ag["annotators"]) == (3, 6, ["ann", "bob"])
        assert abs(ag["percent_agreement"] - 2 / 3) < 1e-9 and ag["alpha"] is not None and ag["alpha"] < 1
        assert c.get("/labels/agreement", params={"kind": "stars"}).status_code == 422
        assert httpx.get(f"{url}/labels/agreement", params={"kind": "pairwise"}).status_code == 401     # no key
