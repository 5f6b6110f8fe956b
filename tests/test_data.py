"Data factory against a real SQLite file: PII redaction, idempotent ingestion, datasets that load in 🤗 datasets and TRL."
import json, logging, sqlite3
from pathlib import Path
import pytest
from agentfactory.core.errors import InvalidInput, NotFound
from agentfactory.core.records import Event, FunctionCall, Message, Step, ToolCall, Trajectory
from agentfactory.core.store import Store
from agentfactory.data import pii
from agentfactory.data.pii import Redactor, redact, redact_payload, redact_trajectory
from agentfactory.data.ingest import count_events, ingest_events, ingest_trajectories, load_events, load_trajectories
from agentfactory.data.datasets import build_dataset, dataset_lineage, get_dataset, list_datasets

PII = ["Maria", "Gonzalez", "maria.gonzalez@example.com", "555-0142", "Ahmed", "ahmed.khan@mail.com", "4111 1111 1111 1111"]
SYSTEM = "You are the support desk of an online shop. Use the tools to look up orders and customers."
TOOLS = [{"type": "function", "function": {"name": "get_order", "description": "Look up an order by its id.",
          "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}},
         {"type": "function", "function": {"name": "get_customer", "description": "Look up a customer by id.",
          "parameters": {"type": "object", "properties": {"customer_id": {"type": "string"}, "verbose": {"type": "boolean"}},
                         "required": ["customer_id"]}}}]

def order_lookup(id="traj_order_a1001", source="rollout", success=True) -> Trajectory:
    "An order lookup whose tool result carries the customer's personal data."
    result = json.dumps({"order_id": "A1001", "customer_id": "C1001", "customer": {"name": "Maria Gonzalez",
                         "email": "maria.gonzalez@example.com", "phone": "+1-555-0142"}, "status": "shipped",
                         "carrier": "UPS", "total": 42.50, "currency": "USD", "placed_at": "2026-11-02",
                         "items": [{"sku": "WM-1", "name": "Wireless Mouse", "qty": 1, "price": 42.50}]})
    return Trajectory(id=id, source=source, scenario_id="support-desk", scenario_version="v1", task_id="t1", level=1,
                      model_version="expert", success=success, reward=1.0 if success else 0.0, messages=[
        Message(role="system", content=SYSTEM),
        Message(role="user", content="Hi, this is Maria Gonzalez (phone 555-0142). Has my order A1001 shipped yet?"),
        Message(role="assistant", tool_calls=[ToolCall(id="call_1", function=FunctionCall(name="get_order", arguments={"order_id": "A1001"}))]),
        Message(role="tool", tool_call_id="call_1", name="get_order", content=result),
        Message(role="assistant", content="Yes Maria, order A1001 shipped with UPS on 2026-11-02; the total was 42.50 USD.")],
        steps=[Step(action_index=2, observations=[result], latency_ms=31.0), Step(action_index=4, latency_ms=12.0, reward=1.0)])

def customer_lookup(id="traj_customer_c1002") -> Trajectory:
    result = json.dumps({"id": "C1002", "name": "Ahmed Khan", "email": "ahmed.khan@mail.com", "tier": "gold",
                         "card": "4111 1111 1111 1111", "orders": ["A1002", "A1005"]})
    return Trajectory(id=id, scenario_id="support-desk", scenario_version="v1", level=1, model_version="expert",
                      success=True, reward=1.0, messages=[
        Message(role="system", content=SYSTEM),
        Message(role="user", content="Which tier is customer C1002 in?"),
        Message(role="assistant", tool_calls=[ToolCall(id="call_2", function=FunctionCall(
            name="get_customer", arguments={"customer_id": "C1002", "verbose": True}))]),
        Message(role="tool", tool_call_id="call_2", name="get_customer", content=result),
        Message(role="assistant", content="Customer C1002 is in the gold tier; orders A1002 and A1005 are delivered by DHL.")],
        steps=[Step(action_index=2, observations=[result]), Step(action_index=4)])

@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path/'factory.db'}")

def raw_dump(db: Path) -> str:
    "Every row of every table, read with plain sqlite3, plus the raw bytes of the database and its WAL."
    con = sqlite3.connect(db)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    rows = [repr(r) for t in tables for r in con.execute(f'SELECT * FROM "{t}"')]
    con.close()
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    return "\n".join(rows) + raw.decode("utf-8", "replace")

# --- PII ---------------------------------------------------------------------------------------------------

def test_redact_trajectory_consistent_placeholders_and_business_facts_survive():
    red = redact_trajectory(order_lookup())
    text = red.model_dump_json()
    for s in PII[:4]: assert s not in text, s
    tool = json.loads(red.messages[3].content)
    assert tool["customer"] == {"name": "<PERSON_1>", "email": "<EMAIL_ADDRESS_1>", "phone": "<PHONE_NUMBER_1>"}
    # the same person and phone get the same placeholders in the user message and the answer
    assert red.messages[1].content == "Hi, this is <PERSON_1> (phone <PHONE_NUMBER_1>). Has my order A1001 shipped yet?"
    assert red.messages[4].content == "Yes <PERSON_1>, order A1001 shipped with UPS on 2026-11-02; the total was 42.50 USD."
    assert (tool["order_id"], tool["customer_id"], tool["status"], tool["carrier"], tool["total"], tool["placed_at"]) == \
           ("A1001", "C1001", "shipped", "UPS", 42.5, "2026-11-02")
    assert tool["items"] == [{"sku": "WM-1", "name": "Wireless Mouse", "qty": 1, "price": 42.5}]
    assert red.messages[2].tool_calls[0].function.arguments == {"order_id": "A1001"}
    assert red.steps[0].observations == [red.messages[3].content]
    assert red.messages[0].content == SYSTEM
    assert redact_trajectory(red) == red                       # idempotent

def test_redact_text_payload_and_patterns():
    assert redact("Call Maria Gonzalez at 555-0142 or maria.gonzalez@example.com") == \
        "Call <PERSON> at <PHONE_NUMBER> or <EMAIL_ADDRESS>"
    facts = "Orders A1001, A1002 (customer C1001): shipped by FedEx, delivered by USPS, one processing, one cancelled; 42.50 on 2026-11-02."
    assert redact(facts) == facts
    out = redact("Card 4111 1111 1111 1111, IBAN DE89370400440532013000, IP 192.168.1.20, SSN 536-22-1234")
    assert out == "Card <CREDIT_CARD>, IBAN <IBAN_CODE>, IP <IP_ADDRESS>, SSN <US_SSN>"
    p = redact_payload({"user": {"email": "maria.gonzalez@example.com"}, "note": "maria.gonzalez@example.com again",
                        "order_id": "A1001", "n": 3})
    assert p == {"user": {"email": "<EMAIL_ADDRESS_1>"}, "note": "<EMAIL_ADDRESS_1> again", "order_id": "A1001", "n": 3}
    r = Redactor()
    assert r.redact("Ahmed Khan wrote") == "<PERSON_1> wrote" and r.redact("Li Wei replied to Ahmed Khan") == "<PERSON_2> replied to <PERSON_1>"

def test_blank_spacy_fallback_keeps_pattern_redaction(monkeypatch, caplog):
    monkeypatch.setattr(pii, "SPACY_MODEL", "no_such_spacy_model")
    pii.get_analyzer.cache_clear(); pii.clear_cache()
    try:
        with caplog.at_level(logging.WARNING, logger="agentfactory.data.pii"):
            assert redact("write to maria.gonzalez@example.com") == "write to <EMAIL_ADDRESS>"
        assert "falling back to spacy.blank" in caplog.text
    finally:
        pii.get_analyzer.cache_clear(); pii.clear_cache()

# --- ingest ------------------------------------------------------------------------------------------------

def test_ingest_twice_no_duplicates_and_no_pii_in_database(store, tmp_path):
    trajs = [order_lookup(), customer_lookup()]
    assert ingest_trajectories(trajs, store=store) == ["traj_order_a1001", "traj_customer_c1002"]
    n = count_events(store)
    assert n == 2 * (2 + 1 + 1 + 1)                 # per trajectory: 2 actions, 1 call, 1 observation, 1 reward
    assert ingest_trajectories(trajs, store=store) == ["traj_order_a1001", "traj_customer_c1002"]
    assert count_events(store) == n and len(load_trajectories(store)) == 2
    assert count_events(store, type="tool_call", trajectory_id="traj_order_a1001") == 1
    dump = raw_dump(tmp_path/"factory.db")
    assert "<PERSON_1>" in dump and "A1001" in dump and "UPS" in dump
    for s in PII: assert s not in dump, f"{s!r} reached the database"

def test_load_trajectories_filters(store):
    ingest_trajectories([order_lookup(), order_lookup("traj_fail", source="eval", success=False), customer_lookup()], store=store)
    assert [t.id for t in load_trajectories(store, success=False)] == ["traj_fail"]
    assert {t.id for t in load_trajectories(store, source="rollout")} == {"traj_order_a1001", "traj_customer_c1002"}
    assert [t.id for t in load_trajectories(store, ids=["traj_customer_c1002"])] == ["traj_customer_c1002"]
    assert len(load_trajectories(store, model_version="expert", scenario_id="support-desk")) == 3
    assert load_trajectories(store, model_version="M7") == []
    t = load_trajectories(store, ids=["traj_order_a1001"])[0]
    assert t.messages[2].tool_calls[0].function.arguments == {"order_id": "A1001"} and t.steps[0].latency_ms == 31.0

def test_bad_event_batch_stores_nothing(store):
    good = {"id": "ev_1", "type": "feedback", "session_id": "s1", "payload": {"text": "great, thanks! Maria Gonzalez"}}
    with pytest.raises(InvalidInput, match=r"event 1: field 'type'"):
        ingest_events([good, {"id": "ev_2", "type": "not-a-type"}], store=store)
    with pytest.raises(InvalidInput, match=r"event 2: field 'ts'"):
        ingest_events([good, Event(type="reward"), {"type": "reward", "ts": "yesterday"}], store=store)
    assert count_events(store) == 0
    assert ingest_events([good, Event(id="ev_3", type="reward", session_id="s1", payload={"reward": 1.0})], store=store) == ["ev_1", "ev_3"]
    assert ingest_events([good], store=store) == ["ev_1"]
    assert count_events(store, session_id="s1") == 2
    assert load_events(store, type="feedback")[0].payload == {"text": "great, thanks! <PERSON_1>"}

# --- datasets ----------------------------------------------------------------------------------------------

def test_build_dataset_content_hashed_with_lineage(store, tmp_path):
    ingest_trajectories([order_lookup(), customer_lookup(), order_lookup("traj_fail", success=False)], store=store)
    trajs, root = load_trajectories(store), tmp_path/"artifacts"/"datasets"
    d1 = build_dataset("sft", trajs, store=store, out_root=root, filters={"success": True}, tools=TOOLS)
    assert (d1.id, d1.rows, d1.kind) == ("D1", 2, "sft") and d1.parquet_path.exists() and d1.jsonl_path.exists()
    mtime = d1.parquet_path.stat().st_mtime_ns
    again = build_dataset("sft", list(reversed(trajs)), store=store, out_root=root, filters={"success": True}, tools=TOOLS)
    assert (again.id, again.hash) == (d1.id, d1.hash) and d1.parquet_path.stat().st_mtime_ns == mtime
    assert [d.id for d in list_datasets(store)] == ["D1"]
    assert dataset_lineage("D1", store) == ["traj_customer_c1002", "traj_order_a1001"]
    assert get_dataset("D1", store) == d1
    d2 = build_dataset("sft", trajs, store=store, out_root=root, tools=TOOLS)
    assert d2.id == "D2" and d2.rows == 3 and d2.hash != d1.hash and d2.stats["success_rate"] == round(2/3, 4)
    with pytest.raises(NotFound, match="dataset 'D3' not found"): get_dataset("D3", store)
    with pytest.raises(InvalidInput): build_dataset("sft", [], store=store, out_root=root)
    with pytest.raises(InvalidInput, match="unknown filter"): build_dataset("sft", trajs, store=store, out_root=root, filters={"colour": 1})
    for s in PII: assert s not in d2.jsonl_path.read_text()

def test_dataset_loads_with_hf_datasets(store, tmp_path):
    from datasets import load_dataset
    d = build_dataset("sft", [redact_trajectory(order_lookup()), redact_trajectory(customer_lookup())], store=store,
                      out_root=tmp_path/"ds", tools=TOOLS)
    expected = {json.loads(l)["trajectory_id"]: json.loads(l) for l in d.jsonl_path.read_text().splitlines()}
    pq = load_dataset("parquet", data_files=str(d.parquet_path), split="train")
    js = load_dataset("json", data_files=str(d.jsonl_path), split="train")
    assert pq.num_rows == js.num_rows == 2 and set(pq.column_names) == {"trajectory_id", "messages", "tools"}
    for row in pq:
        exp = expected[row["trajectory_id"]]
        got = [{k: v for k, v in m.items() if v is not None} for m in row["messages"]]
        assert got == exp["messages"]                       # nested messages round-trip, arguments without null keys
        assert json.loads(row["tools"]) == TOOLS
    assert pq[0]["messages"][2]["tool_calls"][0]["function"]["arguments"] in ({"order_id": "A1001"}, {"customer_id": "C1002", "verbose": True})
    exact = d.load("json")
    assert [{k: v for k, v in m.items() if v is not None} for m in exact[0]["messages"]] == expected[exact[0]["trajectory_id"]]["messages"]

def test_dataset_rows_feed_trl_sft_trainer(store, tmp_path):
    "Tiny from-scratch tokenizer and Qwen2 model: SFTTrainer renders the tools into the system turn and trains a step."
    trl = pytest.importorskip("trl")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
    d = build_dataset("sft", [redact_trajectory(order_lookup()), redact_trajectory(customer_lookup())], store=store,
                      out_root=tmp_path/"ds", tools=TOOLS)
    ds = d.load()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]
    tk = Tokenizer(models.BPE()); tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False); tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator([d.jsonl_path.read_text()], trainers.BpeTrainer(
        vocab_size=500, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.chat_template = (Path(trl.__file__).parent/"chat_templates"/"qwen2_5.jinja").read_text()
    model = Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id))
    args = trl.SFTConfig(output_dir=str(tmp_path/"out"), max_steps=1, per_device_train_batch_size=2, use_cpu=True, bf16=False,
                         gradient_checkpointing=False, assistant_only_loss=True, report_to=[], save_strategy="no")
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    text = tok.decode(trainer.train_dataset[0]["input_ids"])
    assert '<tools>\n{"type": "function", "function": {"name": "get_order"' in text           # the tools column was used
    assert '"arguments": {"order_id": "A1001"}' in text or '"arguments": {"customer_id": "C1002", "verbose": true}' in text
    assert "null" not in text
    assert any(l != -100 for l in trainer.train_dataset[0]["labels"])
    assert trainer.train().global_step == 1

def test_analyze_many_in_worker_processes_matches_one_by_one(monkeypatch, caplog):
    "A big batch is shared with a spawned worker process; its spans equal analyzing each text alone, in order."
    texts = [f"Hi, I'm {n} ({p}). Where is order A{1000 + i}? Mail me at {n.split()[0].lower()}@example.com"
             for i, (n, p) in enumerate(zip(["Maria Gonzalez", "Ahmed Khan", "Priya Raghunathan", "Yuki Sato"] * 6,
                                            [f"555-01{k:02d}" for k in range(24)]))]
    monkeypatch.setenv("AGENTFACTORY_PII_WORKERS", "1")
    monkeypatch.setattr(pii, "PARALLEL_MIN", 8)
    pii.clear_cache()
    shared = pii.analyze_many(texts + texts[:3])
    assert pii._POOL is not None                          # the worker was used, not just this process
    pii.clear_cache()
    alone = [pii.analyze(t) for t in texts]
    assert shared == alone + alone[:3]
    assert all(any(s[0] == "PERSON" for s in sp) and any(s[0] == "EMAIL_ADDRESS" for s in sp) for sp in alone)
    monkeypatch.setenv("AGENTFACTORY_PII_WORKERS", "two")
    with pytest.raises(InvalidInput, match="AGENTFACTORY_PII_WORKERS"): pii.pii_workers()


def test_a_killed_pii_worker_loses_no_text_and_is_replaced(monkeypatch, caplog):
    "A worker killed between batches: the next batch is analyzed here (same spans), and the batch after gets fresh workers."
    import os, signal, time
    monkeypatch.setenv("AGENTFACTORY_PII_WORKERS", "1")
    monkeypatch.setattr(pii, "PARALLEL_MIN", 8)
    batch = lambda k: [f"Dear {n}, order A{k}{i:03d} shipped; call 555-01{i:02d}." for i, n in
                       enumerate(["Maria Gonzalez", "Ahmed Khan", "Yuki Sato", "Priya Raghunathan"] * 4)]
    pii.clear_cache()
    pii.analyze_many(batch(1))
    old = pii._POOL
    for w in list(old._processes): os.kill(w, signal.SIGKILL)
    time.sleep(1.0)
    with caplog.at_level("WARNING", logger="agentfactory.data.pii"): got = pii.analyze_many(batch(2))
    assert "PII worker" in caplog.text and pii._POOL is None      # the broken pool is shut down and forgotten
    pii.clear_cache()
    assert got == [pii.analyze(t) for t in batch(2)] and all(any(e[0] == "PERSON" for e in sp) for sp in got)
    pii.clear_cache()
    again = pii.analyze_many(batch(3))                            # a fresh pool takes its share again
    assert pii._POOL is not None and pii._POOL is not old and len(again) == 16


def test_pii_worker_exits_when_its_parent_is_killed(tmp_path):
    "A server killed with -9 sends its PII workers no shutdown: they notice the parent is gone and exit."
    import os, signal, subprocess, sys, time
    code = ("import os, time; os.environ['AGENTFACTORY_PII_WORKERS'] = '1'\n"
            "from agentfactory.data import pii; pii.PARALLEL_MIN = 4\n"
            "pii.analyze_many([f'Call Maria Gonzalez about order A{1000 + i}' for i in range(12)])\n"
            "print(*pii._POOL._processes, flush=True); time.sleep(600)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "AGENTFACTORY_ARTIFACT_ROOT": str(tmp_path)})
    try:
        workers = [int(w) for w in p.stdout.readline().split()]
        assert workers and all(os.path.exists(f"/proc/{w}") for w in workers)
    finally:
        p.send_signal(signal.SIGKILL); p.wait()
    deadline = time.time() + 20
    while time.time() < deadline and any(os.path.exists(f"/proc/{w}") for w in workers): time.sleep(0.5)
    assert not any(os.path.exists(f"/proc/{w}") for w in workers), "a PII worker outlived its killed parent"
