"""`agentfactory keys`, `agentfactory audit` and the first start of `agentfactory serve`, run as an operator runs them,
against a fresh artifact root; the keys they make are used on the real app served by uvicorn on 127.0.0.1."""
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
from typer.testing import CliRunner

from agentfactory.api.app import create_app
from agentfactory.cli import app as cli_app
from agentfactory.core.auth import admin_key_file, authenticate, list_keys
from agentfactory.runtime.core import Runtime
from conftest import serve


def cli(*args: str) -> str:
    "Run the CLI in-process (wide terminal, so rich tables are not folded); fail on a non-zero exit; its output."
    r = CliRunner(env={"COLUMNS": "250"}).invoke(cli_app, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def create(*args: str) -> tuple[str, str]:
    "`keys create ARGS`: the new key's id and its token (the last line)."
    out = cli("keys", "create", *args)
    return out.split()[1].rstrip(":"), out.strip().splitlines()[-1]


def bearer(token: str) -> dict: return {"Authorization": f"Bearer {token}"}


def test_keys_create_list_revoke_and_use_them_over_http(af_home):
    kid, token = create("--tenant", "acme", "--role", "researcher", "--name", "ada")
    assert kid.startswith("key_") and token.startswith(f"af_{kid.removeprefix('key_')}_")
    out = cli("keys", "list")
    assert kid in out and "acme" in out and "researcher" in out and "ada" in out and "active" in out
    assert token.split("_", 2)[2] not in out                                    # never a secret
    agent_kid, _ = create("--tenant", "acme", "--role", "agent-client", "--agent", "support", "--agent", "agent_2")
    assert list_keys("acme")[-1].agents == ["support", "agent_2"]
    create("--tenant", "globex", "--role", "viewer")
    out = cli("keys", "list", "--tenant", "acme")
    assert "2 API key(s) of tenant acme" in out and "globex" not in out

    with serve(create_app(Runtime(ingest=False))) as url:
        c = httpx.Client(base_url=url, timeout=30)
        r = c.get("/whoami", headers=bearer(token))
        assert r.status_code == 200 and (r.json()["tenant"], r.json()["role"], r.json()["name"]) == ("acme", "researcher", "ada")
        out = cli("keys", "revoke", kid)
        assert f"revoked {kid}" in out
        r = c.get("/whoami", headers=bearer(token))
        assert r.status_code == 401 and "revoked" in r.json()["detail"]          # at once, on the running server
        assert c.get("/events", params={"limit": 1}, headers={"X-API-Key": token}).status_code == 401
    assert "revoked" in cli("keys", "list", "--tenant", "acme")


def test_an_expired_key_gets_401(af_home):
    kid, token = create("--role", "viewer", "--expires", "8s")   # room for a slow start before it expires
    with serve(create_app(Runtime(ingest=False))) as url:
        c = httpx.Client(base_url=url, timeout=30, headers=bearer(token))
        assert c.get("/whoami").status_code == 200
        deadline = time.time() + 30
        while (r := c.get("/whoami")).status_code == 200 and time.time() < deadline: time.sleep(0.25)
        assert r.status_code == 401 and "expired" in r.json()["detail"]
    assert "expired" in cli("keys", "list")
    # an ISO-8601 time works too: naive means UTC
    kid, _ = create("--role", "viewer", "--expires", "2999-01-31T12:00:00")
    k = next(k for k in list_keys() if k.id == kid)
    assert k.expires_at.isoformat() == "2999-01-31T12:00:00+00:00"


def test_audit_lists_requests_and_purge_drops_old_rows(af_home):
    admin_kid, admin = create("--role", "admin", "--name", "ops")
    with serve(create_app(Runtime(ingest=False))) as url:
        c = httpx.Client(base_url=url, timeout=30)
        r = c.post("/keys", json={"role": "viewer", "name": "dash"}, headers=bearer(admin))
        assert r.status_code == 201, r.text
        viewer = r.json()["token"]
        assert c.post("/agents", json={"name": "x"}, headers=bearer(viewer)).status_code == 403
        assert c.get("/whoami", headers=bearer(admin)).status_code == 200       # reads are not audited
        assert c.get("/whoami", headers=bearer("af_0123456789abcdef_nobody")).status_code == 401   # denied: audited without a tenant
    out = cli("audit")
    assert "2 audit row(s) of tenant default" in out
    assert admin_kid in out and "/keys" in out and "201" in out and "/agents" in out and "403" in out
    assert "/whoami" not in out
    out = cli("audit", "--status", "403")
    assert "1 audit row(s)" in out and "/agents" in out and "viewer" in out
    assert "1 audit row(s)" in cli("audit", "--key", admin_kid, "--route", "/keys", "--since", "1h")
    assert "0 audit row(s)" in cli("audit", "--until", "1h")
    assert "0 audit row(s) of tenant acme" in cli("audit", "--tenant", "acme")
    out = cli("audit", "--no-key")
    assert "1 audit row(s) without a key" in out and "/whoami" in out and "401" in out

    # purge: rows older than audit_retention_days (365) go, newer ones stay
    from sqlalchemy import update
    from agentfactory.core.auth import _AuditRow, platform_store
    from agentfactory.core.records import utcnow
    with platform_store().session() as s:
        s.execute(update(_AuditRow).where(_AuditRow.status == 403).values(at=utcnow() - timedelta(days=400)))
    assert "purged 1 audit row(s) older than 365 days" in cli("audit", "purge")
    out = cli("audit")
    assert "1 audit row(s)" in out and "/keys" in out


def test_serve_prints_the_first_admin_key_once(af_home, monkeypatch):
    import uvicorn
    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append((app, kw)))   # stands in for blocking on the port
    out = cli("serve", "--port", "8123")
    token = admin_key_file().read_text().strip()
    assert token and token in out and str(admin_key_file()) in out
    assert admin_key_file().stat().st_mode & 0o777 == 0o600
    assert authenticate(token).role == "admin" and len(list_keys()) == 1        # create_app's own bootstrap did nothing
    app, kw = served[0]
    assert kw["port"] == 8123 and kw["host"] == "127.0.0.1"
    with serve(app) as url:
        r = httpx.get(f"{url}/whoami", headers=bearer(token), timeout=30)
        assert r.status_code == 200 and (r.json()["tenant"], r.json()["role"]) == ("default", "admin")
    out = cli("serve")                                                           # second start: the key exists
    assert "af_" not in out and admin_key_file().read_text().strip() == token and len(list_keys()) == 1


def test_the_console_command_reports_bad_input_in_one_line(af_home):
    "The installed `agentfactory` command: a bad duration or an unknown key is one clear line and exit code 2."
    exe = Path(sys.executable).parent / "agentfactory"
    run = lambda *a: subprocess.run([str(exe), *a], env={**os.environ, "COLUMNS": "250"}, capture_output=True, text=True, timeout=120)
    p = run("keys", "revoke", "key_0000000000000000")
    assert p.returncode == 2 and "error: key 'key_0000000000000000' not found" in p.stderr
    p = run("keys", "create", "--role", "viewer", "--expires", "soon")
    assert p.returncode == 2 and "neither an ISO-8601 time" in p.stderr
    p = run("keys", "create", "--role", "root")
    assert p.returncode == 2 and "unknown role 'root'" in p.stderr
    p = run("keys", "create", "--role", "viewer", "--expires", "2001-01-01")
    assert p.returncode == 2 and "in the past" in p.stderr
    assert not list_keys()
