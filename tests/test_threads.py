"""The torch thread rule (prm/threads.py): pure choice from environment, cores and load; applied by
every `prm` command before it imports torch; overridable with PRM_THREADS."""

from __future__ import annotations

import os

import pytest

from prm import threads
from prm.cli import main
from prm.errors import UserError

# (environment, usable cores, 1-minute load) -> threads
CASES = [
    ({}, 2, 0.0, 2),                                  # idle: every core
    ({}, 2, 1.2, 1),                                  # one busy neighbour on 2 cores: the free one
    ({}, 2, 6.0, 1),                                  # overloaded: never below 1
    ({}, 16, 3.4, 13),
    ({}, 4, -0.2, 4),                                 # never above the cores
    ({"PRM_THREADS": "3"}, 2, 5.0, 3),                # the override wins, even over load
    ({"PRM_THREADS": "3", "OMP_NUM_THREADS": "1"}, 2, 0.0, 3),
    ({"OMP_NUM_THREADS": "1"}, 16, 0.0, 1),           # a count the user set is kept
    ({"OMP_NUM_THREADS": ""}, 2, 0.0, 2),             # an empty one is not a choice
    ({"PRM_THREADS": " "}, 2, 0.0, 2),
]


@pytest.mark.parametrize("env,cpus,load,expected", CASES)
def test_choose(env, cpus, load, expected):
    n, why = threads.choose(env, cpus=cpus, load=load)
    assert n == expected and why


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_bad_override_is_a_user_error(value):
    with pytest.raises(UserError, match="PRM_THREADS"):
        threads.choose({"PRM_THREADS": value}, cpus=2, load=0.0)


def test_apply_sets_the_count_for_children_and_a_passive_wait(monkeypatch):
    import torch

    before = torch.get_num_threads()
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("PRM_THREADS", "1")
    try:
        assert threads.apply()[0] == 1
        assert (os.environ["OMP_NUM_THREADS"], os.environ["MKL_NUM_THREADS"]) == ("1", "1")
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE" and torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's wait policy is kept
        threads.apply()
        assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    finally:
        torch.set_num_threads(before)


def test_every_command_goes_through_the_rule(monkeypatch, capsys):
    monkeypatch.setenv("PRM_THREADS", "many")
    assert main(["check", "--help"]) == 2
    assert "PRM_THREADS='many': expected a positive integer" in capsys.readouterr().err
    seen = []
    monkeypatch.setattr(threads, "apply", lambda: seen.append(1) or (1, "test"))
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    assert seen == [1]
