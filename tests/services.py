"""Real PostgreSQL, Redis and RabbitMQ for the tests that need them.

Addresses come from environment variables with the machine's defaults:

* ``SINCH_CALLING_TEST_POSTGRES`` (``postgresql://postgres@127.0.0.1:5432/test``)
* ``SINCH_CALLING_TEST_REDIS`` (``redis://127.0.0.1:6379/0``)
* ``SINCH_CALLING_TEST_AMQP`` (``amqp://guest:guest@127.0.0.1:5672//``)

A test whose service does not answer is skipped with a message naming the service;
with ``SINCH_CALLING_REQUIRE_SERVICES=1`` (set by ``.ci/run``) it fails instead, so CI
never passes without running them. The services outlive the run: every test works in
its own schema or name prefix and removes it afterwards.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest

POSTGRES = os.environ.get("SINCH_CALLING_TEST_POSTGRES",
                          "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("SINCH_CALLING_TEST_REDIS", "redis://127.0.0.1:6379/0")
AMQP = os.environ.get("SINCH_CALLING_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")


def _required() -> bool:
    return os.environ.get("SINCH_CALLING_REQUIRE_SERVICES", "") not in ("", "0")


def _unavailable(service: str, url: str, why: str) -> None:
    message = (f"{service} is not available at {_redact(url)} ({why}); start it or set "
               f"the address in the environment (see tests/services.py)")
    if _required():
        pytest.fail(f"SINCH_CALLING_REQUIRE_SERVICES is set but {message}", pytrace=False)
    pytest.skip(message)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


@cache
def _tcp_problem(url: str, default_port: int) -> str | None:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1",
                                       parts.port or default_port), timeout=2):
            return None
    except OSError as exc:
        return str(exc) or type(exc).__name__


@cache
def _postgres_problem() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed: pip install -e '.[postgres]'"
    problem = _tcp_problem(POSTGRES, 5432)
    if problem is not None:
        return problem
    try:
        with psycopg.connect(POSTGRES, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


def import_for(module: str, service: str, extra: str) -> Any:
    """Import ``module`` (for a whole test module), or skip it naming what is missing
    (fail when services are required)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        message = (f"{service} tests need {module}: pip install -e '.[{extra}]'")
        if _required():
            raise ImportError(f"SINCH_CALLING_REQUIRE_SERVICES is set but {message}") from None
        pytest.skip(message, allow_module_level=True)


def require_postgres() -> str:
    """The PostgreSQL DSN, or skip (fail when services are required)."""
    problem = _postgres_problem()
    if problem is not None:
        _unavailable("PostgreSQL", POSTGRES, problem)
    return POSTGRES


def require_redis() -> str:
    """The Redis URL, or skip (fail when services are required)."""
    problem = _tcp_problem(REDIS, 6379)
    if problem is None:
        try:
            import redis
        except ImportError:
            problem = "the redis package is not installed: pip install -e '.[celery]'"
        else:
            try:
                redis.Redis.from_url(REDIS, socket_timeout=3).ping()
            except redis.RedisError as exc:
                problem = str(exc)
    if problem is not None:
        _unavailable("Redis", REDIS, problem)
    return REDIS


def require_rabbitmq() -> str:
    """The AMQP URL, or skip (fail when services are required)."""
    problem = _tcp_problem(AMQP, 5672)
    if problem is not None:
        _unavailable("RabbitMQ", AMQP, problem)
    return AMQP


def require_celery() -> None:
    """Celery installed (the ``celery`` extra), or skip (fail when required)."""
    try:
        import celery  # noqa: F401
    except ImportError:
        _unavailable("Celery", "the celery package", "not installed: pip install -e "
                                                     "'.[celery]'")


def drop_schema(dsn: str, schema: str) -> None:
    """Remove a test's schema and everything in it."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def postgres_schema() -> Iterator[tuple[str, str]]:
    """``(dsn, schema)``: a fresh schema name, dropped after the test."""
    dsn = require_postgres()
    schema = f"test_{uuid.uuid4().hex[:16]}"
    try:
        yield dsn, schema
    finally:
        drop_schema(dsn, schema)


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    """``(url, prefix)``: a fresh key prefix, its keys deleted after the test."""
    url = require_redis()
    import redis

    prefix = f"sinch-test-{uuid.uuid4().hex[:12]}"
    try:
        yield url, prefix
    finally:
        client = redis.Redis.from_url(url)
        try:
            keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


def readme_ledger() -> str:
    """A PostgreSQL ledger DSN in a fresh schema for README's examples (dropped when the
    test session ends)."""
    import atexit
    from urllib.parse import urlencode

    dsn = require_postgres()
    schema = f"readme_{uuid.uuid4().hex[:12]}"
    atexit.register(drop_schema, dsn, schema)
    return f"{dsn}{'&' if '?' in dsn else '?'}{urlencode({'schema': schema})}"
