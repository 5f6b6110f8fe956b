"""A hardened API: hostile input never crashes a route.

Every JSON route of the app, walked from the app's own OpenAPI schema (a route added later is covered without editing
this file), is sent broken bodies (not JSON, an array, missing/null/unknown fields, wrong types, NaN/Infinity, JSON
nested 10,000 deep, a 10 MB string, NUL bytes, lone surrogates, bytes that are not UTF-8), hostile path ids (negative,
2**63, `1 OR 1=1`, `%2e%2e%2f`, NUL, 300 characters) and hostile query values. Each answers a 4xx whose JSON `detail`
names the problem, a refused request writes nothing (store rows, artifact files), and the server answers /healthz after
every route. Then one test per class of crash a hostile client found earlier, each fixed at its root."""
import json, re
from pathlib import Path

import httpx
import pytest

from conftest import serve

BIG = 10 * 2**20                    # a 10 MB field
LIMIT = 12 * 2**20                  # the app's body limit here: a 10 MB field fits under it, so the string check answers
HOSTILE_IDS = ["-1", str(2**63), "1 OR 1=1", "%2e%2e%2f", "%00", "a" * 300]
PASS_THROUGH = {"/openapi.json", "/docs", "/healthz"}


# ---------------------------------------------------------------- the server, its store and objects for the path ids
@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def api(request, tmp_path_factory, base_cache):
    """A real server over a fresh store (SQLite, and PostgreSQL where `make test` started one: a column shorter than
    its API limit is a 5xx there only) with an admin key and one object of each kind, so every path id has a real value."""
    from agentfactory.core.settings import set_settings
    from conftest import PG_URL
    home, db_url = tmp_path_factory.mktemp("hostile"), ""
    if request.param == "postgresql":
        if not PG_URL: pytest.skip("AGENTFACTORY_TEST_PG_URL is unset; `make test` starts PostgreSQL with .ci/postgres.sh")
        import uuid
        from sqlalchemy import create_engine, text
        schema = f"h_{uuid.uuid4().hex[:12]}"
        with create_engine(PG_URL).begin() as con: con.execute(text(f'CREATE SCHEMA "{schema}"'))
        db_url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENTFACTORY_BASE_CACHE", str(base_cache))
        mp.setenv("AGENTFACTORY_ARTIFACT_ROOT", str(home / "artifacts"))
        mp.setenv("AGENTFACTORY_DB_URL", db_url)
        mp.setenv("AGENTFACTORY_TRACKING", "off")
        set_settings(None)
        from agentfactory.api.app import create_app
        from agentfactory.core.auth import read_admin_key
        from agentfactory.runtime.core import Runtime
        app = create_app(Runtime(ingest=False), max_body_bytes=LIMIT)
        with serve(app) as url:
            c = httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {read_admin_key()}"})
            ids = _objects(c, app, home)
            yield type("Api", (), dict(c=c, app=app, url=url, ids=ids, home=home,
                                       schema=c.get("/openapi.json").json()))()
            c.close()
        set_settings(None)


def _ok(r: httpx.Response) -> dict:
    assert r.status_code < 300, (r.request.method, r.request.url.path, r.status_code, r.text[:500])
    return r.json()


def _objects(c: httpx.Client, app, home: Path) -> dict:
    "One of each object the routes name, created over HTTP where the API can; the id of each, by path parameter name."
    from agentfactory.envs.supportdesk import SupportDesk
    from agentfactory.envs.loop import run_episodes
    with SupportDesk() as desk:
        trajs = run_episodes(desk.expert(), desk, desk.tasks("train", n=3, seed=0), progress=False)
    t = _ok(c.post("/trajectories", json=[json.loads(x.model_dump_json()) for x in trajs]))
    ev = _ok(c.get("/events", params={"limit": 1}))["events"][0]
    ds = _ok(c.post("/datasets/create", json={"kind": "sft"}))
    task = _ok(c.post("/label-tasks", json={"kind": "rating", "items": [t["ids"][0]]}))["tasks"][0]
    run = _ok(c.post("/runs", json={"scenario": "support-desk", "seed": 1}))
    agent = _ok(c.post("/agents", json={"name": "hostile-agent"}))
    key = _ok(c.post("/keys", json={"role": "viewer", "name": "hostile-viewer"}))["key"]
    folder = home / "model-m0"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    reg = app.state.platform.scope("default").runtime.registry
    mv = reg.register(folder)
    reg.record_gate(mv.version, "PASS")
    job = _ok(c.post("/train/jobs", json={"model_base": mv.version, "dataset_ref": ds["id"], "algorithm": "sft", "start": False}))
    ts = _ok(c.post("/eval/taskset", json={"name": "hostile", "scenario": "support-desk", "levels": [1], "n": 2}))
    ev = _ok(c.post("/eval/run", json={"models": [mv.version], "taskset": ts["id"], "start": False}))
    return {"taskset_id": ts["id"], "eval_id": ev["id"],"trajectory_id": t["ids"][0], "event_id": ev["id"], "dataset_id": ds["id"], "fmt": "jsonl", "row_index": 0,
            "task_id": task["id"], "run_id": run["run_id"], "agent_id": agent["id"], "session_id": "sess_none",
            "key_id": key["id"], "ref": mv.version, "job_id": job["id"]}


def _written(api) -> tuple:
    "What the server has written: rows per table (the audit log aside: refused requests are audited) and artifact files."
    from sqlalchemy import inspect, text
    store = api.app.state.platform.store
    with store.engine.connect() as con:
        rows = {t: con.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar()
                for t in inspect(con).get_table_names() if "audit" not in t}
    files = {p.relative_to(api.home) for p in (api.home / "artifacts").rglob("*")
             if p.is_file() and not re.search(r"\.db(-wal|-shm|-journal)?$", p.name)}
    return rows, files


# ---------------------------------------------------------------- the schema, walked
def _resolve(schema: dict, s: dict | None) -> dict:
    while s and "$ref" in s: s = schema["components"]["schemas"][s["$ref"].split("/")[-1]]
    return s or {}

def _options(schema: dict, s: dict) -> list[dict]:
    "The alternatives of a property schema (anyOf/oneOf flattened), each resolved."
    s = _resolve(schema, s)
    alts = s.get("anyOf") or s.get("oneOf")
    return [o for a in alts for o in _options(schema, a)] if alts else [s]

_JSON_TYPE = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object", type(None): "null"}

def _types(schema: dict, s: dict) -> set[str] | None:
    "The JSON types a property accepts; None when it accepts anything."
    out = set()
    for o in _options(schema, s):
        if "enum" in o: out |= {_JSON_TYPE[type(v)] for v in o["enum"]}
        elif "type" in o: out |= set(o["type"]) if isinstance(o["type"], list) else {o["type"]}
        elif "properties" in o: out.add("object")
        else: return None
    return out

def _example(schema: dict, s: dict):
    "A small value a property accepts (the first alternative that is not null)."
    opts = [o for o in _options(schema, s) if o.get("type") != "null"] or [{}]
    o = opts[0]
    if "default" in o and o["default"] is not None: return o["default"]
    if "enum" in o: return o["enum"][0]
    t = o.get("type")
    if t == "string": return "2026-01-01T00:00:00Z" if o.get("format") == "date-time" else "x" * max(1, o.get("minLength", 1))
    if t == "integer": return max(o.get("minimum", 1), 1)
    if t == "number": return max(o.get("minimum", 1), 1)
    if t == "boolean": return True
    if t == "array": return []
    if "properties" in o or t == "object": return _minimal(schema, o)
    return "x"

def _minimal(schema: dict, body: dict) -> dict:
    "The required fields of an object schema, each with a small value it accepts."
    body = _resolve(schema, body)
    return {k: _example(schema, v) for k, v in body.get("properties", {}).items() if k in body.get("required", [])}

def _wrong(types: set[str]):
    "A value of a JSON type outside `types` (None if it accepts every type)."
    for v in (["not", "an", "object"], {"not": "a list"}, "a string", 12.5, True):
        if _JSON_TYPE[type(v)] not in types and not (type(v) is float and "number" in types): return v
    return None

def _operations(schema: dict):
    "(method, path, operation) for every route in the schema but the platform's pass-throughs."
    for path, ops in schema["paths"].items():
        if path in PASS_THROUGH: continue
        for method, op in ops.items(): yield method.upper(), path, op

def _body_schema(schema: dict, op: dict) -> dict | None:
    content = op.get("requestBody", {}).get("content", {})
    return content["application/json"].get("schema", {}) if "application/json" in content else None

def _url(path: str, ids: dict, override: dict | None = None) -> str:
    "The path with its parameters filled: real ids, or the raw (already URL-safe) hostile values in `override`."
    from urllib.parse import quote
    def fill(m):
        name = m[1].split(":")[0]
        if override and name in override: return override[name]
        return quote(str(ids.get(name, "no-such-id")), safe="")
    return re.sub(r"\{([^}]+)\}", fill, path)

def _raw_value(v: str) -> str:
    "A hostile id as it goes into the URL: percent-escapes as written, spaces encoded, the rest verbatim."
    return v.replace(" ", "%20")


# ---------------------------------------------------------------- checking one answer
class Findings(list):
    "Problems found, one line each; the test fails with all of them listed."
    def check(self, api, what: str, r: httpx.Response, before, expect_4xx: bool, words: tuple[str, ...] = ()):
        where = f"{r.request.method} {r.request.url.raw_path.decode()[:120]} [{what}]"
        if r.status_code >= 500: return self.append(f"{where}: {r.status_code} {r.text[:300]}")
        if expect_4xx and not 400 <= r.status_code < 500: return self.append(f"{where}: {r.status_code}, expected a 4xx: {r.text[:200]}")
        if 400 <= r.status_code < 500:
            try: body = r.json()
            except ValueError: return self.append(f"{where}: {r.status_code} without a JSON body: {r.text[:200]}")
            detail = body.get("detail") if isinstance(body, dict) else None
            if not (isinstance(detail, str) and detail.strip()):
                return self.append(f"{where}: {r.status_code} without a string detail: {r.text[:200]}")
            if words and not any(w.lower() in detail.lower() for w in words):
                self.append(f"{where}: the message does not name the problem ({' / '.join(words)}): {detail[:200]}")
            if before is not None:
                after = _written(api)
                if after != before:
                    rows = {t: (before[0].get(t), n) for t, n in after[0].items() if before[0].get(t) != n}
                    self.append(f"{where}: refused ({r.status_code}) but wrote {rows or ''} {sorted(map(str, after[1] - before[1]))[:5]}")

    def healthy(self, api, route: str):
        try: r = httpx.get(api.url + "/healthz", timeout=30)
        except httpx.HTTPError as e: return self.append(f"/healthz after {route}: {e!r}")
        if r.status_code != 200: self.append(f"/healthz after {route}: {r.status_code}")

    def done(self):
        assert not self, f"{len(self)} problems:\n" + "\n".join(self)


def _send(api, method: str, url: str, content: bytes | None = None, params=None) -> httpx.Response:
    """One request. An id that decodes to `../` gets Starlette's trailing-slash redirect (307 to `…/..`); it is followed
    once as sent, dots escaped, since a client that resolved `..` itself would land on another route."""
    headers = {"content-type": "application/json"} if content is not None else {}
    r = api.c.request(method, url, content=content, params=params, headers=headers)
    if r.is_redirect:
        from urllib.parse import urlsplit                                     # httpx.URL would resolve the `..`
        target = urlsplit(r.headers["location"])
        assert target.hostname == "127.0.0.1", r.headers["location"]          # never off the server
        path = re.sub(r"/\.\.(?=/|$)", "/%2e%2e", target.path)
        r = api.c.request(method, path, content=content, headers=headers)
    return r


def _body_cases(schema: dict, op: dict) -> list[tuple[str, bytes, bool, tuple]]:
    "(name, raw body, must it be refused, words the message should carry) for one route."
    body = _body_schema(schema, op)
    s = _resolve(schema, body) if body is not None else {}
    props = s.get("properties", {})
    first = next(iter(props), "events" if body is not None and not props else "x")
    raw = lambda v: f'{{"{first}": {v}}}'.encode()
    cases = [("not JSON", b'{"oops": ', True, ("JSON",)),
             ("not UTF-8", b'{"x": "\xff\xfe"}', True, ("UTF-8",)),
             ("NaN", raw("NaN"), True, ("finite",)),
             ("Infinity", raw("Infinity"), True, ("finite",)),
             ("-Infinity", raw("-Infinity"), True, ("finite",)),
             ("nested 10,000 deep", raw("[" * 10_000 + "]" * 10_000), True, ("nest", "deep")),
             ("a 10 MB field", json.dumps({first: "a" * BIG}).encode(), True, ("at most", "limit")),
             ("an escaped NUL", raw('"a\\u0000b"'), True, ("NUL",)),
             ("a raw NUL byte", raw('"a\x00b"'), True, ("JSON", "NUL", "control")),
             ("a lone surrogate", raw('"a\\ud800b"'), True, ("surrogate",))]
    if body is None: return cases
    untyped = not props and "type" not in s and not _options(schema, body)[0].get("type")
    minimal = _minimal(schema, body)
    required = bool(s.get("required")) or untyped
    body_required = op["requestBody"].get("required", False)
    cases += [("an array", b'[1, "two", null]', True, ()),
              ("JSON null", b"null", body_required, ()),
              ("missing fields", b"{}", required, ()),
              ("an unknown field", json.dumps({**minimal, "zz_unknown": 1}).encode(), True, ("zz_unknown", "extra"))]
    if props:
        nulls = {k: None for k in props}
        cases.append(("every field null", json.dumps(nulls).encode(),
                      any("null" not in (_types(schema, v) or {"null"}) for v in props.values()), ()))
        for k, v in props.items():
            types = _types(schema, v)
            if types is None: continue
            bad = _wrong(types)
            if bad is not None:
                cases.append((f"{k}: wrong type", json.dumps({**minimal, k: bad}).encode(), True, (k,)))
    return cases


# ---------------------------------------------------------------- the catalogue, per route
def test_every_route_refuses_broken_bodies(api):
    found, n = Findings(), 0
    for method, path, op in _operations(api.schema):
        url = _url(path, api.ids)
        for name, content, refuse, words in _body_cases(api.schema, op):
            before = _written(api)
            r = _send(api, method, url, content)
            found.check(api, name, r, before if refuse else None, refuse, words)
            n += 1
        found.healthy(api, f"{method} {path}")
    assert n > 300                      # the walk reached the routes
    found.done()


def test_every_path_parameter_refuses_hostile_ids(api):
    found, n = Findings(), 0
    for method, path, op in _operations(api.schema):
        params = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
        body = _body_schema(api.schema, op)
        content = json.dumps(_minimal(api.schema, body)).encode() if body is not None else None
        for p in params:
            for v in HOSTILE_IDS:
                before = _written(api)
                r = _send(api, method, _url(path, api.ids, {p: _raw_value(v)}), content)
                found.check(api, f"{p}={v[:20]}", r, before, True)
                n += 1
        if params: found.healthy(api, f"{method} {path}")
    assert n > 100
    found.done()


QUERY_INTS = ["-1", str(2**63), str(-2**63 - 1), "1 OR 1=1", "1e3", "NaN", ""]
QUERY_STRINGS = ["1 OR 1=1", "%2e%2e%2f", "\x00", "a" * 5000, "'; DROP TABLE events; --"]

def test_every_query_parameter_survives_hostile_values(api):
    "Integers out of range or not integers are 4xx; strings are filters that match nothing (or a 4xx), never a 5xx."
    found, n = Findings(), 0
    for method, path, op in _operations(api.schema):
        body = _body_schema(api.schema, op)
        content = json.dumps(_minimal(api.schema, body)).encode() if body is not None else None
        url = _url(path, api.ids)
        query = [p for p in op.get("parameters", []) if p["in"] == "query"]
        given = {p["name"]: _example(api.schema, p.get("schema", {})) for p in query if p.get("required")}
        for p in query:
            types = _types(api.schema, p.get("schema", {})) or set()
            ints = "integer" in types
            bounded = [o for o in _options(api.schema, p["schema"]) if o.get("type") == "integer"]
            for v in (QUERY_INTS if ints else QUERY_STRINGS):
                if not ints: must = False
                elif v in ("-1", ""): must = v == "-1" and any(o.get("minimum", -1) >= 0 for o in bounded)
                else: must = True          # not an integer, or past any sane bound: every integer query value is bounded
                r = _send(api, method, url, content, params={**given, p["name"]: v})
                found.check(api, f"?{p['name']}={v[:20]!r}", r, None, must)
                n += 1
            r = api.c.request(method, url + f"?{p['name']}=%ED%A0%80%FF", content=content,
                              headers={"content-type": "application/json"} if content else {})
            found.check(api, f"?{p['name']}=<not UTF-8>", r, None, False)
        found.healthy(api, f"{method} {path}")
    assert n > 20
    found.done()


def test_a_body_over_the_limit_is_413_on_every_route(api):
    found = Findings()
    blob = b'{"x": "' + b"a" * (LIMIT + 1024) + b'"}'
    for method, path, op in _operations(api.schema):
        if method not in ("POST", "PUT", "PATCH", "DELETE"): continue
        before = _written(api)
        try: r = _send(api, method, _url(path, api.ids), blob)
        except httpx.HTTPError as e:
            found.append(f"{method} {path}: the connection broke instead of a 413: {e!r}"); continue
        found.check(api, "a body over the limit", r, before, True, ("max_body_bytes",))
        if r.status_code != 413: found.append(f"{method} {path}: {r.status_code} for a body over the limit, expected 413")
    found.healthy(api, "the oversized bodies")
    found.done()


# ---------------------------------------------------------------- the classes a hostile client found, one test each
def _refused(api, method: str, path: str, body=None, *, status: int = 422, words: tuple[str, ...] = (), **kw) -> dict:
    "Send; assert the refusal (status, a detail naming the problem) and that nothing was written."
    before = _written(api)
    r = api.c.request(method, path, json=body, **kw)
    assert r.status_code == status, (path, body if not isinstance(body, dict) else {k: str(v)[:80] for k, v in body.items()}, r.status_code, r.text[:300])
    detail = r.json()["detail"]
    assert isinstance(detail, str) and all(w in detail for w in words), detail
    assert _written(api) == before, f"{method} {path} was refused but wrote"
    return r.json()


def test_names_over_255_bytes_never_become_file_names(api):
    "A 300-byte model_base reached Path.exists() (File name too long: 500); YAML text that looks like a path was read."
    ds = api.ids["dataset_id"]
    _refused(api, "POST", "/train/jobs", {"model_base": "m" * 300, "dataset_ref": ds, "algorithm": "sft", "start": False},
             words=("model_base", "255 bytes"))
    _refused(api, "POST", "/rm/train", {"model_base": "tiny", "dataset_ref": "d" * 300, "start": False}, words=("dataset_ref",))
    _refused(api, "POST", "/train/jobs", {"model_base": api.ids["ref"], "dataset_ref": ds, "algorithm": "sft", "start": False,
                                          "agent": "a" * 200}, words=("agent",))
    _refused(api, "POST", "/runs", {"scenario": "s" * 256}, words=("scenario",))
    library = str(Path(__file__).resolve().parents[1] / "data" / "scenarios" / "library.yaml")
    _refused(api, "POST", "/scenarios", {"yaml": library}, words=("mapping",))        # text, never a server path


def test_post_runs_checks_seed_task_levels_and_options(api):
    "A negative seed crashed gymnasium (500); 2**70 started a run that could never be stored; levels [99] ran any level."
    runs = api.app.state.platform.scope("default").env_runs
    live = len(runs.runs)
    for body, words in [({"seed": -1}, ("seed",)), ({"seed": 2**63}, ("seed",)), ({"seed": 2**70}, ("seed",)),
                        ({"seed": "x"}, ("seed",)), ({"seed": 1.5}, ("seed",)),
                        ({"task": {}}, ("task", "Field required")), ({"task": {"id": "t", "level": 1, "question": 5}}, ("question",)),
                        ({"task": ["sd-1"]}, ("task",)), ({"levels": [99]}, ("levels",)), ({"levels": [0]}, ("levels",)),
                        ({"levels": []}, ("levels",)), ({"levels": [1] * 6}, ("levels",)), ({"split": "test"}, ("split",)),
                        ({"limits": {"bogus": 1}}, ("bogus",)), ({"limits": {"max_steps": 2**63}}, ("max_steps",)),
                        ({"limits": {"step_timeout_s": 1e308}}, ("step_timeout_s",)),
                        ({"scenario": "support-desk?seed=x"}, ("seed",)), ({"scenario": "support-desk?" + "a" * 200}, ("name=value",))]:
        _refused(api, "POST", "/runs", {"scenario": "support-desk", **body}, words=words)
    assert len(runs.runs) == live                              # no run was started
    _refused(api, "POST", "/agents", {"name": "x", "scenario": "support-desk?" + "a" * 100}, words=("name=value",))


def test_unknown_quality_options_are_refused(api):
    "Unknown `quality` keys reached quality_filter(**opts): TypeError, 500."
    for q, words in [({"bogus": 1}, ("unknown option 'bogus'", "garbage")), ({"threshold": "x"}, ("threshold",)),
                     ({"garbage": "yes"}, ("garbage",)), ({"threshold": 2}, ("threshold",)), ({"z": -1}, ("z",))]:
        _refused(api, "POST", "/datasets/create", {"kind": "sft", "quality": q}, words=words)
    _refused(api, "POST", "/datasets/create", {"kind": "sft", "level": 2**63}, words=("level",))


def test_ints_past_64_bits_in_paths_queries_and_filters(api):
    "row_index 2**63 and a label filter limit of 2**63 overflowed SQLite (500); every integer the API takes is bounded."
    big = str(2**63)
    _refused(api, "GET", f"/lineage/datasets/{api.ids['dataset_id']}/rows/{big}", words=("row_index",))
    for path, param in [("/events", "limit"), ("/subjects/deletions", "limit"), ("/audit", "limit"), ("/audit", "status")]:
        _refused(api, "GET", path, params={param: big}, words=(param,))
    _refused(api, "POST", "/label-tasks", {"kind": "rating", "filters": {"limit": 2**63}}, words=("filters.limit",))
    _refused(api, "POST", "/label-tasks", {"kind": "rating", "filters": {"source": "x", "bogus": 1}}, words=("bogus",))


def test_a_huge_step_action_is_refused_and_a_big_one_is_stored(api):
    """A 10 MB step action answered 200, then its run was never saved: the step's error text (every unknown tool name
    echoed) passed spaCy's 1,000,000-character limit in the redactor, and the background writer dropped the run."""
    run = api.c.post("/runs", json={"scenario": "support-desk", "seed": 7}).json()["run_id"]
    call = lambda i, n: {"id": f"c{i}", "type": "function", "function": {"name": "t" * n, "arguments": {}}}
    huge = {"action": {"content": "x", "tool_calls": [call(i, 99_000) for i in range(100)]}}      # ~10 MB
    _refused(api, "POST", f"/runs/{run}/step", huge, status=413, words=("action", "at most"))
    assert api.c.get(f"/runs/{run}").json()["steps"] == 0
    # the same connection, after uvicorn paused and resumed reading that body, still answers /healthz with a key sent
    assert api.c.get("/healthz").status_code == 200
    big = {"action": {"content": "x", "tool_calls": [call(i, 95_000) for i in range(10)]}}         # ~0.95 MB: allowed
    r = api.c.post(f"/runs/{run}/step", json=big)
    assert r.status_code == 200 and len(r.json()["info"]["step"]["error"]) > 950_000
    assert api.c.delete(f"/runs/{run}").status_code == 200
    trace = api.c.get(f"/runs/{run}/trace")                     # from the store: the writer stored it
    assert trace.status_code == 200 and trace.json()["steps"][0]["error"].startswith("unknown tool")
    assert api.c.get(f"/trajectories/{run}").status_code == 200


def test_json_text_nested_in_strings_is_refused(api):
    "A string holding JSON 5,000 levels deep broke json.loads inside the redactor, the records and the env (500)."
    deep = "[" * 5000 + "]" * 5000
    ev = {"events": [{"type": "feedback", "session_id": "s", "payload": {"text": deep}}]}
    _refused(api, "POST", "/events", ev, words=("JSON text nested deeper",))
    traj = {"id": "deep", "scenario_id": "x", "messages": [{"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": deep}}]}]}
    _refused(api, "POST", "/trajectories", [traj], words=("JSON text nested deeper",))
    run = api.c.post("/runs", json={"scenario": "support-desk", "seed": 1}).json()["run_id"]
    _refused(api, "POST", f"/runs/{run}/step", {"action": "{" + '"a":{' * 5000}, words=("JSON text nested deeper",))
    for yaml, words in [("a: " + "[" * 5000, ("nests deeper",)), ("- " * 1000 + "x", ("nests deeper",)),
                        ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
                            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                            for p, c in zip("abcdefg", "bcdefgh")), ("200,000 values",))]:
        _refused(api, "POST", "/scenarios", {"yaml": yaml}, words=words)
    api.c.delete(f"/runs/{run}")


def test_person_keys_in_tool_results_are_redacted_by_key(api):
    "NER misses an unusual name; under `name` in a tool result it is a person's all the same."
    result = json.dumps({"name": "Xqzt Vbrmold", "orders": 3, "phone": "+1-555-0199", "address": "Qorvath Lane 9"})
    bare = json.dumps({"name": "Vbrmold", "tier": "gold"})
    traj = {"id": "traj_unusual", "scenario_id": "support-desk", "messages": [
        {"role": "user", "content": "Who owns order A1001?"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_customer", "arguments": {"order_id": "A1001"}}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "get_customer", "content": result},
        {"role": "tool", "tool_call_id": "c1", "name": "get_customer", "content": bare},
        {"role": "assistant", "content": "Done."}]}
    assert api.c.post("/trajectories", json=[traj]).status_code == 200
    stored = api.c.get("/trajectories/traj_unusual").text
    for secret in ("Xqzt", "Vbrmold", "555-0199", "Qorvath"): assert secret not in stored, secret
    tool = json.loads(api.c.get("/trajectories/traj_unusual").json()["messages"][2]["content"])
    assert tool["name"].startswith("<PERSON") and tool["orders"] == 3
    assert api.c.get("/healthz").status_code == 200
