"""Developer sessions: tests, lint, typecheck, bench."""

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (warnings are errors)."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "sinch_calling")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (contenders alternating, results in benchmarks/results/), then README's
    performance table and chart from those files: ``nox -s bench [-- --quick] [names]``."""
    session.install("-e", ".[dev,bench]")
    session.run("python", "-m", "benchmarks", *session.posargs)
