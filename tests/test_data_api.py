"Data factory over HTTP: a real uvicorn server on 127.0.0.1 over a real SQLite file; acknowledged events survive kill -9."
import json, os, signal, socket, sqlite3, subprocess, sys, threading, time
from datetime import datetime, timedelta, timezone
from pathlib import Path
import httpx
import pytest
from agentfactory.api.app import create_app
from agentfactory.core.records import FunctionCall, Message, ToolCall, Trajectory
from agentfactory.core.store import Store
from agentfactory.runtime.core import Runtime
from conftest import admin_headers, serve

AGENTFACTORY = Path(sys.executable).parent / "agentfactory"


def events(session: str, n: int, start: int = 0) -> list[dict]:
    return [{"id": f"{session}-ev{i:04d}", "type": "agent_action" if i % 2 else "tool_call", "session_id": session,
             "agent_version": "M1", "ts": f"2026-03-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
             "payload": {"index": i, "content": f"Order A{1000 + i} shipped with UPS."}} for i in range(start, start + n)]


def episode(i: int, success: bool = True, day: int = 1, tags=()) -> dict:
    "A support-desk episode as a producer sends it (JSON)."
    t = Trajectory(id=f"traj_{i}", scenario_id="support-desk", scenario_version="v1", task_id=f"task{i}", level=1,
                   model_version="expert", success=success, reward=float(success), tags=list(tags),
                   created_at=datetime(2026, 3, day, 12, tzinfo=timezone.utc), messages=[
        Message(role="system", content="You are the support desk of an online shop."),
        Message(role="user", content=f"Has order A{1000 + i} shipped?"),
        Message(role="assistant", tool_calls=[ToolCall(id=f"c{i}", function=FunctionCall(name="get_order", arguments={"order_id": f"A{1000 + i}"}))]),
        Message(role="tool", tool_call_id=f"c{i}", name="get_order", content=json.dumps({"status": "shipped", "carrier": "UPS"})),
        Message(role="assistant", content=f"Order A{1000 + i} shipped with UPS.")])
    return t.model_dump(mode="json")


def db_count(db: Path, table: str = "events") -> int:
    "Rows in `table`, read with plain sqlite3 (not through the library)."
    con = sqlite3.connect(db)
    try: return con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    finally: con.close()


@pytest.fixture
def api(af_home):
    "The Agent Factory app served by uvicorn on 127.0.0.1 over a SQLite file; yields (client, db path)."
    db = af_home / "factory.db"
    with serve(create_app(Runtime(Store(f"sqlite:///{db}"), ingest=False))) as url:
        with httpx.Client(base_url=url, timeout=120, headers=admin_headers()) as c: yield c, db


# --- durability: a real server process, kill -9, restart ----------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def _start_server(home: Path) -> tuple[subprocess.Popen, str]:
    "`agentfactory serve` on a free loopback port over the artifact root `home`; waits until it answers."
    port = _free_port()
    env = {**os.environ, "AGENTFACTORY_ARTIFACT_ROOT": str(home / "artifacts"), "AGENTFACTORY_DB_URL": "",
           "AGENTFACTORY_TRACKING": "off"}
    log = open(home / f"server-{port}.log", "w")
    proc = subprocess.Popen([str(AGENTFACTORY), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}", time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None: raise RuntimeError(f"server exited with {proc.returncode}: {(home / f'server-{port}.log').read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200: return proc, url
        except httpx.TransportError: pass
        time.sleep(0.2)
    proc.kill(); raise RuntimeError("server did not answer /healthz within 90 s")


def _kill9(proc: subprocess.Popen):
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_acknowledged_events_survive_kill_9_and_retries_store_nothing_twice(tmp_path):
    proc, url = _start_server(tmp_path)
    try:
        acked = []
        with httpx.Client(base_url=url, timeout=120, headers=admin_headers(tmp_path / "artifacts")) as c:
            for k in range(3):
                batch = events("s-durable", 40, start=40 * k)
                r = c.post("/events", json={"events": batch})
                assert r.status_code == 200, r.text
                assert r.json() == {"ingested": 40, "new": 40, "ids": [e["id"] for e in batch]}
                acked += r.json()["ids"]
        # a batch in flight when the server dies is all or nothing, never half stored
        inflight, answer = events("s-inflight", 2000), {}
        def send():
            try: answer["status"] = httpx.post(f"{url}/events", json=inflight, timeout=120, headers=admin_headers(tmp_path / "artifacts")).status_code
            except httpx.TransportError as e: answer["error"] = e        # the server died before answering
        t = threading.Thread(target=send, daemon=True)
        t.start(); time.sleep(0.3)
        _kill9(proc)                                           # no shutdown, no flush: the process just dies
        t.join(timeout=30)
    finally:
        if proc.poll() is None: proc.kill(); proc.wait()

    proc, url = _start_server(tmp_path)                       # same artifact root, same SQLite file
    try:
        with httpx.Client(base_url=url, timeout=120, headers=admin_headers(tmp_path / "artifacts")) as c:
            page = c.get("/events", params={"session_id": "s-durable", "limit": 1000}).json()
            assert page["total"] == 120
            assert [e["id"] for e in page["events"]] == acked   # every acknowledged event, in time order
            first = page["events"][0]
            assert (first["type"], first["agent_version"], first["payload"]["index"]) == ("tool_call", "M1", 0)
            inflight_stored = c.get("/events", params={"session_id": "s-inflight", "limit": 1}).json()["total"]
            assert inflight_stored == 2000 if answer.get("status") == 200 else inflight_stored in (0, 2000)
            # the client that lost its last answer retries: nothing is stored twice
            r = c.post("/data/events", json=events("s-durable", 40, start=80))
            assert r.status_code == 200 and r.json()["new"] == 0
            assert c.get("/events", params={"session_id": "s-durable", "type": "agent_action"}).json()["total"] == 60
    finally:
        proc.send_signal(signal.SIGTERM); proc.wait(timeout=30)
    assert db_count(tmp_path / "artifacts" / "agentfactory.db") in (120, 2120)


# --- events: schema, all-or-nothing, idempotence ------------------------------------------------------------

def test_bad_event_is_422_naming_index_and_field_and_nothing_of_the_batch_is_stored(api):
    c, db = api
    good = events("s1", 3)
    cases = [({**good[2], "type": "click"}, "event 2: field 'type'"),
             ({k: v for k, v in good[2].items() if k != "type"}, "event 2: field 'type': Field required"),
             ({**good[2], "ts": "yesterday"}, "event 2: field 'ts'"),
             ({**good[2], "payload": ["not", "an", "object"]}, "event 2: field 'payload'"),
             ({**good[2], "paylod": {}}, "event 2: field 'paylod': unknown field"),
             ("just text", "event 2: must be a JSON object")]
    for bad, message in cases:
        r = c.post("/events", json={"events": good[:2] + [bad]})
        assert r.status_code == 422, r.text
        assert r.json()["detail"].startswith(message), (message, r.json())
    for body, message in [({"evnts": good}, '{"events": [...]}'), ({"events": good, "extra": 1}, "unknown body fields ['extra']"),
                          ({"events": "s1"}, "'events' must be a JSON list")]:
        r = c.post("/events", json=body)
        assert r.status_code == 422 and message in r.json()["detail"], r.json()
    assert c.post("/events", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422
    assert c.get("/events").json() == {"events": [], "total": 0}
    assert db_count(db) == 0
    assert c.get("/events", params={"type": "click"}).status_code == 422
    assert c.get("/events", params={"limit": 10**6}).status_code == 422


def test_retried_event_ids_are_stored_once(api):
    c, db = api
    batch = events("s2", 5)
    assert c.post("/events", json={"events": batch}).json()["new"] == 5
    r = c.post("/data/events", json=batch[3:] + events("s2", 2, start=5))   # bare list, two retried + two new
    assert r.json() == {"ingested": 4, "new": 2, "ids": ["s2-ev0003", "s2-ev0004", "s2-ev0005", "s2-ev0006"]}
    assert c.post("/events", json=[batch[0], batch[0]]).json() == {"ingested": 2, "new": 0, "ids": [batch[0]["id"]] * 2}
    assert c.get("/events", params={"session_id": "s2"}).json()["total"] == 7 == db_count(db)
    page = c.get("/events", params={"session_id": "s2", "limit": 3}).json()
    assert page["total"] == 7 and [e["id"] for e in page["events"]] == ["s2-ev0000", "s2-ev0001", "s2-ev0002"]


def test_body_over_the_limit_is_413(af_home):
    with serve(create_app(Runtime(Store(f"sqlite:///{af_home / 'factory.db'}"), ingest=False), max_body_bytes=4096)) as url:
        h = admin_headers()
        r = httpx.post(f"{url}/events", json=events("s3", 100), timeout=60, headers=h)
        assert r.status_code == 413 and "send less per request" in r.json()["detail"]
        assert httpx.post(f"{url}/events", json=events("s3", 2), timeout=60, headers=h).status_code == 200


# --- trajectories and datasets ------------------------------------------------------------------------------

def test_trajectories_then_datasets_create_get_list_404(api):
    c, db = api
    trajs = [episode(1, day=1, tags=["gold"]), episode(2, day=2), episode(3, success=False, day=3)]
    r = c.post("/trajectories", json={"trajectories": trajs})
    assert r.status_code == 200 and r.json() == {"ingested": 3, "new": 3, "ids": ["traj_1", "traj_2", "traj_3"]}
    assert c.post("/data/trajectories", json=trajs[:1]).json()["new"] == 0
    assert db_count(db, "trajectories") == 3
    assert c.get("/events", params={"trajectory_id": "traj_1"}).json()["total"] == 5
    bad = c.post("/trajectories", json={"trajectories": [episode(4), {**episode(5), "messages": [{"role": "robot"}]}]})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("trajectory 1: field 'messages.0.role'"), bad.json()
    assert c.get("/trajectories/traj_4").status_code == 404 and db_count(db, "trajectories") == 3

    r = c.post("/datasets/create", json={"kind": "sft", "success": True})
    assert r.status_code == 201, r.text
    d1 = r.json()
    assert (d1["id"], d1["kind"], d1["rows"], len(d1["hash"])) == ("D1", "sft", 2, 64)
    assert d1["stats"]["success_rate"] == 1.0 and d1["filters"] == {"success": True}
    assert "parquet_path" not in d1 and "jsonl_path" not in d1                 # no server paths over HTTP: download routes
    assert d1["files"] == {"parquet": "/datasets/D1/files/parquet", "jsonl": "/datasets/D1/files/jsonl"}
    assert len(c.get(d1["files"]["jsonl"]).text.splitlines()) == 2 and c.get(d1["files"]["parquet"]).content[:4] == b"PAR1"
    # the same rows again, however selected: the same version, not a new one
    again = c.post("/data/datasets/create", json={"kind": "sft", "success": True, "agent_version": "expert", "until": "2026-03-03"})
    assert (again.status_code, again.json()["id"], again.json()["hash"]) == (200, "D1", d1["hash"])
    oldest = c.post("/datasets/create", json={"limit": 1}).json()
    assert (oldest["id"], oldest["rows"]) == ("D2", 1)
    assert c.get("/datasets/D2/lineage").json() == {"dataset": "D2", "trajectory_ids": ["traj_1"]}
    assert c.post("/datasets/create", json={"tags": ["gold"]}).json()["id"] == "D2"
    assert c.post("/datasets/create", json={"since": "2026-03-02T00:00:00Z", "success": False}).json()["rows"] == 1
    ev = c.post("/datasets/create", json={"kind": "eval", "source": ["rollout", "eval"]}).json()
    assert (ev["kind"], ev["rows"]) == ("eval", 3)

    got = c.get("/datasets/D1")
    assert got.status_code == 200 and got.json()["hash"] == d1["hash"] and got.json()["stats"]["rows"] == 2
    assert [d["id"] for d in c.get("/datasets").json()] == ["D1", "D2", "D3", "D4"]
    assert [d["id"] for d in c.get("/datasets", params={"kind": "eval"}).json()] == ["D4"]
    missing = c.get("/datasets/D99")
    assert missing.status_code == 404 and "dataset 'D99' not found" in missing.json()["detail"]

    for body, status, message in [({"kind": "dpo"}, 422, "no preference pairs"), ({"kind": "rm"}, 422, "no preference pairs"),
                                  ({"kind": "pretraining"}, 422, "dataset kind must be one of sft, eval"),
                                  ({"scenario_id": "nope"}, 422, "none of the stored trajectories match"),
                                  ({"since": "2026-03-03", "until": "2026-03-01"}, 422, "must be before until"),
                                  ({"model_version": "M1", "agent_version": "M2"}, 422, "alias of model_version")]:
        r = c.post("/datasets/create", json=body)
        assert (r.status_code, message in r.json()["detail"]) == (status, True), (body, r.json())
    for body in [{"sucess": True}, {"since": "last week"}, {"limit": 0}, {"source": "web"}]:
        assert c.post("/datasets/create", json=body).status_code == 422, body
    assert len(c.get("/datasets").json()) == 4
