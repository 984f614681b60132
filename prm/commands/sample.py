"""Sample solutions from a policy: problems JSONL -> samples JSONL (one Sample record per line).

  prm sample --problems data/tasks/math_test.jsonl --policy math -n 8 --out samples.jsonl
  prm sample --problems problems.jsonl --model Qwen/Qwen2.5-Math-1.5B-Instruct --backend vllm \\
             -n 16 --temperature 0.7 --max-tokens 1024 --out samples.jsonl

`--policy math|code` uses the embedded tiny policy (trained and cached on first use); `--model`
any local HF model directory. Prompts: the model's chat template, or the plain format.

Resumable: samples are appended and flushed one per line; re-running the same command skips the
(problem, sample index) pairs already in the output and fills in the rest. A rerun with another
problems file or other sampling settings (model, -n, temperature, top-p, max-tokens, stop, seed,
backend, dtype) is refused, naming what differs (fingerprint in OUT.resume.json): one file never
mixes samples drawn under different settings. --limit may change between runs. Each problem is drawn
with its own seed (from --seed and the problem id), so a resumed run writes the samples an
uninterrupted run would have written (for a given backend).

Each record: problem_id, text, steps (math: split on the separator; code: statements), answer
(math: the extracted final answer, when verifiers.math is installed; code: the program), source
(model, backend, sampling settings, finish_reason, cumulative_logprob) and metadata (sample_id,
sample_index, domain, token counts).
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from prm.commands.argtypes import escaped_text, fraction, nonneg_float, nonneg_int, positive_int
from prm.commands.engine_flags import add_engine_flags, engine_config
from prm.commands.vocab import add_renamed
from prm.errors import UserError
from prm.records import JsonlAppender, Sample, iter_jsonl, read_problems, repair_tail
from prm.domains import DOMAINS


def add_arguments(p):
    io = p.add_argument_group("input / output")
    io.add_argument("--problems", required=True, help="Problem JSONL (e.g. data/tasks/math_test.jsonl)")
    add_renamed(io, "--out", "--output", required=True, help="Sample JSONL; appended to, so a re-run resumes")
    io.add_argument("--limit", type=positive_int, default=None, help="only the first N problems")
    m = p.add_argument_group("model (one of)")
    m.add_argument("--model", help="a local HF model directory (or a hub id already in the local cache)")
    m.add_argument("--policy", choices=["math", "code"], help="the embedded tiny policy for this domain")
    m.add_argument("--quick-policy", action="store_true", help="with --policy: the smaller, faster-trained one")
    add_engine_flags(p.add_argument_group("engine"))
    s = p.add_argument_group("sampling")
    s.add_argument("-n", type=positive_int, default=4, help="samples per problem")
    s.add_argument("--temperature", type=nonneg_float, default=1.0)
    s.add_argument("--top-p", type=fraction, default=1.0)
    s.add_argument("--max-tokens", type=positive_int, default=256)
    s.add_argument("--stop", action="append", default=[], type=escaped_text,
                   help="stop string (repeatable; escapes like \\n allowed); the text excludes it")
    s.add_argument("--seed", type=nonneg_int, default=0, help="base seed; each problem's seed derives from it and its id")
    s.add_argument("--batch-size", type=positive_int, default=16, help="problems per generate call")


def problem_seed(seed: int, problem_id: str) -> int:
    """A per-problem seed that does not depend on the order or batching of problems."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{problem_id}".encode()).digest()[:4], "big") % (2**31 - 1)


def to_sample(problem, k: int, c, source: dict) -> Sample:
    """One completion as a Sample: the raw steps (they join back to the text exactly) and the
    extracted answer (math) or program (code), both by the domain table."""
    domain = DOMAINS[problem.domain]
    steps, answer = domain.segment(c.text), domain.extract(c.text)
    return Sample(
        problem_id=problem.id, text=c.text, steps=steps, answer=answer,
        source={**source, "finish_reason": c.finish_reason, "cumulative_logprob": c.cumulative_logprob},
        metadata={"sample_id": f"{problem.id}:{k}", "sample_index": k, "domain": problem.domain,
                  "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens},
    )


def existing(path: Path) -> Counter:
    """(problem_id, sample_index) pairs already written."""
    have: Counter = Counter()
    if path.exists():
        repair_tail(path)
        for _, obj in iter_jsonl(path, skip_bad=True):
            md = obj.get("metadata") or {}
            if "problem_id" in obj and isinstance(md.get("sample_index"), int):
                have[(str(obj["problem_id"]), md["sample_index"])] += 1
    return have


def record_settings(args) -> dict:
    """The flags that change a sample (the resume fingerprint); --limit and --batch-size do not."""
    model = args.model or f"embedded {args.policy}{' quick' if args.quick_policy else ''} policy"
    return {"--model/--policy": model, "-n": args.n, "--temperature": args.temperature, "--top-p": args.top_p,
            "--max-tokens": args.max_tokens, "--stop": list(args.stop), "--seed": args.seed,
            "--backend": args.backend, "--dtype": args.dtype, "--max-model-len": args.max_model_len}


def run(args) -> int:
    from prm.sampler import SamplingConfig, build_prompt, make_sampler

    from prm import resume
    from prm.paths import check_paths

    if bool(args.model) == bool(args.policy):
        raise UserError("give exactly one of --model DIR or --policy math|code")
    check_paths(inputs={"--problems": args.problems}, models={"--model": args.model},
                outputs={"--out": args.out, "--out (resume record)": resume.sidecar(args.out)}, lock=args.out)
    problems = list(read_problems(args.problems).values())
    if args.limit is not None:
        problems = problems[:args.limit]
    if args.policy:
        wrong = [p.id for p in problems if p.domain != args.policy]
        if wrong:
            raise UserError(f"{args.problems}: problem {wrong[0]!r} is not {args.policy} "
                            f"({len(wrong)} such); the {args.policy} policy only solves {args.policy} problems")
    stops = tuple(args.stop)  # escapes already decoded by the flag's type
    base = SamplingConfig(n=args.n, temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens,
                          stop=stops)
    out = Path(args.out)
    resume.begin(out, resume.fingerprint("sample", {"--problems": args.problems}, record_settings(args)),
                 restart=None)
    have = existing(out)
    todo = [p for p in problems if any((p.id, k) not in have for k in range(args.n))]
    print(f"{len(problems)} problems, {len(problems) - len(todo)} already sampled in {out}, {len(todo)} to go",
          file=sys.stderr)
    if not todo:
        return 0
    model = args.model
    if args.policy:
        from prm.policy import ensure_policy

        model = str(ensure_policy(args.policy, quick=args.quick_policy))
    sampler = make_sampler(engine_config(args, model, seed=args.seed))
    print(f"sampling with {sampler.backend} from {model}", file=sys.stderr)
    source = {"model": model, "backend": sampler.backend, "n": args.n, "temperature": args.temperature,
              "top_p": args.top_p, "max_tokens": args.max_tokens, "stop": list(stops), "seed": args.seed}
    written = 0
    try:
        with JsonlAppender(out) as sink, tqdm(total=len(todo), desc="sample", unit="problem") as bar:
            for start in range(0, len(todo), args.batch_size):
                chunk = todo[start:start + args.batch_size]
                prompts = [build_prompt(sampler.tokenizer, p.question) for p in chunk]
                params = [replace(base, seed=problem_seed(args.seed, p.id)) for p in chunk]
                for p, group in zip(chunk, sampler.generate(prompts, params)):
                    for k, c in enumerate(group):
                        if (p.id, k) not in have:
                            sink.write(to_sample(p, k, c, source))
                            written += 1
                bar.update(len(chunk))
    finally:
        sampler.close()
    print(f"wrote {written} samples to {out}", file=sys.stderr)
    return 0
