"""Operations: the served schedule, one run at a time, alerts, run history, analyst access.

Everything goes through the real `refnet` command against the sandbox over loopback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
import requests
import yaml
from aiosmtpd.controller import Controller
from conftest import REFNET, REPO, TEST_SCALE, mart_fingerprint, refnet
from typer.testing import CliRunner

from flows.cli import app
from flows.sandbox.server import running_sandbox
from flows.sandbox.world import build_world, registry_yaml

API_KEY = "ops-test-key-0f3b9c2a7d-uk1"
PSEUDONYM_SECRET = "ops-test-pseudonym-secret-5e1d88a0c4"
WEBHOOK_TOKEN = "hook-token-93b1f0e6aa"
KEY_ENV = "OPS_TEST_CLINIKO_KEY"


def _write_config(folder: Path, base_url: str, world, alerts: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    # The world links its partners to its own account name; this config calls it headingley.
    registry = registry_yaml(world).replace("source: sandbox", "source: headingley")
    (folder / "partners.yml").write_text(registry)
    config = {
        "sources": [
            {
                "name": "headingley",
                "kind": "cliniko",
                "api_key_env": KEY_ENV,
                "base_url": base_url,
                "contact_email": "ops@clinic.example",
            }
        ],
        "partners": "partners.yml",
        "as_of": world.end_date.isoformat(),
        "schedule": {"cron": "0 2 * * *", "timezone": "Europe/London"},
    }
    if alerts:
        config["alerts"] = alerts
    path = folder / "config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _env(**extra: str) -> dict[str, str]:
    return {KEY_ENV: API_KEY, "REFNET_PSEUDONYM_SECRET": PSEUDONYM_SECRET, **extra}


def _published_runs(home: Path) -> list[dict]:
    runs = [json.loads(p.read_text()) for p in sorted((home / "runs").glob("*.json"))]
    return [r for r in runs if r["status"] == "published"]


@pytest.fixture(scope="module")
def world():
    return build_world(seed=7, scale=float(TEST_SCALE))


@pytest.fixture(scope="module")
def sandbox(world) -> Iterator[str]:
    # No rate limit: several refnet processes share this server during the module.
    with running_sandbox(world, api_key=API_KEY, requests_per_minute=0) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def served(tmp_path_factory, sandbox, world) -> dict:
    """`refnet serve` on a one-minute cron: wait for a scheduled run to publish, then SIGTERM."""
    home = tmp_path_factory.mktemp("served-home")
    config = _write_config(home / "cfg", sandbox, world)
    log = home / "serve.out"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [REFNET, "serve", "--config", str(config), "--home", str(home)]
            + ["--cron", "* * * * *", "--server-port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **_env()},
            cwd=REPO,
            start_new_session=True,
        )
    started = time.monotonic()
    try:
        while not _published_runs(home):
            assert proc.poll() is None, "refnet serve exited early:\n" + log.read_text()[-4000:]
            runs = [json.loads(p.read_text()) for p in (home / "runs").glob("*.json")]
            bad = [r for r in runs if r["status"] in ("failed", "blocked")]
            assert not bad, "a scheduled run did not publish: " + str(bad[0].get("error"))
            assert time.monotonic() - started < 2000, (
                "no published run:\n" + log.read_text()[-4000:]
            )
            time.sleep(3)
        waited = time.monotonic() - started
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return {"home": home, "config": config, "code": code, "log": log.read_text(), "waited": waited}


# Runs a whole pipeline (Evidence build included) on a shared 2-core box.
@pytest.mark.timeout(2400)
def test_serve_runs_on_schedule_publishes_and_stops_cleanly(served: dict):
    home, out = served["home"], served["log"]
    assert served["code"] == 0, out[-4000:]
    assert "refnet serve stopped" in out
    run = _published_runs(home)[0]
    assert (home / "published" / "marts.duckdb").is_file()
    assert (home / "site" / "index.html").is_file()
    con = duckdb.connect(str(home / "published" / "marts.duckdb"), read_only=True)
    try:
        assert con.sql("select count(*) from referrals").fetchone()[0] > 50
        row = con.execute(
            "select status, published, len(stages) from run_history where run_id = ?",
            [run["run_id"]],
        ).fetchone()
    finally:
        con.close()
    assert row == ("published", True, 5)
    # The Prefect server refnet started for the schedule is gone with it.
    port = re.search(r"Prefect server and UI: http://127\.0\.0\.1:(\d+)", out).group(1)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2)


# Runs a whole pipeline (Evidence build included) on a shared 2-core box.
@pytest.mark.timeout(2400)
def test_overlapping_runs_one_publishes_identical_marts_and_readers_are_never_blocked(
    demo_home: Path,
):
    """A second night over the same world, with a third run started while it works."""
    home = demo_home
    published = home / "published" / "marts.duckdb"
    before = mart_fingerprint(published)
    runs_before = len(list((home / "runs").glob("*.json")))
    # An analyst's session, held open through the whole run.
    reader = duckdb.connect(str(published), read_only=True)
    snapshot = reader.sql("select count(*), count(distinct referral_id) from referrals").fetchone()

    first = subprocess.Popen(
        [REFNET, "demo", "--home", str(home), "--scale", TEST_SCALE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 300
        while (home / "run.lock").read_text().strip() != str(first.pid):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.2)
        second = refnet("demo", "--home", str(home), "--scale", TEST_SCALE)
        assert second.returncode == 1
        assert "another refnet run is using" in second.stderr
        assert "run.lock" in second.stderr
        # A new analyst connection opens fine mid-run, too.
        duckdb.connect(str(published), read_only=True).close()
        stdout, stderr = first.communicate(timeout=900)
    finally:
        if first.poll() is None:
            # SIGTERM, so the run stops its own children (Prefect server, dbt, Evidence).
            first.terminate()
            try:
                first.wait(timeout=60)
            except subprocess.TimeoutExpired:
                first.kill()
    assert first.returncode == 0, stderr[-4000:]

    assert reader.sql("select count(*), count(distinct referral_id) from referrals").fetchone() == (
        snapshot
    )
    reader.close()
    # Same world, incremental run: every mart identical, not one referral doubled.
    assert mart_fingerprint(published) == before
    con = duckdb.connect(str(published), read_only=True)
    try:
        history = con.sql("select count(*) from run_history where published").fetchone()[0]
    finally:
        con.close()
    assert history == 2
    assert len(list((home / "runs").glob("*.json"))) == runs_before + 1  # the loser left no trace
    # The human summary: stages with timings, records per stream, marts rows, gate, published.
    for needle in ("published: yes", "extract", "transform", "gate passed", "referrals "):
        assert needle in stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Receiver(BaseHTTPRequestHandler):
    posts: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).posts.append((self.path, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
        self.messages.append(envelope.content)
        return "250 OK"


def test_failing_run_alerts_once_with_the_stage_and_no_secret(tmp_path: Path, world):
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.posts = []
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    mailbox = _Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    webhook = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/{WEBHOOK_TOKEN}"
    alerts = {
        "webhook": {"env": "OPS_TEST_WEBHOOK"},
        "smtp": {
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": "none",
            "from": "refnet@clinic.example",
            "to": ["ops@clinic.example"],
        },
    }
    home = tmp_path / "home"
    try:
        # The clinic's key was revoked: the sandbox knows another one, extraction gets 401.
        with running_sandbox(world, api_key="the-current-key-uk1") as base_url:
            config = _write_config(tmp_path / "cfg", base_url, world, alerts)
            result = refnet(
                "run",
                "--config",
                str(config),
                "--home",
                str(home),
                env=_env(OPS_TEST_WEBHOOK=webhook),
            )
    finally:
        receiver.shutdown()
        smtp.stop()
    assert result.returncode == 1
    # The summary says why, once; Prefect's engine does not add a traceback of it.
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(_Receiver.posts) == 1
    path, body = _Receiver.posts[0]
    assert path == f"/hooks/{WEBHOOK_TOKEN}"
    alert = json.loads(body)
    assert alert["failed_stage"] == "extract"
    assert alert["status"] == "failed"
    assert "extract" in alert["text"] and "401" in alert["text"]
    assert len(mailbox.messages) == 1
    assert b"extract" in mailbox.messages[0]

    secrets = [API_KEY, PSEUDONYM_SECRET, WEBHOOK_TOKEN]
    places = {"webhook": body, "e-mail": mailbox.messages[0]}
    places["stdout"], places["stderr"] = result.stdout.encode(), result.stderr.encode()
    for path in home.rglob("*"):  # run records, Prefect's database and logs, landed files
        if path.is_file():
            places[str(path)] = path.read_bytes()
    for where, content in places.items():
        for secret in secrets:
            assert secret.encode() not in content, f"{where} holds a secret"
    assert len(places) > 4


# `refnet` with the disk under the landing (flows.land's file writes) holding only BUDGET more
# bytes: a write that does not fit keeps what fitted and fails with ENOSPC, as a full disk does,
# and so does every write after it. Everything else (Prefect, the sandbox, alerts) is real.
_FULL_DISK = """
import errno, os, sys
import flows.land
budget = int(sys.argv.pop(1))
real_open = open

class Disk:
    def __init__(self, fh):
        self.fh = fh
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.fh.close()
    def write(self, data):
        global budget
        self.fh.write(data[: max(budget, 0)])
        budget -= len(data)
        if budget < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return len(data)
    def flush(self):
        self.fh.flush()
    def fileno(self):
        return self.fh.fileno()

def nearly_full_open(path, mode="r", *args, **kwargs):
    fh = real_open(path, mode, *args, **kwargs)
    return Disk(fh) if "w" in mode else fh

flows.land.open = nearly_full_open
from flows.cli import main
sys.argv[0] = "refnet"
main()
"""


def test_a_full_disk_fails_once_with_what_to_do_alerts_and_leaves_no_partial_file(
    tmp_path: Path, world
):
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.posts = []
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    webhook = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/{WEBHOOK_TOKEN}"
    home = tmp_path / "home"
    try:
        with running_sandbox(world, api_key=API_KEY, requests_per_minute=0) as base_url:
            config = _write_config(
                tmp_path / "cfg", base_url, world, {"webhook": {"env": "OPS_TEST_WEBHOOK"}}
            )
            # 20 kB: the first streams land, a later batch fills the disk.
            result = subprocess.run(
                [sys.executable, "-c", _FULL_DISK, "20000", "run", "--config", str(config)]
                + ["--home", str(home)],
                capture_output=True,
                text=True,
                env={**os.environ, **_env(OPS_TEST_WEBHOOK=webhook)},
                cwd=REPO,
                timeout=900,
            )
    finally:
        receiver.shutdown()
    out = result.stdout + result.stderr
    assert result.returncode == 1, out[-4000:]
    assert "disk full at " in result.stderr
    assert "free space and re-run; nothing landed was lost" in result.stderr
    assert "refnet run failed: OSError" not in result.stderr
    # Not retried as if it were a network blip: the task ran once.
    assert "Retry 1/2" not in out and "AwaitingRetry" not in out, out[-4000:]
    # The run record did not fit either, and the alert went out all the same.
    assert len(_Receiver.posts) == 1, out[-4000:]
    alert = json.loads(_Receiver.posts[0][1])
    assert (alert["status"], alert["failed_stage"]) == ("failed", "extract")
    assert "disk full at " in alert["text"]
    assert [p for p in home.rglob("*") if p.name.endswith(".tmp")] == []
    # What landed before the disk filled is whole, and no cursor moved past what landed.
    batches = list((home / "raw").rglob("*.parquet"))
    assert batches
    for batch in batches:
        duckdb.sql(f"select count(*) from read_parquet('{batch}')").fetchone()
    cursors = list((home / "state" / "cliniko" / "headingley").glob("*.json"))
    assert cursors
    for cursor in cursors:
        landed = home / "raw" / "cliniko" / "headingley" / cursor.stem
        assert list(landed.glob("*.parquet")), f"{cursor.stem}: a cursor without its data"
    stopped = re.search(r"disk full at \S+/raw/cliniko/headingley/(\w+)/", result.stderr)
    assert stopped and f"{stopped.group(1)}.json" not in {c.name for c in cursors}


def _on_read_only_home(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`refnet ARGS` with `home` mounted read-only, in a mount namespace of its own (a real
    EROFS for root too, whom permission bits do not stop; the mount ends with the process)."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, str(home)]
        + [REFNET, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **_env()},
        cwd=REPO,
        timeout=300,
    )


@pytest.mark.parametrize("command", ["publish", "resync", "demo"])
def test_a_read_only_home_is_refused_in_one_line_naming_it(tmp_path: Path, command: str):
    home = tmp_path / "home"
    (home / "warehouse").mkdir(parents=True)
    duckdb.connect(str(home / "warehouse" / "refnet.duckdb")).close()  # something to publish
    config = tmp_path / "c.yml"
    config.write_text(
        "sources: [{name: x, kind: cliniko, api_key: k, contact_email: a@b.co,"
        " base_url: 'http://127.0.0.1:9/v1'}]\n"
    )
    args = {
        "publish": ["publish"],
        "resync": ["resync", "--config", str(config)],
        "demo": ["demo", "--scale", "0.05"],
    }[command]
    result = _on_read_only_home(home, *args, "--home", str(home))
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.splitlines() == [
        f"cannot write to the data directory {home}: Read-only file system; "
        "choose another --home or fix its permissions"
    ]
    assert sorted(p.name for p in home.rglob("*")) == ["refnet.duckdb", "warehouse"]


@pytest.mark.parametrize(
    "args, env",
    [
        (["run", "--config", "c.yml", "--home", "s3://clinic-bucket/refnet"], {}),
        (["demo", "--home", "s3://clinic-bucket/refnet"], {}),
        (["status", "--home", "gs://clinic-bucket/refnet"], {}),
        (["export", "out"], {"REFNET_HOME": "s3://clinic-bucket/refnet"}),
    ],
)
def test_a_url_as_home_is_refused_instead_of_making_a_local_folder(tmp_path: Path, args, env):
    (tmp_path / "c.yml").write_text(
        "sources: [{name: x, kind: cliniko, api_key: k, contact_email: a@b.co,"
        " base_url: 'http://127.0.0.1:9/v1'}]\n"
    )
    result = subprocess.run(
        [REFNET, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **_env(), **env},
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    url = next(a for a in [*args, *env.values()] if "://" in a)
    assert result.stderr.splitlines() == [
        f"refnet: the data directory must be a local folder, not {url}; give a local path "
        "(to keep the data on object storage, mount the bucket and give the mount's path)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yml"]


def test_status_after_a_demo_lists_the_run_with_stages_and_rows(demo_home: Path):
    result = refnet("status", "--home", str(demo_home))
    assert result.returncode == 0, result.stderr
    run = json.loads(sorted((demo_home / "runs").glob("*.json"))[-1].read_text())
    out = result.stdout
    assert run["run_id"] in out
    for stage in ("extract", "registry", "transform", "gate", "publish"):
        assert re.search(rf"^\s+{stage}\s+ok\s+[\d.]+ s$", out, re.M), stage
    patients = next(s for s in run["streams"]["sandbox"] if s["stream"] == "patients")
    assert patients["records"] > 0 and f"patients {patients['records']}" in out
    assert f"referrals {run['marts']['referrals']}" in out
    assert "source freshness" in out and "cliniko/sandbox" in out


def test_run_history_is_in_the_published_marts(demo_home: Path):
    con = duckdb.connect(str(demo_home / "published" / "marts.duckdb"), read_only=True)
    try:
        rows = con.sql(
            "select run_id, status, gate_passed, records, "
            "list_transform(stages, s -> s.stage) from run_history order by started_at"
        ).fetchall()
        referrals = con.sql("select count(*) from referrals").fetchone()[0]
        mart_rows = con.sql(
            "select m.rows from run_history, unnest(marts) as t(m) "
            "where m.mart = 'referrals' order by started_at desc limit 1"
        ).fetchone()[0]
    finally:
        con.close()
    assert rows[-1][1:3] == ("published", True)
    # The first night lands the whole history; a later night (the overlap test's) only the changes.
    assert rows[0][3] > 100
    assert rows[-1][4] == ["extract", "registry", "transform", "gate", "publish"]
    assert mart_rows == referrals


def test_export_writes_every_mart_as_csv(demo_home: Path, tmp_path: Path):
    result = refnet("export", str(tmp_path), "--home", str(demo_home), "--format", "csv")
    assert result.returncode == 0, result.stderr
    referrals = (tmp_path / "referrals.csv").read_text().splitlines()
    con = duckdb.connect(str(demo_home / "published" / "marts.duckdb"), read_only=True)
    count = con.sql("select count(*) from referrals").fetchone()[0]
    con.close()
    assert referrals[0].startswith("referral_id,")
    assert len(referrals) == count + 1


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"schedule": {"cron": "every night"}}, "schedule.cron"),
        ({"schedule": {"timezone": "Europe/Londn"}}, "schedule.timezone"),
        ({"alerts": {"webhook": {"env": "https://hooks.example/x"}}}, "alerts.webhook.env"),
        ({"alerts": {"smtp": {"host": "h", "from": "a@b.co", "to": ["nope"]}}}, "alerts.smtp.to"),
    ],
)
def test_bad_operations_config_is_refused_with_the_key(tmp_path: Path, extra: dict, message: str):
    config = {
        "sources": [{"name": "x", "kind": "cliniko", "api_key": "k", "contact_email": "a@b.co"}],
        **extra,
    }
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert message in result.stderr


def test_config_check_names_a_missing_webhook_variable(tmp_path: Path):
    path = tmp_path / "c.yml"
    path.write_text(
        "sources: [{name: x, kind: cliniko, api_key: k, contact_email: a@b.co}]\n"
        "alerts: {webhook: {env: OPS_TEST_UNSET_WEBHOOK}}\n"
    )
    result = CliRunner().invoke(
        app, ["config", "check", str(path)], env={"OPS_TEST_UNSET_WEBHOOK": ""}
    )
    assert result.exit_code == 2
    assert "alerts.webhook" in result.stderr and "OPS_TEST_UNSET_WEBHOOK" in result.stderr


@pytest.mark.parametrize(
    "args",
    [[], ["run"], ["demo"], ["serve"], ["status"], ["export"], ["config", "check"]]
    + [["partners", "validate"], ["sandbox"]],
)
def test_every_command_has_help(args: list[str], capsys):
    result = CliRunner().invoke(app, [*args, "--help"])
    # `refnet sandbox` hands its arguments to argparse, which prints to the real stdout.
    assert result.exit_code == 0, result.output
    assert "usage" in (result.output + capsys.readouterr().out).lower()


def test_progress_bars_render_stages_on_a_terminal():
    import io

    from rich.console import Console

    from flows.progress import RichProgress

    buffer = io.StringIO()
    bars = RichProgress(Console(file=buffer, force_terminal=True, width=100))
    bars.start_stage("extract", total=2)
    bars.advance("extract", "headingley/patients 216")
    bars.advance("extract", "headingley/invoices 540")
    bars.end_stage("extract", ok=True)
    bars.start_stage("transform")
    bars.end_stage("transform", ok=False)
    bars.close()
    out = buffer.getvalue()
    assert "extract" in out and "2/2" in out
    assert "transform" in out and "failed" in out


def test_prefect_yaml_deploys_the_nightly_flow_with_its_parameters():
    import inspect

    from flows.nightly import nightly

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    (deployment,) = spec["deployments"]
    path, name = deployment["entrypoint"].split(":")
    assert (REPO / path).is_file() and name == nightly.fn.__name__
    assert set(deployment["parameters"]) <= set(inspect.signature(nightly.fn).parameters)
    assert deployment["concurrency_limit"]["limit"] == 1
    text = (REPO / "prefect.yaml").read_text()
    assert "API_KEY:" not in text and "SECRET:" not in text  # secrets live in the environment


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_mid_run_stops_at_once_and_publishes_nothing(tmp_path: Path, sig):
    home = tmp_path / "home"
    # A terminal's Ctrl-C goes to the whole foreground group; SIGTERM (a supervisor) to refnet.
    proc = subprocess.Popen(
        [REFNET, "demo", "--home", str(home), "--scale", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 600
        while not any("dbt" in p and "build" in p for p in _processes_mentioning(str(home))):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "dbt never started"
            time.sleep(0.2)
        started = time.monotonic()
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
        stopped_in = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + sig, err[-3000:]
    assert stopped_in < 15
    assert f"{sig.name} received, run stopped. Nothing from this run was published" in err
    assert not (home / "published").exists()
    assert not (home / "site").exists()
    (record,) = [json.loads(p.read_text()) for p in (home / "runs").glob("*.json")]
    assert record["status"] == "interrupted"
    assert record["error"] == f"stopped by {sig.name} during transform; nothing was published"
    assert record["stages"]["extract"]["status"] == "ok"
    # No dbt, Prefect server or other child of the run outlives it.
    time.sleep(10)
    assert _processes_mentioning(str(home)) == []


def test_a_bare_yaml_on_key_in_alerts_is_read_as_on(tmp_path: Path):
    from flows.config import load_config

    path = tmp_path / "c.yml"
    path.write_text(
        "sources:\n  - {name: x, kind: cliniko, contact_email: a@b.co, api_key_env: K}\n"
        "alerts:\n  on: [failed, published]\n  webhook: {env: HOOK_URL}\n"
    )
    assert load_config(path).alerts.on == ["failed", "published"]


def test_a_pasted_key_in_api_key_env_is_refused_without_echoing_it(tmp_path: Path):
    from flows.config import ConfigError, load_config

    path = tmp_path / "c.yml"
    path.write_text(
        "sources:\n  - {name: x, kind: cliniko, contact_email: a@b.co,"
        " api_key_env: MS0xMjM0NTY3ODkw-uk1}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "api_key_env: must be the name of an environment variable" in str(err.value)
    assert "MS0xMjM0NTY3ODkw" not in str(err.value)


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "right/UTC"])
def test_a_host_zone_alias_is_refused_where_the_warehouse_would_fail_later(tmp_path: Path, zone):
    from flows.config import ConfigError, load_config

    path = tmp_path / "c.yml"
    path.write_text(
        "sources:\n  - {name: x, kind: cliniko, contact_email: a@b.co, api_key_env: K}\n"
        f"schedule: {{cron: '0 2 * * *', timezone: {zone}}}\n"
    )
    with pytest.raises(ConfigError, match=f"schedule.timezone: '{zone}' is not an IANA"):
        load_config(path)


@pytest.mark.parametrize(
    "source, message",
    [
        (
            "{name: x, kind: cliniko, contact_email: a@b.co, api_key_env: K, base_url: 'https://'}",
            "sources[0].cliniko.base_url: must be a full URL with a host name",
        ),
        (
            "{name: x, kind: cliniko, contact_email: a@b.co, api_key_env: K,"
            " base_url: 'https://api uk1.cliniko.com/v1'}",
            "sources[0].cliniko.base_url: must be a full URL with a host name and no spaces",
        ),
        (
            "{name: v, kind: csv, mapping: m.yml, time_zone: UTC, files: {appointments: ''}}",
            "sources[0].csv.files.appointments",
        ),
    ],
)
def test_unusable_urls_and_empty_paths_are_refused_with_the_key(tmp_path: Path, source, message):
    from flows.config import ConfigError, load_config

    path = tmp_path / "c.yml"
    path.write_text(f"sources:\n  - {source}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)
