"Shared fixtures: an isolated artifact root + store per test, and a real uvicorn server on 127.0.0.1."
from contextlib import contextmanager
import pytest
from agentfactory.core.serving import serve_app
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


@contextmanager
def serve(app):
    "Run an ASGI app with uvicorn on a free loopback port; yields its base URL; stops it afterwards."
    url, stop = serve_app(app, name="test-server")
    try:
        yield url
    finally:
        stop()
