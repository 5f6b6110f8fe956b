"Shared fixtures: an isolated artifact root + store per test, and a real uvicorn server on 127.0.0.1."
import socket, threading, time
from contextlib import contextmanager
import httpx, pytest, uvicorn
from agentfactory.core.settings import set_settings


@pytest.fixture(scope="session")
def base_cache(tmp_path_factory):
    "Imported/built base models, shared by every test of the session (SmolLM2's import takes ~30 s)."
    return tmp_path_factory.mktemp("base_models")


@pytest.fixture
def af_home(tmp_path, monkeypatch, base_cache):
    "Point Agent Factory at a fresh artifact root and SQLite store under tmp_path (base models cached per session)."
    monkeypatch.setenv("AGENTFACTORY_BASE_CACHE", str(base_cache))
    monkeypatch.setenv("AGENTFACTORY_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("AGENTFACTORY_DB_URL", "")
    monkeypatch.setenv("AGENTFACTORY_TRACKING", "off")
    set_settings(None)
    yield tmp_path
    set_settings(None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app):
    "Run an ASGI app with uvicorn on a free loopback port; yields its base URL; stops it afterwards."
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            httpx.get(base + "/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.025)
    try:
        yield base
    finally:
        server.should_exit = True
        th.join(timeout=10)
