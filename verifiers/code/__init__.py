"""Code verifier: run untrusted, model-written programs against unit tests in a sandbox.

    from verifiers.code import run_tests, run_many
    r = run_tests("def add(a, b):\n    return a + b\n", ["assert add(1, 2) == 3"])
    r.passed, r.status, [t.passed for t in r.tests], r.isolation

Files: extract.py (the program a response asks to run), formats.py (test formats -> plan), harness.py (runs inside the sandbox, records outcomes),
result.py (CodeResult and the verdict rule), isolation.py (namespaces, uid, rlimits),
server.py (pre-warmed fork server), sandbox.py (run_tests), batch.py (run_many).
What the sandbox does and does not protect against: docs/sandbox.md.
This package imports nothing from `prm`.
"""

from verifiers.code.batch import run_many
from verifiers.code.extract import extract_program, needs_prompt, program_for
from verifiers.code.formats import stdio_equal
from verifiers.code.result import STATUSES, CodeResult, TestOutcome
from verifiers.code.sandbox import run_tests, shutdown

# Bump when a change can alter a verdict (labels record which sandbox version produced them).
VERSION = "1.0.0"

__all__ = ["extract_program", "needs_prompt", "program_for", "CodeResult", "TestOutcome", "STATUSES", "run_tests", "run_many", "shutdown", "stdio_equal", "VERSION"]
