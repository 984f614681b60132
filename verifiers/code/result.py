"""What a run returns (`CodeResult`, `TestOutcome`) and the pure rule that turns evidence into a verdict.

The evidence is what the sandbox server saw: the authenticated records the harness wrote (see
`harness.py`), whether any unauthenticated line appeared on the channel, whether the deadline or the
output limit was hit, and how the process ended. `decide` is a pure function of that evidence, so
every path to a verdict is unit-tested without running anything.

Statuses, first match wins:
  sandbox_error  the sandbox itself failed (not the program's fault; never `passed`)
  syntax_error   the program does not compile
  timeout        the wall-clock deadline (or the CPU limit) was hit
  memory         a MemoryError, or the address-space limit killed it
  crashed        the process ended before the harness finished (os._exit, a signal, killing its own
                 harness), the program raised while loading, output went past the limit, or
                 someone else wrote on the result channel
  failed         the harness finished and at least one test did not pass
  passed         the harness finished, and recorded every test, once, as passed
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

STATUSES = ("passed", "failed", "timeout", "memory", "crashed", "syntax_error", "sandbox_error")


@dataclass(frozen=True)
class TestOutcome:
    """One test unit: an assert line (MBPP), a top-level assertion of `check` (HumanEval), or a
    stdin case. `status`: passed, failed (assertion false or an exception, see `error`), or
    not_run (the process ended before the harness reached it)."""

    __test__ = False  # not a pytest test class, despite the name

    index: int
    name: str
    passed: bool
    status: str
    error: str | None = None


@dataclass(frozen=True)
class CodeResult:
    passed: bool
    status: str
    tests: list[TestOutcome] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    wall_time: float = 0.0
    isolation: str = ""
    reason: str = ""

    @property
    def n_passed(self) -> int:
        return sum(t.passed for t in self.tests)

    @property
    def pass_fraction(self) -> float:
        """Share of test units that passed (a partial-credit signal; 0.0 with no tests)."""
        return self.n_passed / len(self.tests) if self.tests else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["n_passed"] = self.n_passed
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CodeResult":
        tests = [TestOutcome(**t) for t in d.get("tests", [])]
        keep = {k: d[k] for k in ("passed", "status", "stdout", "stderr", "wall_time", "isolation", "reason") if k in d}
        return cls(tests=tests, **keep)


@dataclass(frozen=True)
class Evidence:
    """Everything the server observed about one run (plain data; see module docstring)."""

    names: list[str]
    records: list[dict]
    tampered: int = 0
    timed_out: bool = False
    output_exceeded: bool = False
    exit_code: int | None = None  # None: unknown; negative: killed by that signal
    sandbox_error: str = ""


def decide(ev: Evidence) -> tuple[str, str, list[TestOutcome]]:
    """(status, reason, per-test outcomes) from the evidence. Pure; see module docstring."""
    n = len(ev.names)
    load = next((r for r in ev.records if r.get("k") == "load"), None)
    done = any(r.get("k") == "done" for r in ev.records)
    results: dict[int, dict] = {}
    duplicate = False
    for r in ev.records:
        if r.get("k") != "t":
            continue
        i = r.get("i")
        if not isinstance(i, int) or not 0 <= i < n or i in results:
            duplicate = True  # the real harness records each unit once; anything else is not ours
            continue
        results[i] = r
    outcomes = []
    for i, name in enumerate(ev.names):
        r = results.get(i)
        if r is None:
            outcomes.append(TestOutcome(i, name, False, "not_run", None))
        elif r.get("ok") is True:
            outcomes.append(TestOutcome(i, name, True, "passed", None))
        else:
            outcomes.append(TestOutcome(i, name, False, "failed", str(r.get("err") or "failed")))
    all_passed = n > 0 and all(o.passed for o in outcomes)
    memory = any(r.get("mem") for r in ev.records)

    if ev.sandbox_error:
        return "sandbox_error", ev.sandbox_error, outcomes
    if load is not None and load.get("syntax"):
        return "syntax_error", str(load.get("err", "")), outcomes
    if ev.timed_out:
        return "timeout", "the deadline passed before the tests finished", outcomes
    if memory:
        return "memory", "MemoryError (the memory limit was reached)", outcomes
    if ev.tampered or duplicate:
        return "crashed", f"{ev.tampered} unauthenticated line(s) on the result channel: output not from the harness", outcomes
    if ev.output_exceeded:
        return "crashed", "output limit exceeded", outcomes
    if load is not None and not load.get("ok"):
        return "crashed", f"the program failed while loading: {load.get('err', '')}", outcomes
    if not done:
        how = ("with exit code %d" % ev.exit_code if ev.exit_code is not None and ev.exit_code >= 0
               else "killed by signal %d" % -ev.exit_code if ev.exit_code is not None else "")
        return "crashed", f"the process ended {how} before the harness finished".replace("  ", " "), outcomes
    if all_passed:
        return "passed", f"{n}/{n} tests passed", outcomes
    failed = sum(not o.passed for o in outcomes)
    return "failed", f"{failed}/{n} tests failed", outcomes
