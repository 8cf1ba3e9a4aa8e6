"""Helpers for the end-to-end browser test: find or install chromium, run the app on a free port.

Imported explicitly by ``tests/test_app_browser.py`` (pytest only auto-loads ``conftest.py``, so
nothing here runs for other tests).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[1]


def ensure_chromium(timeout: float = 900.0) -> str | None:
    """Return the chromium path, installing Debian's package when missing and running as root.

    Returns ``None`` with nothing installed when that is impossible (not root, no apt-get, install
    failed); the caller skips with :func:`chromium_skip_reason`.
    """
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(
            ["apt-get", "update"], check=True, env=env, timeout=timeout, capture_output=True
        )
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
            check=True,
            env=env,
            timeout=timeout,
            capture_output=True,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return CHROMIUM if Path(CHROMIUM).exists() else None


def chromium_skip_reason() -> str:
    """Why chromium could not be provided (for ``pytest.skip``)."""
    if os.geteuid() != 0:
        return (
            f"{CHROMIUM} is missing and installing it needs root (run: apt-get install -y chromium)"
        )
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing and there is no apt-get to install it"
    return f"{CHROMIUM} is missing and `apt-get install -y chromium` failed (offline?)"


def free_port() -> int:
    """A TCP port that is free right now on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``streamlit run app.py`` on ``port`` and wait until ``/_stcore/health`` answers ok."""
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    fh = log.open("wb")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60.0
    url = f"http://127.0.0.1:{port}/_stcore/health"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return proc
        except OSError:
            pass
        time.sleep(0.3)
    stop_app(proc)
    raise RuntimeError(
        f"streamlit did not become healthy in 60 s: {log.read_text(errors='replace')[-2000:]}"
    )


def stop_app(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server started by :func:`start_app` (kill after 3 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
