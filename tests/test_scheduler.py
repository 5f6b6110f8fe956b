"""The queue's policy (agentfactory.compute.scheduler): priority, weighted fair share, FIFO within a tenant, backfill
that does not delay the head, preemption with reasons, quotas with and without borrowing, determinism, typed errors.
Pure and fast: no store, no processes; workloads run on the simulated cluster."""
import random

import pytest

from agentfactory.compute.core import ResourceSpec
from agentfactory.compute.scheduler import (FifoScheduler, Job, Quota, RecentUsage, Scheduler, plan, simulate)
from agentfactory.core.errors import Conflict, InvalidInput, NotFound

POOLS = {"training": ResourceSpec(cpus=64, memory_gb=512, gpus=8), "env": ResourceSpec(cpus=16, memory_gb=64, gpus=0)}


def job(id, tenant="t", gpus=1, cpus=1, prio=0, at=0.0, dur=None, pre=False, pool="training", started=None):
    return Job(id=id, tenant=tenant, pool=pool, priority=prio, demand=ResourceSpec(cpus=cpus, memory_gb=1, gpus=gpus),
               duration_s=dur, preemptible=pre, submitted_at=at, started_at=started)


def starts(actions):
    return [a.job_id for a in actions if a.kind == "start"]


def workload(n=300, seed=0, tenants="abc", pool="training"):
    "A contended mix: 1-8 GPU jobs, three priorities, most low-priority jobs preemptible."
    rng = random.Random(seed)
    out = []
    for i in range(n):
        prio = rng.choices([2, 1, 0], weights=[1, 2, 7])[0]
        out.append(Job(id=f"w{i:04d}", tenant=rng.choice(tenants), pool=pool, priority=prio,
                       demand=ResourceSpec(cpus=rng.choice([2, 4, 8]), memory_gb=8, gpus=rng.choice([1, 1, 1, 2, 2, 4, 8])),
                       duration_s=rng.uniform(300, 3600) if rng.random() > 0.1 else None,
                       preemptible=prio < 2 and rng.random() < 0.6, submitted_at=i * 30.0))
    return out


def actual(jobs):
    "Run times for the simulator: the estimate, or 30 minutes for a job without one."
    return {j.id: j.duration_s or 1800.0 for j in jobs}


class Recording:
    "A Scheduler that checks every decision against the rules the tests rely on, and keeps what it saw."
    def __init__(self, pools, quotas=(), **kw):
        self.s, self.pools, self.quotas = Scheduler(pools, quotas, **kw), pools, list(quotas)
        self.jobs, self.running, self.actions = {}, {}, []
        self.peak: dict[tuple, float] = {}

    def submit(self, j):
        self.jobs[j.id] = j; self.s.submit(j)

    def finish(self, job_id):
        self.running.pop(job_id); return self.s.finish(job_id)

    def decide(self, now):
        acts = self.s.decide(now)
        for a in acts:
            self.actions.append((now, a))
            if a.kind == "preempt":
                victim, winner = self.jobs[a.job_id], self.jobs[a.for_job]
                assert a.job_id in self.running, "only a running job can be preempted"
                assert victim.preemptible, f"non-preemptible {a.job_id} was preempted"
                assert victim.priority < winner.priority, f"{a.job_id} preempted for {a.for_job} of no higher priority"
                assert a.for_job in a.reason and a.reason, "every preemption says for whom and why"
                self.running.pop(a.job_id)
            elif a.kind == "start":
                self.running[a.job_id] = now
        for (tenant, pool) in {(self.jobs[i].tenant, self.jobs[i].pool) for i in self.running}:
            g = sum(self.jobs[i].demand.gpus for i in self.running if (self.jobs[i].tenant, self.jobs[i].pool) == (tenant, pool))
            self.peak[(tenant, pool)] = max(self.peak.get((tenant, pool), 0), g)
        return acts


# ---- order

def test_priority_first_then_submission_order():
    s = Scheduler(POOLS)
    s.submit(job("r", gpus=8, started=0, dur=100))
    for i in range(6): s.submit(job(f"low{i}", at=i))
    s.submit(job("high", prio=5, at=10))
    assert starts(s.decide(now=11)) == []
    s.finish("r")
    assert starts(s.decide(now=100)) == ["high"] + [f"low{i}" for i in range(6)]


def test_a_job_starts_ahead_of_a_waiting_higher_priority_job_only_by_backfill():
    s = Scheduler(POOLS)
    jobs = {j.id: j for j in workload(250, seed=3)}
    events = sorted(jobs.values(), key=lambda j: j.submitted_at)
    running, now, checked = {}, 0.0, 0
    for j in events:                                   # submit, decide, let the earliest-ending job finish, repeat
        now = j.submitted_at
        while running and min(running.values()) <= now:
            first = min(running, key=running.get); running.pop(first); s.finish(first)
        s.submit(j)
        before = {q.id for q in s.queued()}
        acts = s.decide(now)
        started = set(starts(acts))
        for a in acts:
            if a.kind == "preempt": running.pop(a.job_id)
            if a.kind != "start": continue
            running[a.job_id] = now + (jobs[a.job_id].duration_s or 1800)
            if a.reason.startswith("backfill"): continue
            higher = {q for q in before if jobs[q].priority > a.priority}
            assert higher <= started, f"{a.job_id} started ahead of waiting {higher - started}"
            checked += 1
    assert checked >= 10


def test_fifo_within_a_tenant():
    s = Scheduler(POOLS)
    ats = list(range(20)); random.Random(1).shuffle(ats)
    for at in ats: s.submit(job(f"j{at:02d}", at=float(at)))        # submitted out of order, ordered by submitted_at
    assert starts(s.decide(now=100)) == [f"j{i:02d}" for i in range(8)]
    r = simulate([job(f"k{i:02d}", at=float(i), dur=600) for i in range(40)], Scheduler(POOLS))
    firsts = [o.first_start for o in sorted(r.outcomes, key=lambda o: o.submitted_at)]
    assert firsts == sorted(firsts)


def test_weighted_fair_share_between_tenants():
    quotas = [Quota(tenant="a", weight=2), Quota(tenant="b", weight=1), Quota(tenant="c", weight=1)]
    s = Scheduler(POOLS, quotas)
    for t in "cba":                                                  # the light tenants queue first
        for i in range(10): s.submit(job(f"{t}{i}", tenant=t, at=i))
    s.decide(now=50)
    assert {t: u.gpus for t, u in s.tenant_usage("training").items()} == {"a": 4, "b": 2, "c": 2}
    # under contention for a simulated half day, the weighted dominant shares match the weights
    rng = random.Random(2)
    jobs = [job(f"x{i}", tenant=rng.choice("abc"), at=i * 5.0, dur=rng.uniform(600, 3600)) for i in range(4000)]
    r = simulate(jobs, Scheduler(POOLS, quotas), horizon_s=40_000)
    got = {t: v / r.contended_s["training"] for t, v in r.contended_share["training"].items()}
    assert got["a"] == pytest.approx(0.5, abs=0.03) and got["b"] == pytest.approx(0.25, abs=0.03)
    assert r.fairness("training", {"a": 2, "b": 1, "c": 1}) > 0.99


def test_recent_usage_holds_back_a_tenant_that_just_had_the_pool():
    quotas = [Quota(tenant="a"), Quota(tenant="b")]
    s = Scheduler(POOLS, quotas, recent=[RecentUsage(tenant="a", pool="training", share=0.9, at=0.0)])
    s.submit(job("a1", tenant="a", at=0)); s.submit(job("b1", tenant="b", at=1)); s.submit(job("r", gpus=8, started=0, dur=10))
    s.decide(now=1); s.finish("r")
    assert starts(s.decide(now=10))[:1] == ["b1"]                    # a is older, but had the pool lately
    fresh = Scheduler(POOLS, quotas, usage_half_life_s=0, recent=[RecentUsage(tenant="a", pool="training", share=0.9, at=0.0)])
    for j in (job("a1", tenant="a", at=0), job("b1", tenant="b", at=1)): fresh.submit(j)
    assert starts(fresh.decide(now=10))[:1] == ["a1"]                # without memory: plain DRF, then age
    assert {(u.tenant, u.pool) for u in s.recent_usage()} >= {("a", "training")}


# ---- backfill

def test_backfill_does_not_delay_the_head():
    jobs = [job("r", gpus=2, at=0, dur=100), job("h", gpus=8, at=1, dur=300),
            job("short", at=2, dur=50), job("long", at=3, dur=500), job("unknown", at=4)]
    s = Scheduler(POOLS)
    s.submit(jobs[0]); s.decide(now=0)
    for j in jobs[1:]: s.submit(j)
    acts = s.decide(now=5)
    assert [(a.kind, a.job_id) for a in acts] == [("reserve", "h"), ("start", "short")]
    assert acts[0].earliest_start == 100 and "backfill" in acts[1].reason
    run = {"unknown": 100.0}
    r = {o.job_id: o for o in simulate(jobs, Scheduler(POOLS), run_s=run).outcomes}
    alone = {o.job_id: o for o in simulate(jobs[:2], Scheduler(POOLS)).outcomes}
    assert r["h"].first_start == alone["h"].first_start == 100      # the head starts when it would have alone
    assert r["short"].first_start == 2 and r["long"].first_start >= 400 and r["unknown"].first_start >= 400


def test_backfill_beside_the_reservation_uses_only_the_extra():
    s = Scheduler(POOLS)
    s.submit(job("r", gpus=4, started=0, dur=100))
    for j in (job("h", gpus=6, at=1), job("l1", at=2, dur=1000), job("l2", at=3, dur=1000), job("l3", at=4, dur=1000)):
        s.submit(j)
    acts = s.decide(now=5)
    # at 100 all 8 GPUs are free: 6 for the head, 2 to spare, so two long jobs may start now and the third not
    assert starts(acts) == ["l1", "l2"] and all("beside" in a.reason for a in acts if a.kind == "start")


def test_the_head_keeps_its_place_until_it_starts():
    quotas = [Quota(tenant="a"), Quota(tenant="b")]
    s = Scheduler(POOLS, quotas, usage_half_life_s=0)
    s.submit(job("ra", tenant="a", gpus=4, started=0, dur=100)); s.submit(job("rb", tenant="b", gpus=4, started=0, dur=50))
    s.submit(job("big", tenant="a", gpus=8, at=1)); s.submit(job("small", tenant="b", gpus=2, at=2))
    s.decide(now=2)
    assert [j.id for j in s.queued() if j.reserved] == ["big"]
    s.finish("ra")                                                  # now a holds nothing and b holds 4: a first anyway
    s.decide(now=40)
    s.finish("rb")                                                  # b's share drops below a's; the head still goes first
    assert starts(s.decide(now=50)) == ["big"]
    snap = [job("big", tenant="a", gpus=8, at=1).model_copy(update={"reserved": True}), job("small", tenant="b", gpus=2, at=0),
            job("r", tenant="b", gpus=4, started=0, dur=100)]
    assert [(a.kind, a.job_id) for a in plan(snap, POOLS, quotas)] == [("reserve", "big")]


# ---- preemption

def test_preemption_of_lower_priority_preemptible_jobs_with_a_reason():
    s = Scheduler(POOLS)
    s.submit(job("old", gpus=3, pre=True, started=0)); s.submit(job("new", gpus=3, pre=True, started=10))
    s.submit(job("mid", gpus=2, prio=1, pre=True, started=5))
    s.submit(job("urgent", gpus=3, prio=9, at=20))
    acts = s.decide(now=20)
    assert [(a.kind, a.job_id) for a in acts] == [("preempt", "new"), ("start", "urgent")]
    p = acts[0]
    assert p.for_job == "urgent" and "urgent" in p.reason and "priority 9 > 0" in p.reason
    assert [j.id for j in s.queued()] == ["new"] and s.queued()[0].started_at is None
    # two victims needed: the lowest priority first, then the most recently started; the one not needed is spared
    s = Scheduler(POOLS)
    for j in (job("a", gpus=3, pre=True, started=0), job("b", gpus=3, pre=True, started=1),
              job("c", gpus=2, prio=1, pre=True, started=2), job("u", gpus=6, prio=5, at=3)):
        s.submit(j)
    assert [(a.kind, a.job_id) for a in s.decide(now=3)] == [("preempt", "b"), ("preempt", "a"), ("start", "u")]
    # a victim taken first (lowest priority) but not needed once a bigger one is taken is spared
    s = Scheduler(POOLS)
    for j in (job("x", gpus=1, pre=True, started=0), job("y", gpus=7, prio=1, pre=True, started=0), job("u", gpus=7, prio=5, at=1)):
        s.submit(j)
    assert [(a.kind, a.job_id) for a in s.decide(now=1)] == [("preempt", "y"), ("start", "u")]


def test_a_non_preemptible_job_is_never_touched():
    s = Scheduler(POOLS)
    s.submit(job("keep", gpus=8, pre=False, started=0))
    s.submit(job("urgent", gpus=1, prio=100, at=1))
    assert [a.kind for a in s.decide(now=1)] == ["reserve"]
    # and over a whole contended workload, every preemption the scheduler makes is of a preemptible job of lower
    # priority, with a reason (checked by Recording on every decision)
    rec = Recording(POOLS)
    w = workload(400, seed=5)
    r = simulate(w, rec, run_s=actual(w), resume_overhead_s=30)
    assert r.preemptions > 0
    keep = {j.id for j in workload(400, seed=5) if not j.preemptible}
    assert all(o.preemptions == 0 for o in r.outcomes if o.job_id in keep)
    assert all(o.end is not None for o in r.outcomes)


def test_preempted_job_resumes_with_the_work_left():
    r = simulate([job("low", gpus=8, pre=True, at=0, dur=1000), job("hi", gpus=8, prio=1, at=400, dur=100)], Scheduler(POOLS),
                 resume_overhead_s=10)
    o = {x.job_id: x for x in r.outcomes}
    assert o["low"].preemptions == 1 and o["hi"].first_start == 400
    assert o["low"].end == 500 + 600 + 10                               # 400 s done, 600 left, plus the resume overhead


# ---- quotas

def test_quota_without_borrow_is_never_exceeded():
    quotas = [Quota(tenant="a", weight=1, borrow=False), Quota(tenant="b", weight=3)]
    rec = Recording(POOLS, quotas)
    jobs = [j.model_copy(update={"tenant": "a" if i % 5 else "b"}) for i, j in enumerate(workload(300, seed=7))
            if j.demand.gpus <= 2]
    simulate(jobs, rec, run_s=actual(jobs))
    assert rec.peak[("a", "training")] <= 2                         # 1/4 of 8 GPUs, even when the pool is idle
    with pytest.raises(InvalidInput, match="nominal share"):
        rec.s.submit(job("too-big", tenant="a", gpus=4))


def test_quota_with_borrow_uses_idle_capacity():
    quotas = [Quota(tenant="a", weight=1, borrow=False), Quota(tenant="b", weight=1, borrow=True)]
    s = Scheduler(POOLS, quotas)
    for i in range(8): s.submit(job(f"a{i}", tenant="a", at=i)); s.submit(job(f"b{i}", tenant="b", at=i))
    s.decide(now=10)
    assert {t: u.gpus for t, u in s.tenant_usage("training").items()} == {"a": 4, "b": 4}
    s = Scheduler(POOLS, quotas)
    for i in range(8): s.submit(job(f"b{i}", tenant="b", at=i))
    assert len(starts(s.decide(now=10))) == 8                        # b borrows a's idle half
    s = Scheduler(POOLS, quotas)
    for i in range(8): s.submit(job(f"a{i}", tenant="a", at=i))
    assert len(starts(s.decide(now=10))) == 4                        # a does not


# ---- determinism, the baseline, errors

def test_decisions_are_deterministic():
    jobs = workload(300, seed=11)
    a = simulate(jobs, Scheduler(POOLS), run_s=actual(jobs), resume_overhead_s=30)
    b = simulate(list(reversed(jobs)), Scheduler(POOLS), run_s=actual(jobs), resume_overhead_s=30)
    dump = lambda r: sorted((o.model_dump() for o in r.outcomes), key=lambda o: o["job_id"])
    assert dump(a) == dump(b) and dump(a) == dump(simulate(jobs, Scheduler(POOLS), run_s=actual(jobs), resume_overhead_s=30))
    assert a.preemptions == b.preemptions
    snap = jobs[:40] + [job("run1", gpus=4, pre=True, started=0, dur=100), job("run2", gpus=2, started=5)]
    shuffled = snap[:]; random.Random(0).shuffle(shuffled)
    assert plan(snap, POOLS, now=60) == plan(shuffled, POOLS, now=60)


def test_policy_beats_plain_fifo_for_urgent_jobs():
    jobs = workload(300, seed=13)
    pol = simulate(jobs, Scheduler(POOLS), run_s=actual(jobs), resume_overhead_s=60)
    fifo = simulate(jobs, FifoScheduler(POOLS), run_s=actual(jobs))

    def p95(r):
        w = sorted(o.queued_s for o in r.outcomes if o.priority == 2)
        return w[int(0.95 * (len(w) - 1))]
    assert p95(pol) < 0.2 * p95(fifo)
    assert pol.utilization("training") > fifo.utilization("training") - 0.05


def test_pools_are_decided_separately():
    s = Scheduler(POOLS)
    s.submit(job("t", gpus=8, started=0)); s.submit(job("e", gpus=0, cpus=8, pool="env", at=1))
    assert starts(s.decide(now=1)) == ["e"]


@pytest.mark.parametrize("bad, field", [
    (dict(demand=ResourceSpec(cpus=-1)), "demand.cpus"),
    (dict(demand=ResourceSpec(gpus=-2)), "demand.gpus"),
    (dict(demand=ResourceSpec(memory_gb=float("nan"))), "demand.memory_gb"),
    (dict(demand=ResourceSpec(cpus=0, memory_gb=0, gpus=0)), "demand"),
    (dict(pool="gpu"), "pool"),
    (dict(demand=ResourceSpec(gpus=9)), "demand.gpus"),
    (dict(pool="env", demand=ResourceSpec(gpus=1)), "demand.gpus"),
    (dict(duration_s=-1.0), "duration_s"),
    (dict(tenant=""), "tenant"),
    (dict(id=""), "id"),
    (dict(submitted_at=float("inf")), "submitted_at"),
])
def test_bad_jobs_raise_invalid_input_naming_the_field(bad, field):
    s = Scheduler(POOLS)
    with pytest.raises(InvalidInput) as e:
        s.submit(Job(**{"id": "j", "tenant": "t", **bad}))
    assert str(e.value).startswith(field)


def test_bad_pools_quotas_and_ids():
    with pytest.raises(InvalidInput, match=r"pools\['x'\].cpus"): Scheduler({"x": ResourceSpec(cpus=-4)})
    with pytest.raises(InvalidInput, match="pools"): Scheduler({})
    with pytest.raises(InvalidInput, match=r"quotas\[0\].pool"): Scheduler(POOLS, [Quota(tenant="a", pool="gpu")])
    with pytest.raises(InvalidInput, match=r"quotas\[0\].weight"): Scheduler(POOLS, [Quota(tenant="a", weight=0)])
    with pytest.raises(InvalidInput, match=r"quotas\[1\]"): Scheduler(POOLS, [Quota(tenant="a"), Quota(tenant="a")])
    with pytest.raises(InvalidInput, match="usage_half_life_s"): Scheduler(POOLS, usage_half_life_s=-1)
    s = Scheduler(POOLS)
    s.submit(job("j"))
    with pytest.raises(Conflict): s.submit(job("j"))
    with pytest.raises(Conflict, match="queued, not running"): s.finish("j")
    with pytest.raises(NotFound): s.finish("nope")
    assert s.cancel("j").id == "j" and s.queued() == []
    with pytest.raises(InvalidInput, match="run_s"): simulate([job("x")], Scheduler(POOLS))
