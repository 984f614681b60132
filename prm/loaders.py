"""Loaders: public benchmarks (GSM8K, MATH500, MATH, HumanEval, MBPP, ProcessBench, ...) -> records.

Also the Qwen2.5-Math evaluation sets (AIME24, AMC23, Minerva Math, OlympiadBench).

    from prm.loaders import load_problems, load_stepwise
    problems = load_problems("gsm8k", "data/gsm8k/test.jsonl")          # a local file
    problems = load_problems("math500", hub="HuggingFaceH4/MATH-500")   # a hub name (needs network)
    records  = load_stepwise("processbench", "processbench/omnimath.json")

Each dataset is one entry of the `DATASETS` dict literal: its domain, the record kind it becomes, a
default hub location, and a pure function `row -> dict` that maps one source row onto our data
contract. The dict is then validated by `Problem.from_dict` / `StepwiseRecord.from_dict`, so a
loaded record obeys exactly the same rules as one read from a JSONL file.

Local files: `.jsonl`, `.jsonl.gz`, `.json` (a list, or {"data": [...]}) and `.parquet` (what a hub
download leaves in the cache). Hub names go through `datasets.load_dataset`, imported only when
asked for: nothing here touches the network at import time or in tests.

Choices worth knowing:
- GSM8K: the gold answer is the text after `####`, thousands separators removed ("1,080" -> "1080").
  `metadata["reference"]` is the worked solution with the calculator annotations `<<16-3=13>>`
  removed, one line per step joined by the math separator "\\n\\n", and the `#### N` line rewritten
  as "The answer is N." (the phrase the math verifier extracts).
- MATH / Minerva: the gold answer is the last `\\boxed{}` (or `\\fbox{}`) of the reference solution.
- OlympiadBench: `final_answer` is a one-element list wrapped in `$...$`; the `$` are stripped.
- AMC23 stores answers as floats (27.0); integral floats become "27".
- HumanEval: `question` is the prompt (signature + docstring); the reference is prompt + canonical
  solution, a complete program; tests are the `check(candidate)` program.
- MBPP: `question` is the task text plus its assert lines (as in the MBPP paper's prompt: without
  them the function name is unknowable); `entry_point` is read from the first assert.
- ProcessBench has no gold answer, only the index of the first wrong step, so it loads as
  stepwise records through the format adapter `prm.formats.processbench` (`prm convert` uses the
  same one): steps before the first error True, the first wrong step False, the steps after it
  None (not judged: ProcessBench says nothing about them), `first_error` = -1 when all are right.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from prm.errors import RecordError, UserError
from prm.formats import processbench
from prm.formats.files import iter_rows
from prm.records import Problem, ReadStats, StepwiseRecord, convert_rows

MATH_SEP = "\n\n"


# ----------------------------------------------------------------------------- small pure helpers
def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` / `\\fbox{...}` / `\\framebox{...}`, braces balanced; None if absent."""
    best = None
    for m in re.finditer(r"\\(?:boxed|fbox|framebox)\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            best = text[m.end():i - 1].strip()
    return best


def _number_text(value: Any) -> str:
    """27.0 -> '27', 2.5 -> '2.5', '204' -> '204'."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _strip_dollars(s: str) -> str:
    s = s.strip()
    while len(s) >= 2 and s.startswith("$") and s.endswith("$"):
        s = s[1:-1].strip()
    return s


_CALC = re.compile(r"<<[^<>]*>>")


def gsm8k_answer(solution: str) -> str | None:
    if "####" not in solution:
        return None
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def gsm8k_reference(solution: str) -> str:
    """The worked solution as steps joined by the math separator (see module docstring)."""
    body, _, ans = solution.rpartition("####")
    lines = [_CALC.sub("", ln).strip() for ln in body.splitlines()]
    steps = [ln for ln in lines if ln]
    steps.append(f"The answer is {ans.strip().replace(',', '')}.")
    return MATH_SEP.join(steps)


_WRAPPERS = {"set", "sorted", "list", "tuple", "abs", "round", "math", "len", "str", "int", "float", "frozenset", "dict"}


def mbpp_entry_point(test_list: list[str]) -> str | None:
    """Name of the function the asserts call: the first called name that is not a builtin wrapper."""
    for line in test_list:
        for name in re.findall(r"([A-Za-z_]\w*)\s*\(", line):
            if name not in _WRAPPERS and not name.startswith("isclose"):
                return name
    return None


# ----------------------------------------------------------------------------- row converters
# Each takes (row, index, split) and returns a dict in our data contract; a row that cannot convert
# raises _Bad(message, field) and the caller turns it into a RecordError naming file and line.
class _Bad(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def _field(row: dict, *names: str) -> Any:
    for n in names:
        if row.get(n) is not None:
            return row[n]
    raise _Bad("missing required field", field=" or ".join(names))


def _text(row: dict, *names: str) -> str:
    v = _field(row, *names)
    if not isinstance(v, str):
        raise _Bad(f"expected str, got {type(v).__name__}", field=names[0])
    return v


def conv_gsm8k(row: dict, i: int, split: str, where: str = "") -> dict:
    sol = _text(row, "answer")
    ans = gsm8k_answer(sol)
    if not ans:
        raise _Bad("no '#### N' final answer in the solution", field="answer")
    return {"id": f"gsm8k/{split}/{row.get('idx', i)}", "domain": "math", "question": _text(row, "question"),
            "answer": ans, "metadata": {"source": "gsm8k", "solution": sol, "reference": gsm8k_reference(sol)}}


def conv_math500(row: dict, i: int, split: str, where: str = "") -> dict:
    sol = row.get("solution") if isinstance(row.get("solution"), str) else None
    ans = row.get("answer")
    ans = _number_text(ans) if ans is not None else (last_boxed(sol) if sol else None)
    if not ans:
        raise _Bad("no 'answer' and no \\boxed{} in 'solution'", field="answer")
    meta = {"source": "math", "reference": sol}
    for k in ("subject", "type", "level"):
        if row.get(k) is not None:
            meta[k] = row[k]
    pid = row.get("unique_id") or f"math/{split}/{i}"
    return {"id": str(pid), "domain": "math", "question": _text(row, "problem"), "answer": ans,
            "metadata": {k: v for k, v in meta.items() if v is not None}}


def conv_qwen_eval(row: dict, i: int, split: str, where: str = "") -> dict:
    """AIME24, AMC23, Minerva Math, OlympiadBench as shipped with Qwen2.5-Math's evaluation."""
    question = _text(row, "problem", "question")
    if row.get("context"):  # OlympiadBench: some problems share a preamble
        question = f"{row['context']}\n\n{question}"
    sol = row.get("solution")
    sol_text = "\n\n".join(sol) if isinstance(sol, list) else sol if isinstance(sol, str) else None
    if row.get("final_answer") is not None:
        fa = row["final_answer"]
        ans = ", ".join(_strip_dollars(str(a)) for a in fa) if isinstance(fa, list) else _strip_dollars(str(fa))
    elif row.get("answer") is not None:
        ans = _number_text(row["answer"])
    else:
        ans = last_boxed(sol_text) if sol_text else None
    if not ans:
        raise _Bad("no answer: none of 'final_answer', 'answer', \\boxed{} in 'solution'", field="answer")
    meta = {"source": split, "reference": sol_text}
    for k in ("unit", "subfield", "type", "url", "answer_type", "is_multiple_answer"):
        if row.get(k) is not None:
            meta[k] = row[k]
    rid = row.get("id", row.get("idx", i))
    return {"id": f"{split}/{rid}", "domain": "math", "question": question, "answer": ans,
            "metadata": {k: v for k, v in meta.items() if v is not None}}


def conv_humaneval(row: dict, i: int, split: str, where: str = "") -> dict:
    prompt = _text(row, "prompt")
    canon = row.get("canonical_solution")
    meta = {"source": "humaneval"}
    if isinstance(canon, str):
        meta["reference"] = prompt + canon
    return {"id": _text(row, "task_id"), "domain": "code", "question": prompt, "test_format": "humaneval",
            "tests": _text(row, "test"), "entry_point": _text(row, "entry_point"), "metadata": meta}


def conv_mbpp(row: dict, i: int, split: str, where: str = "") -> dict:
    text = _text(row, "prompt", "text")
    tests = _field(row, "test_list")
    if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
        raise _Bad("expected a non-empty list of assert strings", field="test_list")
    imports = row.get("test_imports") or []
    setup = "\n".join(imports) if isinstance(imports, list) else str(imports)
    extra_setup = row.get("test_setup_code")  # the full (unsanitized) MBPP names it so
    if isinstance(extra_setup, str) and extra_setup.strip():
        setup = f"{setup}\n{extra_setup}".strip()
    question = f"{text}\nYour code should pass these tests:\n\n" + "\n".join(tests)
    d = {"id": f"mbpp/{_field(row, 'task_id')}", "domain": "code", "question": question, "test_format": "mbpp",
         "tests": tests, "entry_point": mbpp_entry_point(tests),
         "metadata": {"source": "mbpp", "reference": row.get("code")}}
    if setup:
        d["setup"] = setup
    d["metadata"] = {k: v for k, v in d["metadata"].items() if v is not None}
    return d


def conv_processbench(row: dict, i: int, split: str, where: str = "") -> dict:
    """One source of truth for the ProcessBench convention: the format adapter in prm.formats."""
    if row.get("id") is None:  # hub rows always carry one; keep ids positional otherwise
        row = {**row, "id": f"processbench/{split}/{i}"}
    (rec,) = processbench.from_row(row, where)
    return rec.to_dict()


# ----------------------------------------------------------------------------- the datasets
@dataclass(frozen=True)
class DatasetSpec:
    """One known dataset. `hub` = (path, config, split) for `datasets.load_dataset`, or None when we
    know no stable hub copy (then pass `hub=` yourself). `local` names the file as distributed."""

    domain: str
    kind: str                      # "problem" | "stepwise"
    convert: Callable[..., dict]           # (row, index, split, where) -> dict in our contract
    hub: tuple[str, str | None, str] | None
    local: str
    about: str


DATASETS: dict[str, DatasetSpec] = {
    "gsm8k": DatasetSpec("math", "problem", conv_gsm8k, ("openai/gsm8k", "main", "test"),
                         "gsm8k/test.jsonl", "grade-school word problems; answer after '####'"),
    "math500": DatasetSpec("math", "problem", conv_math500, ("HuggingFaceH4/MATH-500", None, "test"),
                           "math500/test.jsonl", "the 500-problem MATH test subset used by PRM800K"),
    "math": DatasetSpec("math", "problem", conv_math500, ("DigitalLearningGmbH/MATH-lighteval", "default", "test"),
                        "MATH/test/*.json rows or a JSONL of them", "MATH (Hendrycks); answer = last \\boxed{} of the solution"),
    "humaneval": DatasetSpec("code", "problem", conv_humaneval, ("openai/openai_humaneval", None, "test"),
                             "HumanEval.jsonl.gz", "164 Python functions with check(candidate) tests"),
    "mbpp": DatasetSpec("code", "problem", conv_mbpp, ("google-research-datasets/mbpp", "sanitized", "test"),
                        "sanitized-mbpp.json", "MBPP sanitized: Python tasks with assert tests"),
    "processbench": DatasetSpec("math", "stepwise", conv_processbench, ("Qwen/ProcessBench", None, "gsm8k"),
                                "processbench/{gsm8k,math,olympiadbench,omnimath}.json",
                                "solutions in steps with the first wrong step (stepwise records)"),
    "aime24": DatasetSpec("math", "problem", conv_qwen_eval, ("HuggingFaceH4/aime_2024", None, "train"),
                          "qwen25math_eval/aime24_test.jsonl", "AIME 2024 (Qwen2.5-Math eval format)"),
    "amc23": DatasetSpec("math", "problem", conv_qwen_eval, ("zwhe99/amc23", None, "test"),
                         "qwen25math_eval/amc23_test.jsonl", "AMC 2023 (Qwen2.5-Math eval format)"),
    "minerva_math": DatasetSpec("math", "problem", conv_qwen_eval, None,
                                "qwen25math_eval/minerva_math_test.jsonl", "Minerva Math; answer = last \\boxed{}"),
    "olympiadbench": DatasetSpec("math", "problem", conv_qwen_eval, None,
                                 "qwen25math_eval/olympiadbench_test.jsonl", "OlympiadBench (Qwen2.5-Math eval format)"),
}


def spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


# ----------------------------------------------------------------------------- reading rows
# `iter_rows` (local files) lives in prm.formats.files, below both this module and the format
# adapters; it is re-exported here, where it was first defined.


def _iter_hub(name: str, hub: str | None, config: str | None, split: str | None, revision: str | None
              ) -> Iterator[tuple[str, dict]]:
    sp = spec(name)
    if hub is None:
        if sp.hub is None:
            raise UserError(f"dataset {name!r} has no default hub location; pass a local file or a hub name")
        hub, dconfig, dsplit = sp.hub
        config = config if config is not None else dconfig
        split = split or dsplit
    split = split or "test"
    try:
        import datasets
    except ImportError:
        raise UserError("loading from the hub needs the `datasets` package (pip install datasets)") from None
    try:
        ds = datasets.load_dataset(hub, config, split=split, revision=revision)
    except Exception as e:  # network, auth, unknown name: the user needs the one line, not the traceback
        raise UserError(f"could not load {hub!r} (config={config!r}, split={split!r}) from the hub: "
                        f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    for i, row in enumerate(ds):
        yield f"{hub}[{split}][{i}]", dict(row)


def _split_from_path(path: Path) -> str:
    """'test' from 'gsm8k/test.jsonl' and 'gsm8k_test.jsonl', 'omnimath' from 'omnimath.json'."""
    stem = path.name.split(".")[0]
    return "test" if stem.endswith("_test") else "train" if stem.endswith("_train") else stem


def _load(name: str, path: str | Path | None, *, hub: str | None, config: str | None, split: str | None,
          revision: str | None, limit: int | None, skip_bad: bool, stats: ReadStats | None,
          progress: bool = False) -> list:
    sp = spec(name)
    if path is not None and hub is not None:
        raise UserError("give either a local file or a hub name, not both")
    if path is not None:
        rows = iter_rows(path)
        tag = split or _split_from_path(Path(path))
    else:
        rows = _iter_hub(name, hub, config, split, revision)
        tag = split or (sp.hub[2] if sp.hub and hub is None else "test")
    if sp.convert is conv_qwen_eval and path is not None and split is None:
        tag = name  # ids like 'aime24/60' whatever the file is called
    cls = Problem if sp.kind == "problem" else StepwiseRecord
    if progress:
        from tqdm import tqdm

        rows = tqdm(rows, desc=f"load {name}", unit="row", total=limit)
    seen: set[str] = set()

    def convert(where, indexed):
        i, row = indexed   # i: the row's index in the file, which ids are built from (skipped rows count)
        if not isinstance(row, dict):
            raise RecordError(f"expected a JSON object, got {type(row).__name__}", where=where)
        try:
            converted = sp.convert(row, i, tag, where)
        except _Bad as e:
            raise RecordError(e.message, where=where, field=e.field) from None
        rec = cls.from_dict(converted, where=where)
        if sp.kind == "problem":
            if rec.id in seen:
                raise RecordError(f"duplicate problem id {rec.id!r}", where=where, field="id")
            seen.add(rec.id)
        return rec

    out = []
    indexed = ((where, row if isinstance(row, Exception) else (i, row)) for i, (where, row) in enumerate(rows))
    for rec in convert_rows(indexed, convert, skip_bad=skip_bad, stats=stats):
        out.append(rec)
        if limit is not None and len(out) >= limit:
            break
    return out


def load_problems(name: str, path: str | Path | None = None, *, hub: str | None = None, config: str | None = None,
                  split: str | None = None, revision: str | None = None, limit: int | None = None,
                  skip_bad: bool = False, stats: ReadStats | None = None, progress: bool = False) -> list[Problem]:
    """Problems of dataset `name` from a local `path`, or from the hub when no path is given.

    With no path and no `hub`, the dataset's default hub location is used (needs network). A row
    that does not convert raises RecordError naming file, line and field; with `skip_bad=True` it is
    skipped and counted in `stats`.
    """
    if spec(name).kind != "problem":
        raise UserError(f"dataset {name!r} holds stepwise records, not problems: use load_stepwise")
    return _load(name, path, hub=hub, config=config, split=split, revision=revision, limit=limit,
                 skip_bad=skip_bad, stats=stats, progress=progress)


def load_stepwise(name: str, path: str | Path | None = None, *, hub: str | None = None, config: str | None = None,
                  split: str | None = None, revision: str | None = None, limit: int | None = None,
                  skip_bad: bool = False, stats: ReadStats | None = None, progress: bool = False
                  ) -> list[StepwiseRecord]:
    """Stepwise records of a step-labelled dataset (ProcessBench); same arguments as `load_problems`."""
    if spec(name).kind != "stepwise":
        raise UserError(f"dataset {name!r} holds problems, not stepwise records: use load_problems")
    return _load(name, path, hub=hub, config=config, split=split, revision=revision, limit=limit,
                 skip_bad=skip_bad, stats=stats, progress=progress)


def load_records(name: str, path: str | Path | None = None, **kw) -> list:
    """Whatever `name` holds: Problems or StepwiseRecords (for the CLI)."""
    return (load_problems if spec(name).kind == "problem" else load_stepwise)(name, path, **kw)
