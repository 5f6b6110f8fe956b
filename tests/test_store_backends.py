"""The store test-suite on both backends: every case runs on a SQLite file and on PostgreSQL (the `postgres`-marked
params; skipped when AGENTFACTORY_TEST_PG_URL is unset — `make test` starts one with .ci/postgres.sh)."""
import json, threading
from datetime import datetime, timedelta, timezone
import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from agentfactory.core.errors import Forbidden, InvalidInput, NotFound
from agentfactory.core.records import Event, FunctionCall, Message, Step, ToolCall, Trajectory
from agentfactory.core.store import Store
from agentfactory.data.datasets import build_dataset, dataset_lineage, get_dataset, list_datasets
from agentfactory.data.ingest import count_events, ingest_events, ingest_trajectories, load_events, load_trajectories
from agentfactory.models.registry import ModelRegistry

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)

@pytest.fixture
def store(store_url, af_home):
    st = Store(store_url)
    yield st
    st.engine.dispose()

def lookup(i: int, success=True, source="rollout", pii=True) -> Trajectory:
    "An order lookup; the tool result names the customer."
    result = json.dumps({"order_id": f"A{1000 + i}", "status": "shipped", "carrier": "UPS",
                         "customer": {"name": "Maria Gonzalez" if pii else "C1001", "email": "maria.gonzalez@example.com"}})
    return Trajectory(id=f"traj_{i}", source=source, scenario_id="support-desk", scenario_version="v1", level=1,
                      model_version="expert", success=success, reward=float(success), created_at=T0 + timedelta(minutes=i),
                      metadata={"session_id": f"sess_{i}"}, messages=[
        Message(role="system", content="You are the support desk of an online shop."),
        Message(role="user", content=f"Has order A{1000 + i} shipped?"),
        Message(role="assistant", tool_calls=[ToolCall(id=f"c{i}", function=FunctionCall(name="get_order", arguments={"order_id": f"A{1000 + i}"}))]),
        Message(role="tool", tool_call_id=f"c{i}", name="get_order", content=result),
        Message(role="assistant", content=f"Yes, order A{1000 + i} shipped with UPS.")],
        steps=[Step(action_index=2, observations=[result], latency_ms=10.0), Step(action_index=4, reward=float(success))])

def test_ping_and_ensure(store):
    assert store.ping()
    ModelRegistry(store); ModelRegistry(store)                     # ensure twice: once per process
    ModelRegistry(Store(store.url))                                 # another process (a fresh Store): tables exist already
    assert {"model_versions", "model_aliases"} <= set(inspect(store.engine).get_table_names())
    bad = make_url(store.url).set(port=1) if "postgresql" in store.url else make_url("sqlite:////nonexistent/dir/x.db")
    assert not Store(bad.render_as_string(hide_password=False)).ping()

def test_ingest_idempotent(store):
    trajs = [lookup(i) for i in range(4)]
    assert ingest_trajectories(trajs, store=store) == [t.id for t in trajs]
    ingest_trajectories(trajs, store=store)                          # again: nothing new
    assert len(load_trajectories(store)) == 4 and count_events(store) == 4 * 5
    stored = load_trajectories(store, ids=["traj_2"])[0]
    assert "Maria" not in stored.model_dump_json() and "<PERSON_1>" in stored.messages[3].content
    evs = [{"id": f"ev_{i}", "type": "feedback", "session_id": "s1", "ts": (T0 + timedelta(seconds=i)).isoformat(),
            "payload": {"text": "thanks, Maria Gonzalez here", "stars": i}} for i in range(3)]
    assert ingest_events(evs, store=store) == ["ev_0", "ev_1", "ev_2"]
    ingest_events(evs + evs[:1], store=store)                         # repeats, within and across batches
    got = load_events(store, session_id="s1")
    assert [e.id for e in got] == ["ev_0", "ev_1", "ev_2"] and got[0].payload == {"text": "thanks, <PERSON_1> here", "stars": 0}
    assert got[1].ts == T0 + timedelta(seconds=1) and got[1].ts.tzinfo is not None

def test_update_grows_a_trajectory(store):
    t = lookup(1)
    ingest_trajectories([t], store=store)
    longer = t.model_copy(update={"messages": t.messages + [Message(role="user", content="And the total?"),
                                                            Message(role="assistant", content="It was 42.50 USD.")]})
    ingest_trajectories([longer], store=store)
    assert len(load_trajectories(store)[0].messages) == 5               # without update: unchanged
    ingest_trajectories([longer], store=store, update=True)
    assert len(load_trajectories(store)[0].messages) == 7
    assert count_events(store, trajectory_id=t.id, type="agent_action") == 3 and count_events(store, trajectory_id=t.id) == 6

def test_batch_is_all_or_nothing(store):
    good = {"id": "ok_1", "type": "feedback", "payload": {"text": "fine"}}
    with pytest.raises(InvalidInput, match="event 1: field 'type'"):
        ingest_events([good, {"id": "bad", "type": "thumbs"}], store=store)
    assert count_events(store) == 0
    with pytest.raises((InvalidInput, ValueError)):                  # a trajectory that fails validation mid-batch
        ingest_trajectories([lookup(1), {"id": "traj_bad", "source": "nowhere"}], store=store)
    assert load_trajectories(store) == [] and count_events(store) == 0

def test_load_and_count_filters(store):
    ingest_trajectories([lookup(i, success=i % 2 == 0, source="eval" if i >= 4 else "rollout", pii=False)
                         for i in range(6)], store=store, redact=False)
    assert [t.id for t in load_trajectories(store)] == [f"traj_{i}" for i in range(6)]          # oldest first
    assert [t.id for t in load_trajectories(store, success=True, source="rollout")] == ["traj_0", "traj_2"]
    assert [t.id for t in load_trajectories(store, ids=["traj_5", "traj_1"])] == ["traj_1", "traj_5"]
    assert len(load_trajectories(store, limit=2)) == 2 and load_trajectories(store, tenant="other") == []
    assert count_events(store, type="tool_call") == 6 and count_events(store, session_id="sess_3") == 5
    assert [e.type for e in load_events(store, trajectory_id="traj_3")] == \
        ["agent_action", "tool_call", "environment_observation", "agent_action", "reward"]
    assert len(load_events(store, type="reward", limit=4)) == 4

def test_dataset_and_lineage(store, tmp_path):
    ingest_trajectories([lookup(i, success=i != 3) for i in range(5)], store=store)
    d = build_dataset("sft", store=store, out_root=tmp_path / "ds", filters={"success": True})
    assert d.id == "D1" and d.rows == 4 and d.parquet_path.is_file()
    assert build_dataset("sft", store=store, out_root=tmp_path / "ds", filters={"success": True}).id == "D1"   # same content
    assert get_dataset("D1", store).hash == d.hash and get_dataset("D1", store).created_at.tzinfo is not None
    assert dataset_lineage("D1", store) == ["traj_0", "traj_1", "traj_2", "traj_4"]
    e = build_dataset("eval", store=store, out_root=tmp_path / "ds")
    assert e.id == "D2" and [v.id for v in list_datasets(store)] == ["D1", "D2"]
    with pytest.raises(NotFound): get_dataset("D9", store)

def test_model_registry(store, tmp_path):
    reg = ModelRegistry(store)
    paths = [tmp_path / f"m{i}" for i in range(2)]
    for p in paths: p.mkdir()
    m0 = reg.register(paths[0], kind="base", params=10)
    m1 = reg.register(paths[1], lineage={"datasets": ["D1"]}, metrics={"loss": 0.5})
    assert (m0.version, m1.version) == ("M0", "M1") and reg.register(paths[1]).version == "M1"
    assert reg.get("M1").lineage["datasets"] == ["D1"] and reg.get("support-agent:M0").kind == "base"
    with pytest.raises(Forbidden): reg.promote("M1")
    reg.record_gate("M1", "PASS", {"success": 0.9})
    assert reg.promote("M1").aliases == ["champion"] and reg.get("support-agent@champion").version == "M1"
    reg.set_alias("M0", "champion")
    assert reg.get("support-agent@champion").version == "M0" and [m.version for m in reg.list()] == ["M0", "M1"]
    with pytest.raises(NotFound): reg.get("support-agent@canary")

def test_runtime_agents(store):
    from agentfactory.core.errors import Conflict
    from agentfactory.runtime.core import Runtime

    class Scenario: system_prompt = "You help."
    rt = Runtime(store, scenarios={"echo": Scenario}, ingest=False)
    a = rt.create_agent("helper", scenario="echo")
    assert rt.get_agent(a.id).name == "helper" and rt.get_agent(a.id).model is None
    with pytest.raises(Conflict): rt.create_session(a.id)              # nothing deployed yet
    with pytest.raises(NotFound): rt.get_agent("agent_missing")

def test_concurrent_ingest_of_the_same_ids(store):
    "Threads ingesting the same events and trajectories at once: each stored once, no error leaks."
    evs = [Event(id=f"ev_{i}", type="tool_call", session_id=f"s{i % 7}", ts=T0 + timedelta(seconds=i),
                 payload={"name": "get_order", "arguments": {"order_id": f"A{i}"}}) for i in range(300)]
    trajs = [lookup(i, pii=False) for i in range(20)]
    errors, go = [], threading.Barrier(6)
    def work(k):
        try:
            go.wait()
            ingest_events(evs[::-1] if k % 2 else evs, store=store, redact=False)   # opposite orders too
            ingest_trajectories(trajs, store=store, redact=False)
        except Exception as e: errors.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert errors == []
    assert count_events(store, type="tool_call") == 300 + 20 and len(load_trajectories(store)) == 20
    assert count_events(store) == 300 + 20 * 5

def test_concurrent_table_creation(store_url):
    "Fresh stores — as in several worker processes starting at once — creating the same tables at the same time."
    stores, errors, go = [Store(store_url) for _ in range(6)], [], threading.Barrier(6)
    def work(st):
        try:
            go.wait()
            ModelRegistry(st); assert load_events(st) == []
        except Exception as e: errors.append(e)
    threads = [threading.Thread(target=work, args=(st,)) for st in stores]
    for t in threads: t.start()
    for t in threads: t.join()
    for st in stores: st.engine.dispose()
    assert errors == []
