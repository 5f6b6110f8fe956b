"Bulk event ingest (Parquet under the artifact root, one SQL row per batch), at reduced size, on SQLite and PostgreSQL."
import json
import re
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
def store(store_url, af_home):
    "A fresh store; the artifact root (which holds the subject-index key) under the test's tmp_path."
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


OFFICER = "privacy-officer@shop.example"


def others(n: int, day: int) -> list[dict]:
    "Another customer's feedback (Ahmed Khan) and structured events naming him by customer id, on day `day`."
    ts = lambda i: (T0 + timedelta(days=day, minutes=i)).isoformat()
    return ([{"id": f"ak{day}_{i}", "type": "feedback", "session_id": f"a{day}", "ts": ts(i),
              "payload": {"text": "Ahmed Khan here, ahmed.khan@mail.com. Order A2001 arrived, thanks!"}} for i in range(n)]
            + [{"id": f"ac{day}", "type": "tool_call", "session_id": f"a{day}", "ts": ts(n),
                "payload": {"name": "get_customer", "arguments": {"customer_id": "C2002"}}}])


def batch_rows(store) -> dict:
    "The batch rows in SQL, by id."
    from agentfactory.data.bulk import _BatchRow, _store
    with _store(store).session() as s: return {r.id: (r.path, r.n, r.hash) for r in s.query(_BatchRow)}


def test_delete_subject_rewrites_the_bulk_batches_holding_their_events(store, tmp_path):
    from collections import Counter
    from agentfactory.data.bulk import _content_hash
    from agentfactory.data.lineage import delete_subject, list_audit
    acme = [{**e, "id": f"acme-{e['id']}"} for e in events(30, tenant="acme")]
    evs = events(240) + acme + others(4, day=0) + others(3, day=5)
    is_maria = lambda e: "Maria" in json.dumps(e)
    res = ingest_bulk(evs, store=store, root=tmp_path)
    assert sorted((b.tenant, b.date) for b in res.batches) == [("acme", "2026-11-02"), ("default", "2026-11-02"),
                                                               ("default", "2026-11-03"), ("default", "2026-11-07")]
    untouched = next(b for b in res.batches if b.date == "2026-11-07")      # only Ahmed's events
    full = scan_events(store).collect()
    assert full.height == len(evs) and "Maria" not in "".join(full["payload"])   # stored redacted: the index knows her

    # one tenant first: Maria's events of the other tenant stay
    in_acme = delete_subject(email="Maria.Gonzalez@Example.com", tenant="acme", requested_by=OFFICER, store=store)
    assert (in_acme.bulk_events, in_acme.events) == (10, 0)
    assert scan_events(store, tenant="acme").collect().height == 20
    assert scan_events(store, tenant="default").collect().height == 240 + 5 + 4

    # then everywhere, by her phone number as the requester writes it
    rep = delete_subject(phone="(555) 0142", requested_by=OFFICER, store=store)
    assert rep.bulk_events == 80
    left = scan_events(store).collect()
    assert sorted(left["id"]) == sorted(e["id"] for e in evs if not is_maria(e))      # the others all remain

    # the two default-tenant batches of her days were written again: old files gone, new rows with counts and hashes
    rewritten = [b for b in res.batches if b.tenant == "default" and b.date != "2026-11-07"]
    assert sorted(rep.event_batches) == sorted(b.id for b in rewritten)
    rows, hers = batch_rows(store), Counter(e["ts"][:10] for e in evs if e.get("tenant", "default") == "default" and is_maria(e))
    for b in rewritten:
        new = rep.event_batches[b.id]
        assert not b.path.exists() and str(b.path) in rep.files_purged and b.id not in rows
        path, n, h = rows[new]
        part = pl.read_parquet(path)
        assert n == part.height == b.n - hers[b.date] and not any(is_maria(e) for e in evs if e["id"] in set(part["id"]))
        assert h == _content_hash(part) and h.startswith(new) and Path(path).name == f"batch-{new}.parquet"
    assert untouched.path.exists() and rows[untouched.id][0] == str(untouched.path)

    # the audit row says what happened to the batches, and nothing about Maria in the clear
    audit = list_audit(store)[0]
    assert (audit.id, audit.bulk_events, audit.event_batches) == (rep.id, 80, rep.event_batches)
    assert all(str(b.path) in audit.files_purged for b in rewritten)
    clear = re.sub(r"[0-9a-f]{16,}", "#", audit.model_dump_json())     # ids and hashes are hex; "0142" may occur in one
    assert "maria" not in clear.lower() and "0142" not in clear and "5550142" not in audit.model_dump_json()

    # a person id under a structured key is indexed too; a batch with nothing left loses its row and file
    by_id = delete_subject(customer_id="c2002", requested_by=OFFICER, store=store)
    assert by_id.bulk_events == 2 and sorted(scan_events(store, session_id="a5").collect()["id"]) == ["ak5_0", "ak5_1", "ak5_2"]
    day5 = Path(batch_rows(store)[by_id.event_batches[untouched.id]][0])
    by_email = delete_subject(email="ahmed.khan@mail.com", requested_by=OFFICER, store=store)
    assert by_email.bulk_events == 7 and by_email.event_batches[day5.name[6:-8]] is None
    assert scan_events(store, session_id="a5").collect().height == 0 and not day5.exists()
    assert scan_events(store).collect().height == len(evs) - 90 - 9
    again = delete_subject(email="maria.gonzalez@example.com", requested_by=OFFICER, store=store)
    assert (again.bulk_events, again.event_batches) == (0, {})


def test_unredacted_batches_are_indexed_by_their_contact_fields(store, tmp_path):
    from agentfactory.data.lineage import delete_subject
    evs = [{"id": "u1", "type": "feedback", "session_id": "s1", "ts": T0.isoformat(),
            "payload": {"email": "li.wei@example.com", "rating": 2}},
           {"id": "u2", "type": "feedback", "session_id": "s2", "ts": T0.isoformat(), "payload": {"rating": 5}}]
    ingest_bulk(evs, store=store, root=tmp_path, redact=False)
    rep = delete_subject(email="Li.Wei@example.com", requested_by=OFFICER, store=store)
    assert rep.bulk_events == 1 and scan_events(store).collect()["id"].to_list() == ["u2"]
    by_session = delete_subject(session_id="s2", requested_by=OFFICER, store=store)
    assert by_session.bulk_events == 1 and scan_events(store).collect().height == 0


def test_an_interrupted_bulk_rewrite_is_finished_by_the_next_deletion(store, tmp_path, monkeypatch):
    from agentfactory.data import bulk
    from agentfactory.data.lineage import delete_subject
    evs = events(30)
    res = ingest_bulk(evs, store=store, root=tmp_path)
    old = res.batches[0].path
    finish = bulk._finish_deletion
    monkeypatch.setattr(bulk, "_finish_deletion", lambda d: None)          # the process dies right after the commit
    rep = delete_subject(email="maria.gonzalez@example.com", requested_by=OFFICER, store=store)
    assert rep.bulk_events == 10 and old.exists() and scan_events(store).collect().height == 20
    monkeypatch.setattr(bulk, "_finish_deletion", finish)
    delete_subject(customer_id="C0000", requested_by=OFFICER, store=store)
    assert not old.exists()
    # the same content sent again is a new batch at the old path: later deletions leave it alone
    assert ingest_bulk(evs, store=store, root=tmp_path).new_events == 30 and old.exists()
    delete_subject(customer_id="C0000", requested_by=OFFICER, store=store)
    assert old.exists() and scan_events(store).collect().height == 30
