"""The commands an operator runs, end to end, in fresh processes against a throwaway data directory.

These exercise the laptop profile (SQLite), whichever database the rest of the suite runs on.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    environment.update({"GRASSROOTS_DATA_DIR": str(data_dir), **env})
    return subprocess.run(
        [sys.executable, "-m", "grassroots", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_demo_is_idempotent_and_prints_accounts(tmp_path):
    first = run(["demo", "--no-serve", "--password", "Demo-pass-2026"], tmp_path)
    assert first.returncode == 0, first.stderr
    for username in ("city_admin", "chengqu", "shangzhan", "youlougou", "grid_worker"):
        assert username in first.stdout
    assert "Demo-pass-2026" in first.stdout

    started = time.monotonic()
    second = run(["demo", "--no-serve"], tmp_path)
    assert second.returncode == 0, second.stderr
    assert time.monotonic() - started < 60
    stats = [
        line.rsplit(":", 1)[-1].strip() for line in run(["areas", "stats"], tmp_path).stdout.splitlines()
    ]
    assert stats[:5] == ["1", "1", "5", "43", "777"]  # province, city, districts, streets, communities
    # a fresh random password each run, printed
    line = next(line for line in second.stdout.splitlines() if line.strip().startswith("city_admin"))
    assert "Demo-pass-2026" not in line and len(line.split()[1]) >= 12


def test_sqlite_runs_in_wal_mode_with_immediate_transactions(tmp_path):
    script = (
        "from django.db import connection; c = connection.cursor(); "
        "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]); "
        "c.execute('PRAGMA synchronous'); print(c.fetchone()[0]); "
        "c.execute('PRAGMA busy_timeout'); print(c.fetchone()[0]); "
        "print(connection.settings_dict['OPTIONS']['transaction_mode'])"
    )
    result = run(["shell", "--no-imports", "-c", script], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "1", "20000", "IMMEDIATE"]


def test_production_profile_passes_check_deploy(tmp_path):
    result = run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        GRASSROOTS_PRODUCTION="1",
        GRASSROOTS_SECRET_KEY=secrets.token_urlsafe(60),
        GRASSROOTS_ALLOWED_HOSTS="grassroots.example.gov.cn",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_profile_refuses_to_start_without_a_secret(tmp_path):
    result = run(["check"], tmp_path, GRASSROOTS_PRODUCTION="1", GRASSROOTS_ALLOWED_HOSTS="x.example")
    assert result.returncode != 0
    assert "GRASSROOTS_SECRET_KEY" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("production", [False, True])
def test_serve_answers_on_the_port(tmp_path, production):
    assert run(["migrate", "-v0"], tmp_path).returncode == 0
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment["GRASSROOTS_DATA_DIR"] = str(tmp_path)
    args = [sys.executable, "-m", "grassroots", "serve", f"127.0.0.1:{port}"]
    if production:
        args += ["--production", "--workers", "1"]
    server = subprocess.Popen(
        args, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    assert b'"ok"' in response.read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/static/grassroots/grassroots.css", timeout=5
        ) as css:
            assert css.status == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
