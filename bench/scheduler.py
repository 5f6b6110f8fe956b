"""Scheduler benchmark: a simulated day of the queue's policy against plain FIFO, and the policy's decision time.

- the day: 3 tenants with weights 2:1:1 submit 1,000 jobs (seeded) to one pool of 8 GPUs, 64 cores and 512 GB
  (pools are decided independently, so one pool shows the rules): 40 % CPU-only env jobs (2-16 cores), 30 %
  one-GPU evaluations, 24 % 1-2 GPU fine-tunes, 6 % 4-8 GPU trainings; priorities 2/1/0 for 5/15/80 % of
  jobs; preemptible: 80 % of priority 0, 40 % of priority 1, none of priority 2. Arrivals are Poisson over the
  day; run times are log-uniform per kind, scaled so that the jobs ask for `--load` (2) times the day's
  GPU-hours. Jobs are dealt to the tenants like cards (per priority, largest first), so each submits about a
  third of the work at every priority and tenants differ only in weight.
  A busy day on purpose: fair share only decides anything when every tenant wants more than its share (tenant
  `a`, weight 2, is owed half the cluster, so it must ask for at least half: a load of 1.5 or more), and
  priority, which comes first, leaves fair share only what urgent and normal jobs do not take.
  The scheduler sees estimates (actual x U(0.8, 1.6), none for 10 % of jobs); a resumed job pays 60 s.
- measures over the day (jobs still run to the end): utilization (mean of GPU and CPU), Jain's index of the
  tenants' weighted dominant shares while all three have jobs waiting, time queued (p50/p95) per priority,
  preemptions.
- decision time: `Scheduler.decide` with 10,000 jobs queued on the full cluster, one job ending and one
  arriving before each decision; microseconds per job started. Also `plan` (building the state from a
  10,000-job snapshot, then deciding).
Prints one JSON object. Usage: python bench/scheduler.py [--quick] [--seed N] [--load X]"""
import argparse, json, math, os, platform, random, statistics, sys, time

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--quick", action="store_true", help="fewer decisions timed, for a smoke run")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--load", type=float, default=2.0, help="offered GPU load as a multiple of the day's GPU-hours")
a = p.parse_args()

from agentfactory.compute.core import ResourceSpec
from agentfactory.compute.scheduler import FifoScheduler, Job, Quota, Scheduler, plan, simulate

DAY = 86_400.0
PRIO_MIX = [5, 15, 80]    # % of jobs at priority 2 (urgent), 1 (normal), 0 (batch)
POOLS = {"training": ResourceSpec(cpus=64, memory_gb=512, gpus=8)}
WEIGHTS = {"a": 2.0, "b": 1.0, "c": 1.0}
QUOTAS = [Quota(tenant=t, pool="training", weight=w) for t, w in WEIGHTS.items()]
#        kind        share  GPUs      cores per GPU / cores   run time (min, log-uniform)
KINDS = [("env",     0.40, [0],      [2, 4, 8, 16],          (2, 30)),
         ("eval",    0.30, [1],      [2],                    (2, 20)),
         ("finetune", 0.24, [1, 2],  [4],                    (10, 60)),
         ("train",   0.06, [4, 8],   [4],                    (30, 120))]


def workload(n: int, seed: int, load: float, start: float = 0.0, span: float = DAY, prefix: str = ""):
    "n jobs (with their actual run times) arriving over `span` seconds; run times scaled to the offered GPU load."
    rng = random.Random(seed)
    jobs, actual = [], {}
    t = start
    for i in range(n):
        t += rng.expovariate(n / span)
        kind, _, gpus, cores, (lo, hi) = rng.choices(KINDS, weights=[k[1] for k in KINDS])[0]
        g = rng.choice(gpus); c = rng.choice(cores) * (g if g else 1)
        prio = rng.choices([2, 1, 0], weights=PRIO_MIX)[0]
        pre = rng.random() < {2: 0.0, 1: 0.4, 0: 0.8}[prio]
        run = 60 * math.exp(rng.uniform(math.log(lo), math.log(hi)))
        jobs.append(dict(id=f"{prefix}{kind}-{i:05d}", tenant=rng.choice(list(WEIGHTS)), priority=prio, gpus=g, cpus=c,
                         mem=4.0 * max(c, 1), pre=pre, at=t, run=run, est=rng.uniform(0.8, 1.6) if rng.random() > 0.1 else None))
    scale = load * POOLS["training"].gpus * span / sum(j["gpus"] * j["run"] for j in jobs)
    # deal jobs to tenants like cards, within each priority and largest first, so every tenant submits about the
    # same work at every priority: the only difference between tenants is their weight
    cap = POOLS["training"]
    for prio in (2, 1, 0):
        same = sorted((j for j in jobs if j["priority"] == prio),
                      key=lambda j: (-max(j["gpus"] / cap.gpus, j["cpus"] / cap.cpus) * j["run"], j["id"]))
        order = list(WEIGHTS) + list(WEIGHTS)[::-1]
        for k, j in enumerate(same): j["tenant"] = order[k % len(order)]
    out = []
    for j in jobs:
        run = j["run"] * scale
        actual[j["id"]] = run
        out.append(Job(id=j["id"], tenant=j["tenant"], pool="training", priority=j["priority"],
                       demand=ResourceSpec(cpus=j["cpus"], memory_gb=j["mem"], gpus=j["gpus"]),
                       duration_s=None if j["est"] is None else run * j["est"], preemptible=j["pre"], submitted_at=j["at"]))
    return out, actual


def pct(xs, q):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 1) if xs else None


def measures(r, prefix=""):
    m = {}
    for prio in (2, 1, 0):
        w = [o.queued_s for o in r.outcomes if o.priority == prio]
        m[f"{prefix}prio{prio}_wait_p50_s"], m[f"{prefix}prio{prio}_wait_p95_s"] = pct(w, .5), pct(w, .95)
    gpu, cpu = r.utilization("training", "gpus"), r.utilization("training", "cpus")
    m[f"{prefix}utilization_pct"] = round(100 * (gpu + cpu) / 2, 1)
    m[f"{prefix}gpu_utilization_pct"], m[f"{prefix}cpu_utilization_pct"] = round(100 * gpu, 1), round(100 * cpu, 1)
    m[f"{prefix}fairness_jain"] = round(r.fairness("training", WEIGHTS), 4)
    m[f"{prefix}contended_h"] = round(r.contended_s["training"] / 3600, 1)
    m[f"{prefix}unfinished_jobs"] = sum(o.end is None for o in r.outcomes)
    return m


out = {"machine": f"{platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}",
       "seed": a.seed, "jobs": 1000, "offered_gpu_load_pct": round(100 * a.load, 1)}

# ---- the simulated day
jobs, actual = workload(1000, a.seed, a.load)
t = time.perf_counter()
pol = simulate(jobs, Scheduler(POOLS, QUOTAS), run_s=actual, resume_overhead_s=60, horizon_s=DAY)
fifo = simulate(jobs, FifoScheduler(POOLS), run_s=actual, horizon_s=DAY)
out["simulation_s"] = round(time.perf_counter() - t, 2)
mp, mf = measures(pol), measures(fifo, "fifo_")
out.update(hi_prio_p95_wait_s=mp["prio2_wait_p95_s"], fifo_hi_prio_p95_wait_s=mf["fifo_prio2_wait_p95_s"])
out["hi_prio_p95_wait_pct_of_fifo"] = round(100 * mp["prio2_wait_p95_s"] / mf["fifo_prio2_wait_p95_s"], 2) \
    if mf["fifo_prio2_wait_p95_s"] else None
out.update(fairness_jain=mp["fairness_jain"], fifo_fairness_jain=mf["fifo_fairness_jain"],
           utilization_pct=mp["utilization_pct"], fifo_utilization_pct=mf["fifo_utilization_pct"],
           preemptions=pol.preemptions, preempted_jobs=sum(o.preemptions > 0 for o in pol.outcomes))
out.update(mp); out.update(mf)
out["goal_hi_prio_wait_ok"] = out["hi_prio_p95_wait_pct_of_fifo"] is not None and out["hi_prio_p95_wait_pct_of_fifo"] <= 10
out["goal_fairness_ok"] = out["fairness_jain"] >= 0.95
out["goal_utilization_ok"] = out["utilization_pct"] >= out["fifo_utilization_pct"] - 5
out["sim_decision_us_per_call"] = round(1e6 * pol.decide_s / pol.decisions, 1)

# ---- decision time with 10,000 jobs queued
queue, _ = workload(10_000, a.seed + 1, a.load, prefix="q")
queue = [j.model_copy(update={"submitted_at": float(i)}) for i, j in enumerate(queue)]
s = Scheduler(POOLS, QUOTAS)
t = time.perf_counter()
for j in queue: s.submit(j)
out["submit_us_per_job"] = round(1e6 * (time.perf_counter() - t) / len(queue), 1)
now = 20_000.0
s.decide(now)                                                  # fills the idle cluster from the queue
extra = iter(workload(20_000, a.seed + 3, a.load, start=now, prefix="x")[0])
n_dec = 300 if a.quick else 3000
spent, starts, calls = 0.0, 0, []
for _ in range(n_dec):
    running = s.running("training")
    done = min(running, key=lambda j: (j.started_at + (j.duration_s if j.duration_s is not None else 3600), j.id))
    now += 1.0
    s.finish(done.id)
    s.submit(next(extra).model_copy(update={"submitted_at": now}))
    c = time.perf_counter(); acts = s.decide(now); dt = time.perf_counter() - c
    spent += dt; calls.append(dt)
    starts += sum(x.kind == "start" for x in acts)
out["queued_at_decisions"] = len(s.queued())
out["decision_us_per_job_at_10k"] = round(1e6 * spent / max(starts, 1), 1)
out["decide_call_p50_us_at_10k"] = round(1e6 * statistics.median(calls), 1)
out["decide_call_p99_us_at_10k"] = round(1e6 * sorted(calls)[int(.99 * len(calls))], 1)
snapshot = s.queued() + s.running()
plans = []
for _ in range(5):
    t = time.perf_counter(); plan(snapshot, POOLS, QUOTAS, now=now + 1); plans.append(time.perf_counter() - t)
out["plan_ms_at_10k"] = round(1e3 * statistics.median(plans), 1)     # rebuild from a 10,000-job snapshot, then decide
print(json.dumps(out))
