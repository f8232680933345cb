"""The lock files cover pyproject.toml: every dependency of the `test` extra (what scripts/setup.sh, and so
`make test` and CI, installs) and of the `production` extra (what the Dockerfile installs) is pinned, at a
version pyproject allows. A dependency changed without `make lock` (scripts/lock.sh) fails here."""

from __future__ import annotations

import pathlib
import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(lock: str) -> dict[str, str]:
    out = {}
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
        assert m, f"requirements/{lock}: not an exact pin: {line!r}"
        out[canonicalize_name(m.group(1))] = m.group(2)
    return out


@pytest.mark.parametrize("extra", ["test", "production"])
def test_the_lock_pins_what_pyproject_asks_for(extra: str) -> None:
    locked = pins(f"{extra}.lock")
    wanted = [Requirement(r) for r in PROJECT["dependencies"] + PROJECT["optional-dependencies"][extra]]
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not in requirements/{extra}.lock: run `make lock`"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"requirements/{extra}.lock pins {req.name}=={locked[name]}, pyproject wants {req.specifier}: run `make lock`"
        )
        for e in req.extras:  # redis[hiredis]: the extra's own package is locked too
            assert canonicalize_name(e) in locked, f"{req.name}[{e}] is not in requirements/{extra}.lock"
    assert canonicalize_name("s3gw") not in locked, "the project itself is installed from the tree, not the lock"


def test_setup_and_the_image_install_from_the_locks() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "requirements/test.lock" in setup and "--no-deps -e ." in setup
    docker = (ROOT / "Dockerfile").read_text()
    assert "-r requirements/production.lock" in docker and "--no-deps ." in docker
