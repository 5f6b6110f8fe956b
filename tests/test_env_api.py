"""The Environment Factory's API: AgentEnv (Gymnasium), limits, faults, declared scenarios (YAML, sandboxed code),
the env server on a real uvicorn on 127.0.0.1 with many concurrent runs and idle reaping, `agentfactory env serve`
as a real process, rollouts with workers, replay and live re-run of stored runs."""
import json, os, socket, sqlite3, subprocess, sys, threading, time
from pathlib import Path

import httpx
import pytest

from agentfactory.core.errors import InvalidInput, NotFound
from agentfactory.core.records import FunctionCall, Message, Reply, ToolCall
from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "data" / "scenarios" / "library.yaml"


def _call(name, **args):
    return {"role": "assistant", "tool_calls": [{"id": f"c_{name}", "type": "function",
                                                 "function": {"name": name, "arguments": json.dumps(args)}}]}


def test_agent_env_is_a_gymnasium_env():
    import gymnasium
    from agentfactory.envs.env import AgentEnv
    from agentfactory.envs.supportdesk import SupportDesk
    with SupportDesk() as desk:
        env = AgentEnv(desk, split="heldout")
        assert isinstance(env, gymnasium.Env)
        a, _ = env.reset(seed=11)
        b, info = env.reset(seed=11)
        assert a == b and info["task_id"].startswith("sd-heldout-")            # the seed picks the task
        order = next(t for t in desk.tasks("heldout") if t.id == info["task_id"]).expected
        obs, reward, term, trunc, info = env.step(_call("get_order", order_id=order["order_id"]))
        assert json.loads(obs)["order_id"] == order["order_id"] and (reward, term, trunc) == (0.0, False, False)
        assert info["messages"][0]["tool_calls"][0]["function"]["name"] == "get_order"
        obs, reward, term, trunc, info = env.step(Message(role="assistant", content=order["answer"]))
        assert (reward, term, trunc, info["success"]) == (1.0, True, False, True)
        with pytest.raises(InvalidInput, match="episode is over"): env.step("more")
        env.reset(seed=1)
        with pytest.raises(InvalidInput, match="assistant message"): env.step({"role": "user", "content": "x"})
        with pytest.raises(NotFound): env.reset(options={"task": "sd-no-such-task"})


def test_limits_truncate_and_time_out():
    from agentfactory.envs.env import AgentEnv
    from agentfactory.envs.spec import DeclaredScenario
    spec = {"name": "slow", "system_prompt": "Be quick.", "limits": {"step_timeout_s": 0.5},
            "code": "import time\ndef nap(state, seconds):\n    time.sleep(seconds)\n    return 'rested'\n",
            "tools": [{"name": "nap", "parameters": {"type": "object", "properties": {"seconds": {"type": "number"}},
                                                     "required": ["seconds"]}}],
            "tasks": [{"id": "t1", "question": "Nap, then say done.", "expected": {}}],
            "checker": {"rules": [{"answer_mentions": "done"}]}}
    with DeclaredScenario(spec) as sc:
        env = AgentEnv(sc)
        env.reset(options={"task": "t1"})
        obs, *_ = env.step(_call("nap", seconds=0.01))
        assert obs == "rested"
        t0 = time.monotonic()
        obs, reward, term, trunc, info = env.step(_call("nap", seconds=30))
        assert time.monotonic() - t0 < 10 and "error" in json.loads(obs)        # killed, reported, episode goes on
        assert not term and not trunc and info["step"]["error"]
        obs, reward, term, *_ = env.step("done")
        assert term and reward == 1.0
        env = AgentEnv(sc, limits={"max_tool_calls": 1, "step_timeout_s": 5})
        env.reset(options={"task": "t1"})
        two = _call("nap", seconds=0)
        two["tool_calls"].append({"id": "c2", "type": "function", "function": {"name": "nap", "arguments": {"seconds": 0}}})
        _, reward, term, trunc, info = env.step(two)
        assert trunc and info["truncated_by"] == "max_tool_calls" and len(env.trajectory().tool_calls) == 1
        env = AgentEnv(sc, limits={"max_tokens": 5})
        env.reset(options={"task": "t1"})
        _, _, term, trunc, info = env.step(Reply(message=Message(**_call("nap", seconds=0)), completion_tokens=9))
        assert trunc and info["truncated_by"] == "max_tokens"
        with pytest.raises(InvalidInput, match="max_steps"): AgentEnv(sc, limits={"max_steps": 0})


def test_faults_are_seeded_and_recorded():
    from agentfactory.envs.env import AgentEnv
    from agentfactory.envs.supportdesk import SupportDesk
    with SupportDesk() as desk:
        task = desk.tasks("train", n=1, seed=2)[0]
        faulty = task.model_copy(update={"expected": {**task.expected, "faults": {"tools": {"get_order": {"error_rate": 0.5}}}}})
        def play(seed):
            env = AgentEnv(desk, limits={"max_steps": 30})
            env.reset(seed=seed, options={"task": faulty})
            for _ in range(12): env.step(_call("get_order", order_id=task.expected["order_id"]))
            return [r["fault"] for r in env.trajectory().metadata["recording"]]
        a, b, c = play(1), play(1), play(2)
        assert a == b and a != c and "error" in a and None in a


def test_declared_scenario_from_yaml_runs_in_the_sandbox():
    from agentfactory.envs.loop import run_episodes
    from agentfactory.envs.spec import DeclaredScenario, load_spec, save_scenario, get_scenario_spec
    with DeclaredScenario(LIBRARY) as lib:
        assert {t.level for t in lib.tasks("train")} == {1, 2}
        assert not {t.question for t in lib.tasks("train")} & {t.question for t in lib.tasks("heldout")}
        trajs = run_episodes(lib.expert(), lib, lib.tasks("train") + lib.tasks("heldout"), max_steps=6, progress=False)
        assert all(t.success for t in trajs)
        wrong = trajs[0].model_copy(update={"messages": trajs[0].messages[:-1] + [Message(role="assistant", content="Someone.")]})
        assert not lib.check(lib.tasks("train")[0], wrong) and lib.explain(lib.tasks("train")[0], wrong)
        lib.execute("place_hold", {"book_id": "B01", "member_id": "M1"})
        assert lib.state["holds"] and (lib.reset_state() or not lib.state["holds"])
    # user code is sandboxed: a tool that opens a socket or writes outside its directory gets an error, the host lives
    evil = {"name": "evil", "system_prompt": "x", "tasks": [{"question": "q"}],
            "code": "def leak(state):\n    import socket\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
                    "def scribble(state):\n    open('/work/pwned.txt', 'w').write('x')\n",
            "tools": [{"name": "leak"}, {"name": "scribble"}]}
    from agentfactory.core.errors import ToolError
    with DeclaredScenario(evil) as sc:
        for tool in ("leak", "scribble"):
            with pytest.raises(ToolError): sc.execute(tool, {})
    assert not Path("/work/pwned.txt").exists()
    with pytest.raises(InvalidInput, match="tools.0.parameters"):
        load_spec({"name": "x", "system_prompt": "x", "code": "def t(state): pass", "tasks": [{"question": "q"}],
                   "tools": [{"name": "t", "parameters": {"type": "object", "properties": {"a": {"type": "date"}}}}]})


def test_rollout_workers_store_and_replay(af_home, tmp_path):
    from agentfactory.envs.env import load_run, replay, rerun, rollout
    from agentfactory.envs.supportdesk import SupportDesk
    db = tmp_path / "shop.db"
    desk = SupportDesk(db_path=db)
    tasks = desk.tasks("train", n=6, seed=4)
    runs = rollout(desk.expert(), desk, tasks, workers=3, seed=9, progress=False)
    assert [r.task_id for r in runs] == [t.id for t in tasks] and all(r.success for r in runs)
    assert len({r.id for r in runs}) == 6
    stored = load_run(runs[0].id)
    assert stored.seed == 9 and stored.metadata["recording"][0]["tool"] == "get_order"
    again = replay(runs[0].id, scenario=desk)
    assert [m.to_chat() for m in again.messages] == [m.to_chat() for m in stored.messages] and again.success
    assert rerun(runs[0].id, scenario=desk) == []
    # the world changes: the live re-run shows where
    oid = tasks[0].expected["order_id"]
    with sqlite3.connect(db) as con: con.execute("UPDATE orders SET status = 'cancelled', carrier = NULL WHERE id = ?", (oid,))
    diffs = rerun(runs[0].id, scenario=desk)
    assert diffs and diffs[0]["role"] == "tool" and "cancelled" in diffs[0]["b"]
    desk.close()


def test_env_server_concurrent_runs_reaping_and_errors(af_home):
    from agentfactory.core.serving import serve_app
    from agentfactory.envs.server import RemoteEnv
    from agentfactory.api.env_server import create_env_app
    from agentfactory.envs.supportdesk import SupportDesk
    app = create_env_app(idle_timeout_s=1.0)
    url, stop = serve_app(app, name="env-test")
    try:
        desk = SupportDesk()
        tasks = desk.tasks("heldout", n=16, seed=8)
        results, errors = [], []
        def play(task):
            try:
                env = RemoteEnv(url, "support-desk")
                env.reset(seed=3, options={"task": task})
                done = False
                while not done:
                    reply = desk.expert().act([env.messages], env.tools)[0]
                    _, reward, term, trunc, info = env.step(reply)
                    done = term or trunc
                results.append((env.run_id, reward))
            except Exception as e: errors.append(e)
        threads = [threading.Thread(target=play, args=(t,)) for t in tasks]
        for t in threads: t.start()
        for t in threads: t.join(60)
        assert not errors and len(results) == 16 and all(r == 1.0 for _, r in results)
        # every route but /healthz needs a key: none is 401, a viewer's may not start runs
        from agentfactory.core.auth import create_key, read_admin_key
        assert httpx.post(f"{url}/runs", json={"scenario": "support-desk"}).status_code == 401
        assert httpx.get(f"{url}/healthz").json()["ok"] is True                 # /healthz is open
        _, viewer = create_key("default", "viewer", store=app.state.platform.store)
        assert httpx.post(f"{url}/runs", json={"scenario": "support-desk"}, headers={"X-API-Key": viewer}).status_code == 403
        # mistakes are 4xx with a message
        c = httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {read_admin_key()}"})
        assert c.post("/runs", json={"scenario": "nope"}).status_code == 404
        assert c.post("/runs", json={"scenario": "support-desk", "split": "test"}).status_code == 422
        assert c.post("/runs", json={"scenario": "support-desk", "bogus": 1}).status_code == 422
        r = c.post("/env/run", json={"scenario": "support-desk", "seed": 1})
        assert r.status_code == 201
        rid = r.json()["run_id"]
        bad = c.post(f"/runs/{rid}/step", json={"action": {"tool_calls": "get_order"}})
        assert bad.status_code == 422 and "tool_calls" in bad.json()["detail"]
        assert c.get(f"/runs/{rid}").json()["steps"] == 0
        # a stored scenario, sent as YAML, runs on the server by name
        r = c.post("/scenarios", json={"yaml": LIBRARY.read_text()})
        assert r.status_code == 201 and r.json()["name"] == "library-desk"
        assert c.post("/env/scenarios", json={"yaml": "name: [broken"}).status_code == 422
        assert c.post("/scenarios", json={"spec": {"name": "x"}}).status_code == 422
        lib = RemoteEnv(url, "library-desk")
        obs, info = lib.reset(seed=0, options={"task": "lib-author-B01"})
        assert "Dune" in obs and [t["function"]["name"] for t in info["tools"]][0] == "search_catalog"
        _, reward, term, *_ = lib.step("Frank Herbert wrote Dune.")
        assert term and reward == 0.0                      # right words, but the rules want the catalog searched
        # idle runs are reaped; their traces stay readable from the store
        time.sleep(2.5)
        assert c.get(f"/runs/{rid}").status_code == 404
        assert c.get(f"/env/run/{rid}/trace").json()["metadata"]["truncated_by"] == "closed"
        assert c.get(f"/runs/{results[0][0]}/trace").json()["success"] is True
    finally:
        stop()


def test_cli_env_serve_is_a_real_server(af_home, tmp_path):
    port = free_port()
    env = {**os.environ}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "agentfactory"), "env", "serve", str(LIBRARY), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.time() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200: break
            except httpx.TransportError: pass
            assert proc.poll() is None and time.time() < deadline, proc.stdout.read().decode()[-2000:]
            time.sleep(0.2)
        from agentfactory.envs.server import RemoteEnv
        with pytest.raises(InvalidInput, match="looks like a file path"): RemoteEnv(url, str(LIBRARY)).reset()
        env = RemoteEnv(url, "library-desk")       # preloaded and stored by name; the key is the admin.key the server wrote
        obs, info = env.reset(seed=0, options={"task": "lib-copy-B02"})
        obs, *_ = env.step(_call("get_book", book_id="B02"))
        assert json.loads(obs)["available"] == 0
    finally:
        proc.terminate()           # the open run is not stored: nothing to redact on the way out
        proc.wait(30)


PY_SCENARIO = '''
"""A unit-conversion desk, declared in Python: SCENARIO plus the tool and checker functions in one file."""
RATES = {("km", "mi"): 0.621371, ("kg", "lb"): 2.20462}

def convert(state, value, unit_from, unit_to):
    rate = RATES.get((unit_from, unit_to))
    if rate is None:
        return {"error": f"cannot convert {unit_from} to {unit_to}"}
    state["calls"] = state.get("calls", 0) + 1
    return {"value": round(value * rate, 2), "unit": unit_to}

def check(task, trajectory):
    answer = trajectory["messages"][-1].get("content") or ""
    return str(task["expected"]["value"]) in answer

SCENARIO = {
    "name": "unit-desk", "system_prompt": "Convert units with the tool.",
    "tools": [{"name": "convert", "description": "Convert a value between units.",
               "parameters": {"type": "object", "required": ["value", "unit_from", "unit_to"],
                              "properties": {"value": {"type": "number"}, "unit_from": {"type": "string", "enum": ["km", "kg"]},
                                             "unit_to": {"type": "string"}}}}],
    "tasks": [{"id": "u1", "level": 1, "question": "How many miles is 10 km?", "expected": {"value": 6.21},
               "solution": [{"call": "convert", "arguments": {"value": 10, "unit_from": "km", "unit_to": "mi"}},
                            {"answer": "10 km is {value} miles."}]}],
    "checker": {"rules": [{"tool_called": {"name": "convert", "arguments": {"unit_to": "mi"}}},
                          {"answer_matches": "\\\\bmiles\\\\b"}], "python": "check"},
}
'''


def test_python_spec_file_with_python_checker(af_home, tmp_path):
    from agentfactory.core.errors import ToolError
    from agentfactory.envs.env import rollout
    from agentfactory.envs.spec import DeclaredScenario, get_scenario_spec, load_spec, resolve_scenario, save_scenario
    path = tmp_path / "units.py"
    path.write_text(PY_SCENARIO)
    spec = load_spec(path)                                   # the file runs in the sandbox, not here
    assert spec.name == "unit-desk" and "def convert" in spec.code
    sc = resolve_scenario(str(path))
    with pytest.raises(ToolError, match="must be one of"): sc.execute("convert", {"value": 1, "unit_from": "mm", "unit_to": "mi"})
    with pytest.raises(ToolError, match="must be a number"): sc.execute("convert", {"value": "1", "unit_from": "km", "unit_to": "mi"})
    runs = rollout(sc.expert(), sc, sc.tasks("train"), progress=False)
    assert runs[0].success and runs[0].answer == "10 km is 6.21 miles."
    bad = runs[0].model_copy(update={"messages": runs[0].messages[:-1] + [Message(role="assistant", content="It is 6.2 miles.")]})
    assert not sc.check(sc.tasks("train")[0], bad)           # the rules hold, the Python checker says no
    info = save_scenario(spec)
    assert save_scenario(spec).id == info.id == f"unit-desk@{spec.version}"     # stored once per version
    assert resolve_scenario("unit-desk").version == spec.version
    assert get_scenario_spec(info.id)["name"] == "unit-desk"
    sc.close()
    path.write_text(PY_SCENARIO.replace("SCENARIO = {", "SCENARIO = [{").replace('"python": "check"},\n}', '"python": "check"},\n}]'))
    with pytest.raises(InvalidInput, match="must be a dict"): load_spec(path)
    path.write_text("raise SystemExit(3)\n")
    with pytest.raises(InvalidInput, match="running the scenario file failed"): load_spec(path)


def test_runtime_sessions_rerun_in_their_environment(af_home):
    "A multi-turn runtime session, stored, re-executes its tool calls live against the scenario: nothing differs."
    from agentfactory.data.ingest import ingest_trajectories
    from agentfactory.core.records import Trajectory
    from agentfactory.envs.env import rerun, replay
    from agentfactory.envs.loop import continue_conversation
    from agentfactory.envs.supportdesk import SupportDesk
    with SupportDesk() as desk:
        ids = [t.expected["order_id"] for t in desk.tasks("heldout", n=2, seed=3)]
        msgs = [Message(role="user", content=f"Where is my order {ids[0]}?")]
        new, steps = continue_conversation(desk.expert(), desk, msgs)
        msgs += new + [Message(role="user", content=f"And how much was {ids[1]}?")]
        new2, steps2 = continue_conversation(desk.expert(), desk, msgs)
        traj = Trajectory(source="runtime", scenario_id=desk.id, scenario_version=desk.version, messages=msgs + new2,
                          steps=steps + steps2)
        ingest_trajectories([traj])
        assert rerun(traj.id, scenario=desk) == []
        with pytest.raises(InvalidInput, match="user turns"): replay(traj.id, scenario=desk)


def test_cli_env_run_and_replay(af_home, tmp_path):
    """`agentfactory env run` stores the expert's runs (and a spec file's scenario); `env replay` finds the scenario by
    its recorded version, reproduces a run and re-runs its tool calls live."""
    cli = str(Path(sys.executable).parent / "agentfactory")
    def agentfactory(*args):
        r = subprocess.run([cli, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ), cwd=tmp_path)
        assert r.returncode == 0, r.stderr[-2000:]
        return json.loads(r.stdout[r.stdout.index("{"):])
    out = agentfactory("env", "run", str(LIBRARY), "--split", "heldout", "--n", "4")
    assert (out["scenario"], out["runs"], out["success"]) == ("library-desk", 4, 4)
    # stored runs are PII-redacted (titles and authors become placeholders): the replay reproduces the stored messages,
    # but a live re-run would send the redacted arguments, so it is checked on the support desk below
    assert agentfactory("env", "replay", out["first_run"])["replay_matches"]
    out = agentfactory("env", "run", "support-desk", "--n", "3")
    rep = agentfactory("env", "replay", out["first_run"])
    assert rep["replay_matches"] and rep["replay_success"] and rep["live_differences"] == []
