"Models factory: the tiny model end to end, OpenAIPolicy over a real loopback HTTP server, SmolLM2 from GGUF (slow)."
import time
from pathlib import Path

import pytest

from agentfactory.core.errors import InvalidInput
from agentfactory.core.records import FunctionCall, Message, Policy, ToolCall
from agentfactory.core.settings import load_settings, set_settings
from agentfactory.models.base import build_tiny_model, count_parameters, import_gguf, resolve_base, smollm2_gguf
from agentfactory.models.chat import parse_reply
from agentfactory.models.policy import HFPolicy, OpenAIPolicy, load_policy
from agentfactory.core.serving import serve_app

TOOLS = [{"type": "function", "function": {"name": "get_order", "description": "Look up an order by id.",
          "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]
CORPUS = ["Where is order A1001? It shipped with UPS on 2024-05-01.", "Please refund order A1002, it arrived broken.",
          "Customer C17 (Ada Lovelace) has 3 orders.", "Order A1003 is still processing."] * 10
SYS = Message(role="system", content="You are a support agent. Use the tools.")

def _convs(n: int) -> list[list[Message]]:
    out = [[SYS, Message(role="user", content=f"Where is order A{1000 + i}? " + "please " * (i % 4))] for i in range(n)]
    call = Message(role="assistant", tool_calls=[ToolCall(function=FunctionCall(name="get_order", arguments={"order_id": "A1000"}))])
    out.append(out[0] + [call, Message(role="tool", content='{"status": "shipped"}')])
    return out

@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(CORPUS, tmp_path_factory.mktemp("models")/"tiny", seed=0)

def test_tiny_model_batched_generation_matches_single(tiny):
    assert 5e5 < count_parameters(tiny) < 2e6
    pol = HFPolicy(tiny, device="cpu", max_new_tokens=16, batch_size=3)
    assert isinstance(pol, Policy)
    convs = _convs(7)
    batched = pol.act(convs, TOOLS)
    single = [pol.act([c], TOOLS)[0] for c in convs]
    assert [r.raw for r in batched] == [r.raw for r in single]
    for r in batched:
        assert r.message.role == "assistant" and 0 < r.completion_tokens <= 16
        assert r.error is not None or r.message.content or r.message.tool_calls

def test_load_policy_and_resolve_base_cache(tiny, tmp_path):
    set_settings(load_settings(artifact_root=str(tmp_path/"art")))
    try:
        with pytest.raises(InvalidInput): resolve_base("tiny")
        p = resolve_base("tiny", CORPUS)
        assert resolve_base("tiny") == p and (p/"tokenizer.json").is_file()
        assert load_policy(p, max_new_tokens=2).act(_convs(1), TOOLS)[0].completion_tokens <= 2
    finally: set_settings(None)

def test_parse_reply_never_raises_on_garbage(tiny):
    import random
    pol = HFPolicy(tiny, device="cpu")
    rng, vocab = random.Random(0), len(pol.tokenizer)
    for _ in range(200):   # random token soup, tool tags included
        r = pol._reply([rng.randrange(vocab) for _ in range(rng.randrange(0, 40))], TOOLS)
        assert r.message.role == "assistant"
    for t in ["<tool_call>", "<tool_call>{}</tool_call>", "<tool_call>null</tool_call>", '<tool_call>{"name": 3}</tool_call>',
              '<tool_call>{"name": "x", "arguments": [1]}</tool_call>', "</tool_call><tool_call>", " \n "]:
        assert parse_reply(t).error and parse_reply(t, pol.tokenizer, TOOLS).error

# --- OpenAIPolicy against a real HTTP server on 127.0.0.1 (a scripted FAKE model behind it) ---------------------

def _serve_scripted_openai():
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    app, seen = FastAPI(), []
    @app.post("/v1/chat/completions")
    async def chat(req: Request):
        body = await req.json()
        seen.append((req.headers.get("authorization"), body))
        q = body["messages"][-1].get("content") or ""
        if "fail" in q: return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)
        if "junk" in q: return JSONResponse({"nothing": "here"})
        if body["messages"][-1]["role"] == "tool": m = {"role": "assistant", "content": "It has shipped."}
        else: m = {"role": "assistant", "content": None, "tool_calls": [{"id": "call_9", "type": "function",
                   "function": {"name": "get_order", "arguments": '{"order_id": "A1001"}'}}]}
        return {"choices": [{"index": 0, "message": m, "finish_reason": "stop"}], "usage": {"completion_tokens": 7}}
    base, stop = serve_app(app, name="scripted-openai")
    url = f"{base}/v1"
    return url, seen, stop

def test_openai_policy_loopback():
    url, seen, stop = _serve_scripted_openai()
    try:
        pol = OpenAIPolicy(url, model="scripted", api_key="sk-local", concurrency=3)
        first = [[SYS, Message(role="user", content=q)] for q in ["Where is A1001?", "please fail", "junk please"]]
        r, failed, junk = pol.act(first, TOOLS)
        assert r.error is None and r.completion_tokens == 7
        tc = r.message.tool_calls[0]
        assert (tc.id, tc.function.name, tc.function.arguments) == ("call_9", "get_order", {"order_id": "A1001"})
        assert failed.error and "503" in failed.error and failed.message.role == "assistant"
        assert junk.error and "unexpected response" in junk.error
        # second turn: our assistant message goes back in OpenAI wire form, then the tool result
        conv = first[0] + [r.message, Message(role="tool", content='{"status": "shipped"}', tool_call_id=tc.id)]
        (r2,) = pol.act([conv], TOOLS)
        assert r2.error is None and r2.message.content == "It has shipped." and r2.message.tool_calls is None
        auth, body = seen[-1]
        assert auth == "Bearer sk-local" and body["tools"] == TOOLS and body["model"] == "scripted"
        assert body["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"order_id": "A1001"}'
        assert body["messages"][3] == {"role": "tool", "content": '{"status": "shipped"}', "tool_call_id": "call_9"}
    finally: stop()
    (down,) = pol.act([first[0]], TOOLS)   # server gone: an error reply, not an exception
    assert down.error and down.error.startswith("request failed")
    with pytest.raises(InvalidInput): OpenAIPolicy("127.0.0.1:8000/v1", "m")

# --- the real pretrained model ------------------------------------------------------------------------------

@pytest.mark.slow
def test_smollm2_import_and_batched_generation(tmp_path):
    p = import_gguf(smollm2_gguf(), tmp_path/"smollm2")
    assert count_parameters(p) == 134_515_008
    t = time.time()
    assert import_gguf(smollm2_gguf(), p) == p and time.time() - t < 1   # cached
    pol = HFPolicy(p, device="cpu", max_new_tokens=12, batch_size=4)
    convs = _convs(3)
    replies = pol.act(convs, TOOLS)
    assert len(replies) == 4 and all(0 < r.completion_tokens <= 12 for r in replies)
    assert pol.act([convs[0]], TOOLS)[0].raw == replies[0].raw
    assert any(r.message.content for r in replies)   # a real model writes words
