"""The runtime's tool registry (agentfactory.runtime.tools) with real parts: an MCP server written with the SDK
(tests/mcp_server.py) over stdio and over streamable HTTP on 127.0.0.1, an HTTP tool served by uvicorn, the support
desk and a declared scenario, a module's function. Versions and pinning, argument validation before any call,
permissions refused and audited, the agent loop on a toolset, tenant isolation."""
import json, re, sys, time
from pathlib import Path
import pytest
from fastapi import FastAPI, HTTPException
from fastapi.responses import RedirectResponse
from conftest import serve

pytest.importorskip("mcp", reason="pip install 'agentfactory[runtime]'")
from agentfactory.core.auth import Principal, _principal, audit_log
from agentfactory.core.errors import Conflict, Forbidden, InvalidInput, NotFound, ToolError
from agentfactory.core.records import FunctionCall, Message, Reply, ToolCall
from agentfactory.core.settings import set_settings
from agentfactory.core.tenancy import use_tenant
from agentfactory.envs.loop import continue_conversation
from agentfactory.envs.spec import list_scenarios
from agentfactory.runtime.tools import CallContext, ToolPolicy, ToolRefused, ToolRegistry, _mcp_clients

HERE = Path(__file__).resolve().parent
LIBRARY = HERE.parent / "data" / "scenarios" / "library.yaml"
SERVER = [sys.executable, str(HERE / "mcp_server.py")]
QUOTE = {"type": "object", "properties": {"weight_kg": {"type": "number", "minimum": 0}}, "required": ["weight_kg"]}


@pytest.fixture
def home(af_home, monkeypatch):
    "A fresh artifact root and store; 127.0.0.1 on the tool host allowlist; MCP connections closed afterwards."
    monkeypatch.setenv("AGENTFACTORY_TOOL_HOSTS", "127.0.0.1")
    set_settings(None)
    yield af_home
    _mcp_clients.close_all()


class ScriptedAgent:
    "Stands in for a model: makes the given tool calls, one per turn, then answers with the last observation."
    name = "scripted"
    def __init__(self, *calls): self.calls = list(calls)
    def act(self, conversations, tools):
        conv = conversations[0]
        done = sum(1 for m in conv if m.role == "tool")
        if done < len(self.calls):
            name, args = self.calls[done]
            return [Reply(message=Message(role="assistant", tool_calls=[ToolCall(function=FunctionCall(name=name, arguments=args))]))]
        return [Reply(message=Message(role="assistant", content=conv[-1].content))]


def test_mcp_server_over_stdio_is_listed_registered_and_called(home):
    reg = ToolRegistry()
    tools = reg.register_mcp("notes", command=SERVER)
    assert [(t.name, t.kind, t.read_only, t.source) for t in tools] == [
        ("count_notes", "mcp", True, "mcp:notes"), ("add_note", "mcp", False, "mcp:notes")]
    assert tools[1].target == {"server": {"name": "notes", "transport": "stdio", "command": SERVER}, "tool": "add_note"}
    assert tools[1].parameters["required"] == ["text"] and all(re.fullmatch(r"[0-9a-f]{12}", t.version) for t in tools)
    assert reg.register_mcp("notes", command=SERVER) == tools            # registering the same server again changes nothing
    assert len(reg.tools(versions=True)) == 2
    assert (home / "artifacts" / "logs" / "mcp" / "notes.log").exists()         # the server's stderr

    with reg.resolve(["count_notes", "add_note"], ToolPolicy(state_changing=True)) as ts:
        assert ts.call("add_note", {"text": "call the carrier"}) == "note 1 kept"
        assert json.loads(ts.call("count_notes", {})) == {"count": 1}                # the same process: one kept connection
        with pytest.raises(ToolError, match="an empty note cannot be kept"):        # the server's own error, as a ToolError
            ts.call("add_note", {"text": " "})
    with reg.resolve(["count_notes", "add_note"]) as read_only:                  # the default policy: read-only tools only
        assert [s["function"]["name"] for s in read_only.schemas()] == ["count_notes"]
        with pytest.raises(ToolRefused, match="add_note changes state"): read_only.call("add_note", {"text": "x"})


def test_mcp_server_over_streamable_http_and_the_agent_loop_calls_it(home):
    from mcp_server import build
    with serve(build().streamable_http_app()) as url:
        try:
            reg = ToolRegistry()
            tools = reg.register_mcp("notes-http", url=f"{url}/mcp", prefix="notes_")
            assert [(t.name, t.read_only, t.target["tool"]) for t in tools] == [
                ("notes_count_notes", True, "count_notes"), ("notes_add_note", False, "add_note")]
            assert tools[0].target["server"] == {"name": "notes-http", "transport": "http", "url": f"{url}/mcp"}
            ts = reg.resolve(["notes_add_note", "notes_count_notes"], ToolPolicy(state_changing=True))
            session = ts.bind(CallContext(user="C1024", session_id="sess_http", agent="notes-bot"))
            session.system_prompt = "You keep notes."
            new, steps = continue_conversation(ScriptedAgent(("notes_add_note", {"text": "ring back"}), ("notes_count_notes", {})),
                                               session, [Message(role="user", content="Note: ring back. How many notes now?")])
            assert [m.content for m in new if m.role == "tool"] == ["note 1 kept", '{"count": 1}']
            assert new[-1].content == '{"count": 1}' and not any(s.error for s in steps)
            port = url.rsplit(":", 1)[1]
            with pytest.raises(Forbidden, match="host localhost:.* is not on the tool host allowlist"):
                reg.register_mcp("elsewhere", url=f"http://localhost:{port}/mcp")
            with pytest.raises(InvalidInput, match="either a command"): reg.register_mcp("both", command=SERVER, url=f"{url}/mcp")
        finally:
            _mcp_clients.close_all()                                               # before the server stops


def test_a_changed_schema_is_a_new_version_and_a_pinned_version_refuses_to_resolve(home, tmp_path):
    variant = tmp_path / "variant"
    variant.write_text("1")
    cmd, reg = SERVER + [str(variant)], ToolRegistry()
    v1 = {t.name: t for t in reg.register_mcp("notes", command=cmd)}
    variant.write_text("2")                                                        # the server is upgraded
    v2 = {t.name: t for t in reg.register_mcp("notes", command=cmd)}
    assert v2["count_notes"] == v1["count_notes"]                                  # an unchanged tool keeps its version
    assert v2["add_note"].version != v1["add_note"].version and v2["add_note"].parameters["required"] == ["text", "tag"]
    assert [t.version for t in reg.tools("add_note", versions=True)] == [v2["add_note"].version, v1["add_note"].version]
    assert reg.get("add_note").version == v2["add_note"].version
    assert reg.get(v1["add_note"].ref).current is False                           # the old version stays, pinnable

    with pytest.raises(Conflict, match=re.escape(f"{v1['add_note'].ref}: MCP server notes now takes other arguments, those "
                                                 f"of {v2['add_note'].ref}: pin that version, or restore the old MCP server")):
        reg.resolve(["count_notes", v1["add_note"].ref])
    with reg.resolve(["add_note"], ToolPolicy(state_changing=True)) as ts:
        assert ts.versions == {"add_note": v2["add_note"].version}
        with pytest.raises(ToolError, match="'tag' is a required property"): ts.call("add_note", {"text": "x"})
        assert ts.call("add_note", {"text": "x", "tag": "urgent"}) == "note 1 kept [urgent]"

    variant.write_text("1")                                                        # rolled back: v1 is current again, no new row
    assert {t.name: t.version for t in reg.register_mcp("notes", command=cmd)} == {n: t.version for n, t in v1.items()}
    assert reg.get("add_note").version == v1["add_note"].version and len(reg.tools("add_note", versions=True)) == 2
    with reg.resolve([v1["add_note"].ref], ToolPolicy(state_changing=True)) as ts:
        assert ts.call("add_note", {"text": "x"}) == "note 1 kept"
    with pytest.raises(NotFound, match="registered versions"): reg.get("add_note@000000000000")


def test_http_tool_validates_before_calling_and_keeps_to_the_allowlist(home, monkeypatch):
    hits = []
    app = FastAPI()

    @app.post("/quote")
    def quote(body: dict):
        hits.append(body)
        return {"price": 4.5 + body["weight_kg"]}

    @app.post("/down")
    def down(body: dict): raise HTTPException(503, "maintenance")

    @app.post("/moved")
    def moved(body: dict): return RedirectResponse("http://169.254.169.254/latest/meta-data", status_code=307)

    @app.post("/slow")
    def slow(body: dict):
        time.sleep(1.0)
        return {}

    with serve(app) as url:
        reg = ToolRegistry()
        t = reg.register_http("quote", f"{url}/quote", QUOTE, "A shipping quote.", read_only=True)
        assert (t.kind, t.target) == ("http", {"url": f"{url}/quote", "timeout_s": 10.0})
        assert reg.register_http("quote", f"{url}/quote", QUOTE, "A shipping quote.", read_only=True) == t
        for name in ("down", "moved"): reg.register_http(name, f"{url}/{name}", {"type": "object"}, read_only=True)
        reg.register_http("slow", f"{url}/slow", {"type": "object"}, read_only=True, timeout_s=0.3)
        with reg.resolve(["quote", "down", "moved", "slow"]) as ts:
            assert json.loads(ts.call("quote", {"weight_kg": 2})) == {"price": 6.5}
            for bad, message in [({}, "quote: 'weight_kg' is a required property"),
                                 ({"weight_kg": "2"}, "quote: argument weight_kg: '2' is not of type 'number'"),
                                 ({"weight_kg": -1}, "quote: argument weight_kg: -1 is less than the minimum of 0"),
                                 ({"weight_kg": 1, "currency": "EUR"}, "('currency' was unexpected)"),
                                 ([1], "arguments must be a JSON object")]:
                with pytest.raises(ToolError, match=re.escape(message)): ts.call("quote", bad)
            assert hits == [{"weight_kg": 2}]                                       # no invalid call reached the endpoint
            with pytest.raises(ToolError, match="answered HTTP 503"): ts.call("down", {})
            with pytest.raises(ToolError, match="answered HTTP 307"): ts.call("moved", {})   # redirects are not followed
            with pytest.raises(ToolError, match="did not answer within 0.3 s"): ts.call("slow", {})

            for where in ("http://169.254.169.254/latest/meta-data", f"http://localhost:{url.rsplit(':', 1)[1]}/quote"):
                with pytest.raises(Forbidden, match="not on the tool host allowlist"): reg.register_http("q2", where, QUOTE)
            with pytest.raises(InvalidInput, match="not an http"): reg.register_http("q2", "file:///etc/passwd", QUOTE)
            with pytest.raises(InvalidInput, match="credentials"): reg.register_http("q2", url.replace("//", "//u:p@"), QUOTE)

            monkeypatch.setenv("AGENTFACTORY_TOOL_HOSTS", "api.example.com")     # the operator takes the host off the list
            set_settings(None)
            with pytest.raises(ToolError, match="not on the tool host allowlist"): ts.call("quote", {"weight_kg": 1})
            assert len(hits) == 1


def test_python_tools_from_scenarios_and_from_a_module(home, tmp_path, monkeypatch):
    reg = ToolRegistry()
    sd = reg.register_scenario("support-desk", tools=["get_order", "refund_order"], read_only=["get_order"])
    assert [(t.name, t.read_only, t.target) for t in sd] == [
        ("get_order", True, {"scenario": "support-desk", "tool": "get_order"}),
        ("refund_order", False, {"scenario": "support-desk", "tool": "refund_order"})]
    lib = reg.register_scenario(str(LIBRARY), prefix="library_", read_only=["search_catalog", "get_book"])
    stored = [s.id for s in list_scenarios(store=reg.store)]
    assert [t.target["scenario"] for t in lib] == stored * 3 and stored[0].startswith("library-desk@")   # stored: no path kept

    (tmp_path / "pricing.py").write_text(
        "def discount(price: float,   # the list price\n"
        "             percent: int = 10) -> float:\n"
        "    'The price after a discount.'\n"
        "    if percent > 90: raise ValueError('too generous')\n"
        "    return round(price * (100 - percent) / 100, 2)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fn = reg.register_function("pricing:discount", read_only=True)
    assert (fn.name, fn.description, fn.parameters) == ("discount", "The price after a discount.", {
        "type": "object", "required": ["price"], "properties": {
            "price": {"type": "number", "description": "the list price"}, "percent": {"type": "integer", "default": 10}}})

    with reg.resolve(["get_order", "library_search_catalog", "library_place_hold", "discount"], ToolPolicy(state_changing=True)) as ts:
        assert json.loads(ts.call("get_order", {"order_id": "A2841"}))["customer"]["id"] == "C1024"
        assert json.loads(ts.call("library_search_catalog", {"query": "dune"}))["books"][0]["book_id"] == "B01"
        ts.call("library_place_hold", {"book_id": "B03", "member_id": "M7"})
        assert json.loads(ts.call("discount", {"price": 80, "percent": 25})) == 60.0
        with pytest.raises(ToolError, match="argument percent: 2.5 is not of type 'integer'"):
            ts.call("discount", {"price": 80, "percent": 2.5})
        with pytest.raises(ToolError, match="discount failed: ValueError: too generous"): ts.call("discount", {"price": 1, "percent": 95})

    # from an API request nothing may name a module, a program or a file on the server
    token = _principal.set(Principal(key_id="key_0123456789abcdef", tenant="default", role="admin", name="api"))
    try:
        for register in (lambda: reg.register_function("pricing:discount"), lambda: reg.register_mcp("x", command=SERVER),
                         lambda: reg.register_scenario(str(LIBRARY))):
            with pytest.raises(Forbidden, match="from the library only"): register()
        assert [t.name for t in reg.register_scenario("support-desk", tools=["get_customer"])] == ["get_customer"]   # by name: fine
    finally:
        _principal.reset(token)


def test_forbidden_tools_and_arguments_are_refused_and_audited(home):
    reg = ToolRegistry()
    reg.register_scenario("support-desk", read_only=["get_order", "get_customer", "search_orders"])
    policy = ToolPolicy(tools=["get_order", "search_orders", "refund_order"], state_changing=True,
                        arguments={"*": {"customer_id": "$user"}}, scopes={"refund_order": ["refunds"]})
    key = Principal(key_id="key_00000000000000a1", tenant="default", role="agent-client", name="shop-bot", agents=["support"])
    ctx = CallContext(user="C1024", session_id="sess_1", agent="support", principal=key)
    with reg.resolve(["get_order", "get_customer", "search_orders", "refund_order"], policy) as ts:
        assert [s["function"]["name"] for s in ts.schemas(ctx)] == ["get_order", "search_orders"]
        assert [s["function"]["name"] for s in ts.schemas(ctx.model_copy(update={"scopes": ["refunds"]}))] == [
            "get_order", "search_orders", "refund_order"]
        assert json.loads(ts.call("search_orders", {"customer_id": "C1024"}, ctx))["customer_id"] == "C1024"
        refusals = [("get_customer", {"customer_id": "C1024"}, "tool", "this agent may not call get_customer"),
                    ("search_orders", {"customer_id": "C1001"}, "argument:customer_id", "customer_id must be the session's user"),
                    ("refund_order", {"order_id": "A2841", "reason": "late"}, "scope", "needs the scope(s) refunds")]
        for name, args, rule, message in refusals:
            with pytest.raises(ToolRefused, match=re.escape(message)) as e: ts.call(name, args, ctx)
            assert e.value.rule == rule and e.value.status_code == 403 and isinstance(e.value, ToolError)
        assert "processing" in ts.call("refund_order", {"order_id": "A2841", "reason": "late"},
                                       ctx.model_copy(update={"scopes": ["refunds"]}))     # with the scope it runs
        with pytest.raises(ToolRefused, match="customer_id must be the session's user"):   # no user in the context
            ts.call("search_orders", {"customer_id": "C1024"}, CallContext(principal=key))

        # the agent loop shows a refusal to the model as an error observation and goes on
        session = ts.bind(ctx)
        session.system_prompt = "You help customers."
        new, steps = continue_conversation(ScriptedAgent(("search_orders", {"customer_id": "C1001"})), session,
                                           [Message(role="user", content="Show me C1001's orders.")])
        assert "must be the session's user" in new[1].content and "must be the session's user" in steps[0].error

    rows = audit_log("default", key_id=key.key_id)
    assert sorted((r.route, r.object_ids["rule"]) for r in rows) == [
        ("tool:get_customer", "tool"), ("tool:refund_order", "scope"), ("tool:search_orders", "argument:customer_id"),
        ("tool:search_orders", "argument:customer_id"), ("tool:search_orders", "argument:customer_id")]
    assert {(r.status, r.method, r.role, r.tenant) for r in rows} == {(403, "TOOL", "agent-client", "default")}
    assert all(r.object_ids["tool"].startswith(r.route[5:] + "@") for r in rows)
    assert "C1001" not in json.dumps([r.model_dump(mode="json") for r in rows])      # refused values are not kept

    with pytest.raises(InvalidInput, match="names tools the toolset does not have: get_customers"):
        reg.resolve(["get_order"], ToolPolicy(tools=["get_customers"]))
    with pytest.raises(InvalidInput, match="constrains get_order's argument"):
        reg.resolve(["get_order"], ToolPolicy(arguments={"get_order": {"customer_id": "$user"}}))
    with pytest.raises(Exception, match="unknown variable"): ToolPolicy(arguments={"*": {"customer_id": "$usr"}})


def test_a_tenant_sees_only_its_own_tools(home):
    with use_tenant("acme"):
        reg = ToolRegistry()
        reg.register_http("quote", "http://127.0.0.1:9/quote", QUOTE, read_only=True)
        reg.register_mcp("notes", command=SERVER)
        with reg.resolve(["add_note"], ToolPolicy(state_changing=True)) as ts: ts.call("add_note", {"text": "acme's secret"})
        assert sorted(t.name for t in reg.tools()) == ["add_note", "count_notes", "quote"]
    with use_tenant("globex"):
        reg = ToolRegistry()
        assert reg.tools() == []
        with pytest.raises(NotFound, match="no tool 'quote' is registered in this tenant"): reg.resolve(["quote"])
        reg.register_mcp("notes", command=SERVER)                                # the same command: its own process
        with reg.resolve(["count_notes"]) as ts: assert json.loads(ts.call("count_notes", {})) == {"count": 0}
    with use_tenant("acme"):
        with ToolRegistry().resolve(["count_notes"]) as ts: assert json.loads(ts.call("count_notes", {})) == {"count": 1}
