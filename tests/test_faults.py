"Injected tool faults: declared per tool, validated, seeded and reproducible (a fake sleep keeps these fast)."
import json, math, statistics
from collections import Counter
import pytest
from agentfactory.core.errors import InvalidInput, ToolError
from agentfactory.envs.faults import FaultInjector, Faults, ToolFaults

def _echo(name, args): return json.dumps({"tool": name, "args": args, "pad": "x"*40})

def _run(faults, seed, n, tool="get_order", sleep=None):
    "n calls through one injector: the outcome of each call, and the injector."
    inj = FaultInjector(faults, seed=seed, sleep=sleep or (lambda s: None))
    out = []
    for i in range(n):
        try: out.append(("ok", inj.call(tool, {"order_id": f"A{1000+i}"}, _echo)))
        except ToolError as e: out.append(("raised", str(e)))
    return out, inj

MIXED = {"tools": {"*": {"error_rate": 0.2, "error_codes": [500, 429], "timeout_rate": 0.1, "malformed_rate": 0.1,
                         "latency_ms": {"dist": "uniform", "low": 5, "high": 50}}}}

def test_same_seed_same_faults_different_seed_different_faults():
    a, ia = _run(MIXED, "task-1", 300)
    b, ib = _run(MIXED, "task-1", 300)
    c, ic = _run(MIXED, "task-2", 300)
    assert a == b and ia.log == ib.log
    assert a != c and [r["fault"] for r in ia.log] != [r["fault"] for r in ic.log]
    assert _run(MIXED, 5, 100)[0] == _run(MIXED, 5, 100)[0]                      # int seeds too

def test_rates_are_roughly_honoured():
    _, inj = _run(MIXED, 0, 2000)
    c = Counter(r["fault"] for r in inj.log)
    assert abs(c["error"]/2000 - 0.2) < 0.03 and abs(c["timeout"]/2000 - 0.1) < 0.025
    assert abs(c["malformed"]/2000 - 0.1) < 0.025 and abs(c[None]/2000 - 0.6) < 0.04
    codes = Counter(r["status"] for r in inj.log if r["fault"] == "error")
    assert set(codes) == {500, 429} and min(codes.values()) > 0.35*sum(codes.values())
    assert all(r["status"] is None for r in inj.log if r["fault"] == "timeout")
    assert all(r["status"] == 200 for r in inj.log if r["fault"] in (None, "malformed"))

def test_error_and_timeout_messages_and_sleeps():
    slept = []
    out, inj = _run({"tools": {"get_order": {"timeout_rate": 1.0, "timeout_s": 2.0}}}, 0, 3, sleep=slept.append)
    assert all(kind == "raised" and "get_order: timed out after 2.0 s" in msg and "retry" in msg for kind, msg in out)
    assert slept == [2.0, 2.0, 2.0] and all(r["latency_ms"] == 2000 for r in inj.log)
    out, _ = _run({"tools": {"get_order": {"error_rate": 1.0, "error_codes": [503]}}}, 0, 2)
    assert out[0] == ("raised", "get_order: HTTP 503 Service Unavailable (injected fault) — retry the call")
    out, _ = _run({"tools": {"get_order": {"error_rate": 1.0, "error_codes": [429]}}}, 0, 1)
    assert "HTTP 429 Too Many Requests" in out[0][1]
    # a failed call never reaches the tool
    calls = []
    inj = FaultInjector({"tools": {"refund_order": {"error_rate": 1.0}}}, sleep=lambda s: None)
    with pytest.raises(ToolError): inj.call("refund_order", {}, lambda n, a: calls.append(n) or "{}")
    assert calls == []

def test_fail_first_then_succeeds_and_counts_per_tool():
    inj = FaultInjector({"tools": {"get_order": {"fail_first": 2, "error_codes": [503, 500]}}}, seed=1, sleep=lambda s: None)
    for _ in range(2):
        with pytest.raises(ToolError, match="HTTP 503"): inj.call("get_order", {"order_id": "A1"}, _echo)
    assert json.loads(inj.call("get_order", {"order_id": "A1"}, _echo))["tool"] == "get_order"
    assert inj.call("get_customer", {}, _echo) == _echo("get_customer", {})     # no profile, no fault
    assert [(r["tool"], r["fault"], r["status"]) for r in inj.log] == [
        ("get_order", "error", 503), ("get_order", "error", 503), ("get_order", None, 200), ("get_customer", None, 200)]
    # the wildcard applies to tools without their own entry only
    f = Faults(tools={"*": {"fail_first": 1}, "get_customer": {}})
    inj = FaultInjector(f, sleep=lambda s: None)
    assert inj.call("get_customer", {}, _echo)
    with pytest.raises(ToolError): inj.call("search_orders", {}, _echo)

def test_malformed_output_is_not_json():
    out, inj = _run({"tools": {"*": {"malformed_rate": 1.0}}}, 3, 200)
    assert all(kind == "ok" for kind, _ in out) and {r["fault"] for r in inj.log} == {"malformed"}
    for _, text in out:
        with pytest.raises(ValueError): json.loads(text)
    assert any(text.startswith('{"tool"') for _, text in out) and any(text.startswith("<html>") for _, text in out)

@pytest.mark.parametrize("spec,mean,lo,hi", [
    ({"dist": "const", "ms": 20}, 20, 20, 20),
    ({"dist": "uniform", "low": 5, "high": 50}, 27.5, 5, 50),
    ({"dist": "normal", "mean": 20, "std": 5}, 20, 0, math.inf),
    ({"dist": "lognormal", "median": 20, "sigma": 0.5}, 20*math.exp(0.125), 0, math.inf)])
def test_latency_sampling_per_distribution(spec, mean, lo, hi):
    slept = []
    _, inj = _run({"tools": {"get_order": {"latency_ms": spec}}}, 0, 2000, sleep=slept.append)
    ms = [r["latency_ms"] for r in inj.log]
    assert all(lo <= x <= hi for x in ms) and len(slept) == 2000
    assert slept[:5] == pytest.approx([x/1000 for x in ms[:5]], abs=1e-6)
    assert statistics.mean(ms) == pytest.approx(mean, rel=0.05)
    if spec["dist"] == "lognormal": assert statistics.median(ms) == pytest.approx(20, rel=0.06)
    if spec["dist"] == "normal": assert statistics.stdev(ms) == pytest.approx(5, rel=0.08)

@pytest.mark.parametrize("bad,field", [
    ({"error_rate": 1.5}, "error_rate"), ({"timeout_rate": -0.1}, "timeout_rate"), ({"malformed_rate": 2}, "malformed_rate"),
    ({"eror_rate": 0.1}, "eror_rate"), ({"latency_ms": {"dist": "pareto"}}, "latency_ms"),
    ({"latency_ms": {"dist": "normal", "mean": 20}}, "latency_ms"), ({"latency_ms": {"dist": "const", "ms": -1}}, "latency_ms"),
    ({"latency_ms": {"dist": "uniform", "low": 9, "high": 1}}, "latency_ms"), ({"timeout_s": -1}, "timeout_s"),
    ({"fail_first": -2}, "fail_first"), ({"error_codes": []}, "error_codes"), ({"error_codes": [404]}, "error_codes")])
def test_invalid_profiles_are_invalid_input_naming_the_field(bad, field):
    with pytest.raises(InvalidInput, match=field): ToolFaults(**bad)
    with pytest.raises(InvalidInput, match=rf"tools\.get_order\.{field}"): FaultInjector({"tools": {"get_order": bad}})
    with pytest.raises(InvalidInput, match="at most 1"): ToolFaults(error_rate=0.5, timeout_rate=0.3, malformed_rate=0.3)
    with pytest.raises(InvalidInput, match="faults must be"): FaultInjector([1, 2])

def test_episodes_apply_a_tasks_declared_faults():
    "run_episodes (through AgentEnv) injects the task's `expected['faults']`; the expert retries and succeeds."
    from agentfactory.envs.loop import run_episodes
    from agentfactory.envs.supportdesk import SupportDesk
    with SupportDesk() as desk:
        task = desk.tasks("heldout", n=1, seed=0)[0]
        faulty = task.model_copy(update={"expected": {**task.expected, "faults": {"tools": {"get_order": {"fail_first": 1, "error_codes": [503]}}}}})
        [traj] = run_episodes(desk.expert(), desk, [faulty], max_steps=6, progress=False)
        assert "HTTP 503" in traj.messages[3].content and traj.steps[0].error
        assert traj.success and traj.messages[-1].content == task.expected["answer"]
