"Canary traffic and decision policy: routing proportions and stickiness, ramps that move only the slice they must, and the always-valid canary check (false rollbacks bounded by alpha, real regressions caught)."
import json
from collections import Counter
import numpy as np
import pytest
from agentfactory.core.errors import InvalidInput
from agentfactory.runtime.canary import (CanaryCheck, CanaryPolicy, RampPlan, TrafficSplit, TurnObservation,
                                         VariantProfile, _as_turns, _run, analyze_canary, canary_split, moved_share,
                                         ramp, simulate_canary, simulate_rollout, simulate_turns)

N = 20_000
BASE = VariantProfile()


def _shares(split: TrafficSplit, n: int = N) -> dict[str, float]:
    got = Counter(split.route(f"session-{i}") for i in range(n))
    return {v: got[v]/n for v in split.weights}


# --- routing

def test_canary_at_10_percent_gets_10_percent_of_sessions():
    shares = _shares(canary_split("stable", "canary", 10, salt="agent-1:r1"))
    assert abs(shares["canary"] - 0.10) < 0.01, shares


def test_three_way_ab_split_proportions():
    shares = _shares(TrafficSplit(weights={"a": 50, "b": 30, "c": 20}, salt="agent-1:ab"))
    for v, w in {"a": 0.5, "b": 0.3, "c": 0.2}.items():
        assert abs(shares[v] - w) < 0.015, shares


def test_routing_is_sticky_and_deterministic_across_instances():
    a = canary_split("stable", "canary", 30, salt="s")
    b = TrafficSplit.model_validate_json(a.model_dump_json())          # e.g. read back from the store in another worker
    routes = [a.route(f"session-{i}") for i in range(2_000)]
    assert routes == [b.route(f"session-{i}") for i in range(2_000)]
    assert routes == [a.route(f"session-{i}") for i in range(2_000)]
    # another salt (another rollout) draws another slice of sessions
    other = canary_split("stable", "canary", 30, salt="t")
    assert routes != [other.route(f"session-{i}") for i in range(2_000)]


def test_end_user_wins_over_session():
    split = canary_split("stable", "canary", 50, salt="s")
    alice = split.route("ignored", user_id="alice")
    sessions = [f"session-{i}" for i in range(200)]
    assert {split.route(s, user_id="alice") for s in sessions} == {alice}
    assert any(split.route(s) != alice for s in sessions)              # without the user those sessions would differ


def test_ramp_moves_only_the_needed_slice():
    plan, before = RampPlan(), None
    split = plan.start("stable", "canary", salt="agent-1:r2")
    prev_routes = [split.route(f"session-{i}") for i in range(N)]
    for old, new in zip(plan.steps, plan.steps[1:]):
        wider = split.reweight({"stable": 100 - new, "canary": new})
        routes = [wider.route(f"session-{i}") for i in range(N)]
        moves = Counter((a, b) for a, b in zip(prev_routes, routes) if a != b)
        assert set(moves) <= {("stable", "canary")}, moves           # nobody leaves the canary on a ramp
        assert abs(sum(moves.values())/N - (new - old)/100) < 0.01, (old, new, moves)
        assert moved_share(split, wider) == pytest.approx((new - old)/100)
        split, prev_routes = wider, routes


def test_moved_share_matches_the_sessions_that_move_in_a_three_way_split():
    a = TrafficSplit(weights={"a": 50, "b": 30, "c": 20}, salt="x")
    b = a.reweight({"a": 40, "c": 30})
    moved = sum(a.route(f"session-{i}") != b.route(f"session-{i}") for i in range(N))/N
    assert moved_share(a, b) == pytest.approx(0.2)                    # b's slice slides by 10 points: 20 % move
    assert abs(moved - 0.2) < 0.01


@pytest.mark.parametrize("weights,field", [({"a": -10, "b": 110}, "weights['a']"), ({"a": 60, "b": 30}, "sum to 100"),
                                           ({}, "weights"), ({"a": "50", "b": 50}, "weights['a']"),
                                           ({"": 100}, "deployment id")])
def test_bad_weights_are_refused(weights, field):
    with pytest.raises(InvalidInput, match=field.replace("[", r"\[").replace("]", r"\]")):
        TrafficSplit(weights=weights)


def test_unknown_deployment_and_bad_keys_are_refused():
    split = canary_split("stable", "canary", 5)
    with pytest.raises(InvalidInput, match="unknown deployment 'other'"): split.reweight({"other": 5})
    with pytest.raises(InvalidInput, match="session_id"): split.route("")
    with pytest.raises(InvalidInput, match="user_id"): split.route("s", user_id="")
    with pytest.raises(InvalidInput, match="percent"): canary_split("stable", "canary", 120)


@pytest.mark.parametrize("kwargs,field", [(dict(alpha=0), "alpha"), (dict(alpha=1), "alpha"), (dict(alpha=-0.1), "alpha"),
                                          (dict(min_turns=0), "min_turns"), (dict(checks=("speed",)), "unknown check 'speed'"),
                                          (dict(success_margin=-0.1), "success_margin"), (dict(p99_ratio=0.9), "p99_ratio"),
                                          (dict(max_error_rate=2), "max_error_rate"), (dict(judge_range=(5, 1)), "judge_range")])
def test_bad_policy_is_refused(kwargs, field):
    with pytest.raises(InvalidInput, match=field): CanaryPolicy(**kwargs)


def test_bad_turns_name_the_field():
    ok = [dict(latency_ms=100)]
    with pytest.raises(InvalidInput, match=r"canary\[1\]: .*tool_errors \(2\) exceeds tool_calls \(1\)"):
        analyze_canary(ok, ok + [dict(latency_ms=10, tool_calls=1, tool_errors=2)])
    with pytest.raises(InvalidInput, match=r"stable\[0\].latency_ms"): analyze_canary([dict(latency_ms=-1)], ok)
    with pytest.raises(InvalidInput, match=r"canary\[0\].judge_score"): analyze_canary(ok, [dict(latency_ms=1, judge_score=7)])
    with pytest.raises(InvalidInput, match="stable must be a list"): analyze_canary({"latency_ms": 1}, ok)


def test_bad_ramp_plan_is_refused():
    for steps, msg in [([5, 50], "end at 100"), ([50, 25, 100], "increase"), ([100], "at least two"), ([0, 100], "steps")]:
        with pytest.raises(InvalidInput, match=msg): RampPlan(steps=steps)
    with pytest.raises(InvalidInput, match="turns_per_step"): RampPlan(turns_per_step=0)


# --- the canary check

def test_one_bad_turn_at_the_start_does_not_roll_back():
    awful = TurnObservation(error=True, latency_ms=120_000, success=False, safety_violation=True, tool_calls=4,
                            tool_errors=4, judge_score=1)
    stable = simulate_turns(BASE, 6_000, seed=1)
    canary = [awful] + simulate_turns(BASE, 600, seed=2)
    for k in range(1, 500, 7):                                        # checked all along the way, before min_turns
        check = analyze_canary(stable[:10*k], canary[:k])
        assert check.decision == "continue", (k, check.reason)
    assert analyze_canary(stable[:5_000], canary[:500]).decision == "promote"


def test_a_clear_regression_rolls_back_with_the_numbers():
    check = analyze_canary(simulate_turns(BASE, 1_500, seed=3), simulate_turns(VariantProfile(success_rate=0.5), 150, seed=4))
    assert check.decision == "rollback"
    m = {c.check: c for c in check.checks}["task_success"]
    assert m.regressed and m.lower > 0 and m.stable > 0.85 and m.canary < 0.6 and (m.n_stable, m.n_canary) == (1_500, 150)
    assert "task success" in check.reason and f"{m.canary:.3g}" in check.reason
    assert CanaryCheck.model_validate(json.loads(check.model_dump_json())) == check    # what the audit log stores


def test_judge_score_and_absolute_limits():
    judged = dict(judge_share=1.0)
    check = analyze_canary(simulate_turns(VariantProfile(**judged), 3_000, seed=5),
                           simulate_turns(VariantProfile(judge_mean=3.0, **judged), 300, seed=6))
    m = {c.check: c for c in check.checks}["judge_score"]
    assert check.decision == "rollback" and m.regressed and 0 < m.lower < 1.0 < m.upper    # judge units (1..5)
    # both deployments fail 10 % of turns: no relative regression, but the Flagger-style limit catches it
    noisy = VariantProfile(error_rate=0.1)
    policy = CanaryPolicy(checks=("error_rate",), max_error_rate=0.02)
    run = simulate_canary(noisy, noisy, policy=policy, n_runs=20, seed=3)
    assert run["rollback_rate"] == 1.0 and all(r["checks"] == ["error_rate_limit"] for r in run["runs"])


WORSE = {"success 0.6 vs 0.9": (BASE, VariantProfile(success_rate=0.6), 150),
         "errors 10% vs 0%": (VariantProfile(error_rate=0.0), VariantProfile(error_rate=0.1), 350),
         "p99 2x": (BASE, VariantProfile(latency_ms=1_600), 450)}


@pytest.mark.parametrize("name", list(WORSE))
def test_a_worse_canary_rolls_back(name):
    stable, canary, within = WORSE[name]
    sim = simulate_canary(stable, canary, n_runs=60, seed=11)
    assert sim["rollback_rate"] >= 0.9, sim["rollback_rate"]
    assert sim["canary_turns_to_rollback"]["median"] <= within, sim["canary_turns_to_rollback"]


def test_an_equal_canary_promotes_and_false_rollbacks_stay_within_alpha():
    sim = simulate_canary(BASE, BASE, n_runs=200, seed=0)
    assert sim["rollback_rate"] <= sim["alpha"] + 0.02, sim["rollback_rate"]
    assert sim["promote_rate"] >= 0.95
    assert all(r["n_canary"] == 500 for r in sim["runs"] if r["decision"] == "promote")   # right at min_turns
    # a looser alpha and a shorter canary at 50 %: still within alpha
    loose = simulate_canary(BASE, BASE, policy=CanaryPolicy(alpha=0.2, min_turns=300), percent=50, n_runs=200, seed=1)
    assert loose["rollback_rate"] <= 0.2 + 0.04, loose["rollback_rate"]


@pytest.mark.parametrize("name,stable,canary", [("equal", BASE, BASE), ("success", BASE, VariantProfile(success_rate=0.6)),
                                                ("errors", VariantProfile(error_rate=0.0), VariantProfile(error_rate=0.1)),
                                                ("p99", BASE, VariantProfile(latency_ms=1_600)),
                                                ("tools", BASE, VariantProfile(tool_error_rate=0.3))])
def test_simulation_decides_what_analyze_canary_decides(name, stable, canary):
    "The vectorised simulation (every turn) and the real check agree on the turn of the decision and the one before."
    policy = CanaryPolicy(min_turns=300)
    for seed in range(2):
        out, cs, ss = _run(stable, canary, 10.0, policy, 20_000, np.random.default_rng([seed, 0]))
        ct, st = _as_turns(cs, canary, policy.judge_range), _as_turns(ss, stable, policy.judge_range)
        nc, ns = out["n_canary"], out["n_stable"]
        now = analyze_canary(st[:ns], ct[:nc], policy)
        assert now.decision == out["decision"]
        assert sorted(m.check for m in now.checks if m.regressed) == out["checks"]
        before = {analyze_canary(st[:ns - 1], ct[:nc], policy).decision, analyze_canary(st[:ns], ct[:nc - 1], policy).decision}
        assert "continue" in before                                   # the decision turn is the first one


# --- the ramp, end to end

def test_ramp_end_to_end_promotes_an_equal_canary_and_rolls_back_a_broken_one():
    policy = CanaryPolicy(min_turns=200)
    plan = RampPlan(steps=[10, 50, 100], turns_per_step=100)
    history = simulate_rollout(BASE, BASE, plan=plan, policy=policy, check_every=50, max_turns=6_000, seed=2)
    assert [(s.action, s.split.weights["canary"]) for s in history] == [("advance", 50.0), ("promote", 100.0)]
    history = simulate_rollout(BASE, VariantProfile(tool_error_rate=0.4), plan=plan, policy=policy, check_every=50,
                               max_turns=6_000, seed=2)
    assert [(s.action, s.split.weights) for s in history] == [("rollback", {"stable": 100.0, "canary": 0.0})]
    assert "tool-error rate" in history[0].reason


def test_ramp_holds_until_the_step_has_its_turns_and_a_passing_check():
    plan, split = RampPlan(), RampPlan().start("stable", "canary")
    cont = CanaryCheck(decision="continue", reason="continue: …", n_stable=10, n_canary=1, min_turns=500, alpha=0.05, checks=[])
    passed = cont.model_copy(update=dict(decision="promote"))
    assert ramp(plan, split, "canary", cont, 10_000).action == "hold"
    assert ramp(plan, split, "canary", passed, 99).action == "hold"
    assert ramp(plan, split, "canary", passed, 100).split.weights == {"stable": 75.0, "canary": 25.0}
    with pytest.raises(InvalidInput, match="not a step"):
        ramp(plan, split.reweight({"stable": 70, "canary": 30}), "canary", passed, 100)
