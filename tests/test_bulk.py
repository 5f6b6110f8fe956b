"Bulk event ingest (Parquet under the artifact root, one SQL row per batch), at reduced size, on SQLite and PostgreSQL."
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
import polars as pl
import pyarrow.parquet as pq
import pytest
from agentfactory.core.errors import InvalidInput
from agentfactory.core.store import Store
from agentfactory.data.bulk import ingest_bulk, scan_events

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
PII = ["Maria Gonzalez", "maria.gonzalez@example.com", "555-0142", "4111 1111 1111 1111"]

def events(n=300, tenant="default"):
    "Structured tool calls and rewards, plus free-text feedback carrying a customer's personal data."
    out = []
    for i in range(n):
        ts, sess = T0 + timedelta(minutes=i * 7), f"s{i // 10}"
        if i % 3 == 0:
            out.append({"id": f"ev{i}", "type": "feedback", "tenant": tenant, "session_id": sess, "ts": ts.isoformat(),
                        "payload": {"text": f"Hi, this is Maria Gonzalez (maria.gonzalez@example.com, 555-0142). "
                                            f"Order A{1000 + i} never arrived; card 4111 1111 1111 1111."}})
        elif i % 3 == 1:
            out.append({"id": f"ev{i}", "type": "tool_call", "tenant": tenant, "session_id": sess, "ts": ts.isoformat(),
                        "payload": {"name": "get_order", "arguments": {"order_id": f"A{1000 + i}"}, "latency_ms": 12.5}})
        else:
            out.append({"id": f"ev{i}", "type": "reward", "tenant": tenant, "session_id": sess, "ts": ts.isoformat(),
                        "payload": {"reward": 1.0, "steps": 3}})
    return out

@pytest.fixture
def store(store_url):
    st = Store(store_url)
    yield st
    st.engine.dispose()

def all_text(path: Path) -> str:
    "Every value of a Parquet file, decoded (the file itself is zstd-compressed)."
    return json.dumps(pq.read_table(path).to_pylist(), default=str)

def test_round_trip(store, tmp_path):
    evs = events()
    res = ingest_bulk(evs, store=store, root=tmp_path, redact=False)
    days = sorted({e["ts"][:10] for e in evs})
    assert (res.events, res.new_events, [b.date for b in res.batches]) == (300, 300, days)
    for b in res.batches:
        assert b.path.is_file() and b.path.is_relative_to(tmp_path / "events" / "tenant=default" / f"date={b.date}")
    df = scan_events(store).collect()
    assert df.height == 300 and sorted(df["id"]) == sorted(e["id"] for e in evs)
    back = {r["id"]: r for r in df.to_dicts()}
    for e in evs[:20]:
        r = back[e["id"]]
        assert (r["type"], r["session_id"], r["ts"]) == (e["type"], e["session_id"], datetime.fromisoformat(e["ts"]))
        assert json.loads(r["payload"]) == e["payload"]
    # filters: type, session, time window (since ≤ ts < until)
    assert scan_events(store, type="reward").collect().height == 100
    assert set(scan_events(store, session_id="s3").collect()["id"]) == {f"ev{i}" for i in range(30, 40)}
    since, until = T0 + timedelta(hours=24), T0 + timedelta(hours=30)
    got = scan_events(store, since=since, until=until).collect()
    want = [e["id"] for e in evs if since <= datetime.fromisoformat(e["ts"]) < until]
    assert sorted(got["id"]) == sorted(want) and want
    assert scan_events(store, tenant="other").collect().height == 0

def test_idempotent_reingest(store, tmp_path):
    evs = events(120)
    first = ingest_bulk(evs, store=store, root=tmp_path)
    files = sorted(tmp_path.rglob("*.parquet"))
    again = ingest_bulk(list(reversed(evs)), store=store, root=tmp_path)   # same content, other order: same batches
    assert again.new_events == 0 and [b.id for b in again.batches] == [b.id for b in first.batches]
    assert not any(b.new for b in again.batches) and sorted(tmp_path.rglob("*.parquet")) == files
    # the same ids in a different batch are stored but read back once
    ingest_bulk(evs[:10] + events(130)[120:], store=store, root=tmp_path)
    df = scan_events(store).collect()
    assert df.height == 130 and df["id"].n_unique() == 130

def test_bad_event_rejects_the_batch(store, tmp_path):
    evs = events(30)
    bad = dict(evs[7], type="thumbs_up")
    with pytest.raises(InvalidInput, match=r"event 7: field 'type'"):
        ingest_bulk(evs[:7] + [bad] + evs[8:], store=store, root=tmp_path)
    with pytest.raises(InvalidInput, match=r"event 2: field 'ts'"):
        ingest_bulk(evs[:2] + [dict(evs[2], ts="not a time")], store=store, root=tmp_path)
    assert scan_events(store).collect().height == 0 and not list(tmp_path.rglob("*.parquet"))

def test_pii_redacted_in_parquet(store, tmp_path):
    evs = events(30)
    res = ingest_bulk(evs, store=store, root=tmp_path / "redacted")
    text = "".join(all_text(b.path) for b in res.batches)
    for s in PII: assert s not in text, s
    assert "<PERSON_1>" in text and "<EMAIL_ADDRESS_1>" in text and "A1003" in text   # business ids stay
    raw = ingest_bulk(evs, store=store, root=tmp_path / "raw", redact=False)     # the control: the PII is there
    assert all(s in "".join(all_text(b.path) for b in raw.batches) for s in PII)
