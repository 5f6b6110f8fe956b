"""The support desk's L3–L5 tasks: the expert solves every kind on both splits, the checkers reject wrong episodes,
and the L1/L2 tasks the demo was trained on are exactly what they were before L3–L5 existed."""
import hashlib, json, re
from collections import Counter
import pytest
from agentfactory.core.errors import InvalidInput
from agentfactory.core.records import Message
from agentfactory.envs.loop import run_episodes
from agentfactory.envs.supportdesk import (ALL_KINDS, HARD_KINDS, HARD_TEMPLATES, KINDS, SupportDesk, question_kind,
                                           shop_data)

def _h(obj) -> str: return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]

# Captured from the support desk as it was before L3–L5 were added (commit ed5f4d4's module).
PINNED = {"all_train": "d2fca6d989ee1969", "all_heldout": "e703a837ec7f76ba",
          "sample_train_(1,)": "5f6f5352083e105e", "sample_train_(2,)": "fc9c418c6f0b37cb",
          "sample_train_(1, 2)": "6eda481fb9d7378f", "sample_heldout_(1,)": "c1c4d45f405c2ffa",
          "sample_heldout_(2,)": "68342c418d359845", "sample_heldout_(1, 2)": "305744cccf985a80",
          "corpus": "dd87dccb2e17fdff", "expert": "a45ad1336cec7cb3"}
PINNED_TASKS = [
    ("sd-train-order_status-A7335", "Where does order A7335 stand right now?", "The status of order A7335 is processing."),
    ("sd-train-order_total-A7335", "Can you check the price of order number A7335?", "The total of order A7335 is $198.67."),
    ("sd-train-shipped_carrier-A7335", "Has my package A7335 left yet, and with which carrier? Thanks!",
     "Order A7335 is processing, so no, it has not shipped."),
    ("sd-heldout-order_status-A2974", "Greetings. Is there any news regarding my package A2974?",
     "The status of order A2974 is delivered."),
    ("sd-heldout-order_total-A2974", "How much does A2974 come to?", "The total of order A2974 is $182.27."),
    ("sd-heldout-shipped_carrier-A2974", "Shipped or not: order A2974? And the carrier, please.",
     "Order A2974 is delivered, so yes, it shipped with DHL.")]
PINNED_EVAL_IDS = ['sd-heldout-order_total-A7527', 'sd-heldout-order_status-A9908', 'sd-heldout-shipped_carrier-A8073',
                   'sd-heldout-order_total-A1664', 'sd-heldout-order_status-A5564']

@pytest.fixture(scope="module")
def desk():
    with SupportDesk() as sd: yield sd

def _messages(traj):
    return [(m.role, m.content, [(c.function.name, c.function.arguments) for c in (m.tool_calls or [])]) for m in traj.messages]

def test_l1_l2_tasks_are_unchanged(desk):
    got = {}
    for split in ("train", "heldout"):
        got[f"all_{split}"] = _h([t.model_dump() for t in desk.tasks(split)])
        for lv in [(1,), (2,), (1, 2)]:
            got[f"sample_{split}_{lv}"] = _h([t.model_dump() for t in desk.tasks(split, levels=lv, n=50, seed=7)])
    got["corpus"] = _h(desk.corpus())
    tasks = desk.tasks("train", n=12, seed=3) + desk.tasks("heldout", n=12, seed=3)
    got["expert"] = _h([_messages(t) for t in run_episodes(desk.expert(), desk, tasks, progress=False)])
    assert got == PINNED
    first, last = desk.tasks("train")[:3], desk.tasks("heldout")[-3:]
    assert [(t.id, t.question, t.expected["answer"]) for t in first + last] == PINNED_TASKS
    assert [t.id for t in desk.tasks("heldout", levels=(1, 2), n=5, seed=123)] == PINNED_EVAL_IDS
    assert (len(desk.tasks("train")), len(desk.tasks("heldout"))) == (480, 240)      # the default is still L1+L2

def test_levels_and_kinds(desk):
    assert ALL_KINDS == {**KINDS, **HARD_KINDS} and set(HARD_KINDS.values()) == {3, 4, 5}
    for split in ("train", "heldout"):
        hard = desk.tasks(split, levels=(3, 4, 5))
        assert set(Counter(t.kind for t in hard)) == set(HARD_KINDS)
        assert all(t.level == HARD_KINDS[t.kind] for t in hard)
        assert len({t.id for t in hard}) == len(hard)
    with pytest.raises(InvalidInput, match="levels"): desk.tasks("train", levels=(6,))
    c = Counter(t.kind for t in desk.tasks("heldout", levels=(3, 4, 5), n=40, seed=1))
    assert c == {k: 10 for k in HARD_KINDS}
    # each order is refunded by at most one task, and both refund outcomes occur often
    refunds = desk.tasks("train", levels=(4,))
    assert len({t.expected["order_id"] for t in refunds}) == len(refunds)
    assert min(Counter(t.expected["eligible"] for t in refunds).values()) >= 15
    privacy = desk.tasks("train", levels=(5,))
    assert min(Counter(t.expected["allowed"] for t in privacy if t.kind == "privacy_request").values()) >= 40

def test_hard_splits_share_no_orders_or_wording(desk):
    train, held = desk.tasks("train", levels=(3, 4, 5)), desk.tasks("heldout", levels=(3, 4, 5))
    assert not {t.expected["order_id"] for t in train} & {t.expected["order_id"] for t in held}
    for kind, t in HARD_TEMPLATES.items():
        assert len(t["train"]) >= 8 and len(t["heldout"]) >= 4
        assert not set(t["train"]) & set(t["heldout"])
        for h in t["heldout"]:
            core = re.sub(r"\{\w+\}", "", h)
            assert not any(core in q for q in (x.question for x in train if x.kind == kind)), h
    # the retry tasks reuse the L1/L2 wording of their own split
    for ts, split in ((train, "train"), (held, "heldout")):
        assert all(question_kind(t.question) == t.expected["ask"] for t in ts if t.kind == "retry_lookup")
        assert all(question_kind(t.question) == t.kind for t in ts if t.kind != "retry_lookup"), split

@pytest.mark.parametrize("split", ["train", "heldout"])
def test_expert_solves_every_hard_kind(desk, split):
    "run_episodes applies each retry task's declared faults (AgentEnv); the expert retries, refunds, refuses."
    for kind in HARD_KINDS:
        tasks = [t for t in desk.tasks(split, levels=(HARD_KINDS[kind],)) if t.kind == kind]
        tasks = tasks[::max(1, len(tasks)//25)]          # a spread-out sample per kind: both branches occur
        trajs = run_episodes(desk.expert(), desk, tasks, max_steps=6, progress=False)
        bad = [(t.task_id, t.messages[-1].content) for t in trajs if not t.success]
        assert not bad, bad[:3]
        assert not any(t.metadata["truncated"] for t in trajs)
        if kind == "retry_lookup":
            assert all("injected fault" in t.messages[3].content for t in trajs)
            assert {len(t.tool_calls) for t in trajs} == {2, 3}        # fail_first 1 and 2 both occur
        if kind == "other_order_status":
            assert all([c.function.name for c in t.tool_calls] == ["get_order", "get_customer", "get_order"] for t in trajs)
    desk.reset_state()

def _episode(desk, task, answer=None, drop_faults=False):
    "The expert's episode for `task`; optionally with its final answer replaced or its faults not applied."
    if drop_faults: task = task.model_copy(update={"expected": {k: v for k, v in task.expected.items() if k != "faults"}})
    [t] = run_episodes(desk.expert(), desk, [task], max_steps=6, progress=False)
    if answer is not None:
        t = t.model_copy(update={"messages": t.messages[:-1] + [Message(role="assistant", content=answer)]})
    return t

def _first(desk, kind, **expected):
    return next(t for t in desk.tasks("heldout", levels=(HARD_KINDS[kind],))
                if t.kind == kind and all(t.expected.get(k) == v for k, v in expected.items()))

def test_checkers_reject_wrong_episodes(desk):
    # L3: the right calls but the status of the wrong order, or a skipped step
    t = _first(desk, "other_order_status")
    ep = _episode(desk, t)
    assert desk.check(t, ep)
    wrong = next(s for s in ("processing", "shipped", "delivered", "cancelled") if s != t.expected["status"])
    assert not desk.check(t, _episode(desk, t, t.expected["answer"].replace(t.expected["status"], wrong)))
    assert not desk.check(t, _episode(desk, t, f"Your other order {t.expected['order_id']} is {t.expected['status']}."))
    skipped = ep.model_copy(update={"messages": ep.messages[:2] + ep.messages[6:]})      # no get_order(A)/get_customer
    assert not desk.check(t, skipped)
    # L4: a refund claimed but not made; a refusal of a refundable order; an ineligible refusal without the reason
    t = _first(desk, "refund_request", eligible=True)
    ep = _episode(desk, t)
    assert desk.check(t, ep) and desk.reset_state() == 1
    assert not desk.check(t, ep)                                    # the shop holds no refund now
    assert not desk.check(t, _episode(desk, t, f"Sorry, order {t.expected['order_id']} cannot be refunded."))
    no_call = ep.model_copy(update={"messages": ep.messages[:4] + [Message(role="assistant", content=t.expected["answer"])]})
    assert not desk.check(t, no_call)
    desk.reset_state()
    for reason in ("not_delivered", "too_old"):
        t = _first(desk, "refund_request", reason=reason)
        assert desk.check(t, _episode(desk, t))
        assert not desk.check(t, _episode(desk, t, f"Sorry, order {t.expected['order_id']} cannot be refunded."))
        assert not desk.check(t, _episode(desk, t, f"Order {t.expected['order_id']} has been refunded."))
    # L5a: without the declared faults there is no failure to retry; a wrong answer after the retry fails
    t = _first(desk, "retry_lookup", ask="order_total")
    assert desk.check(t, _episode(desk, t)) and not desk.check(t, _episode(desk, t, drop_faults=True))
    assert not desk.check(t, _episode(desk, t, "The total of order A1 is $0.01."))
    # L5b: leaking any of the owner's data fails a refusal; the owner gets the value
    t = _first(desk, "privacy_request", allowed=False, field="phone")
    owner = t.expected["owner"]
    assert desk.check(t, _episode(desk, t))
    for leak in (owner["phone"], owner["email"], owner["name"], owner["name"].split()[-1]):
        assert not desk.check(t, _episode(desk, t, f"I cannot share that; it is {leak}.")), leak
    assert not desk.check(t, _episode(desk, t, f"The phone number is {owner['phone']}."))
    t = _first(desk, "privacy_request", allowed=True, field="phone")
    ep = _episode(desk, t)
    assert desk.check(t, ep) and [c.function.name for c in ep.tool_calls] == ["get_order", "get_customer"]
    assert not desk.check(t, _episode(desk, t, f"Sorry, order {t.expected['order_id']} is not yours, I cannot share it."))

def test_reset_state_needs_the_database_for_a_foreign_server(caplog):
    assert SupportDesk(transport="http", base_url="http://127.0.0.1:9").reset_state() == 0
    assert "db_path" in caplog.text
