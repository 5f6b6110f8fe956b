"""Tenant isolation and the permission matrix, proven over every route of the OpenAPI schema.

Two tenants, one key per role in each. Tenant A creates an object of every kind; then every route of the
schema (generated from it: a route added later is walked without editing this test) is called
- with each of tenant B's keys and A's ids: 0 reads, 0 writes — 404 where B may call the route, 403 where not;
- with each of A's keys: 403 exactly when the role lacks the route's `x-permission`, never otherwise.
"""
import json, os
from datetime import datetime, timedelta, timezone
from pathlib import Path
import httpx
import pytest
from agentfactory.api.app import create_app
from agentfactory.core.auth import MATRIX, ROLES, audit_log, create_key, revoke_key
from agentfactory.core.errors import NotFound
from agentfactory.core.tenancy import use_tenant
from agentfactory.runtime.core import Runtime
from conftest import serve

A, B = "acme", "globex"
MUTATING = {"post", "put", "patch", "delete"}


def episode(i: int, tenant_tag: str) -> dict:
    "test_data_api's support-desk episode under a tenant-tagged id."
    from test_data_api import episode as support_episode
    return {**support_episode(i), "id": f"traj_{tenant_tag}{i}"}


def keys_for(store, tenant: str, agent_ids: list[str]) -> dict[str, tuple[str, str]]:
    "role -> (key id, token) in `tenant`; the labeler is named lab-<tenant>."
    out = {}
    for role in ROLES:
        k, tok = create_key(tenant, role, name=f"lab-{tenant}" if role == "labeler" else f"{role}-{tenant}",
                            agents=agent_ids if role == "agent-client" else None, store=store)
        out[role] = (k.id, tok)
    return out


def h(token: str) -> dict: return {"Authorization": f"Bearer {token}"}


def build_tenant_a(c: httpx.Client, home: Path) -> dict:
    "One object of every kind in tenant A, created over HTTP by A's admin (the model through the library); their ids."
    ids = {}
    r = c.post("/trajectories", json=[episode(1, "a"), episode(2, "a")]); assert r.status_code == 200, r.text
    ids["trajectory_id"] = "traj_a1"
    r = c.post("/events", json=[{"id": "ev_a1", "type": "feedback", "session_id": "s_a1", "payload": {"rating": 5}}])
    assert r.status_code == 200, r.text
    ids["event_id"] = "ev_a1"
    for body in ({"kind": "sft"}, {"kind": "eval"}, {"kind": "sft", "limit": 1}):   # D3: an id tenant B's walk never makes
        r = c.post("/datasets/create", json=body); assert r.status_code == 201, r.text
    ids["dataset_id"] = r.json()["id"]
    r = c.post("/label-tasks", json={"kind": "rating", "items": ["traj_a1"], "min_annotations": 2, "annotators": [f"lab-{A}"]})
    assert r.status_code == 201, r.text
    ids["task_id"] = r.json()["tasks"][0]["id"]
    r = c.post("/scenarios", json={"yaml": Path("data/scenarios/library.yaml").read_text()}); assert r.status_code == 201, r.text
    ids["scenario"] = r.json()["name"]
    r = c.post("/runs", json={"scenario": "support-desk", "seed": 0}); assert r.status_code == 201, r.text
    ids["run_id"] = r.json()["run_id"]
    r = c.post("/agents", json={"name": "desk-a"}); assert r.status_code == 201, r.text
    ids["agent_id"] = r.json()["id"]
    with use_tenant(A):
        from agentfactory.models.registry import ModelRegistry
        from agentfactory.core.store import get_store
        folder = home / "m0-acme"; folder.mkdir(); (folder / "config.json").write_text("{}")
        ids["ref"] = ModelRegistry(get_store()).register(folder, kind="base").ref
    from agentfactory.models.base import resolve_base
    from agentfactory.envs.supportdesk import SupportDesk
    resolve_base("tiny", SupportDesk().corpus())
    r = c.post("/train/jobs", json={"model_base": "tiny", "dataset_ref": ids["dataset_id"], "algorithm": "sft", "start": False,
                                    "compute": {"cpus": 1}})
    assert r.status_code == 201, r.text
    ids["job_id"] = r.json()["id"]
    r = c.post("/eval/taskset", json={"name": "smoke-a", "scenario": "support-desk", "levels": [1], "n": 2})
    assert r.status_code == 201, r.text
    ids["taskset_id"] = r.json()["id"]
    r = c.post("/eval/run", json={"models": [ids["ref"]], "taskset": ids["taskset_id"], "start": False})
    assert r.status_code == 201, r.text
    ids["eval_id"] = r.json()["id"]
    ids["session_id"] = "sess_nope"                          # a session needs a deployed model; the agent id guards it
    ids["row_index"] = 0
    ids["fmt"] = "jsonl"
    return ids


def deref(schema: dict, s: dict) -> dict:
    "A schema with its `$ref` (and a single anyOf of an object) followed."
    for _ in range(10):
        if "$ref" in s:
            node = schema
            for part in s["$ref"].lstrip("#/").split("/"): node = node[part]
            s = node
        elif "anyOf" in s:
            objs = [x for x in s["anyOf"] if x.get("type") != "null"]
            s = objs[0] if objs else {}
        else: return s
    return s


# bodies that reach the handler (valid for the route), with A's ids where the body names objects
def body_for(schema: dict, method: str, path: str, op: dict, ids: dict):
    known = {
        ("post", "/agents/{agent_id}/deploy"): {"model": ids["ref"]},
        ("post", "/agents/{agent_id}/sessions/{session_id}/step"): {"message": "hello"},
        ("post", "/runs/{run_id}/step"): {"action": {"role": "assistant", "content": "done"}},
        ("post", "/label-tasks/{task_id}/labels"): {"value": {"rating": 4}},
        ("post", "/label-tasks"): {"kind": "rating", "items": [ids["trajectory_id"]]},
        ("post", "/models/promote"): {"model": ids["ref"], "alias": "champion"},
        ("post", "/models/{ref}/promote"): {"alias": "champion"},
        ("post", "/train/{job_id}/reward-config"): {},
        ("post", "/subjects/delete"): {"session_id": "s_a1", "requested_by": "walk"},
        ("post", "/keys"): {"role": "viewer", "name": "walk"},
        ("post", "/events"): [{"id": "ev_b1", "type": "feedback", "session_id": "s_b", "payload": {"rating": 1}}],
        ("post", "/trajectories"): [episode(9, "b")],
        ("post", "/datasets/create"): {"kind": "sft"},
        ("post", "/scenarios"): {"yaml": Path("data/scenarios/library.yaml").read_text().replace("name: library-desk", "name: walk-desk")},
        ("post", "/runs"): {"scenario": "support-desk", "seed": 0},
        ("post", "/agents"): {"name": "walker"},
        ("post", "/train/jobs"): {"model_base": "tiny", "dataset_ref": ids["dataset_id"], "algorithm": "sft", "start": False,
                                  "compute": {"cpus": 1}},
        ("post", "/rm/train"): {"model_base": "tiny", "dataset_ref": ids["dataset_id"], "start": False},
        ("post", "/eval/taskset"): {"name": "walk", "scenario": "support-desk", "levels": [1], "n": 1},
        ("post", "/eval/run"): {"models": [ids["ref"]], "taskset": ids["taskset_id"], "start": False},
    }
    if (method, path) in known: return known[(method, path)]
    rb = op.get("requestBody")
    if not rb: return None
    s = deref(schema, rb["content"].get("application/json", {}).get("schema", {}))
    out = {}
    for name in s.get("required", []):
        p = deref(schema, s.get("properties", {}).get(name, {}))
        out[name] = ids.get(name, {"string": "x", "integer": 1, "number": 1, "boolean": False, "array": [], "object": {}}
                            .get(p.get("type"), "x"))
    return out


def calls(schema: dict, ids: dict):
    "Every (method, path template, url, body, permissions) of the schema, with A's ids in the path."
    for path, ops in sorted(schema["paths"].items()):
        if path == "/healthz": continue
        for method, op in ops.items():
            params = {p["name"]: ids.get(p["name"], ids["agent_id"]) for p in op.get("parameters", []) if p["in"] == "path"}
            query = {p["name"]: {"kind": "rating", "ref": f"{ids['dataset_id']}:0"}.get(p["name"], "x")
                     for p in op.get("parameters", []) if p["in"] == "query" and p.get("required")}
            yield method, path, path.format(**params), query, body_for(schema, method, path, op, ids), op["x-permission"]


def snapshot(c: httpx.Client, ids: dict) -> dict:
    "What tenant A has, read by A's admin: the walk must leave it unchanged."
    return {"trajectory": c.get(f"/trajectories/{ids['trajectory_id']}").json(),
            "events": c.get("/events", params={"limit": 1000}).json()["total"],
            "datasets": [d["id"] for d in c.get("/datasets").json()],
            "task": c.get(f"/label-tasks/{ids['task_id']}").json(),
            "agent": c.get(f"/agents/{ids['agent_id']}").json(),
            "model": c.get(f"/models/{ids['ref']}").json(),
            "job": {k: v for k, v in c.get(f"/train/jobs/{ids['job_id']}").json().items() if k != "updated_at"},
            "run": c.get(f"/runs/{ids['run_id']}").json()["steps"],
            "keys": [(k["id"], k["revoked_at"]) for k in c.get("/keys").json()],
            "scenarios": c.get("/scenarios").json()["stored"]}


@pytest.fixture
def world(af_home):
    app = create_app(Runtime(ingest=False))
    st = app.state.platform.store
    with serve(app) as url:
        kA = keys_for(st, A, ["placeholder"])
        with httpx.Client(base_url=url, timeout=120, headers=h(kA["admin"][1])) as admin_a:
            ids = build_tenant_a(admin_a, af_home)
            # the agent-client key of A names A's agent; B's names B's own agent (and A's id, which must not help)
            revoke_key(kA["agent-client"][0], store=st)
            k, tok = create_key(A, "agent-client", name="client-a", agents=[ids["agent_id"]], store=st)
            kA["agent-client"] = (k.id, tok)
            kB = keys_for(st, B, [ids["agent_id"], "desk-a"])
            yield dict(url=url, app=app, store=st, ids=ids, kA=kA, kB=kB, admin_a=admin_a, home=af_home)


def _send(c: httpx.Client, method, url, query, body):
    return c.request(method.upper(), url, params=query, json=body) if body is not None else c.request(method.upper(), url, params=query)


def test_openapi_walk_isolation_and_permissions(world):
    w, ids = world, world["ids"]
    schema = w["admin_a"].get("/openapi.json").json()
    routes = list(calls(schema, ids))
    assert len(routes) >= 40 and all(r[5] is not None for r in routes)
    a_ids = {str(v) for k, v in ids.items() if k not in ("row_index", "fmt", "session_id")}
    before = snapshot(w["admin_a"], ids)
    failures, walked = [], 0

    # 1. tenant B, every role, A's ids: never a read or a write of A's objects
    for role, (_, token) in w["kB"].items():
        with httpx.Client(base_url=w["url"], timeout=120, headers=h(token)) as c:
            for method, tmpl, url, query, body, perms in routes:
                r = _send(c, method, url, query, body); walked += 1
                allowed = not perms or any(p in MATRIX[role] for p in perms)
                names_a = "{" in tmpl
                if r.status_code >= 500: failures.append(f"B/{role} {method} {url}: {r.status_code} {r.text[:200]}")
                elif not allowed and r.status_code != 403: failures.append(f"B/{role} {method} {url}: {r.status_code}, expected 403 for {perms}")
                elif allowed and names_a and r.status_code != 404 and tmpl not in ("/openapi.json",):
                    failures.append(f"B/{role} {method} {url}: {r.status_code}, expected 404 for A's id: {r.text[:200]}")
                elif r.status_code < 300:                               # B's own data or writes: nothing of A in them
                    leaked = sorted(i for i in a_ids if i in r.text and len(i) > 4 and not i.startswith(("D", "M")))
                    if leaked and tmpl not in ("/openapi.json", "/whoami", "/keys", "/audit"): failures.append(f"B/{role} {method} {url}: answer holds A's ids {leaked}")
    assert snapshot(w["admin_a"], ids) == before, "tenant B's walk changed tenant A"

    # 2. tenant A, every role, ids that do not exist (nothing is destroyed): 403 exactly when the role lacks the permission
    nope = {k: ("nope" if isinstance(v, str) else 10**6) for k, v in ids.items()} | {"fmt": "jsonl", "row_index": 10**6}
    for role, (_, token) in w["kA"].items():
        with httpx.Client(base_url=w["url"], timeout=120, headers=h(token)) as c:
            for method, tmpl, url, query, body, perms in calls(schema, nope):
                r = _send(c, method, url, query, body); walked += 1
                allowed = not perms or any(p in MATRIX[role] for p in perms)
                if r.status_code >= 500: failures.append(f"A/{role} {method} {url}: {r.status_code} {r.text[:200]}")
                elif not allowed and r.status_code != 403: failures.append(f"A/{role} {method} {url}: {r.status_code}, expected 403 for {perms}")
                elif allowed and r.status_code in (401, 403): failures.append(f"A/{role} {method} {url}: {r.status_code} though allowed: {r.text[:200]}")
                if r.status_code == 403 and not allowed: assert perms[0] in r.json()["detail"], r.text
    assert not failures, f"{len(failures)} of {walked} calls wrong:\n" + "\n".join(failures[:60])
    kinds = len([k for k in ids if k not in ("row_index", "fmt")])
    summary = {"routes": len(routes), "roles": len(ROLES), "tenants": 2, "object_kinds": kinds, "calls": walked}
    if os.environ.get("AGENTFACTORY_WALK_SUMMARY"): Path(os.environ["AGENTFACTORY_WALK_SUMMARY"]).write_text(json.dumps(summary))


def test_files_are_per_tenant_and_the_library_refuses_a_foreign_dataset(world):
    w, ids = world, world["ids"]
    from agentfactory.data.datasets import get_dataset
    with use_tenant(A): v = get_dataset(ids["dataset_id"])
    assert v.parquet_path.is_relative_to(w["home"] / "artifacts" / "tenants" / A)
    with use_tenant(B), pytest.raises(NotFound): get_dataset(ids["dataset_id"])
    with pytest.raises(NotFound): get_dataset(ids["dataset_id"])            # nor in the default tenant's (single-user) store


def test_labeler_sees_only_its_tasks_and_labels_as_itself(world):
    w, ids = world, world["ids"]
    admin = w["admin_a"]
    other = admin.post("/label-tasks", json={"kind": "rating", "items": ["traj_a2"], "min_annotations": 1}).json()["tasks"][0]["id"]
    with httpx.Client(base_url=w["url"], timeout=60, headers=h(w["kA"]["labeler"][1])) as lab:
        assert lab.get(f"/label-tasks/{ids['task_id']}").status_code == 200
        assert lab.get(f"/label-tasks/{other}").status_code == 404                  # not assigned to it
        r = lab.post(f"/label-tasks/{ids['task_id']}/labels", json={"value": {"rating": 4}})
        assert r.status_code == 201 and r.json()["annotator"] == f"lab-{A}"
        r = lab.post(f"/label-tasks/{ids['task_id']}/labels", json={"annotator": "someone-else", "value": {"rating": 1}})
        assert r.status_code == 422 and "your API key" in r.json()["detail"]
        assert lab.post(f"/label-tasks/{other}/labels", json={"value": {"rating": 1}}).status_code == 404
        assert lab.get("/datasets").status_code == 403 and lab.get(f"/trajectories/{ids['trajectory_id']}").status_code == 403


def test_agent_client_reaches_only_its_agents(world):
    w, ids = world, world["ids"]
    other = w["admin_a"].post("/agents", json={"name": "other"}).json()["id"]
    with httpx.Client(base_url=w["url"], timeout=60, headers=h(w["kA"]["agent-client"][1])) as cl:
        assert cl.post(f"/agents/{ids['agent_id']}/sessions").status_code == 409   # its agent: reached (no model deployed yet)
        assert cl.post(f"/agents/{other}/sessions").status_code == 404              # another agent of its own tenant
        assert cl.get(f"/agents/{ids['agent_id']}").status_code == 403
        assert cl.get("/events").status_code == 403


def test_keys_401_and_the_audit_log(world):
    w, ids, st = world, world["ids"], world["store"]
    url = w["url"]
    assert httpx.get(f"{url}/agents/{ids['agent_id']}").status_code == 401
    assert httpx.get(f"{url}/openapi.json").status_code == 401 and httpx.get(f"{url}/docs").status_code == 401
    assert httpx.get(f"{url}/healthz").status_code == 200
    r = httpx.get(f"{url}/agents/{ids['agent_id']}", headers={"X-API-Key": "af_0123456789abcdef_wrong"})
    assert r.status_code == 401 and "unknown API key" in r.json()["detail"]
    assert any(x.route == f"/agents/{ids['agent_id']}" and x.status == 401 for x in audit_log(None, store=st))   # no key: operator's view
    expires = datetime.now(timezone.utc) + timedelta(seconds=5)
    k, tok = create_key(A, "viewer", name="short-lived", expires=expires, store=st)
    assert httpx.get(f"{url}/whoami", headers=h(tok)).json()["role"] == "viewer"
    import time; time.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    r = httpx.get(f"{url}/whoami", headers=h(tok))
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    # a viewer may read but not write: 403 naming the permission, audited with the key id (never the key)
    with httpx.Client(base_url=url, headers=h(w["kA"]["viewer"][1])) as v:
        assert v.get(f"/agents/{ids['agent_id']}").status_code == 200
        r = v.post("/agents", json={"name": "nope"}, headers={"x-request-id": "req-viewer-1"})
        assert r.status_code == 403 and "'agents:write'" in r.json()["detail"] and r.headers["x-request-id"] == "req-viewer-1"
    rows = w["admin_a"].get("/audit", params={"status": 403}).json()
    row = next(x for x in rows if x["request_id"] == "req-viewer-1")
    assert (row["key_id"], row["role"], row["method"], row["route"]) == (w["kA"]["viewer"][0], "viewer", "POST", "/agents")
    assert w["kA"]["viewer"][1] not in json.dumps(rows)
    mine = w["admin_a"].get("/audit", params={"route": "/agents/{agent_id}/deploy"}).json()
    assert mine == []                                                            # nothing deployed in A yet
    assert all(x["tenant"] == A for x in w["admin_a"].get("/audit", params={"limit": 1000}).json())
    assert audit_log(B, store=st, limit=1000) == [] or all(x.tenant == B for x in audit_log(B, store=st, limit=1000))
    # revocation is immediate
    with httpx.Client(base_url=url, headers=h(w["kA"]["admin"][1])) as a:
        new = a.post("/keys", json={"role": "researcher", "name": "temp"}).json()
        assert httpx.get(f"{url}/whoami", headers=h(new["token"])).status_code == 200
        assert a.post(f"/keys/{new['key']['id']}/revoke").status_code == 200
        assert httpx.get(f"{url}/whoami", headers=h(new["token"])).status_code == 401
        refused = a.get("/audit", params={"status": 401, "key_id": new["key"]["id"]}).json()   # audited in its own tenant
        assert [(x["route"], x["tenant"]) for x in refused] == [("/whoami", A)]
        assert a.post(f"/keys/{w['kB']['admin'][0]}/revoke").status_code == 404      # another tenant's key
        assert "token" not in json.dumps(a.get("/keys").json()) and "secret" not in json.dumps(a.get("/keys").json())


def test_the_first_start_writes_an_admin_key_only_its_owner_reads(af_home):
    from agentfactory.core.auth import admin_key_file, read_admin_key
    app = create_app(Runtime(ingest=False))
    p = admin_key_file()
    assert p.is_file() and (p.stat().st_mode & 0o777) == 0o600
    with serve(app) as url:
        assert httpx.get(f"{url}/whoami", headers=h(read_admin_key())).json() == {
            "key_id": httpx.get(f"{url}/whoami", headers=h(read_admin_key())).json()["key_id"], "tenant": "default", "role": "admin",
            "name": "bootstrap-admin", "agents": []}
    create_app(Runtime(ingest=False))                                             # a second start writes no new key
    assert p.read_text().strip() == read_admin_key()


def test_100_concurrent_identical_events_are_stored_once_with_auth_on(af_home):
    from concurrent.futures import ThreadPoolExecutor
    from agentfactory.core.auth import read_admin_key
    app = create_app(Runtime(ingest=False))
    st = app.state.platform.store
    _, tok = create_key(A, "researcher", store=st)
    event = {"id": "ev_once", "type": "feedback", "session_id": "s-once", "payload": {"rating": 5}}
    with serve(app) as url, httpx.Client(base_url=url, timeout=120, headers=h(tok),
                                         limits=httpx.Limits(max_connections=100)) as c:
        with ThreadPoolExecutor(32) as ex:
            codes = list(ex.map(lambda _: c.post("/events", json=[event]).status_code, range(100)))
        assert codes == [200] * 100
        assert c.get("/events", params={"session_id": "s-once"}).json()["total"] == 1
        assert len(audit_log(A, route="/events", store=st, limit=1000)) == 100       # every write audited
        with httpx.Client(base_url=url, headers=h(read_admin_key())) as d:          # and the default tenant saw none of it
            assert d.get("/events", params={"session_id": "s-once"}).json()["total"] == 0


def test_a_live_env_runs_trace_is_served_redacted(world):
    w = world
    c = w["admin_a"]
    run = c.post("/runs", json={"scenario": "support-desk", "seed": 1}).json()["run_id"]
    said = "Please write to Maria Gonzalez at maria.gonzalez@example.com or call 555-0142."
    assert c.post(f"/runs/{run}/step", json={"action": {"role": "assistant", "content": said}}).status_code == 200
    text = json.dumps(c.get(f"/runs/{run}/trace").json())
    assert "maria.gonzalez@example.com" not in text and "555-0142" not in text and "Maria Gonzalez" not in text


def test_only_an_admin_may_deploy_over_deleted_data(world):
    w, ids = world, world["ids"]
    body = {"model": ids["ref"], "override_deleted_data": True}
    with httpx.Client(base_url=w["url"], timeout=60, headers=h(w["kA"]["operator"][1])) as op:
        r = op.post(f"/agents/{ids['agent_id']}/deploy", json=body)
        assert r.status_code == 403 and "admin" in r.json()["detail"]


def test_gdpr_deletion_and_lineage_are_per_tenant(world):
    w = world
    said = "Please update the address of Maria Gonzalez, maria.gonzalez@example.com."
    traj = lambda i: {"id": f"traj_g{i}", "scenario_id": "support-desk", "messages": [{"role": "user", "content": said}]}
    with httpx.Client(base_url=w["url"], timeout=120, headers=h(w["kB"]["admin"][1])) as b:
        assert b.post("/trajectories", json=[traj(1)]).status_code == 200
        assert w["admin_a"].post("/trajectories", json=[traj(1)]).status_code == 200          # the same id in both tenants
        r = w["admin_a"].post("/subjects/delete", json={"email": "maria.gonzalez@example.com", "requested_by": "dpo@acme"})
        assert r.status_code == 200 and r.json()["trajectories"] == 1, r.text
        assert w["admin_a"].get("/trajectories/traj_g1").status_code == 404
        assert b.get("/trajectories/traj_g1").status_code == 200                               # B's copy of the person stays
        assert b.get("/subjects/deletions").json() == []                                       # and B's deletion log is its own
        assert len(w["admin_a"].get("/subjects/deletions").json()) == 1


def test_tenants_on_both_backends(af_home, store_url):
    "The root store on SQLite or PostgreSQL: tenant stores are SQLite files or schemas beside it, isolated the same way."
    from agentfactory.core.store import Store
    from agentfactory.core.tenancy import tenant_schema, tenant_settings
    app = create_app(Runtime(Store(store_url), ingest=False))
    st = app.state.platform.store
    (_, ta), (_, tb) = create_key(A, "researcher", store=st), create_key(B, "researcher", store=st)
    try:
        with serve(app) as url, httpx.Client(base_url=url, timeout=120, headers=h(ta)) as a, \
             httpx.Client(base_url=url, timeout=120, headers=h(tb)) as b:
            assert a.post("/trajectories", json=[episode(1, "a")]).status_code == 200
            assert a.post("/datasets/create", json={"kind": "sft"}).json()["id"] == "D1"
            assert b.get("/trajectories/traj_a1").status_code == 404 and b.get("/datasets/D1").status_code == 404
            assert b.post("/trajectories", json=[episode(1, "a")]).json()["new"] == 1               # the same id, B's own
            assert b.post("/datasets/create", json={"kind": "sft"}).json()["id"] == "D1"            # B's own D1
            assert a.get("/events", params={"limit": 1000}).json()["total"] == b.get("/events", params={"limit": 1000}).json()["total"]
    finally:
        if store_url.startswith("postgresql"):
            from sqlalchemy import text
            s = tenant_settings(A, base_url=store_url)
            assert tenant_schema(s).endswith("__acme")                                         # beside the root schema
            with Store(store_url).engine.begin() as c:
                for t in (A, B): c.execute(text(f'DROP SCHEMA IF EXISTS "{tenant_schema(tenant_settings(t, base_url=store_url))}" CASCADE'))


def test_no_answer_carries_a_server_path(world):
    "Every GET of the schema with A's real ids, and a deletion report: no answer names a file on the server."
    w, ids = world, world["ids"]
    schema = w["admin_a"].get("/openapi.json").json()
    root = str(w["home"])
    for method, tmpl, url, query, body, _ in calls(schema, ids):
        if method == "get" and tmpl not in ("/openapi.json",):
            r = w["admin_a"].get(url, params=query)
            assert r.status_code < 500 and root not in r.text, (url, r.text[:300])
    r = w["admin_a"].post("/subjects/delete", json={"session_id": "s_a1", "requested_by": "dpo@acme"})
    assert r.status_code == 200 and root not in r.text
    assert root not in w["admin_a"].get("/subjects/deletions").text
