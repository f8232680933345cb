"""compat-tests: one suite, many targets (s3gw, MinIO, any endpoint), real clients.

``python -m pytest compat-tests`` runs every case on every available target:
``test_expect[CASE@TARGET]`` checks the case's own expectations on a target and
``test_same[CASE@TARGET]`` checks that the target's observation equals the
reference MinIO's. Known divergences (divergences.py) are strict xfails. At the
end the matrix is written to compat-tests/out/matrix.{json,md} and printed;
``--compat-update-docs`` also rewrites the matrix section of docs/compat.md.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import divergences  # noqa: E402
from s3compat import cases as _cases  # noqa: E402,F401 - registers every case
from s3compat import core, targets  # noqa: E402
from s3compat.clients import mc_available  # noqa: E402
from s3compat.matrix import Matrix  # noqa: E402

OUT = HERE / "out"
DOCS = HERE.parent / "docs" / "compat.md"
BEGIN, END = "<!-- matrix:begin -->", "<!-- matrix:end -->"

MATRIX = pytest.StashKey[Matrix]()
AVAIL = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("compat")
    g.addoption(
        "--compat-update-docs", action="store_true", help="rewrite the matrix section of docs/compat.md from this run"
    )
    g.addoption(
        "--compat-cases",
        default=os.environ.get("COMPAT_CASES", ""),
        help="comma-separated fnmatch patterns of case ids to run (default: all)",
    )


def pytest_configure(config: pytest.Config) -> None:
    avail = targets.availability()
    config.stash[AVAIL] = avail
    m = Matrix()
    for name, (ok, reason) in avail.items():
        m.targets[name] = "up" if ok else reason
    m.reference = next((r for r in targets.REFERENCES if avail.get(r, (False, ""))[0]), None)
    config.stash[MATRIX] = m


def _selected_cases(config: pytest.Config) -> list[str]:
    import fnmatch

    pats = [p.strip() for p in config.getoption("--compat-cases").split(",") if p.strip()]
    ids = list(core.REGISTRY)
    if pats:
        ids = [i for i in ids if any(i == p or fnmatch.fnmatchcase(i, p) for p in pats)]
    return ids


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config
    avail = config.stash[AVAIL]
    up = [t for t, (ok, _) in avail.items() if ok]
    ref = config.stash[MATRIX].reference
    fn = metafunc.function.__name__
    if fn == "test_target":
        metafunc.parametrize("target_name", list(avail), ids=list(avail))
        return
    if fn not in ("test_expect", "test_same"):
        return
    test = fn.removeprefix("test_")
    params = []
    for cid in _selected_cases(config):
        for t in up:
            if test == "same" and (ref is None or t == ref or t in targets.REFERENCES):
                continue
            reason = divergences.lookup(cid, t, test)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(cid, t, marks=marks, id=f"{cid}@{t}"))
    metafunc.parametrize(("case_id", "target_name"), params)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    m = config.stash[MATRIX]
    for item in items:
        cs = getattr(item, "callspec", None)
        if cs is None or cs.params.get("case_id") not in core.REGISTRY:
            continue  # e.g. test_same with no reference target: an empty parameter set
        c = core.REGISTRY[cs.params["case_id"]]
        m.meta[item.nodeid] = (c.id, c.op, c.client, cs.params["target_name"], item.originalname.removeprefix("test_"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    m = _matrix
    if m is None or report.nodeid not in m.meta:
        return
    if report.when == "call" or report.outcome != "passed":
        if hasattr(report, "wasxfail"):
            outcome = "div" if report.skipped else "xpass"
            detail = report.wasxfail
        elif report.passed:
            outcome, detail = "pass", ""
        elif report.skipped:
            outcome, detail = "skip", str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
        else:
            outcome = "xpass" if "XPASS(strict)" in str(report.longrepr) else "fail"
            detail = _short(report)
        m.record(report.nodeid, outcome, detail)


def _short(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text[:600]


_matrix: Matrix | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _matrix
    _matrix = session.config.stash[MATRIX]


def pytest_sessionfinish(session: pytest.Session) -> None:
    m = session.config.stash.get(MATRIX, None)
    if m is None or not m.results:
        return
    data, md = m.write(OUT, divergences.all_reasons())
    session.config.stash[_MD] = md
    if session.config.getoption("--compat-update-docs") and DOCS.exists():
        full = md + "\n" + Matrix.divergences_markdown(data)
        text = DOCS.read_text()
        if BEGIN in text and END in text:
            new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: f"{BEGIN}\n{full}{END}", text, flags=re.S)
            DOCS.write_text(new)


_MD = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    md = config.stash.get(_MD, None)
    if md:
        terminalreporter.section("s3 compatibility matrix")
        terminalreporter.write(md)
        terminalreporter.write_line(f"written to {OUT / 'matrix.md'} and {OUT / 'matrix.json'}")


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def pool():
    p = targets.Pool()
    try:
        yield p
    finally:
        p.close(keep_logs=OUT / "logs")


@pytest.fixture(scope="session")
def token() -> str:
    return secrets.token_hex(3)


@pytest.fixture(scope="session")
def observe(pool, token, tmp_path_factory):
    """observe(case_id, target) -> the normalised observation, run once per pair."""
    cache: dict[tuple[str, str], dict] = {}

    def get(case_id: str, target: str) -> dict:
        key = (case_id, target)
        if key not in cache:
            c = core.REGISTRY[case_id]
            if c.client == "mc" and not mc_available():
                pytest.skip(f"mc not available: {targets.tool_error('mc')}")
            try:
                t = pool.get(target, tls=c.tls)
            except targets.TLSUnavailable as e:
                pytest.skip(f"TLS case: {e}")
            tmp = tmp_path_factory.mktemp("case")
            try:
                cache[key] = core.run(c, t, token, tmp)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def reference(request) -> str:
    ref = request.config.stash[MATRIX].reference
    assert ref
    return ref


@pytest.fixture(scope="session")
def availability(request) -> dict:
    return request.config.stash[AVAIL]
