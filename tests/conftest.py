"Shared fixtures: an isolated artifact root + store per test, and a real uvicorn server on 127.0.0.1."
import os, uuid
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


def admin_headers(home=None) -> dict:
    "The Authorization header of the first admin key (written by the first `create_app`/`serve` under the artifact root)."
    from pathlib import Path
    from agentfactory.core.auth import read_admin_key
    key = (Path(home)/"admin.key").read_text().strip() if home else read_admin_key()
    assert key, "no admin key yet: create the app first"
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def serve(app):
    "Run an ASGI app with uvicorn on a free loopback port; yields its base URL; stops it afterwards."
    url, stop = serve_app(app, name="test-server")
    try:
        yield url
    finally:
        stop()


PG_URL = os.environ.get("AGENTFACTORY_TEST_PG_URL", "")   # set by `make test` (.ci/postgres.sh start)

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    "A fresh, empty store URL on each backend: a SQLite file, and a PostgreSQL schema of its own (dropped afterwards)."
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path/'store.db'}"
        return
    if not PG_URL: pytest.skip("AGENTFACTORY_TEST_PG_URL is unset; `make test` starts PostgreSQL with .ci/postgres.sh")
    from sqlalchemy import create_engine, text
    schema, admin = f"t_{uuid.uuid4().hex[:12]}", create_engine(PG_URL)
    with admin.begin() as c: c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try: yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as c: c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# ---- browser tests: the system Chromium driven by Playwright, apps served as real processes on 127.0.0.1
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    "A free TCP port on 127.0.0.1."
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc, log, timeout: float = 90) -> None:
    "Wait until `url` answers 200; fail with the app's log if its process exits or it never answers."
    import time, httpx
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None: raise AssertionError(f"the app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=5).status_code == 200: return
        except httpx.HTTPError: pass
        time.sleep(0.25)
    raise AssertionError(f"the app did not answer at {url} within {timeout} s:\n{log.read_text()[-3000:]}")


def sign_in(page, url: str, token: str) -> None:
    "Open the app and sign in with an API key, as a person would: paste it, press the button."
    page.goto(url)
    page.locator("input[type=password]").wait_for(timeout=60_000)
    page.locator("input[type=password]").fill(token)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def chromium(tmp_path):
    "A fresh headless Chromium (the system one) driven by Playwright."
    from pathlib import Path
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not Path(CHROMIUM).exists(): pytest.skip(f"needs {CHROMIUM}: apt-get install chromium")
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "chromium-profile"), executable_path=CHROMIUM,
                                                   headless=True, args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000})
        try: yield ctx
        finally: ctx.close()
