"""The replay app in real Chromium: a store seeded with support-desk episodes (the scripted expert, and a policy
that looks up an order that does not exist), `apps/replay.py` served by Panel on 127.0.0.1 behind its sign-in page; a
labeler's key refused (no data:read), another tenant's key sees only its own run, a viewer's key opens a run from the
list and by `?run=<id>`: its tool calls, arguments and results on the timeline, the outcome filter, screenshots."""
import json, os, socket, subprocess, sys, time
from pathlib import Path

import httpx
import pytest

from agentfactory.core.records import FunctionCall, Message, Reply, ToolCall
from conftest import free_port, sign_in, wait_up

ROOT = Path(__file__).resolve().parents[1]


class MissingOrderPolicy:
    "A deliberately wrong scripted support agent: it looks up an order id that does not exist, then answers anyway."
    name = "missing-order"

    def act(self, conversations, tools):
        out = []
        for conv in conversations:
            if conv[-1].role == "user":
                call = ToolCall(function=FunctionCall(name="get_order", arguments={"order_id": "A0000"}))
                out.append(Reply(message=Message(role="assistant", tool_calls=[call])))
            else:
                out.append(Reply(message=Message(role="assistant", content="Your order is on its way.")))
        return out


def _seed():
    """Expert and wrong episodes for the same three support-desk tasks, stored as they are (the replay shows what is
    stored; redaction is tested elsewhere, and loading its NER model would double this test's time)."""
    from agentfactory.data.ingest import ingest_trajectories, load_trajectories
    from agentfactory.envs.loop import run_episodes
    from agentfactory.envs.supportdesk import SupportDesk
    with SupportDesk() as desk:
        tasks = desk.tasks("train", n=3, seed=1)
        good = run_episodes(desk.expert(), desk, tasks, model_version="expert", progress=False)
        bad = run_episodes(MissingOrderPolicy(), desk, tasks, model_version="missing-order", progress=False)
    assert all(t.success for t in good) and not any(t.success for t in bad)
    ingest_trajectories(good + bad, redact=False)
    stored = {t.id: t for t in load_trajectories()}
    return [stored[t.id] for t in good], [stored[t.id] for t in bad]


def _listed(page) -> set[str]:
    "The run ids in the run list's rows."
    return {t.split()[0] for t in page.locator(".tabulator-row").all_inner_texts() if t.strip()}


@pytest.mark.browser
def test_replay_runs_in_chromium(af_home, tmp_path, chromium):
    from agentfactory.apps.core import format_call
    good, bad = _seed()
    expert, wrong = good[1], bad[2]
    call = expert.tool_calls[0]
    order_id = call.function.arguments["order_id"]
    result = next(m.content for m in expert.messages if m.role == "tool" and m.tool_call_id == call.id)
    assert call.function.name == "get_order" and order_id in expert.messages[1].content
    # one run of another tenant, in its own store; keys in the store the app uses (the settings')
    from agentfactory.core.auth import create_key
    from agentfactory.core.tenancy import use_tenant
    from agentfactory.data.ingest import ingest_trajectories
    theirs = expert.model_copy(update={"id": "traj_acme_1", "tenant": "acme"})
    with use_tenant("acme") as acme: ingest_trajectories([theirs], store=acme, redact=False)
    _, vic = create_key("default", "viewer", name="vic")
    _, ann = create_key("default", "labeler", name="ann")
    _, eve = create_key("acme", "viewer", name="eve")

    port, log = free_port(), tmp_path / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "apps" / "replay.py"), "--port", str(port)], cwd=ROOT,
                                env=os.environ.copy(), stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/replay"
        wait_up(url, proc, log)
        page = chromium.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        # 0. a labeler may not read runs: the reason, and nothing else
        sign_in(page, url, ann)
        page.get_by_text("lacks the permission 'data:read'").wait_for(timeout=60_000)
        assert page.locator(".tabulator").count() == 0
        shot_refused = tmp_path / "replay-refused.png"
        page.screenshot(path=str(shot_refused), full_page=True)

        # another tenant's viewer: its one run, none of default's — not even by id
        sign_in(page, f"{url}?run={expert.id}", eve)
        page.get_by_text("1 of 1 runs").wait_for(timeout=60_000)
        assert _listed(page) == {theirs.id}
        page.get_by_text(f"No run with id {expert.id}").wait_for()
        assert page.locator(".af-current").count() == 0

        # 1. default's viewer: all six runs listed; a click on the expert's row replays it and writes its id into the URL
        sign_in(page, url, vic)
        page.get_by_text("Signed in as vic").wait_for(timeout=60_000)
        page.get_by_text("6 of 6 runs").wait_for()
        assert theirs.id not in _listed(page)
        page.locator(".tabulator-row", has_text=expert.id).click()
        page.locator(".af-current", has_text=expert.id).wait_for()
        page.wait_for_function("id => new URLSearchParams(location.search).get('run') === id", arg=expert.id)
        timeline = page.locator(".af-timeline")
        assert timeline.locator(".af-call").first.inner_text() == format_call("get_order", {"order_id": order_id})
        assert f'"status": "{json.loads(result)["status"]}"' in timeline.inner_text()    # its result, beneath it
        assert expert.messages[1].content in timeline.inner_text()                   # the user's question
        assert expert.answer in timeline.inner_text()                                 # the final answer
        page.locator(".af-badge", has_text="✓ success").wait_for()

        # 2. outcome = failure: only the failing runs are listed
        page.locator(".bk-btn", has_text="failure").click()
        page.get_by_text("3 of 6 runs").wait_for()
        assert _listed(page) == {t.id for t in bad}
        assert all(r.split()[-3] == "1" for r in page.locator(".tabulator-row").all_inner_texts())   # 1 error each

        # 3. a failing case by id (a new page load: sign in again): the wrong call, its error result in red, the
        # failure badge, the latency bars
        sign_in(page, f"{url}?run={wrong.id}", vic)
        page.locator(".af-current", has_text=wrong.id).wait_for(timeout=60_000)
        failed = page.locator(".af-callblock.af-failed")
        failed.wait_for()
        assert 'get_order(order_id="A0000")' in failed.inner_text() and "order A0000 not found" in failed.inner_text()
        page.locator(".af-badge", has_text="✗ failure").wait_for()
        page.locator(".bk-Figure").first.wait_for()                                   # the latency bars
        page.locator(".json-formatter-row", has_text="truncated").first.wait_for()   # metadata shown as JSON
        assert page.locator(".tabulator-selected", has_text=wrong.id).count() == 1    # highlighted in the list
        page.set_viewport_size({"width": 1400, "height": 2000})      # the template scrolls inside: a tall page shows it all
        shot = tmp_path / "replay.png"
        page.screenshot(path=str(shot), full_page=True)
        assert not errors, errors
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert shot.stat().st_size > 20_000 and shot_refused.stat().st_size > 10_000
    print(f"screenshots: {shot_refused} {shot}")
