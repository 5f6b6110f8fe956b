"Sandbox: normal calls, user errors, and abuse (loop, CPU, memory, fork bomb, files, network) contained."
import ctypes, os, socket, time
import pytest
from agentfactory.envs.sandbox import Sandbox, SandboxError, SandboxLimits, SandboxPool, cold_call

pytestmark = pytest.mark.skipif(not hasattr(ctypes, "CDLL") or os.name != "posix", reason="POSIX only")


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(size=2) as p:
        yield p


def _raises(kind, fn, *a, **kw) -> SandboxError:
    with pytest.raises(SandboxError) as ei: fn(*a, **kw)
    assert ei.value.kind == kind, f"expected {kind}, got {ei.value.kind}: {ei.value}"
    return ei.value


def _live_pids_of(uid: int) -> list[int]:
    "Processes of `uid` that are still running (zombies are dead, waiting for their parent to reap them)."
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit(): continue
        try:
            st = open(f"/proc/{d}/status").read()
        except OSError: continue
        fields = dict(l.split(":", 1) for l in st.splitlines() if ":" in l)
        if int(fields["Uid"].split()[1]) == uid and not fields["State"].strip().startswith("Z"): out.append(int(d))
    return out


def test_normal_call_and_user_exception(pool):
    src = "import math\ndef f(x, y=1): return {'sum': x + y, 'sqrt': math.sqrt(x)}\ndef bad(): return [][1]"
    assert pool.run(src, "f", {"x": 4}) == {"sum": 5, "sqrt": 2.0}
    e = _raises("error", pool.run, src, "bad")
    assert "IndexError" in str(e) and "<sandbox>" in str(e)          # the user's traceback tail
    _raises("error", pool.run, src, "missing")
    _raises("error", pool.run, "def f(): return object()", "f")      # not JSON-able
    assert cold_call(src, "f", {"x": 9, "y": 0}) == {"sum": 9, "sqrt": 3.0}


def test_infinite_loop_is_killed_at_the_deadline(pool):
    t = time.monotonic()
    _raises("timeout", pool.run, "def f():\n    while True: pass", "f", timeout_s=1.0)
    assert time.monotonic() - t < 5
    assert pool.run("def f(): return 'ok'", "f") == "ok"


def test_cpu_limit():
    _raises("cpu", cold_call, "def f():\n    while True: pass", "f", limits=SandboxLimits(cpu_s=1), timeout_s=10)


def test_memory_bomb(pool):
    lim = SandboxLimits(memory_mb=128)
    _raises("memory", cold_call, "def f():\n    x = []\n    while True: x.append(bytearray(1 << 20))", "f", limits=lim)
    _raises("memory", pool.run, "def f(): return len(bytearray(10**11))", "f")
    assert pool.run("def f(): return len(bytearray(10**6))", "f") == 10**6


def test_fork_bomb_is_contained_and_leaves_no_process():
    with Sandbox(SandboxLimits(processes=16)) as sb:
        _raises("error", sb.call, "import os\ndef f():\n    while True: os.fork()", "f", timeout_s=10)
        uid = sb.uid
    if uid is not None:
        assert _live_pids_of(uid) == []
    # a child that leaves the process group (setsid) and hides is still killed when the sandbox stops
    with Sandbox() as sb:
        pid = sb.call("import os, time\ndef f():\n    p = os.fork()\n    if p == 0:\n        os.setsid(); time.sleep(60)\n"
                      "    return p", "f")
        uid = sb.uid
        if uid is not None: assert pid in _live_pids_of(uid)          # it is there while the sandbox runs
    if uid is not None:
        assert pid not in _live_pids_of(uid) and _live_pids_of(uid) == []


def test_writing_outside_its_directory_is_refused(tmp_path):
    with Sandbox() as sb:
        assert sb.call("import os\ndef f():\n    open('mine.txt', 'w').write('x'); return os.listdir('.')", "f").count("mine.txt") == 1
        targets = ["/work/sandbox_escape.txt", "/etc/sandbox_escape.txt", str(tmp_path / "escape.txt")]
        if sb.info.get("landlock"): targets.append(f"/tmp/sandbox_escape_{os.getpid()}.txt")   # world-writable
        for target in targets:
            _raises("forbidden", sb.call, "def f(path): open(path, 'w').write('pwned')", "f", {"path": target})
            assert not os.path.exists(target), target
        workdir = sb.workdir
    assert not workdir.exists()                                   # its own directory is removed afterwards


def test_network_is_refused():
    server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(); server.settimeout(0.3)
    port = server.getsockname()[1]
    try:
        with Sandbox() as sb:
            _raises("forbidden", sb.call, "import socket\ndef f(port): socket.create_connection(('127.0.0.1', port), timeout=2)",
                    "f", {"port": port})
            # bypass the audit hook with raw libc calls: the kernel (namespace / Landlock) must still refuse
            raw = ("import ctypes, socket, struct\ndef f(port):\n    libc = ctypes.CDLL(None, use_errno=True)\n"
                   "    fd = libc.socket(2, 1, 0)\n"
                   "    addr = struct.pack('=H', 2) + struct.pack('!H', port) + socket.inet_aton('127.0.0.1') + bytes(8)\n"
                   "    return libc.connect(fd, addr, 16), ctypes.get_errno()")
            ret, err = sb.call(raw, "f", {"port": port})
            if sb.info.get("network") in ("netns", "landlock-tcp"):
                assert ret == -1 and err != 0
        with pytest.raises(socket.timeout): server.accept()        # nobody got through
    finally:
        server.close()


def test_pool_survives_abuse_and_keeps_serving(pool):
    for src in ["import os\ndef f(): os._exit(3)", "import ctypes\ndef f(): ctypes.string_at(0)"]:
        _raises("crashed", pool.run, src, "f")
    sb = pool.acquire(timeout=30)
    assert sb.alive and sb.call("def f(): return 42", "f") == 42
    pool.release(sb)
    _raises("crashed", sb.call, "def f(): return 1", "f")           # a released (retired) sandbox is closed
    s = pool.stats()
    assert s["acquired"] >= 3 and s["started"] >= s["acquired"] and s["failed_starts"] == 0
    assert pool.run("def f(): return 'alive'", "f") == "alive"
