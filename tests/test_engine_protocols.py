"""Every sampler and scorer, real or fake, satisfies its protocol (`SamplerLike`, `ScorerLike`).

Fakes are checked on instances (`isinstance` with the runtime-checkable protocol, plus the method
signatures). Real backends are checked on the class, without loading a model: each protocol member
is a class attribute or is assigned as `self.<name>` in the source of the class or a base class, and
each protocol method accepts the protocol's arguments.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap

import fakes
import pytest

from prm.sampler import SamplerLike
from prm.scoring import ScorerLike


def members(protocol) -> tuple[set[str], set[str]]:
    """(data members, methods) a protocol declares."""
    data = set(getattr(protocol, "__annotations__", {}))
    methods = {n for n, v in vars(protocol).items() if inspect.isfunction(v) and not n.startswith("_")}
    return data, methods


def self_assigned(cls) -> set[str]:
    """Names assigned as `self.<name> = ...` anywhere in the source of `cls`."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    names = set()
    for node in ast.walk(tree):
        targets = (node.targets if isinstance(node, ast.Assign) else
                   [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        for t in targets:
            for leaf in ast.walk(t):
                if isinstance(leaf, ast.Attribute) and isinstance(leaf.value, ast.Name) and leaf.value.id == "self":
                    names.add(leaf.attr)
    return names


def declared(cls, name: str) -> bool:
    return hasattr(cls, name) or any(name in self_assigned(k) for k in cls.__mro__ if k is not object)


def accepts(impl, proto_method, *, bound: bool) -> bool:
    """`impl` can be called the way the protocol's method is: same positional count, and every
    keyword-only argument of the protocol."""
    sig = inspect.signature(proto_method)
    params = list(sig.parameters.values())[1:]  # drop self
    positional = [None] * sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    keywords = {p.name: None for p in params if p.kind == p.KEYWORD_ONLY}
    args = positional if bound else [None, *positional]
    try:
        inspect.signature(impl).bind(*args, **keywords)
    except TypeError:
        return False
    return True


def problems(obj, protocol, *, bound: bool) -> list[str]:
    """What `obj` (an instance when bound, else a class) lacks to satisfy `protocol`."""
    data, methods = members(protocol)
    has = (lambda n: hasattr(obj, n)) if bound else (lambda n: declared(obj, n))
    out = [f"no {n}" for n in sorted(data | methods) if not has(n)]
    out += [f"{n}() is not callable" for n in sorted(methods) if has(n) and not callable(getattr(obj, n))]
    out += [f"{n}() takes other arguments than the protocol's" for n in sorted(methods)
            if has(n) and callable(getattr(obj, n)) and not accepts(getattr(obj, n), getattr(protocol, n), bound=bound)]
    return out


FAKES = [
    ("rollout_sampler", lambda: fakes.rollout_sampler({"q": "a"}, {"q": "b"}), SamplerLike),
    ("menu_sampler", lambda: fakes.menu_sampler(), SamplerLike),
    ("canned_sampler", lambda: fakes.canned_sampler(["x"]), SamplerLike),
    ("FakeSampler", lambda: fakes.FakeSampler(lambda prompt, params: []), SamplerLike),
    ("good_bad_scorer", lambda: fakes.good_bad_scorer(), ScorerLike),
    ("table_scorer", lambda: fakes.table_scorer({"q": [0.5]}), ScorerLike),
    ("length_scorer prm", lambda: fakes.length_scorer("prm"), ScorerLike),
    ("length_scorer orm", lambda: fakes.length_scorer("orm"), ScorerLike),
]


@pytest.mark.parametrize("name, make, protocol", FAKES, ids=[f[0] for f in FAKES])
def test_fake_satisfies_protocol(name, make, protocol):
    obj = make()
    assert isinstance(obj, protocol)
    assert problems(obj, protocol, bound=True) == []


REAL = [
    ("prm.sampler.hf", "HFSampler", SamplerLike),
    ("prm.sampler.vllm", "VLLMSampler", SamplerLike),
    ("prm.scoring.hf", "HFScorer", ScorerLike),
    ("prm.scoring.vllm", "VLLMScorer", ScorerLike),
    ("prm.scoring.ensemble", "EnsembleScorer", ScorerLike),
    ("prm.scoring.remote", "RemoteScorer", ScorerLike),
    ("prm.scoring.remote", "VLLMPoolingScorer", ScorerLike),
]


@pytest.mark.parametrize("module, name, protocol", REAL, ids=[r[1] for r in REAL])
def test_real_backend_satisfies_protocol(module, name, protocol):
    cls = getattr(importlib.import_module(module), name)
    assert problems(cls, protocol, bound=False) == []


class _NoClose:
    backend, cfg, tokenizer, eos_ids = "x", None, None, ()

    def generate(self, prompts, params):
        return []


class _ScoreWithoutProgress:
    backend, kind = "x", "prm"

    def score(self, question, steps):
        return []

    def score_batch(self, items):  # the ensemble passes progress=...: this one would break there
        return []

    def close(self):
        pass


@pytest.mark.parametrize("obj, protocol, want", [
    (_NoClose(), SamplerLike, ["no close"]),
    (_ScoreWithoutProgress(), ScorerLike, ["score_batch() takes other arguments than the protocol's"]),
    (object(), ScorerLike, ["no backend", "no close", "no kind", "no score", "no score_batch"]),
])
def test_the_check_finds_what_is_missing(obj, protocol, want):
    assert problems(obj, protocol, bound=True) == want
