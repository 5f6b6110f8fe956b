"""Tasksets (agentfactory.evaluation.tasksets): content-hashed storage, scenario filters, manual YAML/JSONL with
422s that name the task and field, merging, and generated phrasings with each way a candidate is dropped."""
import json
from pathlib import Path

import pytest

from agentfactory.core.errors import InvalidInput, NotFound
from agentfactory.core.records import Message, Reply
from agentfactory.core.store import Store
from agentfactory.envs.loop import run_episodes
from agentfactory.envs.spec import resolve_scenario
from agentfactory.envs.supportdesk import ORDER_ID_RE
from agentfactory.evaluation.tasksets import (DROP_REASONS, EvalTask, check_task, generate_tasks, get_taskset,
                                              list_tasksets, load_manual_tasks, merge_tasks, save_taskset,
                                              scenario_for_tasks, scenario_ref, taskset_from_scenario,
                                              taskset_version, tasks_from_scenario, validate_tasks)

LIBRARY = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "library.yaml"


@pytest.fixture(scope="module")
def desk():
    d = resolve_scenario("support-desk")
    yield d
    d.close()


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path / 'store.db'}")


# ---------------------------------------------------------------- storage
def test_content_hash_and_idempotent_save(desk, store):
    tasks = tasks_from_scenario(desk, n=8, seed=0)
    a = save_taskset("smoke", tasks, {"scenario": scenario_ref(desk), "seed": 0}, store=store)
    assert a.id == f"smoke@{a.version}" and a.n == 8 and len(a.version) == 12
    assert a.version == taskset_version(tasks) == taskset_version(list(reversed(tasks)))
    again = save_taskset("smoke", list(reversed(tasks)), {"note": "a second save"}, store=store)
    assert again.id == a.id and again.created_at == a.created_at
    assert again.lineage == a.lineage                       # the stored version is returned unchanged
    assert [i.id for i in list_tasksets(store=store)] == [a.id]
    assert a.lineage["scenario"] == "support-desk@" + desk.version and a.lineage["sources"] == ["scenario"]

    other_name = save_taskset("smoke-copy", tasks, store=store)
    assert other_name.version == a.version and other_name.id != a.id
    edited = [tasks[0].model_copy(update={"expected": {**tasks[0].expected, "status": "lost"}})] + tasks[1:]
    b = save_taskset("smoke", edited, store=store)
    assert b.version != a.version                           # any field of any task changes the version
    ruled = [tasks[0].model_copy(update={"rules": [{"answer_mentions": "{order_id}"}]})] + tasks[1:]
    assert taskset_version(ruled) not in (a.version, b.version)

    assert get_taskset("smoke", store=store).id == b.id      # a name gives its newest version
    assert get_taskset(a.id, store=store).tasks == sorted(tasks, key=lambda t: t.id)
    assert [t.id for t in get_taskset(a.id, store=store).as_tasks()] == sorted(t.id for t in tasks)
    assert [i.id for i in list_tasksets(store=store, name="smoke")] == [b.id, a.id]
    info = list_tasksets(store=store, name="smoke-copy")[0]
    assert info.n == 8 and sum(info.levels.values()) == 8 and info.sources == {"scenario": 8}

    with pytest.raises(NotFound, match="no taskset 'nope'"): get_taskset("nope", store=store)
    with pytest.raises(NotFound): get_taskset("smoke@000000000000", store=store)
    with pytest.raises(InvalidInput, match="taskset name"): save_taskset("Bad Name", tasks, store=store)
    with pytest.raises(InvalidInput, match="at least one task"): save_taskset("empty", [], store=store)
    with pytest.raises(InvalidInput, match="task ids repeat"): save_taskset("dup", tasks + tasks[:1], store=store)
    with pytest.raises(InvalidInput, match=r"task 2 \(id 'x'\): level"):
        save_taskset("bad", [tasks[0], {"id": "x", "level": 9, "question": "q"}], store=store)


def test_taskset_from_scenario_records_lineage(desk, store):
    ts = taskset_from_scenario("l4", desk, levels=(4,), n=3, seed=2, store=store)
    assert ts.n == 3 and {t.kind for t in ts.tasks} == {"refund_request"}
    assert ts.lineage["scenario"] == scenario_ref(desk) and ts.lineage["seed"] == 2
    assert ts.lineage["filters"] == {"split": "heldout", "levels": [4], "kinds": None, "n": 3}


# ---------------------------------------------------------------- filters
def test_filters_by_levels_kinds_n_and_split(desk):
    l15 = tasks_from_scenario(desk, levels=(1, 5))
    assert l15 and {t.level for t in l15} == {1, 5} and all(t.source == "scenario" and t.split == "heldout" for t in l15)
    only = tasks_from_scenario(desk, kinds=["refund_request", "order_total"])
    assert {t.kind for t in only} == {"refund_request", "order_total"}
    train = tasks_from_scenario(desk, split="train", levels=2)
    assert train and all(t.split == "train" and t.level == 2 for t in train)
    n7 = tasks_from_scenario(desk, levels=(1, 2), n=7, seed=3)
    counts = {k: sum(t.kind == k for t in n7) for k in {t.kind for t in n7}}
    assert len(n7) == 7 and max(counts.values()) - min(counts.values()) <= 1      # balanced over kinds
    assert [t.id for t in n7] == [t.id for t in tasks_from_scenario(desk, levels=(1, 2), n=7, seed=3)]
    assert [t.id for t in n7] != [t.id for t in tasks_from_scenario(desk, levels=(1, 2), n=7, seed=4)]
    with pytest.raises(InvalidInput, match="its kinds there are"): tasks_from_scenario(desk, levels=1, kinds=["refund_request"])
    with pytest.raises(InvalidInput, match="split"): tasks_from_scenario(desk, split="test")
    with pytest.raises(InvalidInput, match="levels"): tasks_from_scenario(desk, levels=(6,))
    with pytest.raises(InvalidInput, match="n must be"): tasks_from_scenario(desk, n=0)


def test_levels_a_scenario_lacks_are_skipped():
    lib = tasks_from_scenario(str(LIBRARY), levels=(1, 4, 5))
    assert lib and {t.level for t in lib} == {1} and {t.scenario_id for t in lib} == {"library-desk"}


# ---------------------------------------------------------------- manual tasks
GOOD = """
scenario: support-desk
tasks:
  - id: refund-A7533
    level: 4
    kind: refund_request
    question: Please refund order A7533, it arrived broken.
    expected: {order_id: A7533}
    rules:
      - tool_called: {name: refund_order, arguments: {order_id: "{order_id}"}}
      - tool_not_called: search_orders
      - answer_mentions: ["{order_id}", refunded]
      - max_tool_calls: 3
  - id: wholly-new-kind
    level: 2
    kind: order_count
    question: How many orders has customer C1041 placed?
    expected: {customer_id: C1041}
    rules:
      - tool_called: {name: get_customer, arguments: {customer_id: "{customer_id}"}}
      - answer_matches: "\\\\b\\\\d+ orders\\\\b"
"""


def test_manual_yaml_and_jsonl(desk):
    tasks = load_manual_tasks(GOOD)
    assert [(t.id, t.source, t.scenario_id, t.split) for t in tasks] == [
        ("refund-A7533", "manual", "support-desk", "heldout"), ("wholly-new-kind", "manual", "support-desk", "heldout")]
    listed = load_manual_tasks(GOOD.split("tasks:\n", 1)[1], scenario="support-desk")       # a plain list + scenario=
    assert listed == tasks
    lines = "\n\n".join(json.dumps({k: v for k, v in t.model_dump().items() if k != "scenario_id"}) for t in tasks)
    assert load_manual_tasks(lines, fmt="jsonl", scenario=desk) == tasks
    assert load_manual_tasks(lines.encode(), fmt="jsonl", scenario=desk) == tasks
    unbound = load_manual_tasks(lines, fmt="jsonl")                  # naming no scenario: shape checks only
    assert [t.scenario_id for t in unbound] == ["", ""]

    # the rule-checked tasks run through the loop: the expert's refund passes its rules, a made-up reply fails them
    (traj,) = run_episodes(desk.expert(), scenario_for_tasks(desk, tasks[:1]), [tasks[0].as_task()], progress=False)
    assert traj.success and check_task(desk, tasks[0], traj) == (True, [])
    bad = traj.model_copy(update={"messages": traj.messages[:-1] + [Message(role="assistant", content="All done.")]})
    ok, why = check_task(desk, tasks[0], bad)
    assert not ok and why == ["answer_mentions: ['A7533', 'refunded']"]


BAD = [  # (edit of GOOD, the 422's message)
    (("name: refund_order", "name: refund"),
     "task 1 (id 'refund-A7533'): rules[0].tool_called names tool 'refund' the scenario support-desk does not have; "
     "its tools are get_order, get_customer, search_orders, refund_order"),
    (('arguments: {order_id: "{order_id}"}', "arguments: {order: A7533}"),
     "task 1 (id 'refund-A7533'): rules[0].tool_called.arguments names 'order', which tool refund_order does not take; it takes order_id"),
    (("tool_not_called: search_orders", "tool_not_called: delete_order"),
     "task 1 (id 'refund-A7533'): rules[1].tool_not_called names tool 'delete_order'"),
    (("answer_mentions:", "answer_says:"), "task 1 (id 'refund-A7533'): rules[2]: unknown rule 'answer_says'"),
    (("max_tool_calls: 3", "max_tool_calls: many"), "task 1 (id 'refund-A7533'): rules[3].max_tool_calls takes a whole number"),
    (('"{order_id}", refunded', '"{order_total}", refunded'),
     "task 1 (id 'refund-A7533'): rules[2].answer_mentions names {order_total}, which the task's expected does not have (it has order_id)"),
    (("level: 2", "level: 0"), "task 2 (id 'wholly-new-kind'): level: Input should be greater than or equal to 1"),
    (("question: How many orders has customer C1041 placed?", "question: ' '"),
     "task 2 (id 'wholly-new-kind'): question: must not be blank"),
    (("\\\\b\\\\d+ orders\\\\b", "(unclosed"), "task 2 (id 'wholly-new-kind'): rules[1].answer_matches is not a valid regular expression"),
    (("    kind: order_count\n", "    kind: order_count\n    colour: red\n"), "task 2 (id 'wholly-new-kind'): colour: unknown field"),
    (("  - id: wholly-new-kind", "  - id: refund-A7533"), "task 2 (id 'refund-A7533'): id repeats task 1's"),
    (("scenario: support-desk", "scenario: no-such-scenario"), "scenario 'no-such-scenario' names no scenario we can load"),
]


@pytest.mark.parametrize("edit,message", BAD, ids=[f"{i}-{m[-40:]}" for i, (_, m) in enumerate(BAD)])
def test_manual_task_mistakes_are_422s_naming_task_and_field(edit, message, store):
    text = GOOD.replace(*edit)
    assert text != GOOD
    with pytest.raises(InvalidInput) as e: load_manual_tasks(text, store=store)
    assert str(e.value).startswith(message), str(e.value)
    assert e.value.status_code == 422


def test_tasks_without_rules_must_suit_the_scenario_checker(desk, store):
    base = {"id": "s1", "scenario_id": "support-desk", "level": 1, "kind": "order_status", "question": "Where is A8309?",
            "expected": {"order_id": "A8309", "customer_id": "C1041", "status": "processing", "carrier": None,
                         "total": "108.83", "shipped": False, "answer": "The status of order A8309 is processing."}}
    (ok,) = validate_tasks([base])
    (traj,) = run_episodes(desk.expert(), scenario_for_tasks(desk, [ok]), [ok.as_task()], progress=False)
    assert traj.success and check_task(desk, ok, traj) == (True, [])
    with pytest.raises(InvalidInput, match=r"task 1 \(id 's1'\): expected lacks status, total, which the support-desk checker reads"):
        validate_tasks([{**base, "expected": {k: v for k, v in base["expected"].items() if k not in ("status", "total")}}])
    with pytest.raises(InvalidInput, match=r"kind 'order_colour' is not one the support-desk checker knows \(order_status, "):
        validate_tasks([{**base, "kind": "order_colour"}])
    with pytest.raises(InvalidInput, match="scenario_id 'support-desk' is not the scenario library-desk"):
        validate_tasks([base], scenario=str(LIBRARY))
    with pytest.raises(InvalidInput, match=r"^task 2 \(id 's2'\): scenario_id 'nope' names no scenario we can load"):
        validate_tasks([base, {**base, "id": "s2", "scenario_id": "nope"}], store=store)


def test_bad_yaml_and_jsonl_name_the_line():
    with pytest.raises(InvalidInput, match=r"not valid YAML \(line 5, column"):
        load_manual_tasks(GOOD.replace("    level: 4", "   level: 4"))
    good = json.dumps({"id": "a", "level": 1, "question": "q"})
    with pytest.raises(InvalidInput, match="^line 3 is not valid JSON"): load_manual_tasks(f"{good}\n\n{{'id': 1}}", fmt="jsonl")
    with pytest.raises(InvalidInput, match="fmt must be"): load_manual_tasks(good, fmt="csv")
    with pytest.raises(InvalidInput, match="no tasks"): load_manual_tasks("[]")
    with pytest.raises(InvalidInput, match="a list of tasks or a mapping"): load_manual_tasks("title: my tasks")
    with pytest.raises(InvalidInput, match=r"task 1: a task is a mapping"): load_manual_tasks("- just a question")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdef", "bcdefg"))
    with pytest.raises(InvalidInput, match="values"): load_manual_tasks(bomb + "tasks: *g")


# ---------------------------------------------------------------- merging
def test_merge_unites_by_id_and_refuses_conflicts(desk):
    a = tasks_from_scenario(desk, levels=1, n=4, seed=0)
    b = tasks_from_scenario(desk, levels=(1, 3), n=4, seed=1)
    merged = merge_tasks(a, b, a)
    assert [t.id for t in merged] == list(dict.fromkeys(t.id for t in a + b))
    changed = a[2].model_copy(update={"question": a[2].question + " Thanks!"})
    with pytest.raises(InvalidInput, match=rf"task id '{a[2].id}' appears twice with different content \(list 2, task 1: question differ\)"):
        merge_tasks(a, [changed])


# ---------------------------------------------------------------- generated tasks
class ScriptedRewriter:
    "A fake paraphraser (no model): replies with a fixed rewrite per question; None replies with an error."
    name = "scripted-rewriter"

    def __init__(self, rewrites: dict):
        self.rewrites, self.prompts = rewrites, []

    def act(self, conversations, tools=None):
        self.prompts += conversations
        out = []
        for conv in conversations:
            text = self.rewrites[conv[-1].content]
            out.append(Reply(message=Message(role="assistant", content=""), error="generation failed") if text is None
                       else Reply(message=Message(role="assistant", content=text)))
        return out


def test_generate_keeps_only_new_solvable_phrasings_with_their_ids(desk):
    pool = tasks_from_scenario(desk, levels=(1, 2), seed=0)
    status = [t for t in pool if t.kind == "order_status"][:2]
    total = [t for t in pool if t.kind == "order_total"][:2]
    carrier = [t for t in pool if t.kind == "shipped_carrier"][:2]
    keep, lost, dup, wrong, silent, invented = status[0], status[1], total[0], total[1], carrier[0], carrier[1]
    reworded = f"I have a question and hope you can help me with it. {keep.question}"
    oid = wrong.expected["order_id"]
    policy = ScriptedRewriter({
        keep.question: f'Rewritten question: "{reworded}"',               # a label and quotes are stripped
        lost.question: ORDER_ID_RE.sub("my order", lost.question),          # the order id is gone
        dup.question: dup.question.upper(),                                 # the same words: a near-duplicate
        wrong.question: f"What is the status of order {oid}?",              # now asks for something else
        silent.question: None,                                              # no reply at all
        invented.question: f"{invented.question} I paid $49.99 for it.",   # a new fact
    })
    made, report = generate_tasks(policy, desk, [keep, lost, dup, wrong, silent, invented], per_task=2, seed=0)

    assert len(policy.prompts) == 12 and policy.prompts[0][-1].content == keep.question
    assert {k: report[k] for k in ("tasks", "candidates", "kept", *DROP_REASONS)} == {
        "tasks": 6, "candidates": 12, "kept": 1, "unparseable": 2, "lost_ids": 2, "new_ids": 2, "near_duplicate": 3,
        "expert_failed": 2}
    (g,) = made
    assert (g.id, g.parent, g.source, g.question) == (f"{keep.id}~g0", keep.id, "generated", reworded)
    assert (g.level, g.kind, g.split, g.expected, g.scenario_id) == (keep.level, keep.kind, keep.split, keep.expected, keep.scenario_id)
    why = {(d["parent"], d["reason"]) for d in report["drops"]}
    assert why == {(keep.id, "near_duplicate"), (lost.id, "lost_ids"), (dup.id, "near_duplicate"),
                   (wrong.id, "expert_failed"), (silent.id, "unparseable"), (invented.id, "new_ids")}
    second = next(d for d in report["drops"] if d["parent"] == keep.id)
    assert second["detail"] == f"1.00 similar to {keep.id}~g0"                 # new against the kept one, not the original
    assert any(d["detail"] == f"lost {lost.expected['order_id']}" for d in report["drops"])
    assert any(d["detail"] == "added 49.99" for d in report["drops"])

    # what was kept really is solved under its new wording; what was dropped as expert_failed really is not
    trajs = run_episodes(desk.expert(), desk, [g.as_task(), wrong.model_copy(update={"question": f"What is the status of order {oid}?"}).as_task()],
                         progress=False)
    assert [t.success for t in trajs] == [True, False]
    with pytest.raises(InvalidInput, match="per_task"): generate_tasks(policy, desk, [keep], per_task=0)
    with pytest.raises(InvalidInput, match="threshold"): generate_tasks(policy, desk, [keep], threshold=0)


def test_generate_for_a_declared_scenario():
    lib = resolve_scenario(str(LIBRARY))
    try:
        tasks = tasks_from_scenario(lib)[:3]
        policy = ScriptedRewriter({t.question: f"Tell me, please: {t.question.lower()}" for t in tasks})
        made, report = generate_tasks(policy, lib, tasks)
        assert report["kept"] == 3 and [t.parent for t in made] == [t.id for t in tasks]
        assert made[0].question == "Tell me, please: " + tasks[0].question.lower()
    finally:
        lib.close()


@pytest.mark.slow
def test_generate_with_smollm2(af_home, desk):
    "The local SmolLM2 (imported from its PyPI GGUF, nothing downloaded) as the paraphraser: every candidate is accounted for."
    from agentfactory.models.base import resolve_base
    from agentfactory.models.policy import HFPolicy
    smol = HFPolicy(resolve_base("smollm2"), max_new_tokens=48, device="cpu")
    tasks = tasks_from_scenario(desk, levels=(1, 2), n=4, seed=1)
    made, report = generate_tasks(smol, desk, tasks, seed=0)
    assert report["kept"] + sum(report[r] for r in DROP_REASONS) == report["candidates"] == 4
    for t in made:
        parent = next(p for p in tasks if p.id == t.parent)
        assert parent.expected["order_id"].lower() in t.question.lower() and t.question != parent.question
