"""Developer tasks. `nox` runs lint, typecheck, codegen_check, tests; CI adds `nox -s slow`,
`nox -s tests_postgres` and more (see `.ci/run`)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "codegen_check", "tests"]

PYTHON = "3.11"
# emannotationschemas pins old marshmallow and SQLAlchemy 1.4, so the schema dump runs in its own
# virtualenv and only its JSON output is an input to the rest of the build.
EMANNOTATIONSCHEMAS = "emannotationschemas==5.26.3"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite (unit, integration against a local dafserver, contract), without slow tests."""
    session.install("-e", ".[server,codegen,test,dask]")
    session.run(
        "pytest",
        "-n",
        "auto",
        "-m",
        "not slow and not postgres",
        *COVERAGE,
        *session.posargs,
        env=SQLITE,
    )


SQLITE = {"DAFSERVER_DATABASE_SERVER": ""}
"""Deployments use the SQLite file in their data folder (also when the caller's environment
names a PostgreSQL server)."""


POSTGRES_TESTS = (
    "tests/server/chunkedgraph_engine/test_cg_store.py",
    "tests/server/auth_service",
    "tests/server/annotation_service",
    "tests/server/chunkedgraph_service",
    "tests/server/materialize_service",
    "tests/end_to_end/materialize/test_client_basics.py",
    "tests/end_to_end/l2cache/test_l2cache_service.py",
    "--deselect",
    "tests/end_to_end/l2cache/test_l2cache_service.py::test_a_parallel_fill_equals_the_sequential_one",
    "tests/end_to_end/facade/test_info_schema_state.py",
    "tests/end_to_end/facade/test_auth_annotation.py",
    "tests/end_to_end/facade/test_chunkedgraph.py",
    "tests/end_to_end/facade/test_edits_and_more.py",
    "tests/server/multiprocess",
)
"""The service integration tests, run again with every deployment on PostgreSQL, and the facade
tests of the services without a folder of their own (info, schema, state). What does not depend on
the database runs once, on SQLite: the client-side folders (retries, faults, validation, fuzzing,
codegen), and the L2 cache's parallel fill (CPU-bound: its answers come from the volume)."""


@nox.session(python=PYTHON)
def tests_postgres(session: nox.Session) -> None:
    """The service integration tests against PostgreSQL, and two uvicorn workers on it.

    Uses the server in ``DAFSERVER_DATABASE_SERVER`` if set, else starts a throwaway one with
    ``.ci/postgres.sh`` (PostgreSQL installed from the package manager when missing) and stops
    it afterwards. Every test deployment gets a database of its own on that server.
    """
    session.install("-e", ".[server,postgres,test]")
    selection = session.posargs or POSTGRES_TESTS
    args = ("pytest", "-n", "auto", "-m", "not slow", *selection)
    server = os.environ.get("DAFSERVER_DATABASE_SERVER")
    if server:
        session.run(*args, env={"DAFSERVER_DATABASE_SERVER": server})
        return
    script = str(Path(__file__).parent / ".ci" / "postgres.sh")
    folder = tempfile.mkdtemp(prefix="dafpg-")
    url = subprocess.run(
        [script, "start", folder], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        session.run(*args, env={"DAFSERVER_DATABASE_SERVER": url})
    finally:
        subprocess.run([script, "stop", folder], check=False)


COVERAGE = ("--cov=dafclient", "--cov-report=term:skip-covered", "--cov-fail-under=88")
"""The test session reports the client's line coverage and fails below 88% (91–93% measured when
the gate was set)."""


@nox.session(python=PYTHON)
def slow(session: nox.Session) -> None:
    """The slow variants: heavy fuzzing of every spec, many concurrent client calls, mypy on user
    code written against generated table classes (hence the dev extra, which has mypy)."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-n", "auto", "-m", "slow and not postgres", *session.posargs, env=SQLITE)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: a local deployment with a synthetic dataset, and the client against it."""
    session.install("-e", ".[server]")
    session.run("dafclient", "demo", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site strictly (broken links and missing references fail) into
    ``site/``; ``nox -s docs -- serve`` serves it with live reload instead. The pages' code
    examples run in the ``tests`` session (``tests/end_to_end/docs``)."""
    session.install("-e", ".[docs]")
    env = {"NO_MKDOCS_2_WARNING": "1"}
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", "--strict", *session.posargs[1:], env=env)
    else:
        session.run("mkdocs", "build", "--strict", *session.posargs, env=env)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting of the handwritten code (dafclient/_wire/ is excluded)."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy, strict: dafclient/ (the generated dafclient/_wire/ included) and dafserver/."""
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session(python=PYTHON)
def codegen(session: nox.Session) -> None:
    """Regenerate dafclient/_wire/ from specs/."""
    session.install("-e", ".[codegen]")
    session.run("python", "-m", "dafclient._codegen")


@nox.session(python=PYTHON)
def codegen_check(session: nox.Session) -> None:
    """Fail if dafclient/_wire/ is not exactly what specs/ compile to."""
    session.install("-e", ".[codegen]")
    session.run("python", "-m", "dafclient._codegen", "--check")


@nox.session(python=PYTHON)
def dump_schemas(session: nox.Session) -> None:
    """Dump the annotation JSONSchemas from the real package into specs/annotation_schemas."""
    # marshmallow-jsonschema 0.10 imports pkg_resources, gone from setuptools 81.
    session.install(EMANNOTATIONSCHEMAS, "setuptools<81")
    session.run(
        "python",
        "dafclient/_codegen/dump_schemas.py",
        "--out",
        "specs/annotation_schemas",
        "--lock",
        "specs/annotation_schemas.lock.json",
    )


@nox.session(python=PYTHON)
def differential(session: nox.Session) -> None:
    """dafclient's annotation validation against the real EMAnnotationSchemas (marshmallow).

    The tests live in ``differential_tests/``, outside ``testpaths``, so the ``tests`` and
    ``slow`` sessions never collect them: they import ``emannotationschemas``, which pins old
    marshmallow and SQLAlchemy 1.4 and is installed only in this session's virtualenv, next to
    dafclient's own runtime dependencies (no server or test extras). emannotationschemas pins
    numpy<2 and pyarrow 26 needs numpy 2 (without saying so in its metadata), hence pyarrow<26.
    """
    session.install(
        EMANNOTATIONSCHEMAS,
        "pyarrow>=17,<26",
        "setuptools<81",
        "hypothesis>=6.100",
        "pytest>=8",
        "pytest-asyncio>=0.23",
        "-e",
        ".",
    )
    # Third-party code runs here (emannotationschemas, old marshmallow): its warnings are shown,
    # not failed on (the project's own suites fail on any warning).
    session.run(
        "pytest",
        "differential_tests",
        "-p",
        "no:cacheprovider",
        "-s",
        "-W",
        "default",
        *session.posargs,
    )


@nox.session(python=PYTHON)
def compat(session: nox.Session) -> None:
    """CAVEclient 8.2.1 itself, unchanged, against dafserver (``compat_tests/``).

    CAVEclient pins pandas<3, so it gets its own virtualenv, next to dafserver; the tests live
    outside ``testpaths`` so the other sessions never collect them.
    """
    session.install(
        "-e",
        ".[server]",
        "caveclient==8.2.1",
        "pandas<3",
        "pytest>=8",
        "pytest-asyncio>=0.23",
        "pytest-xdist>=3.5",
    )
    # CAVEclient runs here: its warnings are shown, not failed on.
    session.run(
        "pytest", "compat_tests", "-p", "no:cacheprovider", "-W", "default", *session.posargs
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Side-by-side benchmarks against a local dafserver (``-- --size tiny --only init``)."""
    # caveclient pins pandas<3; it runs here only as a comparison system.
    session.install("-e", ".[server,cloudvolume,dask]", "caveclient>=8,<9", "pandas<3")
    session.run("python", "benchmarks/run.py", *session.posargs)
