"""The browser environment in real Chromium: the scripted expert solves both task families (status lookups, refunds
and refusals) through the website, wrong actions become error observations, unknown orders get 404 pages, and the
web shop's refund rules are the shop API's."""
import threading
from pathlib import Path

import httpx
import pytest

from agentfactory.core.errors import ToolError
from agentfactory.core.records import FunctionCall, Message, Reply, ToolCall
from agentfactory.envs.browser import CHROMIUM, BrowserShop, create_web_shop_app
from agentfactory.envs.loop import Scenario, run_episodes
from agentfactory.envs.supportdesk import build_shop_db

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    "One web shop + one Chromium for the module (each test starts its own episodes)."
    pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not Path(CHROMIUM).exists(): pytest.skip(f"needs {CHROMIUM}: apt-get install chromium")
    with BrowserShop(db_path=tmp_path_factory.mktemp("browser-shop") / "shop.db") as s:
        yield s


def _refunded(shop) -> set[str]:
    import sqlite3
    with sqlite3.connect(shop.db_path) as con: rows = {r[0] for r in con.execute("SELECT order_id FROM refunds")}
    con.close()
    return rows


def test_expert_solves_status_and_refund_tasks(shop):
    assert isinstance(shop, Scenario)
    shop.reset_state()
    picked = shop.tasks("train", n=5, seed=3) + shop.tasks("heldout", n=3, seed=3)
    # a delivered order past the 30-day window: the site offers the form, the API refuses (409 page)
    late = next(t for t in shop.tasks("train", levels=2) if t.expected["status"] == "delivered" and not t.expected["eligible"])
    picked.append(late)
    kinds = {(t.kind, t.expected.get("eligible")) for t in picked}
    assert kinds == {("order_status", None), ("refund", True), ("refund", False)}
    assert not {t.expected["order_id"] for t in shop.tasks("train")} & {t.expected["order_id"] for t in shop.tasks("heldout")}

    expert = shop.expert()
    # one episode at a time (max_concurrent_episodes = 1), each in a fresh browser context (new_episode)
    trajs = run_episodes(expert, shop, picked, max_steps=6, progress=False)
    failed = [(t.question, tr.answer) for t, tr in zip(picked, trajs) if not tr.success]
    assert not failed, failed
    for t, tr in zip(picked, trajs):
        assert tr.scenario_id == "browser-shop" and tr.scenario_version == shop.version
        assert not any(s.error for s in tr.steps)
        if t.kind == "order_status": assert t.expected["status"] in tr.answer
    eligible = {t.expected["order_id"] for t in picked if t.kind == "refund" and t.expected["eligible"]}
    assert eligible and _refunded(shop) == eligible
    late_traj = trajs[-1]
    assert any("(HTTP 409)" in (m.content or "") for m in late_traj.messages if m.role == "tool")
    assert "30 days" in late_traj.answer

    # a confident answer without having seen the order page is not a success
    status_task = next(t for t in picked if t.kind == "order_status")
    tr = trajs[picked.index(status_task)].model_copy(deep=True)
    tr.messages = [m for m in tr.messages if m.role != "tool"]
    assert not shop.check(status_task, tr)

    # not twice: within one run the second request is refused by the site, so the checker fails it
    again = next(t for t in picked if t.kind == "refund" and t.expected["eligible"])
    first, second = run_episodes(expert, shop, [again, again], max_steps=6, progress=False)
    assert first.success and not second.success and "already been refunded" in second.answer

    shop.reset_state()
    assert _refunded(shop) == set()


class _Scripted:
    "Plays the given assistant turns in order (the same for every conversation)."
    name = "scripted"

    def __init__(self, turns): self.turns = turns

    def act(self, conversations, tools):
        out = []
        for conv in conversations:
            k = sum(m.role == "assistant" for m in conv)
            turn = self.turns[k] if k < len(self.turns) else "done"
            msg = (Message(role="assistant", content=turn) if isinstance(turn, str) else
                   Message(role="assistant", tool_calls=[ToolCall(function=FunctionCall(name=n, arguments=a)) for n, a in turn]))
            out.append(Reply(message=msg))
        return out


def test_wrong_actions_are_error_observations(shop):
    view = shop.new_episode()
    assert view.startswith('page "Home · Web shop" at / (HTTP 200)')
    assert 'textbox "Order id"' in view and 'button "Look up"' in view
    link = next(l for l in view.splitlines() if 'link "Home"' in l).split("]")[0][1:]

    with pytest.raises(ToolError, match="no element 'e999' on the current page"): shop.execute("click", {"ref": "e999"})
    with pytest.raises(ToolError, match="not a path on the shop"): shop.execute("goto", {"path": "https://example.com/"})
    with pytest.raises(ToolError, match="not a textbox"): shop.execute("type", {"ref": link, "text": "x"})
    with pytest.raises(ToolError, match="unknown tool 'scroll'"): shop.execute("scroll", {})
    with pytest.raises(ToolError, match="missing required argument 'ref'"): shop.execute("click", {})

    task = shop.tasks("train", levels=1, n=1)[0]
    bad = _Scripted([[("click", {"ref": "e999"})], [("read", {})], "I do not know."])
    traj, = run_episodes(bad, shop, [task], max_steps=6, progress=False)
    assert not traj.success and traj.steps[0].error and "no element" in traj.steps[0].error
    assert '"error"' in traj.messages[3].content
    assert traj.messages[5].content.startswith('page "Home · Web shop"')      # read() after the error: the page is intact


def test_unknown_orders_get_404_pages(shop, tmp_path):
    shop.new_episode()
    view = shop.execute("goto", {"path": "/orders/A0000"})
    assert view.splitlines()[0] == 'page "Not found · Web shop" at /orders/A0000 (HTTP 404)'
    assert "There is no order A0000." in view
    r = httpx.get(f"{shop.base_url}/orders/A0000/refund")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert httpx.post(f"{shop.base_url}/orders/A0000/refund", data={"reason": "x"}).status_code == 404
    assert httpx.get(f"{shop.base_url}/no/such/page").status_code == 404

    # the order page, from another thread (Playwright itself stays on the scenario's thread), and its screenshot
    oid = shop.tasks("train", levels=1, n=1)[0].expected["order_id"]
    out = {}
    th = threading.Thread(target=lambda: out.update(view=shop.execute("goto", {"path": f"/orders/{oid}"})))
    th.start(); th.join(30)
    assert out["view"].splitlines()[0].endswith(f"at /orders/{oid} (HTTP 200)") and "Status: " in out["view"]
    png = shop.screenshot(tmp_path / "order.png")
    assert png.exists() and png.stat().st_size > 1000


def test_web_refund_follows_the_shop_api_rules(tmp_path):
    "Without a browser: the refund form posts to the API's rules (delivered, within 30 days, not twice)."
    from fastapi.testclient import TestClient
    tasks = BrowserShop().tasks("train", levels=2)          # tasks need no browser and no server
    ok = next(t for t in tasks if t.expected["eligible"]).expected["order_id"]
    no = next(t for t in tasks if t.expected["status"] == "shipped").expected["order_id"]
    with TestClient(create_web_shop_app(build_shop_db(tmp_path / "web.db"))) as c:
        assert "Request refund" in c.get(f"/orders/{ok}").text and "Request refund" not in c.get(f"/orders/{no}").text
        assert c.post(f"/orders/{ok}/refund", data={"reason": " "}).status_code == 422
        first = c.post(f"/orders/{ok}/refund", data={"reason": "damaged"})
        assert first.status_code == 200 and "Refund confirmed" in first.text
        second = c.post(f"/orders/{ok}/refund", data={"reason": "damaged"})
        assert second.status_code == 409 and "already been refunded" in second.text
        assert c.post(f"/orders/{no}/refund", data={"reason": "damaged"}).status_code == 409
        assert c.get(f"/api/orders/{ok}").json()["refunded"] is True
