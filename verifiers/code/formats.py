"""Test formats: turn what the user gave into a plan of named test units, and compare stdio output.

Three formats (chosen from the shape of `tests`):

- **HumanEval**: `tests` is a program defining `check(candidate)`, plus `entry_point`. Each
  top-level statement of `check` that contains an `assert` becomes one test unit (so a result says
  which assertion failed and how many passed); statements without an assert (assignments, imports,
  helper definitions) run in order between them. HumanEval itself stops at the first failure; the
  verdict is the same (pass iff every assertion holds), we just keep going to report all of them.
- **MBPP**: `tests` is a list of assert lines (each one unit); `setup` holds imports or helper code
  that runs before them.
- **stdio** (APPS / CodeContests): `tests` is a list of `{"input": str, "output": str}`; the program
  runs once per pair as `__main__` with the input on stdin. Output comparison is whitespace
  tolerant, see `stdio_equal`.

Malformed tests are the user's error and raise `ValueError` here, in the caller, before anything
runs. The plan is plain data (it crosses a pipe to the sandbox server) and cached per test set,
because labeling runs thousands of programs against the same tests.
"""

from __future__ import annotations

import ast
import json
import threading
from functools import lru_cache

# CPython 3.11's AST constructor keeps a recursion-depth counter that is not thread-safe: two threads
# parsing at once (run_many's workers) can raise "SystemError: AST constructor recursion depth
# mismatch" (seen in CI under load). Parsing here is cheap; serialise it.
_PARSE_LOCK = threading.Lock()


def _parse(src: str) -> ast.AST:
    with _PARSE_LOCK:
        return ast.parse(src)

MAX_NAME = 200


def stdio_equal(got: str, expected: str) -> bool:
    """Whitespace-tolerant comparison of program output with the expected output.

    Both texts are split into lines; trailing empty lines are dropped; each line is split on runs of
    whitespace, so extra spaces/tabs, trailing spaces, CRLF line ends and a missing final newline do
    not matter. Tokens compare exactly as strings (no float tolerance: '1.0' != '1'), and line
    breaks still matter ('1 2' on one line != '1' and '2' on two lines).
    """
    return _tokens(got) == _tokens(expected)


def _tokens(text: str) -> list[list[str]]:
    lines = [line.split() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 3] + "..."


def _has_assert(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Assert) for n in ast.walk(node))


def _names_used(*sources: str) -> list[str]:
    """Top-level names the test code imports or mentions: the modules whose state can matter to a
    verdict (the harness restores those if the program patched them)."""
    names: set[str] = set()
    for src in sources:
        for node in ast.walk(_parse(src)):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
            elif isinstance(node, ast.Name):
                names.add(node.id)
    return sorted(names)


def _call(name: str, *args: ast.expr) -> ast.stmt:
    return ast.Expr(ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[]))


def _record(k: int, exc: ast.expr) -> list[ast.stmt]:
    # Drop trace/profile hooks first: sys.setprofile / sys.settrace are C functions, so calling
    # them opens no traced Python frame, and the recording call that follows runs untraced.
    return [_call("__prm_setprofile__", ast.Constant(None)), _call("__prm_settrace__", ast.Constant(None)),
            _call("__prm_record__", ast.Constant(k), exc)]


@lru_cache(maxsize=512)
def _humaneval_plan(test_program: str, entry_point: str) -> str:
    try:
        tree = _parse(test_program)
    except SyntaxError as e:
        raise ValueError(f"HumanEval test program does not parse (line {e.lineno}: {e.msg})") from None
    checks = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if not checks:
        raise ValueError("HumanEval test program defines no top-level `def check(candidate)`")
    check = checks[-1]
    if not check.args.args:
        raise ValueError("HumanEval `check` must take the candidate function as its first argument")
    names: list[str] = []
    body: list[ast.stmt] = []
    for stmt in check.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or not _has_assert(stmt):
            body.append(stmt)
            continue
        k = len(names)
        names.append(_short(ast.get_source_segment(test_program, stmt) or ast.unparse(stmt)))
        # try: <stmt> / except BaseException as e: record(k, e) / else: record(k, None)
        # BaseException: SystemExit or KeyboardInterrupt raised by the candidate is a failed test.
        handler = ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()), name="__prm_exc__",
                                    body=_record(k, ast.Name("__prm_exc__", ast.Load())))
        body.append(ast.Try(body=[stmt], handlers=[handler], orelse=_record(k, ast.Constant(None)),
                            finalbody=[]))
    if not names:  # no assert at the top level: the whole check() call is the single unit
        names = [f"check({entry_point})"]
        whole = True
    else:
        check.body = body
        whole = False
    ast.fix_missing_locations(tree)
    code = test_program if whole else ast.unparse(tree)
    return json.dumps({"kind": "humaneval", "names": names, "code": code, "whole": whole,
                       "check_arg": check.args.args[0].arg, "modules": _names_used(test_program)})


@lru_cache(maxsize=512)
def _mbpp_plan(lines: tuple[str, ...], setup: str) -> str:
    for i, line in enumerate(lines):
        try:
            compile(line, f"<test {i}>", "exec")
        except SyntaxError as e:
            raise ValueError(f"MBPP test {i} does not compile ({e.msg}): {line[:80]!r}") from None
    try:
        compile(setup, "<setup>", "exec")
    except SyntaxError as e:
        raise ValueError(f"MBPP setup code does not compile (line {e.lineno}: {e.msg})") from None
    # names called in every assert line: where no entry point is given, the function under test is
    # among them (the harness uses this to allow a solution that is itself named like a builtin,
    # e.g. MBPP 126's `sum`, without letting a program shadow builtins the tests rely on)
    called = None
    for line in lines:
        names = {n.func.id for n in ast.walk(_parse(line)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        called = names if called is None else called & names
    return json.dumps({"kind": "mbpp", "names": [_short(x) for x in lines], "units": list(lines), "setup": setup,
                       "called_in_all": sorted(called or ()), "modules": _names_used(setup, *lines)})


def build_plan(tests, entry_point: str | None = None, setup: str | None = None) -> dict:
    """The plan for `tests` (see module doc). Raises ValueError on malformed tests."""
    if isinstance(tests, str):
        if not entry_point:
            raise ValueError("HumanEval-style tests (a test program) need `entry_point`")
        plan = json.loads(_humaneval_plan(tests, entry_point))
        plan["setup"] = setup or ""
        if setup:
            try:
                plan["modules"] = sorted(set(plan["modules"]) | set(_names_used(setup)))
            except SyntaxError as e:
                raise ValueError(f"setup code does not compile (line {e.lineno}: {e.msg})") from None
    elif isinstance(tests, (list, tuple)) and tests and all(isinstance(t, str) for t in tests):
        plan = json.loads(_mbpp_plan(tuple(tests), setup or ""))
    elif isinstance(tests, (list, tuple)) and tests and all(isinstance(t, dict) for t in tests):
        for i, t in enumerate(tests):
            if not (isinstance(t.get("input"), str) and isinstance(t.get("output"), str)):
                raise ValueError(f"stdio test {i} must be {{'input': str, 'output': str}}")
        plan = {"kind": "stdio", "names": [f"stdin case {i}: {_short(t['input'])}" for i, t in enumerate(tests)],
                "inputs": [t["input"] for t in tests], "outputs": [t["output"] for t in tests],
                "setup": setup or ""}
    elif isinstance(tests, (list, tuple)) and not tests:
        raise ValueError("no tests given: a program cannot pass an empty test list")
    else:
        raise ValueError("tests must be a HumanEval test program (str), a list of assert lines, "
                         "or a list of {'input', 'output'} dicts")
    plan["entry_point"] = entry_point
    return plan
