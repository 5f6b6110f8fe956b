"""Ingest throughput: events per minute through the bulk path (Parquet + one SQL row per batch) and the SQL path.

Structured events (tool calls, rewards, latencies: ids and categories, no free text) and free-text events (customer
messages with names, emails, phones, cards) through PII redaction, at a few batch sizes, on a fresh artifact root and
SQLite store. Prints one JSON object: events/min per batch size, and the share of time each stage takes.
Usage: python bench/ingest.py [--quick]"""
import argparse, json, os, platform, random, shutil, tempfile, time
from datetime import datetime, timedelta, timezone

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
a = p.parse_args()
tmp = tempfile.mkdtemp(prefix="agentfactory-bench-ingest-")
os.environ["AGENTFACTORY_ARTIFACT_ROOT"] = tmp
os.environ["AGENTFACTORY_DB_URL"] = ""

from agentfactory.core.store import Store
from agentfactory.data.bulk import ingest_bulk, scan_events
from agentfactory.data.ingest import ingest_events

STRUCTURED_SIZES = (1_000, 10_000) if a.quick else (1_000, 10_000, 100_000)
TEXT_SIZES = (200, 1_000) if a.quick else (500, 2_000, 10_000)
T0 = datetime(2026, 11, 2, tzinfo=timezone.utc)
rng = random.Random(0)
ORDERS = [f"A{1000 + i}" for i in range(240)]            # the shop's orders (60 customers × 4)
TOOLS = ["get_order", "get_customer", "search_orders", "refund"]
FIRST = ["Maria", "Ahmed", "Priya", "Wei", "Yuki", "Lucas", "Fatima", "John", "Olga", "Kwame", "Sofia", "Liam"]
LAST = ["Gonzalez", "Khan", "Raghunathan", "Zhang", "Sato", "Silva", "Haddad", "Smith", "Ivanova", "Mensah", "Rossi", "Byrne"]
TEMPLATES = ["Hi, this is {name} ({phone}). Has my order {order} shipped yet?",
             "My order {order} arrived damaged. Please refund it to my card {card}. Thanks, {name}",
             "Can you send the invoice for {order} to {email}? I'm {name}.",
             "Where is {order}? It was supposed to arrive yesterday.",
             "I'd like to change the delivery address of {order} to 12 Baker Street, London.",
             "Thanks, that solved it!"]

def structured(n: int, batch: int) -> list[dict]:
    out = []
    for i in range(n):
        k, ts, sess = i % 3, (T0 + timedelta(milliseconds=37 * i)).isoformat(), f"sess_{batch}_{i // 8}"
        base = {"id": f"b{batch}_ev{i}", "session_id": sess, "ts": ts, "agent_version": "support-agent:M3"}
        if k == 0: out.append({**base, "type": "tool_call", "payload": {"name": rng.choice(TOOLS), "latency_ms": round(rng.random() * 80, 2),
                                                                         "arguments": {"order_id": rng.choice(ORDERS)}}})
        elif k == 1: out.append({**base, "type": "environment_observation", "payload": {"status": rng.choice(["shipped", "pending", "delivered"]),
                                                                                         "http_status": 200, "bytes": rng.randint(80, 900)}})
        else: out.append({**base, "type": "reward", "payload": {"reward": float(rng.random() > 0.2), "steps": rng.randint(1, 6)}})
    return out

def free_text(n: int, batch: int) -> list[dict]:
    out = []
    for i in range(n):
        f, l = rng.choice(FIRST), rng.choice(LAST)
        text = rng.choice(TEMPLATES).format(name=f"{f} {l}", order=rng.choice(ORDERS), phone=f"555-{rng.randint(0, 9999):04d}",
                                            email=f"{f.lower()}.{l.lower()}@example.com", card="4111 1111 1111 1111")
        out.append({"id": f"t{batch}_ev{i}", "type": "feedback", "session_id": f"sess_t{batch}_{i // 4}",
                    "ts": (T0 + timedelta(seconds=i)).isoformat(), "payload": {"text": text, "channel": "chat"}})
    return out

def run(make, sizes, redact, batch_base, warm_up):
    """Events/min per batch size after a warm-up batch (imports, the PII analyzer and its cache of the shop's ids and
    categories), and the share of the time each stage took over the timed batches."""
    store = Store(f"sqlite:///{tmp}/bulk-{batch_base}.db")
    ingest_bulk(make(warm_up, batch_base), store=store, redact=redact)
    rates, stages = {}, {}
    for j, n in enumerate(sizes):
        evs = make(n, batch_base + j + 1)
        t0 = time.perf_counter()
        res = ingest_bulk(evs, store=store, redact=redact)
        dt = time.perf_counter() - t0
        assert res.new_events == n, res
        rates[str(n)] = round(n / dt * 60)
        for k, v in res.timings.items(): stages[k] = stages.get(k, 0.0) + v
    total = sum(stages.values())
    return rates, {k: round(v / total, 3) for k, v in stages.items()}, store

out = {"unit": "events per minute, by batch size (events per ingest_bulk call)"}
t_all, load0 = time.perf_counter(), os.getloadavg()[0]
out["structured_events_per_min"], out["structured_time_share"], st = run(structured, STRUCTURED_SIZES, True, 100, 3_000)
out["structured_no_redaction_events_per_min"], _, _ = run(structured, STRUCTURED_SIZES, False, 200, 1_000)
# the warm-up batch is big enough (> pii.PARALLEL_MIN new texts) to start the PII worker processes before timing
out["redacted_events_per_min"], out["redacted_time_share"], _ = run(free_text, TEXT_SIZES, True, 300, 1_000)
out["redaction_share"] = out["redacted_time_share"].get("redact")
from agentfactory.data.pii import PARALLEL_MIN, pii_workers
out["pii_worker_processes"] = {"extra_processes": pii_workers(), "from_new_texts": PARALLEL_MIN}

# inside redaction, per text not seen before: spaCy's NER pipeline one text at a time (what `pii.analyze` does), the
# same texts through `nlp.pipe` in batches (what ingest does: `pii.analyze_many`), and Presidio's recognizers on top
from agentfactory.data import pii
an, kw = pii.get_analyzer(), dict(language="en", entities=list(pii.ENTITIES), score_threshold=0.35)
texts = list(dict.fromkeys(e["payload"]["text"] for e in free_text(300, 990)))[:150]
t0 = time.perf_counter(); [an.nlp_engine.process_text(t, "en") for t in texts]; t1 = time.perf_counter()
arts = list(an.nlp_engine.process_batch(texts, language="en", batch_size=64)); t2 = time.perf_counter()
[an.analyze(text=t, nlp_artifacts=art, **kw) for t, art in arts]; t3 = time.perf_counter()
out["redaction_ms_per_new_text"] = {"spacy_one_by_one": round((t1 - t0) / len(texts) * 1e3, 2),
                                    "spacy_batched": round((t2 - t1) / len(texts) * 1e3, 2),
                                    "presidio_recognizers": round((t3 - t2) / len(texts) * 1e3, 2)}

# reading back: a filtered lazy scan over everything the structured runs wrote
t0 = time.perf_counter()
n = scan_events(st, type="reward").select("id").collect().height
out["scan_rewards_s"] = round(time.perf_counter() - t0, 3)

# the SQL path (one row per event) at one batch size, for comparison
sql = Store(f"sqlite:///{tmp}/sql.db")
ingest_events(structured(200, 900), store=sql, redact=False)
n_sql = 2_000 if a.quick else 10_000
evs = structured(n_sql, 901)
t0 = time.perf_counter()
ingest_events(evs, store=sql, redact=False)
out["sql_path_events_per_min"] = {str(n_sql): round(n_sql / (time.perf_counter() - t0) * 60)}
out["goals_events_per_min"] = {"structured": 1_000_000, "redacted": 100_000}
out["machine"] = f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_implementation()} {platform.python_version()}"
out["load_avg_1m"] = {"start": round(load0, 2), "end": round(os.getloadavg()[0], 2)}   # other work on the same cores slows every figure
out["bench_s"] = round(time.perf_counter() - t_all, 1)
print(json.dumps(out))
shutil.rmtree(tmp, ignore_errors=True)
