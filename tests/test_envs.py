"The support desk over a real HTTP server, and the agent loop on it."
import json, re
from collections import Counter
from datetime import date
import httpx, pytest
from agentfactory.core.errors import ToolError
from agentfactory.core.records import FunctionCall, Message, Reply, ToolCall
from agentfactory.envs.loop import continue_conversation, run_episodes
from agentfactory.envs.supportdesk import (KINDS, TEMPLATES, TODAY, SupportDesk, build_shop_db, serve_shop,
                                           shop_data)

@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    "A real uvicorn server on 127.0.0.1 over a fresh database."
    db = build_shop_db(tmp_path_factory.mktemp("shop")/"shop.db")
    url, stop = serve_shop(db)
    yield url
    stop()

def _template_of(question: str, order_id: str) -> str:
    return question.replace(order_id, "{order_id}")

def test_expert_solves_all_heldout_tasks_over_http(shop):
    sd = SupportDesk(transport="http", base_url=shop)
    tasks = sd.tasks("heldout")
    assert Counter(t.kind for t in tasks) == {"order_status": 80, "order_total": 80, "shipped_carrier": 80}
    trajs = run_episodes(sd.expert(), sd, tasks, source="eval", progress=False)
    assert all(t.success for t in trajs), [t.task_id for t in trajs if not t.success][:5]
    assert all(t.metadata["tool_correct"] and not t.metadata["truncated"] for t in trajs)
    assert {t.scenario_version for t in trajs} == {sd.version} and {t.source for t in trajs} == {"eval"}
    # both branches of the conditional are exercised often
    shipped = Counter(t.expected["shipped"] for t in tasks if t.kind == "shipped_carrier")
    assert min(shipped.values()) >= 25, shipped

def test_splits_share_no_orders_customers_or_wording():
    sd = SupportDesk()
    train, held = sd.tasks("train"), sd.tasks("heldout")
    assert len(train) == 480 and len(held) == 240
    for key in ("order_id", "customer_id"):
        assert not {t.expected[key] for t in train} & {t.expected[key] for t in held}
    strip = lambda ts: {_template_of(t.question, t.expected["order_id"]) for t in ts}
    train_t, held_t = strip(train), strip(held)
    assert not train_t & held_t
    # no held-out core phrasing occurs inside any training question, whatever greeting wraps it
    for kind in TEMPLATES:
        for h in TEMPLATES[kind]["heldout"]:
            assert not any(h in q for q in train_t), h
    # every training template is used
    used = "\n".join(train_t)
    assert all(t in used for kind in TEMPLATES.values() for t in kind["train"])
    assert all(len(TEMPLATES[k]["train"]) >= 15 and len(TEMPLATES[k]["heldout"]) >= 6 for k in KINDS)

def test_tasks_are_deterministic_and_balanced():
    a, b = SupportDesk(), SupportDesk()
    assert a.version == b.version and len(a.version) == 12
    assert [t.model_dump() for t in a.tasks("train", n=50, seed=3)] == [t.model_dump() for t in b.tasks("train", n=50, seed=3)]
    assert [t.id for t in a.tasks("train", n=50, seed=3)] != [t.id for t in a.tasks("train", n=50, seed=4)]
    c = Counter(t.kind for t in a.tasks("train", n=90))
    assert c == {k: 30 for k in KINDS}
    assert SupportDesk(seed=1).version != a.version

def test_unknown_order_is_404_over_real_http(shop):
    r = httpx.get(f"{shop}/orders/A0000")
    assert r.status_code == 404 and r.json() == {"error": "order A0000 not found"}
    assert httpx.get(f"{shop}/customers/C9999").status_code == 404
    # through the tool: an observation, not an exception
    sd = SupportDesk(transport="http", base_url=shop)
    assert json.loads(sd.execute("get_order", {"order_id": "A0000"})) == {"error": "order A0000 not found"}
    with pytest.raises(ToolError, match="unknown tool"): sd.execute("cancel_order", {"order_id": "A0000"})
    with pytest.raises(ToolError, match="missing required argument 'reason'"): sd.execute("refund_order", {"order_id": "A0000"})

def test_get_order_shows_customer_pii(shop):
    o = shop_data()["orders"][5]
    body = httpx.get(f"{shop}/orders/{o['id']}").json()
    c = next(c for c in shop_data()["customers"] if c["id"] == o["customer_id"])
    assert body["customer"] == {"id": c["id"], "name": c["name"], "email": c["email"]}
    assert re.fullmatch(r"\d+\.\d\d", body["total"])

def test_refund_policy_enforced_over_http(shop):
    orders = shop_data()["orders"]
    age = lambda o: (TODAY - date.fromisoformat(o["delivered_at"])).days
    recent = next(o for o in orders if o["status"] == "delivered" and age(o) <= 30)
    old = next(o for o in orders if o["status"] == "delivered" and age(o) > 30)
    shipped = next(o for o in orders if o["status"] == "shipped")
    ok = httpx.post(f"{shop}/orders/{recent['id']}/refund", json={"reason": "arrived broken"})
    assert ok.status_code == 200 and ok.json()["refunded"] == f"{recent['total_cents']/100:.2f}"
    assert httpx.get(f"{shop}/orders/{recent['id']}").json()["refunded"] is True
    again = httpx.post(f"{shop}/orders/{recent['id']}/refund", json={"reason": "again"})
    assert again.status_code == 409 and "already been refunded" in again.json()["error"]
    late = httpx.post(f"{shop}/orders/{old['id']}/refund", json={"reason": "late"})
    assert late.status_code == 409 and "within 30 days" in late.json()["error"]
    early = httpx.post(f"{shop}/orders/{shipped['id']}/refund", json={"reason": "too slow"})
    assert early.status_code == 409 and "only delivered orders" in early.json()["error"]
    assert httpx.post(f"{shop}/orders/{recent['id']}/refund", json={}).status_code == 422
    # the tool relays the refusal as an observation
    sd = SupportDesk(transport="http", base_url=shop)
    assert "only delivered orders" in json.loads(sd.execute("refund_order", {"order_id": shipped["id"], "reason": "x"}))["error"]

def test_http_transport_starts_its_own_server(tmp_path):
    with SupportDesk(db_path=tmp_path/"shop.db", transport="http") as sd:
        task = sd.tasks("train", n=1)[0]
        [traj] = run_episodes(sd.expert(), sd, [task], progress=False)
        assert traj.success and sd.base_url.startswith("http://127.0.0.1:")
        url = sd.base_url
    with pytest.raises(httpx.TransportError): httpx.get(f"{url}/orders/A0000", timeout=2)

class _Broken:
    "Unknown tool, then bad arguments, then an unparseable reply."
    name = "broken"
    def __init__(self): self.turn = 0
    def act(self, conversations, tools):
        self.turn += 1
        if self.turn < 3:
            name, args = ("nope", {}) if self.turn == 1 else ("get_order", {"order_id": 7})
            return [Reply(message=Message(role="assistant", tool_calls=[ToolCall(function=FunctionCall(name=name, arguments=args))]))
                    for _ in conversations]
        return [Reply(message=Message(role="assistant", content="<tool_call>{"), error="bad json", raw="<tool_call>{")
                for _ in conversations]

def test_loop_turns_bad_output_into_error_observations(shop):
    sd = SupportDesk(transport="http", base_url=shop)
    [t] = run_episodes(_Broken(), sd, sd.tasks("heldout", n=1), progress=False)
    assert [s.error is not None for s in t.steps] == [True, True, True]
    assert "error" in json.loads(t.messages[3].content) and "must be a string" in t.messages[5].content
    assert t.success is False and t.reward == 0.0 and t.messages[-1].content == "<tool_call>{"

def test_continue_conversation_runs_one_turn(shop):
    sd = SupportDesk(transport="http", base_url=shop)
    task = sd.tasks("heldout", levels=(2,), n=1)[0]
    msgs = [Message(role="system", content=sd.system_prompt), Message(role="user", content=task.question)]
    new, steps = continue_conversation(sd.expert(), sd, msgs)
    assert [m.role for m in new] == ["assistant", "tool", "assistant"] and len(steps) == 2
    assert new[-1].content == task.expected["answer"]
    assert steps[0].action_index == 2 and steps[1].action_index == 4


def test_transports_answer_identically(tmp_path):
    "inproc (route functions called directly), asgi (test client) and http (uvicorn) give the same text for every call."
    from agentfactory.envs.supportdesk import SupportDesk, shop_data
    db, data = tmp_path / "shop.db", shop_data(0)
    desks = [SupportDesk(db_path=db, transport=t) for t in ("inproc", "asgi", "http")]
    calls = [("get_order", {"order_id": o["id"]}) for o in data["orders"][::7]]
    calls += [("get_customer", {"customer_id": c["id"]}) for c in data["customers"][::5]]
    calls += [("search_orders", {"customer_id": c["id"], "status": s}) for c in data["customers"][:4] for s in ("delivered", "shipped")]
    calls += [("search_orders", {"customer_id": "C1001"}), ("get_order", {"order_id": "#a9999"}),
              ("search_orders", {"customer_id": "C1001", "status": "lost"}), ("get_customer", {"customer_id": "x/y"}),
              ("get_order", {"order_id": "a b?c"})]
    try:
        for call in calls:
            answers = {d.transport: d.execute(*call) for d in desks}
            assert len(set(answers.values())) == 1, (call, answers)
        delivered = [o["id"] for o in data["orders"] if o["status"] == "delivered"][:3]
        for oid in delivered:                      # refunded or refused (too old) the same way, state reset after each
            answers = set()
            for d in desks:
                answers.add(d.execute("refund_order", {"order_id": oid, "reason": "broken"}))
                d.reset_state()
            assert len(answers) == 1, (oid, answers)
        ok = next(oid for oid in delivered if "refunded_at" in desks[0].execute("refund_order", {"order_id": oid, "reason": "x"}))
        again = {d.execute("refund_order", {"order_id": ok, "reason": "x"}) for d in desks}   # the same shared database
        assert len(again) == 1 and "already been refunded" in again.pop()
    finally:
        for d in desks: d.close()
