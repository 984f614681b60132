"""The in-sandbox test runner: executes the program and its tests, and records each outcome.

Runs inside the sandboxed process (already forked, limited and de-privileged by `server.py`).
Outcomes go to the server over a dedicated pipe (fd 3), one line per record, each prefixed with a
random per-run nonce the server generated; lines without it are counted as tampering. stdout and
the exit code are never evidence: a pass is only "every unit recorded as passed, then `done`".

What stops the known reward hacks:
- `sys.exit(0)` / `raise SystemExit` / `os._exit(0)`: SystemExit is caught like any exception and
  fails the unit (or the load); `os._exit` ends the process before `done`, so the run is not passed.
- redefining `check`, `__prm_record__`, `assert`-related builtins (`AssertionError`, `abs`, `len`,
  `isinstance`...) by assignment or as top-level functions (`def set(*a): return 1`): the tests
  run in their *own* namespace, built after the program ran, with a copy of the builtins taken
  when the server started; the program's names are copied in first, except names of builtins,
  and the test code's own definitions land on top. (`assert` raises the C-level AssertionError.)
- objects that compare equal to anything: every value a program function returns to the tests is
  checked (`check_value`); a value whose class defines comparison, truth, arithmetic or
  container methods in Python code is refused (the unit fails with "untrusted return value"),
  except a few standard-library classes whose methods are verified unpatched. Lazy iterators are
  checked item by item as the test consumes them.
- printing a fake "all tests passed" marker: output is never parsed.
- patching what the harness itself uses (`builtins.compile = ...`, `builtins.exec`, `json.dumps`,
  `types.FunctionType`): this module resolves builtins through its own private copy, keeps
  references taken at import, and formats records with C-level str/bytes methods only.
- `sys.settrace` / `sys.setprofile` hooks installed while loading or running: cleared from the
  harness's own (untraced) frame after the program loads and after each test.
- patching standard-library modules the tests use (`math.isclose = lambda *a, **k: True`, or a
  fake `sys.modules['math']`): the modules the server pre-imports are restored from a start-up
  snapshot after the program loads, after every call of a program function, and after each test.

What is *not* stopped (see docs/sandbox.md): the program shares the interpreter with the harness,
so code written to attack this harness specifically (walking frames or `gc` to find the nonce or
to rewrite the test's locals, patching modules outside the protected set, redefining HumanEval
helper functions that the prompt defines and the test calls) can still fool it. stdio tests do not have this weakness:
each case runs in a separate child process that has no access to the channel.
"""

from __future__ import annotations

import builtins

# This module's functions look builtins up in this private copy, so a program that rebinds
# `builtins.compile` or `builtins.exec` changes nothing here. Must stay above every def.
__builtins__ = dict(builtins.__dict__)

import collections  # noqa: E402
import collections.abc  # noqa: E402
import decimal  # noqa: E402
import fractions  # noqa: E402
import io  # noqa: E402
import itertools  # noqa: E402
import operator  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402

from verifiers.code.formats import stdio_equal  # noqa: E402

CHANNEL_FD = 3
MAX_ERROR = 2000

# Snapshots taken when the server imports this module, before any program has run.
PRISTINE_BUILTINS = dict(builtins.__dict__)
_GUARDED_DUNDERS = (
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__len__", "__abs__",
    "__float__", "__int__", "__index__", "__round__", "__add__", "__radd__", "__sub__", "__rsub__",
    "__mul__", "__rmul__", "__truediv__", "__contains__", "__iter__", "__getitem__",
    "__getattr__", "__getattribute__", "__class__", "__instancecheck__", "__subclasscheck__",
)
# Python-level standard-library classes a solution may legitimately return; their methods are
# compared against this start-up snapshot at check time, so a program that patches
# `Fraction.__eq__` does not get through.
_TRUSTED = {klass: {k: v for k, v in klass.__dict__.items() if k in _GUARDED_DUNDERS}
            for cls in (collections.Counter, fractions.Fraction, decimal.Decimal, collections.OrderedDict,
                        collections.defaultdict, collections.deque)
            for klass in cls.__mro__}  # with their bases (numbers.Rational & co define dunders too)
_PLAIN = frozenset({type(None), bool, int, float, complex, str, bytes, bytearray, range, type(...),
                    type(NotImplemented)})
_CONTAINERS = frozenset({list, tuple, set, frozenset, collections.deque})
_DICTS = frozenset({dict, collections.OrderedDict, collections.defaultdict})
_HEAPTYPE = 1 << 9
# Methods implemented in C (slots of built-in or extension types, e.g. re.Match) cannot be defined
# by the program; anything else on a class (a function, lambda, partial, property...) can.
_C_METHODS = (types.WrapperDescriptorType, types.MethodDescriptorType, types.GetSetDescriptorType,
              types.MemberDescriptorType, types.ClassMethodDescriptorType)
_FunctionType = types.FunctionType
# Read type internals through `type`'s own descriptors: a metaclass can shadow `__flags__`,
# `__dict__` or `__mro__` with properties that lie.
_flags_of = type.__dict__["__flags__"].__get__
_dict_of = type.__dict__["__dict__"].__get__
_mro_of = type.__dict__["__mro__"].__get__
_Mapping = collections.abc.Mapping
_SimpleNamespace = types.SimpleNamespace
_type, _isinstance, _id, _len = type, isinstance, id, len
_settrace, _setprofile, _write = sys.settrace, sys.setprofile, os.write
_all, _map, _is, _repeat = all, map, operator.is_, itertools.repeat


def _untrace() -> None:
    """Drop trace/profile hooks the program may have installed (call from an untraced frame)."""
    _settrace(None)
    _setprofile(None)


class UntrustedValue(TypeError):
    """A value whose behaviour in comparisons is defined by the program under test."""


def _untrusted_class(cls: type) -> str | None:
    """Name of the first Python-defined guarded method on cls (or its bases) not from a trusted class."""
    for klass in _mro_of(cls):
        if klass is object or not (_flags_of(klass) & _HEAPTYPE):
            continue
        trusted = _TRUSTED.get(klass)
        klass_dict = _dict_of(klass)
        for name in _GUARDED_DUNDERS:
            attr = klass_dict.get(name)
            if attr is None or _type(attr) in _C_METHODS:
                continue
            if trusted is not None and trusted.get(name) is attr:
                continue
            return f"{klass.__qualname__}.{name}"
    return None


def check_value(value, _depth: int = 0, _seen=None):
    """Return `value` if comparing it is trustworthy, else raise UntrustedValue.

    Plain built-in types pass; containers are checked element by element (recursion guarded);
    lazy iterators are returned wrapped so each item is checked when consumed.
    """
    t = _type(value)
    if t in _PLAIN:
        return value
    if _depth > 200:
        raise UntrustedValue("return value nested too deeply to check")
    if _seen is None:
        _seen = set()
    if t in _CONTAINERS or t in _DICTS:
        if _id(value) in _seen:
            return value
        _seen.add(_id(value))
        for item in (value.items() if t in _DICTS else value):
            check_value(item, _depth + 1, _seen)
        return value
    bad = _untrusted_class(t)
    if bad is not None:
        raise UntrustedValue(f"untrusted return value: {t.__qualname__} defines {bad} in Python, so "
                             f"comparisons with it cannot be trusted")
    if hasattr(t, "__next__") and not (_flags_of(t) & _HEAPTYPE):
        return _checked_iter(value)  # map, filter, zip, generators: check items as they are consumed
    if _id(value) in _seen:
        return value
    _seen.add(_id(value))
    # Whatever else can hold values that take part in its comparisons: namedtuples, dict views,
    # mappingproxy, SimpleNamespace, array... (iterating these does not consume them)
    if t is _SimpleNamespace:
        items = vars(value).items()
    elif _isinstance(value, _Mapping):
        items = value.items()
    elif hasattr(t, "__iter__"):
        items = value
    else:
        items = ()
    for item in items:
        check_value(item, _depth + 1, _seen)
    return value


def _checked_iter(it):
    for item in it:
        yield check_value(item)


# Standard-library modules the tests may use, as they were before any program ran: (name,
# module, a copy of its namespace). Filled by `protect_modules` in the server at start-up.
_PROTECTED: list = []
_MISSING = object()


def protect_modules(names) -> None:
    """Snapshot these (already imported) modules; `restore_modules` puts them back."""
    for name in names:
        module = sys.modules.get(name)
        if module is not None:
            snap = dict(module.__dict__)
            _PROTECTED.append((name, module, snap, tuple(snap), tuple(snap.values())))


def restore_modules(names=None) -> None:
    """Undo what the program did to the protected modules (`math.isclose = lambda *a: True`,
    replacing `sys.modules['math']`), or to those of them in `names` (the modules the tests
    mention: nothing else can change a verdict). Identity checks only: no program code runs here."""
    modules = sys.modules
    for name, module, snap, keys, values in _PROTECTED:
        if names is not None and name not in names:
            continue
        if modules.get(name) is not module:
            modules[name] = module
        d = module.__dict__
        # all C-level (map, dict.get, operator.is_): fast, and calls nothing the program defined
        if _len(d) != _len(keys) or not _all(_map(_is, _map(d.get, keys, _repeat(_MISSING)), values)):
            d.clear()
            d.update(snap)


def guard(fn, modules=None):
    """Wrap a program function so every value it returns to the tests is checked, and the
    `modules` it patched while running are restored before the test goes on."""
    def guarded(*args, **kwargs):
        try:
            result = fn(*args, **kwargs)
        finally:
            restore_modules(modules)
        return check_value(result)
    guarded.__name__ = getattr(fn, "__name__", "candidate")
    guarded.__wrapped_by_prm__ = True
    return guarded


def describe(exc: BaseException) -> str:
    """One readable line (or a few) for a failure: type, message, and the failing line if known."""
    text = "".join(traceback.format_exception_only(_type(exc), exc)).strip()
    return text if _len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


class Channel:
    """Writes authenticated records to the server; see the module docstring.

    Line format (parsed by server._parse_channel): NONCE KIND INDEX FLAGS ERROR_HEX, where FLAGS
    is three digits (ok, memory error, syntax error) and the error text is UTF-8 in hex. Only
    C-level int/str/bytes methods are involved, so no Python module the program can patch.
    """

    def __init__(self, fd: int, nonce: str):
        self._fd, self._nonce = fd, nonce

    def emit(self, kind: str, i: int = -1, ok: bool = False, mem: bool = False, syntax: bool = False,
             err: str = "") -> None:
        flags = ("1" if ok is True else "0") + ("1" if mem else "0") + ("1" if syntax else "0")
        line = f"{self._nonce} {kind} {int(i)} {flags} {str(err).encode('utf-8', 'replace').hex()}\n".encode()
        view = memoryview(line)
        while view:
            view = view[_write(self._fd, view):]


def _fresh_namespace(name: str) -> dict:
    return {"__name__": name, "__builtins__": dict(PRISTINE_BUILTINS)}


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass


def _is_memory(exc: BaseException) -> bool:
    return _isinstance(exc, MemoryError)


def _builtin_named_entry(plan: dict, program_ns: dict) -> set:
    """Program names that may shadow a builtin in the test namespace: the entry point, or (MBPP
    without one) the program functions called in every test when none of them has a normal name."""
    if plan.get("entry_point"):
        return {plan["entry_point"]}
    called = [n for n in plan.get("called_in_all", ()) if n in program_ns and callable(program_ns[n])]
    return set(called) if called and all(n in PRISTINE_BUILTINS for n in called) else set()


def run_in_process(program: str, plan: dict, channel: Channel) -> None:
    """HumanEval and MBPP: load the program, then run each unit in the test namespace."""
    try:
        code = compile(program, "<program>", "exec")
    except (SyntaxError, ValueError, OverflowError) as e:
        channel.emit("load", syntax=True, err=describe(e))
        return
    except MemoryError as e:
        channel.emit("load", mem=True, err=describe(e))
        return
    program_ns = _fresh_namespace("solution")
    try:
        exec(code, program_ns)
    except BaseException as e:  # SystemExit too: exiting while loading is not passing
        _untrace()
        channel.emit("load", mem=_is_memory(e), err=describe(e))
        return
    _untrace()
    mods = frozenset(plan.get("modules", ()))
    restore_modules(mods)
    entry = plan.get("entry_point")
    if plan["kind"] == "humaneval" and not callable(program_ns.get(entry)):
        channel.emit("load", err=f"the program does not define a function {entry!r}")
        return
    channel.emit("load", ok=True)

    test_ns = _fresh_namespace("__test__")
    shadow_ok = _builtin_named_entry(plan, program_ns)
    for name, value in list(program_ns.items()):
        # a program-level `set`, `sorted` or `len` must not replace the builtin the test calls,
        # unless it is the function under test itself
        if not name.startswith("__") and (name not in PRISTINE_BUILTINS or name in shadow_ok):
            test_ns[name] = guard(value, mods) if _type(value) is _FunctionType else value
    recorded: set[int] = set()

    def record(k: int, exc: BaseException | None) -> None:
        if k in recorded:  # a unit inside a loop or re-entered check(): first outcome stands
            return
        recorded.add(k)
        if exc is None:
            channel.emit("t", k, ok=True)
        else:
            channel.emit("t", k, mem=_is_memory(exc), err=describe(exc))

    test_ns["__prm_record__"] = record
    test_ns["__prm_settrace__"], test_ns["__prm_setprofile__"] = _settrace, _setprofile
    n = _len(plan["names"])
    try:
        if plan.get("setup"):
            exec(compile(plan["setup"], "<setup>", "exec"), test_ns)
        if plan["kind"] == "mbpp":
            for k, unit in enumerate(plan["units"]):
                try:
                    exec(compile(unit, f"<test {k}>", "exec"), test_ns)
                except BaseException as e:
                    _untrace()
                    record(k, e)
                else:
                    _untrace()
                    record(k, None)
                restore_modules(mods)
        else:
            exec(compile(plan["code"], "<test>", "exec"), test_ns)
            check = test_ns["check"]
            try:
                check(guard(program_ns[entry], mods))
            except BaseException as e:
                _untrace()
                if plan["whole"]:
                    record(0, e)
                else:
                    for k in range(n):
                        record(k, RuntimeError(f"check() stopped before this test: {describe(e)}"))
            else:
                if plan["whole"]:
                    record(0, None)
    except BaseException as e:  # the setup or the test program itself failed
        for k in range(n):
            record(k, RuntimeError(f"test code failed: {describe(e)}"))
    for k in range(n):
        record(k, RuntimeError("never reached (check() returned before this test)"))


def run_stdio(program: str, plan: dict, channel: Channel, output_limit: int) -> None:
    """stdio: one child process per case, stdin from a file, stdout read back and compared here."""
    try:
        code = compile(program, "<program>", "exec")
    except (SyntaxError, ValueError, OverflowError) as e:
        channel.emit("load", syntax=True, err=describe(e))
        return
    channel.emit("load", ok=True)
    for k, (given, expected) in enumerate(zip(plan["inputs"], plan["outputs"])):
        out, err, mem = _run_case(code, given, output_limit)
        passed = out is not None and stdio_equal(out, expected)
        if out is not None and not passed:
            err = f"wrong output: expected {_clip(expected)!r}, got {_clip(out)!r}"
        channel.emit("t", k, ok=passed, mem=mem, err=err or "")


def _clip(text: str, n: int = 300) -> str:
    return text if _len(text) <= n else text[:n] + "..."


def _run_case(code, given: str, output_limit: int):
    """Run one stdio case; returns (stdout or None, error or None, memory_error)."""
    path = os.path.abspath("stdin.txt")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(given)
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the case process: no channel, stdin from the file, stdout to the pipe
        try:
            os.close(CHANNEL_FD)
            os.close(out_r)
            fd = os.open(path, os.O_RDONLY)
            os.dup2(fd, 0)
            os.dup2(out_w, 1)
            sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
            sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
        except BaseException:
            os._exit(120)
        status = 0
        try:
            exec(code, _fresh_namespace("__main__"))
        except SystemExit as e:
            status = e.code if _isinstance(e.code, int) else (0 if e.code is None else 1)
        except MemoryError:
            status = 121
        except BaseException:
            traceback.print_exc()
            status = 1
        _flush_std()
        os._exit(status & 0xFF)
    os.close(out_w)
    chunks, size, over = [], 0, False
    while True:
        data = os.read(out_r, 65536)
        if not data:
            break
        size += _len(data)
        if size > output_limit:
            over = True
            os.kill(pid, 9)
            break
        chunks.append(data)
    os.close(out_r)
    _, status = os.waitpid(pid, 0)
    code_ = os.waitstatus_to_exitcode(status)
    if over:
        return None, f"output limit exceeded ({output_limit} bytes)", False
    if code_ == 121:
        return None, "MemoryError", True
    if code_ != 0:
        return None, (f"exit code {code_}" if code_ > 0 else f"killed by signal {-code_}"), False
    return b"".join(chunks).decode("utf-8", errors="replace"), None, False


def main(job: dict, nonce: str) -> None:
    """Entry point in the sandboxed process; always ends with os._exit (no atexit, no finally in
    program code can run after `done`)."""
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace")
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    channel = Channel(CHANNEL_FD, nonce)
    plan = job["plan"]
    channel.emit("start")  # the sandbox is set up; from here on failures are the program's
    try:
        if plan["kind"] == "stdio":
            run_stdio(job["program"], plan, channel, job["output_limit"])
        else:
            run_in_process(job["program"], plan, channel)
        _flush_std()
        channel.emit("done")
    except BaseException:
        pass
    os._exit(0)
