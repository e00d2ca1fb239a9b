#!/usr/bin/env python
"""Submission throughput under an opening-day rush, against a hello-world view on the same server.

``.venv/bin/python bench/submit.py [--candidates N] [--concurrency C]`` (see bench/README.md):

1. creates a PostgreSQL database of its own (``kaowu_bench_<pid>``), migrates it and loads the demo
   catalogue; registers 2·N candidates (+ a few for warm-up) through the registration services, uploads
   their photos and fills a CCAA exam application for each up to the confirmation step (not timed);
2. starts gunicorn on a free loopback port (DEBUG off; Redis as cache and Celery broker when
   ``redis-server`` is installed, as in production) and warms it up;
3. drives, with one asyncio HTTP/1.1 client at the same concurrency each time: ``GET /healthz/``
   (hello world), then N ``POST /applications/<pk>/submit/`` spread over the five CCAA sites, then N more
   all at one hot site whose capacity (per sitting) is smaller than N;
4. checks the seats in the database (no capacity row held beyond its capacity, one ``SeatHold`` per
   held seat, HTTP outcomes matching the applications' states), prints
   ``submit_vs_hello=<ratio> oversold=<n>`` and ``hot_site_submit_vs_hello=<ratio> oversold=<n>`` with
   absolute rates and latency percentiles, and appends a JSON line to bench/results/submit.jsonl;
5. stops the servers and drops the database, also after an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "submit.jsonl"
VENV_BIN = ROOT / ".venv" / "bin"
PHOTO = ROOT / "kaowu" / "accounts" / "demo" / "photo.jpg"
PASSWORD = "Kaowu2026load"
HOT_SITE_NAME = "压测热点考区"
# The page a refused submission shows starts with this (kaowu.applications.seats.site_full_error).
SITE_FULL_MARK = "此考点已满".encode()

GOAL_RATIO, GOAL_HOT_RATIO = 0.35, 0.25


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=400, help="submissions per variant (default 400)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--hot-capacity", type=int, default=100, help="hot site seats per sitting (default 100)")
    parser.add_argument("--hello-requests", type=int, default=4000, help="hello-world requests (default 4000)")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per measured run (default 120)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--setup-processes", type=int, default=os.cpu_count() or 1, help="parallel setup")
    parser.add_argument(
        "--broker",
        choices=["redis", "none"],
        default="redis" if shutil.which("redis-server") else "none",
        help="redis: a private redis-server as cache and Celery broker (production-like; default when "
        "installed); none: local-memory cache, tasks run in the request",
    )
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--keep-db", action="store_true", help="keep the database (for profiling); prints its URL")
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/results/submit.jsonl")
    args = parser.parse_args(argv)
    if args.hot_capacity >= args.candidates:
        parser.error("--hot-capacity must be smaller than --candidates, so that the hot site fills up")
    return args


# --- Processes, database and environment ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process we started (gunicorn stops its workers gracefully), SIGKILL if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def admin_sql(pg_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{pg_url}/postgres", autocommit=True) as connection:
        connection.execute(statement)


def create_database(pg_url: str, name: str, cleanup: contextlib.ExitStack, keep: bool) -> str:
    admin_sql(pg_url, f'CREATE DATABASE "{name}"')
    if keep:
        print(f"keeping database {pg_url}/{name} (drop it with: DROP DATABASE {name})", flush=True)
    else:
        cleanup.callback(admin_sql, pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return f"{pg_url}/{name}"


def server_env(database_url: str, media_root: Path, redis_url: str | None) -> dict[str, str]:
    """The environment of the server under test: development profile with DEBUG off and quiet logs.

    Notification e-mails go to the dummy backend and SMS to the console backend (silent at WARNING): with a
    broker they are only queued anyway, and without one the bench should not measure a terminal.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="kaowu.settings",
        KAOWU_ENV="development",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        DATABASE_URL=database_url,
        KAOWU_PRIVATE_MEDIA_ROOT=str(media_root),
        LOG_LEVEL="WARNING",
        SMS_BACKEND="kaowu.notifications.sms.console.SmsBackend",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def start_redis(workdir: Path, cleanup: contextlib.ExitStack) -> str:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=(workdir / "redis.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    cleanup.callback(stop, process)
    wait_for_port(port, process, "redis-server")
    return f"redis://127.0.0.1:{port}/0"


def start_gunicorn(
    args: argparse.Namespace, env: dict[str, str], workdir: Path, cleanup: contextlib.ExitStack
) -> tuple[int, subprocess.Popen]:
    port = free_port()
    log = workdir / "gunicorn.log"
    command = [
        str(VENV_BIN / "gunicorn"),
        "kaowu.wsgi",
        f"--workers={args.workers}",
        f"--threads={args.threads}",
        f"--bind=127.0.0.1:{port}",
        "--worker-tmp-dir=/dev/shm",
        "--graceful-timeout=5",
        f"--error-logfile={log}",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT)

    def stop_and_report() -> None:
        stop(process)
        errors = [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line]
        if errors:
            print(f"gunicorn logged {len(errors)} tracebacks; see the log tail:", file=sys.stderr)
            print("\n".join(log.read_text(errors="replace").splitlines()[-40:]), file=sys.stderr)

    cleanup.callback(stop_and_report)
    wait_for_port(port, process, "gunicorn")
    return port, process


def git_commit() -> str:
    def git(*command: str) -> str:
        return subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


# --- Setup through the services (not timed) ---------------------------------------------------------------


@dataclass
class Candidate:
    number: int  # the setup job: warm-up, spread and hot candidates are told apart by it
    user_id: int
    application_id: int
    session_key: str


@dataclass
class World:
    spread: list[Candidate]
    hot: list[Candidate]
    warmup: list[Candidate]
    hot_site_id: int
    batch_id: int
    setup_seconds: float
    seconds_per_candidate: dict[str, float] = field(default_factory=dict)


def django_setup(env: dict[str, str]) -> None:
    """Configure Django in this process for the setup: the server's settings, but SMS to the in-memory
    backend (registration reads the code from it) and every task run in-process."""
    os.environ.update(env)
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    os.environ["SMS_BACKEND"] = "kaowu.notifications.sms.locmem.SmsBackend"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare_catalogue(hot_capacity: int) -> tuple[int, int]:
    """Migrate, load the demo catalogue and add the hot site to the CCAA batch; returns (batch, hot site)."""
    from django.core.management import call_command

    from kaowu.catalog import demo
    from kaowu.catalog.models import Batch, Region, Site, SiteCapacity

    call_command("migrate", verbosity=0)
    demo.load_demo_catalogue()
    batch = Batch.objects.get(programme__code=demo.CCAA_EXAM)
    # Sites and their seats are catalogue data edited in the admin (there is no service); like the demo
    # catalogue, the bench writes the rows.
    hot = Site.objects.create(
        batch=batch, name=HOT_SITE_NAME, region=Region.objects.get(code="320100"), address="压测用考区"
    )
    for sitting in batch.sittings.all():
        SiteCapacity.objects.create(site=hot, sitting=sitting, capacity=hot_capacity)
    return batch.pk, hot.pk


def _id_number(n: int) -> str:
    from kaowu.core.validators import gb11643_check_char

    body = f"110105{date(1970, 1, 1) + timedelta(days=n):%Y%m%d}{n % 500 * 2 + 1:03d}"
    return body + gb11643_check_char(body)


def register(n: int):
    """Register candidate ``n`` as the registration views do: SMS code, form checks, second confirmation."""
    from kaowu.accounts import services as accounts
    from kaowu.accounts.models import Degree, EducationLevel, StudyMode
    from kaowu.catalog.models import NoticeKind
    from kaowu.catalog.selectors import notice_current
    from kaowu.notifications.sms import locmem

    phone = f"1390{n:07d}"
    locmem.clear()
    accounts.registration_sms_send(phone=phone)
    code = next(m.params["code"] for m in locmem.outbox if m.phone == phone)
    education = accounts.EducationData(
        level=EducationLevel.BACHELOR,
        degree=Degree.BACHELOR,
        school="南京大学",
        major="管理学",
        graduated_on=date(2012, 7, 1),
        study_mode=StudyMode.FULL_TIME,
    )
    pending = accounts.registration_start(
        username=f"bench{n:05d}",
        doc_type="id_card",
        doc_number=_id_number(n),
        real_name="压测考生",
        gender="",
        birth_date=None,
        phone=phone,
        sms_code=code,
        email=f"bench{n:05d}@example.com",
        password=PASSWORD,
        security_question="我的出生地是？",
        security_answer="南京",
        education=education,
        accepted_notices=[
            notice_current(None, kind).pk for kind in (NoticeKind.USER_AGREEMENT, NoticeKind.REGISTRATION_NOTICE)
        ],
    )
    return accounts.candidate_register(
        pending=pending,
        confirmation=accounts.IdentityConfirmation(
            real_name=pending.real_name,
            doc_type=pending.doc_type,
            doc_number=pending.doc_number,
            education_level=education.level,
            degree=education.degree,
        ),
    )


def fill_application(user, batch_id: int, site_id: int, n: int) -> int:
    """Open and fill a CCAA application (须知与承诺书, 个人信息, 发票, one subject per sitting, 考区) up to
    the confirmation step, with the candidate's services; returns its id."""
    from kaowu.applications import services
    from kaowu.catalog.models import Batch, Site

    batch, site = Batch.objects.get(pk=batch_id), Site.objects.get(pk=site_id)
    application = services.application_start(actor=user, batch=batch)
    services.application_accept_commitment(actor=user, application=application)
    services.application_confirm_personal(actor=user, application=application, region=site.region)
    services.application_set_invoice(actor=user, application=application, kind="personal")
    subjects = [
        list(sitting.subjects.order_by("code"))[n % sitting.subjects.count()]
        for sitting in batch.sittings.order_by("starts_at")
    ]
    services.application_choose_subjects(
        actor=user, application=application, level=None, specialty=None, subjects=subjects
    )
    services.application_choose_site(actor=user, application=application, site=site)
    return application.pk


def login_session(user) -> str:
    """A signed-in session for ``user`` as ``django.contrib.auth.login`` would store it (no captcha)."""
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "kaowu.accounts.backends.IdentifierBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def make_candidates(jobs: list[tuple[int, int]], batch_id: int) -> tuple[list[Candidate], dict[str, float]]:
    """Register, photograph, fill and sign in one candidate per (number, site) job; returns them with the
    mean seconds each stage took per candidate."""
    from django.test import override_settings

    from kaowu.accounts import services as accounts

    photo = PHOTO.read_bytes()
    spent: Counter[str] = Counter()
    candidates = []

    def timed(stage: str, function: Callable, *args, **kwargs):
        started = time.perf_counter()
        result = function(*args, **kwargs)
        spent[stage] += time.perf_counter() - started
        return result

    # Passwords are hashed with MD5 here, as in the test suite: these accounts never log in with their
    # password (the bench creates their sessions), and PBKDF2 would make the setup take ~1 s per candidate.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        for n, site_id in jobs:
            user = timed("register", register, n)
            report = timed("photo", accounts.photo_upload, actor=user, user=user, data=photo)
            if not report.ok:
                raise RuntimeError(f"the demo photo was refused: {report}")
            application_id = timed("fill", fill_application, user, batch_id, site_id, n)
            candidates.append(Candidate(n, user.pk, application_id, timed("session", login_session, user)))
    return candidates, {stage: seconds / max(len(jobs), 1) for stage, seconds in spent.items()}


def _make_candidates_in_child(jobs: list[tuple[int, int]], batch_id: int) -> tuple[list[Candidate], dict]:
    from django.db import connections

    connections.close_all()  # the forked child must not share the parent's connection
    try:
        return make_candidates(jobs, batch_id)
    finally:
        connections.close_all()


def build_world(args: argparse.Namespace) -> World:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from django.db import connections

    from kaowu.catalog.models import Site

    started = time.perf_counter()
    batch_id, hot_site_id = prepare_catalogue(args.hot_capacity)
    spread_sites = list(Site.objects.filter(batch_id=batch_id).exclude(pk=hot_site_id).order_by("pk"))
    n, warmup = args.candidates, 2 * args.workers * args.threads
    jobs = [(i, spread_sites[i % len(spread_sites)].pk) for i in range(n + warmup)] + [
        (i, hot_site_id) for i in range(n + warmup, 2 * n + warmup)
    ]
    connections.close_all()
    processes = max(1, min(args.setup_processes, len(jobs)))
    chunks = [jobs[i::processes] for i in range(processes)]
    with ProcessPoolExecutor(processes, mp_context=get_context("fork")) as pool:
        results = list(pool.map(_make_candidates_in_child, chunks, [batch_id] * processes))
    ordered = sorted((c for candidates, _stages in results for c in candidates), key=lambda c: c.number)
    per_stage: Counter[str] = Counter()
    for _candidates, stages in results:
        per_stage.update(stages)
    return World(
        spread=[c for c in ordered if warmup <= c.number < n + warmup],
        hot=[c for c in ordered if c.number >= n + warmup],
        warmup=[c for c in ordered if c.number < warmup],
        hot_site_id=hot_site_id,
        batch_id=batch_id,
        setup_seconds=time.perf_counter() - started,
        seconds_per_candidate={stage: round(s / processes, 4) for stage, s in per_stage.items()},
    )


# --- The load generator: one asyncio HTTP/1.1 client, keep-alive connections ---------------------------


@dataclass(frozen=True)
class Request:
    raw: bytes
    tag: int = 0  # the application id for submissions


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Connection:
    """One keep-alive HTTP/1.1 connection to the server under test (enough HTTP for Django's answers)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def send(self, request: Request) -> Response:
        """Send ``request`` and read the answer. Only a reused keep-alive connection that the server had
        already closed (no answer at all) is retried, once, on a new one: the usual keep-alive race. A new
        connection that gets no answer raises ``ConnectionError``, so a request is never silently repeated."""
        reused = self.writer is not None
        if not reused:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None and self.writer is not None
        self.writer.write(request.raw)
        try:
            await self.writer.drain()
            status_line = await self.reader.readline()
        except ConnectionError:
            status_line = b""
        if status_line:
            return await self._read_rest(status_line)
        await self.close()
        if not reused:
            raise ConnectionError("the server closed a new connection without answering")
        self.reconnects += 1
        return await self.send(request)

    async def _read_rest(self, status_line: bytes) -> Response:
        assert self.reader is not None
        version, _, rest = status_line.partition(b" ")
        if not version.startswith(b"HTTP/1."):
            raise ValueError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        status = int(rest[:3])
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            body = b"".join(parts)
        else:
            body = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body)


@dataclass
class Run:
    name: str
    latencies: list[float]
    outcomes: Counter[str]
    elapsed: float
    reconnects: int
    unexpected: list[str]
    submitted_ids: list[int] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.completed / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def summary(self) -> dict:
        return {
            "requests": self.completed,
            "seconds": round(self.elapsed, 3),
            "req_per_s": round(self.rate, 2),
            "p50_ms": round(self.percentile(50), 2),
            "p90_ms": round(self.percentile(90), 2),
            "p99_ms": round(self.percentile(99), 2),
            "max_ms": round(max(self.latencies) * 1000, 2) if self.latencies else None,
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else None,
            "outcomes": dict(self.outcomes),
            "reconnects": self.reconnects,
            "cpu_ms_per_request": {
                k: round(v * 1000 / max(self.completed, 1), 2) for k, v in self.cpu_seconds.items() if k != "other"
            },
            "other_processes_cpu_share": round(self.other_share, 3),
        }

    @property
    def other_share(self) -> float:
        """The share of the machine's CPUs used by unrelated processes during the run."""
        capacity = self.elapsed * (os.cpu_count() or 1)
        return self.cpu_seconds.get("other", 0.0) / capacity if capacity else 0.0

    def line(self) -> str:
        s = self.summary()
        outcomes = " ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))
        return (
            f"{self.name}: {s['req_per_s']:.1f} req/s over {s['requests']} requests in {s['seconds']:.1f} s; "
            f"latency p50={s['p50_ms']:.1f} p90={s['p90_ms']:.1f} p99={s['p99_ms']:.1f} max={s['max_ms']:.1f} ms; "
            f"{outcomes}; CPU ms per request: "
            + " ".join(f"{k}={v}" for k, v in s["cpu_ms_per_request"].items())
            + f"; other processes used {self.other_share:.0%} of the CPUs"
        )


class CpuMeter:
    """CPU seconds used by the server (gunicorn master and workers), by the bench database's PostgreSQL
    backends, by this client, and by everything else on the machine (``other``: work that competes with
    the server and makes the figures unreliable), read from /proc around each run (Linux)."""

    def __init__(self, server_pid: int, pg_url: str, database: str) -> None:
        self.server_pid, self.pg_url, self.database = server_pid, pg_url, database
        self.clock_ticks = os.sysconf("SC_CLK_TCK")

    def _cpu(self, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self.clock_ticks  # utime + stime

    def _server_pids(self) -> list[int]:
        pids = [self.server_pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.server_pid:
                    pids.append(int(stat.parent.name))
        return pids

    def _backend_pids(self) -> list[int]:
        import psycopg

        with psycopg.connect(f"{self.pg_url}/postgres", autocommit=True) as connection:
            rows = connection.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])
            return [pid for (pid,) in rows]

    def _machine_busy(self) -> float:
        # First line of /proc/stat: user nice system idle iowait irq softirq steal … (in clock ticks).
        ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return (sum(ticks) - ticks[3] - ticks[4]) / self.clock_ticks

    def snapshot(self) -> dict[str, dict[int, float]]:
        return {
            "server": {pid: self._cpu(pid) for pid in self._server_pids()},
            "postgres": {pid: self._cpu(pid) for pid in self._backend_pids()},
            "client": {0: time.process_time()},
            "machine": {0: self._machine_busy()},
        }

    def since(self, before: dict[str, dict[int, float]]) -> dict[str, float]:
        """CPU seconds per group since ``before`` (a process that started meanwhile counts from zero)."""
        after = self.snapshot()
        spent = {
            group: sum(seconds - before[group].get(pid, 0.0) for pid, seconds in after[group].items())
            for group in after
        }
        machine = spent.pop("machine")
        spent["other"] = max(0.0, machine - sum(spent.values()))
        return spent


Classifier = Callable[[Request, Response], str]


async def drive(
    name: str, port: int, requests: Sequence[Request], concurrency: int, time_limit: float, classify: Classifier
) -> Run:
    """Send ``requests`` with ``concurrency`` in flight; stop early after ``time_limit`` seconds."""
    pending: Iterator[Request] = iter(requests)
    run = Run(name, [], Counter(), 0.0, 0, [])
    started = time.perf_counter()
    deadline = started + time_limit

    async def worker() -> None:
        connection = Connection(port)
        try:
            for request in pending:
                if time.perf_counter() > deadline:
                    run.outcomes["not_sent_time_limit"] += 1
                    continue
                sent = time.perf_counter()
                try:
                    response = await connection.send(request)
                except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                    run.outcomes["connection_error"] += 1
                    if len(run.unexpected) < 5:
                        run.unexpected.append(f"{type(error).__name__}: {error}")
                    await connection.close()
                    continue
                run.latencies.append(time.perf_counter() - sent)
                outcome = classify(request, response)
                run.outcomes[outcome] += 1
                if outcome == "submitted":
                    run.submitted_ids.append(request.tag)
                elif outcome not in ("ok", "site_full") and len(run.unexpected) < 5:
                    run.unexpected.append(f"{response.status} {response.body[:300]!r}")
        finally:
            run.reconnects += connection.reconnects
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.elapsed = time.perf_counter() - started
    return run


def hello_requests(count: int) -> list[Request]:
    raw = b"GET /healthz/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: kaowu-bench\r\n\r\n"
    return [Request(raw)] * count


def submit_requests(candidates: Sequence[Candidate]) -> list[Request]:
    """One POST per candidate with their session cookie and a CSRF secret in cookie and header."""
    from django.urls import reverse

    requests = []
    for candidate in candidates:
        token = secrets.token_hex(16)  # 32 characters: Django accepts an unmasked secret in the header
        body = b"confirm=on"  # 我确认以上报考信息无误
        head = (
            f"POST {reverse('applications:submit', args=[candidate.application_id])} HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\nUser-Agent: kaowu-bench\r\n"
            f"Cookie: sessionid={candidate.session_key}; csrftoken={token}\r\n"
            f"X-CSRFToken: {token}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        requests.append(Request(head.encode() + body, tag=candidate.application_id))
    return requests


def classify_hello(_request: Request, response: Response) -> str:
    if response.status == 200 and response.body == b"ok":
        return "ok"
    return "error_5xx" if response.status >= 500 else f"unexpected_{response.status}"


def classify_submit(_request: Request, response: Response) -> str:
    if response.status == 302:
        return "submitted"
    if response.status in (200, 409) and SITE_FULL_MARK in response.body:
        return "site_full"
    return "error_5xx" if response.status >= 500 else f"unexpected_{response.status}"


# --- Checks in the database afterwards ---------------------------------------------------------------------


def seat_checks(site_ids: Sequence[int], batch_id: int, application_ids: Sequence[int], answered_302: set[int]) -> dict:
    """Oversold seats and bookkeeping at ``site_ids``: ``held`` against capacity, ``SeatHold`` rows against
    ``held``, and which of ``application_ids`` were submitted against the HTTP answers they got."""
    from django.db.models import Count

    from kaowu.applications.models import Application, SeatHold
    from kaowu.applications.workflow import Status
    from kaowu.catalog.models import SiteCapacity

    rows = list(
        SiteCapacity.objects.filter(site__batch_id=batch_id, site_id__in=site_ids)
        .select_related("site", "sitting")
        .order_by("site_id", "sitting__starts_at")
    )
    holds = dict(
        SeatHold.objects.filter(capacity__in=rows)
        .values("capacity")
        .annotate(n=Count("id"))
        .values_list("capacity", "n")
    )
    applications = Application.objects.filter(pk__in=application_ids)
    submitted = set(applications.exclude(status=Status.DRAFT).values_list("pk", flat=True))
    return {
        "oversold": sum(max(0, r.held - r.capacity) for r in rows),
        "holds_not_matching_held": sum(abs(holds.get(r.pk, 0) - r.held) for r in rows),
        "http_302_not_submitted": len(answered_302 - submitted),
        "submitted_without_302": len(submitted - answered_302),
        "application_states": dict(Counter(applications.values_list("status", flat=True))),
        "seats_held_of_capacity": {f"{r.site.name} {r.sitting.name}": f"{r.held}/{r.capacity}" for r in rows},
    }


def correctness_problems(checks: dict, runs: Sequence[Run]) -> list[str]:
    problems = []
    for variant, figures in checks.items():
        for key in ("oversold", "holds_not_matching_held", "http_302_not_submitted", "submitted_without_302"):
            if figures[key]:
                problems.append(f"{variant}: {key}={figures[key]}")
    # Requests left unsent at the time limit make a run shorter, not wrong; they are shown with the outcomes.
    expected = {"ok", "submitted", "site_full", "not_sent_time_limit"}
    for run in runs:
        bad = {k: v for k, v in run.outcomes.items() if k not in expected}
        if bad:
            problems.append(f"{run.name}: {bad}; e.g. {run.unexpected[:2]}")
    return problems


# --- Main --------------------------------------------------------------------------------------------------


async def measure(args: argparse.Namespace, port: int, world: World, meter: CpuMeter) -> dict[str, Run]:
    c, limit = args.concurrency, args.time_limit

    async def measured(name: str, requests: list[Request], classify: Classifier) -> Run:
        before = meter.snapshot()
        run = await drive(name, port, requests, c, limit, classify)
        run.cpu_seconds = meter.since(before)
        return run

    # Warm-up: every worker thread imports, connects to the database and renders once before timing.
    await drive("warm-up hello", port, hello_requests(50 * c), c, limit, classify_hello)
    warmup = await drive("warm-up submit", port, submit_requests(world.warmup), c, limit, classify_submit)
    hello = await measured("hello", hello_requests(args.hello_requests), classify_hello)
    spread = await measured("submit", submit_requests(world.spread), classify_submit)
    hot = await measured("hot_site_submit", submit_requests(world.hot), classify_submit)
    return {"warmup": warmup, "hello": hello, "submit": spread, "hot_site_submit": hot}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM ends the run like Ctrl-C does: through the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    with contextlib.ExitStack() as cleanup:
        workdir = Path(tempfile.mkdtemp(prefix="kaowu-bench-"))
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        database = f"kaowu_bench_{os.getpid()}"
        database_url = create_database(args.pg, database, cleanup, args.keep_db)
        redis_url = start_redis(workdir, cleanup) if args.broker == "redis" else None
        env = server_env(database_url, workdir / "private", redis_url)
        django_setup(env)
        from django.db import connections

        cleanup.callback(connections.close_all)  # before the database is dropped

        print(f"setting up {2 * args.candidates} candidates in {database} ...", flush=True)
        world = build_world(args)
        print(
            f"setup: {world.setup_seconds:.0f} s; per candidate and setup process: "
            + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in world.seconds_per_candidate.items()),
            flush=True,
        )
        with connections["default"].cursor() as cursor:
            # Fresh planner statistics, and no autovacuum of the setup's rows in the middle of the runs.
            cursor.execute("VACUUM ANALYZE")
        port, server = start_gunicorn(args, env, workdir, cleanup)
        runs = asyncio.run(measure(args, port, world, CpuMeter(server.pid, args.pg, database)))
        hello, spread, hot = runs["hello"], runs["submit"], runs["hot_site_submit"]

        spread_sites = [s for s in _site_ids(world.batch_id) if s != world.hot_site_id]
        warm_and_spread = world.warmup + world.spread
        checks = {
            "spread": seat_checks(
                spread_sites,
                world.batch_id,
                [c.application_id for c in warm_and_spread],
                set(runs["warmup"].submitted_ids + spread.submitted_ids),
            ),
            "hot": seat_checks(
                [world.hot_site_id], world.batch_id, [c.application_id for c in world.hot], set(hot.submitted_ids)
            ),
        }
        ratio = spread.rate / hello.rate if hello.rate else 0.0
        hot_ratio = hot.rate / hello.rate if hello.rate else 0.0

        for run in (hello, spread, hot):
            print(run.line())
        print(f"submit_vs_hello={ratio:.3f} oversold={checks['spread']['oversold']}")
        print(f"hot_site_submit_vs_hello={hot_ratio:.3f} oversold={checks['hot']['oversold']}")
        print(f"hot site seats: {checks['hot']['seats_held_of_capacity']}")
        oversold = checks["spread"]["oversold"] + checks["hot"]["oversold"]
        goals = ratio >= GOAL_RATIO and hot_ratio >= GOAL_HOT_RATIO and oversold == 0
        print(
            f"goal (ratio >= {GOAL_RATIO}, hot site >= {GOAL_HOT_RATIO}, oversold = 0): "
            + ("met" if goals else "NOT met")
        )
        problems = correctness_problems(checks, (hello, spread, hot, runs["warmup"]))
        busiest = max(hello.other_share, spread.other_share, hot.other_share)
        if busiest > 0.1:
            print(
                f"WARNING: other processes used up to {busiest:.0%} of the CPUs during the runs; they competed with "
                "the server, so the rates are low and noisy: run again on an idle machine",
                file=sys.stderr,
            )
        for problem in problems:
            print(f"PROBLEM: {problem}", file=sys.stderr)

        record = {
            "date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "commit": git_commit(),
            "params": {
                "candidates": args.candidates,
                "concurrency": args.concurrency,
                "hot_capacity": args.hot_capacity,
                "hello_requests": args.hello_requests,
                "gunicorn": f"{args.workers} workers x {args.threads} threads",
                "broker": args.broker,
                "cpus": os.cpu_count(),
            },
            "submit_vs_hello": round(ratio, 4),
            "hot_site_submit_vs_hello": round(hot_ratio, 4),
            "oversold": checks["spread"]["oversold"],
            "hot_oversold": checks["hot"]["oversold"],
            "hello": hello.summary(),
            "submit": spread.summary(),
            "hot_site_submit": hot.summary(),
            "checks": {k: {n: v for n, v in c.items() if n != "seats_held_of_capacity"} for k, c in checks.items()},
            "setup_seconds": round(world.setup_seconds, 1),
            "setup_seconds_per_candidate": world.seconds_per_candidate,
            "problems": problems,
        }
        if not args.no_record:
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            with RESULTS.open("a", encoding="utf-8") as results:
                results.write(json.dumps(record, ensure_ascii=False) + "\n")
            print(f"recorded in {RESULTS.relative_to(ROOT)}")
    return 1 if problems else 0


def _site_ids(batch_id: int) -> list[int]:
    from kaowu.catalog.models import Site

    return list(Site.objects.filter(batch_id=batch_id).values_list("pk", flat=True))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers stopped and database dropped", file=sys.stderr)
        sys.exit(130)
