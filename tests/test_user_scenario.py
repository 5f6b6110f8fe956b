"""A user's own scenario, written in one spec: checker rules scoped by level and kind, a Python checker that says
why, a scripted expert that retries, branches and reads earlier results, generated state, and the scenario's own
step limit. Everything runs for real: the spec's code in the sandbox, episodes through `run_episodes`."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from agentfactory.core.errors import InvalidInput
from agentfactory.core.records import FunctionCall, Message, Reply, Task, ToolCall
from agentfactory.envs.loop import run_episodes
from agentfactory.envs.spec import DeclaredScenario, TemplateError, check_rules, fill, load_spec

CODE = textwrap.dedent('''
    import random

    def make_state(seed, state):
        rng = random.Random(seed)
        rooms = [{"id": f"R{i}", "free": rng.random() < 0.5, "rate": rng.randrange(50, 150, 5)} for i in range(8)]
        return {**state, "rooms": rooms}

    def get_room(state, room_id):
        room = next((r for r in state["rooms"] if r["id"] == room_id), None)
        return dict(room) if room else {"error": f"no room {room_id}"}

    def book(state, room_id, nights):
        room = next((r for r in state["rooms"] if r["id"] == room_id), None)
        if room is None or not room["free"]:
            return {"error": f"room {room_id} cannot be booked"}
        room["free"] = False
        return {"room_id": room_id, "nights": nights, "total": nights * room["rate"]}

    def check(task, trajectory):
        calls = trajectory["calls"]
        if not calls: return [False, "no tool was called"]
        if task["level"] == 2 and not any(c["name"] == "book" and c["error"] is None for c in calls):
            return [False, f"level 2 books the room; calls: {[c['name'] for c in calls]}"]
        if trajectory["answer"] is None: return False
        return True
''')

TOOLS = [{"name": "get_room", "parameters": {"type": "object", "properties": {"room_id": {"type": "string"}},
                                              "required": ["room_id"]}},
         {"name": "book", "parameters": {"type": "object", "properties": {"room_id": {"type": "string"},
                                                                          "nights": {"type": "integer"}},
                                         "required": ["room_id", "nights"]}}]

ASK = [{"call": "get_room", "arguments": {"room_id": "{room_id}"}},
       {"answer": "Room {room_id} is free at {result.rate} EUR.", "when": {"result.free": True}},
       {"answer": "Room {room_id} is taken.", "when": {"result.free": False}}]


def spec(**kw):
    "A two-tool room desk; keyword arguments replace top-level fields."
    base = {"name": "rooms", "system_prompt": "You book rooms.", "code": CODE, "tools": TOOLS,
            "state_generator": "make_state", "tasks": [], "limits": {"max_steps": 6}}
    return {**base, **kw}


def task(tid, level, question, expected, solution, kind="task", split="train"):
    return {"id": tid, "level": level, "kind": kind, "split": split, "question": question, "expected": expected,
            "solution": solution}


def rooms(sc):
    return {r["id"]: r for r in sc.initial_state()["rooms"]}


def test_rules_scoped_by_level_and_kind_apply_only_there():
    probe = DeclaredScenario(spec(tasks=[task("p", 1, "q", {}, None)]))
    free = next(r for r in rooms(probe).values() if r["free"])
    rules = [{"answer_mentions": "{room_id}"},
             {"answer_mentions": "{say}", "levels": [1]},                       # only L1 tasks carry `say`
             {"tool_called": {"name": "book", "arguments": {"room_id": "{room_id}"}}, "levels": 2},
             {"tool_not_called": "book", "kinds": ["lookup"]}]
    tasks = [task("look", 1, f"Is room {free['id']} free?", {"room_id": free["id"], "say": "free"}, ASK, kind="lookup"),
             task("book", 2, f"Book room {free['id']} for 2 nights.", {"room_id": free["id"]},
                  [{"call": "book", "arguments": {"room_id": "{room_id}", "nights": 2}},
                   {"answer": "Booked room {room_id}: {result.total} EUR."}])]
    with DeclaredScenario(spec(tasks=tasks, checker={"rules": rules})) as sc:
        look, book = sc.tasks()
        trajs = run_episodes(sc.expert(), sc, [look, book], progress=False)
        assert [t.success for t in trajs] == [True, True]
        # the L1 episode answers the L2 task: the L2 rule applies, the L1-only and lookup-only rules do not
        ok, failed = check_rules(rules, book, trajs[0])
        assert not ok and failed == [f"tool_called: {{'name': 'book', 'arguments': {{'room_id': '{free['id']}'}}}}"]
        # the L2 episode answers the L1 task: `say` is checked, and the lookup kind must not book
        ok, failed = check_rules(rules, look, trajs[1])
        assert [f.split(":")[0] for f in failed] == ["answer_mentions", "tool_not_called"]


def test_rule_mistakes_are_named_when_tasks_load():
    lookup = task("look", 1, "Is R1 free?", {"room_id": "R1", "say": ""}, ASK)
    with pytest.raises(InvalidInput, match=r"task look .*rule 0 \(answer_mentions\) names \{missing\}.*scope the rule"):
        DeclaredScenario(spec(tasks=[lookup], checker={"rules": [{"answer_mentions": "{missing}"}]})).tasks()
    with pytest.raises(InvalidInput, match=r"task look .*fills to an empty value, which would silently switch it off"):
        DeclaredScenario(spec(tasks=[lookup], checker={"rules": [{"answer_not_mentions": "{say}"}]})).tasks()
    assert DeclaredScenario(spec(tasks=[lookup], checker={"rules": [{"answer_mentions": "{missing}", "levels": [3]}]})).tasks()
    with pytest.raises(InvalidInput, match="levels are whole numbers from 1 to 5"):
        load_spec(spec(tasks=[lookup], checker={"rules": [{"answer_mentions": "x", "levels": [0]}]}))
    with pytest.raises(InvalidInput, match="one per rule, optionally scoped"):
        load_spec(spec(tasks=[lookup], checker={"rules": [{"answer_mentions": "x", "tool_not_called": "book"}]}))
    with pytest.raises(InvalidInput, match="names tool 'cancel', which is not one of the tools"):
        load_spec(spec(tasks=[lookup], checker={"rules": [{"tool_not_called": "cancel"}]}))
    # a value is text inside `answer_matches`, never a regular expression of its own
    odd = task("odd", 1, "Is R1 free?", {"room_id": "R1", "title": "C++ ("}, ASK)
    with DeclaredScenario(spec(tasks=[odd], checker={"rules": [{"answer_matches": "about {title}"}]})) as sc:
        [t] = sc.tasks()
        traj = run_episodes(sc.expert(), sc, [t], progress=False)[0]
        assert check_rules(sc.spec.checker.rules, t, traj)[0] is False   # no re.error


def test_python_checker_reads_task_and_trajectory_and_explain_says_why():
    free = next(r for r in rooms(DeclaredScenario(spec(tasks=[task("p", 1, "q", {}, None)]))).values() if r["free"])
    tasks = [task("look", 1, "Is it free?", {"room_id": free["id"]}, ASK),
             task("book", 2, "Book it.", {"room_id": free["id"]}, ASK)]        # the L2 script forgets to book
    with DeclaredScenario(spec(tasks=tasks, checker={"python": "check"})) as sc:
        look, book = sc.tasks()
        a, b = run_episodes(sc.expert(), sc, [look, book], progress=False)
        assert a.success and not b.success
        assert sc.explain(book, b) == ["python check: level 2 books the room; calls: ['get_room']"]
        silent = b.model_copy(update={"messages": b.messages[:-1]})           # no answer: the checker says False alone
        assert sc.explain(look, silent) == ["python check: returned False"]


def test_expert_knows_the_task_not_just_the_question():
    "Two tasks ask the same question with different answers; braces in an answer stay; an integer stays an integer."
    probe = rooms(DeclaredScenario(spec(tasks=[task("p", 1, "q", {}, None)])))
    free = [r for r in probe.values() if r["free"]]
    q = "Please book my usual room for three nights."
    booking = [{"call": "book", "arguments": {"room_id": "{room_id}", "nights": "{nights}"}},
               {"answer": 'Booked {room_id} ({{ref}}: {"nights": {result.nights}}) for {result.total} EUR.'}]
    tasks = [task("a", 2, q, {"room_id": free[0]["id"], "nights": 3}, booking),
             task("b", 2, q, {"room_id": free[1]["id"], "nights": 3}, booking)]
    with DeclaredScenario(spec(tasks=tasks)) as sc:
        ta, tb = sc.tasks()
        trajs = run_episodes(sc.expert(), sc, [ta, tb], progress=False)
        calls = [t.tool_calls[0].function.arguments for t in trajs]
        assert calls == [{"room_id": free[0]["id"], "nights": 3}, {"room_id": free[1]["id"], "nights": 3}]
        assert trajs[0].answer == f'Booked {free[0]["id"]} ({{ref}}: {{"nights": 3}}) for {3 * free[0]["rate"]} EUR.'
        # without being told the episode, the expert will not guess between two tasks
        conv = [Message(role="system", content="s"), Message(role="user", content=q)]
        assert sc.expert().act([conv], sc.tools)[0].message.content == "I do not know how to solve this task."


def test_expert_retries_a_failing_tool_and_branches_on_results():
    probe = rooms(DeclaredScenario(spec(tasks=[task("p", 1, "q", {}, None)])))
    free, taken = (next(r for r in probe.values() if r["free"] is f) for f in (True, False))
    chain = [{"call": "get_room", "arguments": {"room_id": "{room_id}"}, "retry": 6},
             {"call": "book", "arguments": {"room_id": "{results.get_room.id}", "nights": 1}, "when": {"result.free": True}},
             {"answer": "Booked room {results.get_room.id} at {results.book.total} EUR.", "when": {"results.book": {"exists": True}}},
             {"answer": "Room {room_id} is taken.", "when": {"results.0.free": {"ne": True}, "failed": False}},
             {"answer": "Sorry, the rooms system is down: {error}", "when": {"failed": True}}]
    tasks = [task(f"t{i}", 5, f"Book room {r['id']}.", {"room_id": r["id"]}, chain) for i, r in enumerate(probe.values())]
    flaky = {"tools": {"get_room": {"error_rate": 0.5}}}
    with DeclaredScenario(spec(tasks=tasks, faults=flaky, limits={"max_steps": 10})) as sc:
        trajs = run_episodes(sc.expert(), sc, sc.tasks(), progress=False)
        assert [t.answer for t in trajs] == [f"Booked room {r['id']} at {r['rate']} EUR." if r["free"] else
                                             f"Room {r['id']} is taken." for r in probe.values()]
        retried = [t for t in trajs if len([c for c in t.tool_calls if c.function.name == "get_room"]) > 1]
        assert retried, "with a 50 % fault rate some lookup needed a retry"
        for t in retried:              # an injected error, then the same call again, then the episode goes on
            results = [m.content for m in t.messages if m.role == "tool"]
            assert '"error"' in results[0] and "injected fault" in results[0]
            assert "Sorry" not in t.answer
    down = {"tools": {"get_room": {"error_rate": 1.0}}}
    with DeclaredScenario(spec(tasks=tasks[:1], faults=down, limits={"max_steps": 10})) as sc:
        [t] = run_episodes(sc.expert(), sc, sc.tasks(), progress=False)
        assert len(t.tool_calls) == 7 and t.answer.startswith("Sorry, the rooms system is down:")


def test_solution_mistakes_are_named_when_tasks_load():
    bad_tool = task("x", 1, "q", {"room_id": "R1"}, [{"call": "cancel", "arguments": {}}, {"answer": "done"}])
    with pytest.raises(InvalidInput, match=r"task x: solution\[0\] calls 'cancel'"):
        DeclaredScenario(spec(tasks=[bad_tool])).tasks()
    bad_name = task("x", 1, "q", {"room_id": "R1"}, [{"answer": "Room {room} is free"}])
    with pytest.raises(InvalidInput, match=r"names \{room\}, which is neither in the task's expected nor one of the expert's values"):
        DeclaredScenario(spec(tasks=[bad_name])).tasks()
    for step, msg in (({"answer": "a", "when": {"result.free": {"gte": 1}}}, "unknown operator 'gte'"),
                      ({"call": "get_room", "retry": 11}, "retry must be a whole number from 0 to 10"),
                      ({"call": "get_room", "answer": "both"}, "must be {call, arguments, retry, when}")):
        with pytest.raises(InvalidInput, match=re.escape(msg)):
            load_spec(spec(tasks=[task("x", 1, "q", {}, [step, {"answer": "end"}])]))


def test_templates_read_values_never_attributes():
    values = {"a": {"b": [{"c": 7}]}, "s": "text"}
    assert fill("{a.b.0.c}", values) == 7 and fill("n={a.b.0.c}", values) == "n=7"
    assert fill("{{a}} {\"k\": 1} {s}", values) == '{a} {"k": 1} text'
    for evil in ("{s.__class__}", "{s.upper}", "{a.b.9}"):
        with pytest.raises(TemplateError):
            fill(evil, values)


def test_generated_state_follows_the_seed_and_the_version():
    one = DeclaredScenario(spec(tasks=[task("p", 1, "q", {}, None)]))
    again = DeclaredScenario(spec(tasks=[task("p", 1, "q", {}, None)]))
    other = DeclaredScenario(spec(tasks=[task("p", 1, "q", {}, None)], seed=1))
    assert one.initial_state() == again.initial_state() != other.initial_state()
    assert one.version == again.version != other.version
    assert DeclaredScenario(spec(tasks=[task("p", 1, "q", {}, None)], seed=0)).version == one.version
    one.execute("book", {"room_id": next(k for k, r in rooms(one).items() if r["free"]), "nights": 1})
    assert one.state != one.initial_state()
    one.reset_state()
    assert one.state == one.initial_state()
    with pytest.raises(InvalidInput, match="must return a dict"):
        DeclaredScenario(spec(tasks=[task("p", 1, "q", {}, None)], code=CODE.replace('return {**state, "rooms": rooms}', "return 3"))).initial_state()


class _Looper:
    "A policy that never answers: it looks a room up, forever."
    name = "looper"

    def act(self, conversations, tools):
        call = ToolCall(function=FunctionCall(name="get_room", arguments={"room_id": "R1"}))
        return [Reply(message=Message(role="assistant", tool_calls=[call])) for _ in conversations]


def test_run_episodes_stops_at_the_scenarios_own_step_limit():
    with DeclaredScenario(spec(tasks=[task("p", 1, "q", {"room_id": "R1"}, None)], limits={"max_steps": 6})) as sc:
        [t] = run_episodes(_Looper(), sc, sc.tasks(), progress=False)
        assert len(t.steps) == 6 and t.metadata["truncated_by"] == "max_steps"
        [t] = run_episodes(_Looper(), sc, sc.tasks(), max_steps=2, progress=False)
        assert len(t.steps) == 2


def test_pii_workers_ignore_ctrl_c(tmp_path):
    """A Jupyter kernel shutting down signals its process group: the PII worker processes ignore SIGINT instead of
    printing a KeyboardInterrupt traceback each (what a newcomer read as a crashed data step)."""
    script = textwrap.dedent('''
        import os, signal, time
        from agentfactory.data import pii
        texts = [f"Order A{i:04d} for customer number {i}" for i in range(300)]
        pii.analyze_many(texts)
        pids = list(pii._POOL._processes)
        assert pids, "the batch was big enough for worker processes"
        for pid in pids: os.kill(pid, signal.SIGINT)
        time.sleep(1.0)
        for pid in pids: os.kill(pid, 0)                  # still alive
        pii.analyze_many([t + " again" for t in texts])   # and still working
        print("ok", len(pids))
    ''')
    env = {**os.environ, "AGENTFACTORY_PII_WORKERS": "1", "OMP_NUM_THREADS": "1",
           "AGENTFACTORY_ARTIFACT_ROOT": str(tmp_path)}
    p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stdout.startswith("ok 1"), p.stdout[-2000:] + p.stderr[-3000:]
    assert "KeyboardInterrupt" not in p.stderr and "Traceback" not in p.stderr, p.stderr[-3000:]


def test_a_perfect_expert_scores_perfectly_on_declared_scenarios(af_home):
    """Tool accuracy and hallucination of the scripted expert on file-declared scenarios: every call right (a policy
    refusal the task expects is not a tool error), every fact supported — as on the support desk."""
    from pathlib import Path
    from agentfactory.evaluation.runs import create_eval_run, eval_rows, run_eval
    root = Path(__file__).resolve().parents[1] / "data" / "scenarios"
    for name, levels in (("hotel.yaml", [1, 2, 3, 4, 5]), ("library.yaml", [1, 2])):
        run = run_eval(create_eval_run(dict(models=["expert"], scenario=str(root / name), levels=levels, gate=False)).id,
                       progress=False)
        m = run.summary["models"]["expert"]["metrics"]
        assert run.status == "done" and m["success"]["mean"] == 1.0, (name, m)
        assert (m["tool_accuracy"]["mean"], m["safety"]["mean"], m["hallucination"]["mean"]) == (1.0, 1.0, 0.0), (name, m)
        if name == "hotel.yaml":        # the refusals are there, and judged as the answer the task expects
            refused = [r for r in eval_rows(run.id) if r["kind"] == "cancel_refused"]
            assert refused and all(r["tool_accuracy"] == 1.0 for r in refused)


def test_a_refusal_the_task_declares_is_not_a_tool_error():
    from pathlib import Path
    from agentfactory.evaluation.metrics import episode_metrics
    with DeclaredScenario(Path(__file__).resolve().parents[1] / "data" / "scenarios" / "hotel.yaml") as sc:
        task = next(t for t in sc.tasks("train", levels=4) if t.kind == "cancel_refused")
        [traj] = run_episodes(sc.expert(), sc, [task], progress=False)
        assert traj.success
        plain = episode_metrics(task, traj, sc)
        assert plain.tool_accuracy == 0.0 and plain.calls[0]["problem"] == "tool_error"
        declared = task.model_copy(update={"expected": {**task.expected, "expected_errors": ["cancel_booking"]}})
        m = episode_metrics(declared, traj, sc)
        assert m.tool_accuracy == 1.0 and m.calls[0]["why"].startswith("the refusal the task expects")
        assert episode_metrics(task, traj, sc, refusals=["cancel_booking"]).tool_accuracy == 1.0
        assert m.hallucination == 0.0, m.unsupported         # "cannot be cancelled" claims no status
