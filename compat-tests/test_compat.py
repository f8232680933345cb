"""The differential tests. Cases live in s3compat/cases/; see conftest.py."""

from __future__ import annotations

import pprint

import pytest
from s3compat import core


def test_target(target_name, availability, pool):
    """Each selected target is up (or skipped with the reason it is not available)."""
    ok, reason = availability[target_name]
    if not ok:
        pytest.skip(reason)
    pool.get(target_name)


def test_expect(case_id, target_name, observe):
    """The case's own expectations hold on this target."""
    obs = observe(case_id, target_name)
    problems = core.check(obs, core.REGISTRY[case_id].expect)
    assert not problems, "\n".join(problems) + "\n\nobservation:\n" + pprint.pformat(obs, width=110)


def test_same(case_id, target_name, observe, reference):
    """What the client observes on this target equals what it observes on MinIO."""
    ref = observe(case_id, reference)
    got = observe(case_id, target_name)
    d = core.diff(ref, got)
    assert not d, (
        f"{target_name} differs from {reference}:\n  "
        + "\n  ".join(d)
        + f"\n\n{reference}:\n"
        + pprint.pformat(ref, width=110)
        + f"\n\n{target_name}:\n"
        + pprint.pformat(got, width=110)
    )
