"""Results files name the code that ran: the git revision is the one at the start of the run."""

from __future__ import annotations

import pytest

from ami import provenance


@pytest.fixture
def fresh_revision_cache():
    provenance.git_revision.cache_clear()
    yield
    provenance.git_revision.cache_clear()


def test_revision_is_fixed_when_first_read(monkeypatch, fresh_revision_cache):
    answers = {"rev-parse": "abc1234", "status": ""}
    monkeypatch.setattr(provenance, "_git", lambda *args: answers[args[0]])
    assert provenance.machine_facts()["git_revision"] == "abc1234"
    answers.update({"rev-parse": "def5678", "status": " M src/ami/recipes.py"})  # a commit later
    assert provenance.machine_facts()["git_revision"] == "abc1234"


def test_uncommitted_changes_mark_the_revision_dirty(monkeypatch, fresh_revision_cache):
    answers = {"rev-parse": "abc1234", "status": " M src/ami/recipes.py"}
    monkeypatch.setattr(provenance, "_git", lambda *args: answers[args[0]])
    assert provenance.git_revision() == "abc1234-dirty"


def test_no_git_gives_unknown(monkeypatch, fresh_revision_cache):
    def missing(*args):
        raise OSError("git not found")

    monkeypatch.setattr(provenance, "_git", missing)
    assert provenance.git_revision() == "unknown"
