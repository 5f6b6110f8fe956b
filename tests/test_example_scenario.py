"""The hotel desk (`data/scenarios/hotel.yaml`), the larger example scenario: generated state, tasks at L1-L5, rules
scoped by level, a flaky tool the expert retries, and a cancellation policy the tool enforces. Everything runs for
real: the spec's code in the sandbox, episodes through `run_episodes`, faults from the spec."""
import re
from collections import Counter
from pathlib import Path

import pytest

from agentfactory.envs.loop import run_episodes
from agentfactory.envs.spec import DeclaredScenario, SolutionPolicy, load_spec

HOTEL = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "hotel.yaml"
TOOLS = ["get_booking", "get_room", "find_booking", "get_invoice", "cancel_booking"]


@pytest.fixture(scope="module")
def hotel():
    with DeclaredScenario(HOTEL) as sc:
        yield sc


@pytest.fixture(scope="module")
def solved(hotel):
    "Every task of both splits and the expert's trajectory of it, in one run (faults injected as the spec declares)."
    tasks = hotel.tasks("train") + hotel.tasks("heldout")
    return list(zip(tasks, run_episodes(hotel.expert(), hotel, tasks, progress=False)))


def play(hotel, task, solution):
    "One episode of `task` played by a scripted policy that follows `solution` instead of the task's own."
    (traj,) = run_episodes(SolutionPolicy({task.id: (solution, task.expected)}), hotel, [task], progress=False)
    return traj


def first(hotel, kind, split="train"):
    return next(t for t in hotel.tasks(split) if t.kind == kind)


def test_five_tools_44_bookings_and_every_level_in_both_splits(hotel):
    assert [t["function"]["name"] for t in hotel.tools] == TOOLS
    state = hotel.initial_state()
    assert len(state["bookings"]) == 44 and len(state["rooms"]) == 24
    counts = Counter((t.level, t.split) for s in ("train", "heldout") for t in hotel.tasks(s))
    assert counts == {(lv, s): n for lv in range(1, 6) for s, n in (("train", 33), ("heldout", 11))}
    assert hotel.levels("train") == hotel.levels("heldout") == [1, 2, 3, 4, 5]
    # every booking gives a task at each level; L4 and L5 each split by what the booking's state calls for
    kinds = Counter(t.kind for s in ("train", "heldout") for t in hotel.tasks(s))
    assert kinds["cancel"] + kinds["cancel_refused"] == 44 and kinds["cancel"] and kinds["cancel_refused"]
    assert kinds["balance"] + kinds["room_balance"] == 44 and kinds["room_balance"]


def test_held_out_questions_are_worded_differently(hotel):
    shape = lambda q: re.sub(r"BK[A-Z]{2}\d{2}|\b\d{3}\b", "#", q)
    train, heldout = ({shape(t.question) for t in hotel.tasks(s)} for s in ("train", "heldout"))
    assert train and heldout and not train & heldout


def test_generated_state_is_deterministic_and_follows_the_seed(hotel):
    spec = load_spec(HOTEL)
    assert spec.seed == 0 and spec.state_generator == "make_state"
    with DeclaredScenario(spec) as again, DeclaredScenario(spec.model_copy(update={"seed": 1})) as other:
        assert again.initial_state() == hotel.initial_state()
        assert [t.id for t in again.tasks("train")] == [t.id for t in hotel.tasks("train")]
        assert other.initial_state() != hotel.initial_state()
        assert {b["id"] for b in other.initial_state()["bookings"]} != {b["id"] for b in hotel.initial_state()["bookings"]}
        assert other.version != hotel.version
        assert len(other.tasks("train")) == 165            # another hotel, the same shape


def test_expert_solves_every_task_of_every_level_and_split(solved):
    failed = [(t.id, tr.answer) for t, tr in solved if not tr.success]
    assert not failed
    assert Counter((t.level, t.split) for t, _ in solved) == {(lv, s): n for lv in range(1, 6)
                                                             for s, n in (("train", 33), ("heldout", 11))}


def test_level_5_retries_the_flaky_invoice_tool_after_an_injected_error(hotel, solved):
    assert hotel.faults == {"tools": {"get_invoice": {"error_rate": 0.3, "error_codes": [503, 500]}}}
    retried = []
    for task, traj in solved:
        rec = traj.metadata["recording"]
        faulted = [i for i, r in enumerate(rec) if r["fault"] == "error"]
        if task.level != 5:
            assert not faulted            # only the billing tool is flaky, and only L5 uses it
            continue
        if faulted and traj.success:
            i = faulted[0]
            assert rec[i]["tool"] == "get_invoice" and rec[i + 1]["tool"] == "get_invoice"   # the same call again
            retried.append(traj)
    assert retried
    obs = [m.content for m in retried[0].messages if m.role == "tool"]
    assert "injected fault" in obs[-2] and '"balance"' in obs[-1]
    assert re.search(r"has \d+ EUR left to pay", retried[0].answer)


def test_a_wrong_answer_fails_the_rule_of_its_level_and_explain_names_it(hotel):
    task = first(hotel, "room")                        # L1: which room
    wrong = play(hotel, task, [{"call": "get_booking", "arguments": {"booking_id": "{booking_id}"}},
                               {"answer": "Booking {booking_id} is in room 999."}])
    assert wrong.success is False
    assert hotel.explain(task, wrong) == [f"answer_mentions: 'room {task.expected['room']}'"]

    task = first(hotel, "breakfast")                   # L2: the other branch's wording
    other = "No, booking {booking_id} does not include breakfast." if "includes" in task.expected["must_mention"] \
        else "Yes, booking {booking_id} includes breakfast."
    wrong = play(hotel, task, [{"call": "get_booking", "arguments": {"booking_id": "{booking_id}"}}, {"answer": other}])
    why = hotel.explain(task, wrong)
    assert wrong.success is False and any(w.startswith("answer_not_mentions") for w in why) \
        and any(w.startswith("answer_mentions") for w in why)


def test_a_missing_tool_call_fails_the_rule_of_its_level_and_rules_of_other_levels_do_not_apply(hotel):
    task = first(hotel, "room_rate")                   # L3: the answer is right, but the room was never looked up
    e = task.expected
    skip = play(hotel, task, [{"call": "get_booking", "arguments": {"booking_id": "{booking_id}"}},
                              {"answer": f"Booking {e['booking_id']} is in room {e['room']}, a {e['room_type']} room "
                                         f"at {e['amount']} EUR a night."}])
    assert skip.success is False
    assert hotel.explain(task, skip) == [f"tool_called: {{'name': 'get_room', 'arguments': {{'room': '{e['room']}'}}}}"]

    task = first(hotel, "room")                        # L1: one lookup; the get_room and get_invoice rules are L3/L5's
    e = task.expected
    ok = play(hotel, task, [{"call": "get_booking", "arguments": {"booking_id": "{booking_id}"}},
                            {"answer": "Booking {booking_id} is in room {result.room}."}])
    assert ok.success is True and hotel.explain(task, ok) == []
    assert [c.function.name for c in ok.tool_calls] == ["get_booking"]

    # an apology is wrong at L1 (the rule applies) and right at L4 when the policy refuses (it does not)
    sorry = play(hotel, task, [{"call": "get_booking", "arguments": {"booking_id": "{booking_id}"}},
                               {"answer": "Sorry, booking {booking_id} is in room {result.room}."}])
    assert hotel.explain(task, sorry) == ["answer_not_mentions: ['sorry', 'cannot']"]
    refused = first(hotel, "cancel_refused")
    (traj,) = run_episodes(hotel.expert(), hotel, [refused], progress=False)
    assert traj.answer.startswith("Sorry") and traj.success is True

    # L3 reads the booking first: cancelling instead breaks the rules of a read-only level
    task = first(hotel, "room_rate")
    cancel = play(hotel, task, [{"call": "cancel_booking", "arguments": {"booking_id": "{booking_id}"}},
                                {"answer": "Booking {booking_id} is cancelled."}])
    why = hotel.explain(task, cancel)
    assert "tool_not_called: 'cancel_booking'" in why and any(w.startswith("tool_called: {'name': 'get_booking'") for w in why)


def test_the_cancellation_policy_refuses_and_the_answer_explains(hotel):
    refused = [t for t in hotel.tasks("train") if t.kind == "cancel_refused"]
    allowed = [t for t in hotel.tasks("train") if t.kind == "cancel"]
    trajs = run_episodes(hotel.expert(), hotel, refused + allowed, progress=False)
    bookings = {b["id"]: b for b in hotel.state["bookings"]}
    reasons = set()
    for task, traj in zip(refused + allowed, trajs):
        assert traj.success is True
        (call,) = traj.tool_calls
        assert call.function.name == "cancel_booking"
        obs = next(m.content for m in traj.messages if m.role == "tool")
        booking = bookings[task.expected["booking_id"]]
        if task.kind == "cancel_refused":       # the tool refuses; the state keeps the booking; the answer says why
            assert obs.startswith('{"error"') and task.expected["reason"] in obs
            assert "cannot be cancelled" in traj.answer and task.expected["reason"] in traj.answer
            assert booking["status"] != "cancelled" or task.expected["reason"] == "is already cancelled"
            reasons.add(task.expected["reason"])
        else:                                   # the booking is cancelled and the refund given
            assert booking["status"] == "cancelled" and f"{task.expected['amount']} EUR" in traj.answer
    assert reasons == {"is already checked in", "has already checked out", "is already cancelled"}
    assert len(hotel.state["cancellations"]) == len(allowed)

    # claiming a refused cancellation went through fails the L4 rules, and explain says which
    task = refused[0]
    lie = play(hotel, task, [{"call": "cancel_booking", "arguments": {"booking_id": "{booking_id}"}},
                             {"answer": "Booking {booking_id} is now cancelled; 0 EUR will be refunded."}])
    assert lie.success is False
    assert set(hotel.explain(task, lie)) == {"answer_mentions: 'cannot be cancelled'",
                                             "answer_not_mentions: 'is now cancelled'",
                                             f"answer_mentions: '{task.expected['reason']}'"}
