"""The replay app in real Chromium: a store seeded with support-desk episodes (the scripted expert, and a policy
that looks up an order that does not exist), `apps/replay.py` served by Panel on 127.0.0.1; a run opened from the
list and by `?run=<id>`, its tool calls, arguments and results on the timeline, the outcome filter, a screenshot."""
import json, os, socket, subprocess, sys, time
from pathlib import Path

import httpx
import pytest

from agentfactory.core.records import FunctionCall, Message, Reply, ToolCall
from conftest import free_port, wait_up

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
        page.goto(url)

        # 1. all six runs listed; a click on the expert's row replays it and writes its id into the URL
        page.get_by_text("6 of 6 runs").wait_for(timeout=60_000)
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

        # 3. a failing case by id: the wrong call, its error result in red, the failure badge, the latency bars
        page.goto(f"{url}?run={wrong.id}")
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
    assert shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")
