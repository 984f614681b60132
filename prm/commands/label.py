"""Label step-segmented samples with per-step correctness, grounded in the verifiers.

  prm label --method outcome --problems data/tasks/math_test.jsonl --samples samples.jsonl --out orm.jsonl
  prm label --method direct  --problems P --samples S --out direct.jsonl          (math: sympy per step)
  prm label --method mc      --problems P --samples S --out mc.jsonl -k 8         (Math-Shepherd rollouts)
  prm label --method binary  --problems P --samples S --out bin.jsonl -k 8        (OmegaPRM binary search)
  prm label --method mc ... --compare direct.jsonl     (agreement of the two labelings in the summary)

Methods:
  outcome  verify the final answer / run the unit tests; one label, on the last step (ORM data)
  direct   math only: check each step's arithmetic/equalities; later steps after the first error
           follow --after-error, unchecked steps follow --unjudged
  mc       K rollouts from every step prefix; soft label = fraction correct, hard = any correct
  binary   binary search for the first step whose prefix no rollout can finish correctly:
           O(log steps) prefix evaluations instead of one per step
  consensus two labelers (--pair; default mc,direct for math, mc,binary for code), a step keeps its
           label only where both agree, else unlabeled; the summary says how many steps survive

Rollouts (mc, binary) use --model, or the embedded tiny policy of each problem's domain (trained
on first use and cached). All prefixes of a batch go to the engine in one call. For math samples
mc and binary runs also label each batch with `direct` on the fly (cheap, not written) and print
the agreement of the two in the summary.

Output: stepwise records (TRL format + problem_id, sample_id, first_error, judged, mc_values,
n_rollouts, outcome, provenance). Resumable: rerun the same command after a crash and it continues
(records are keyed by sample_id; --overwrite starts afresh). A rerun whose inputs or labeling
settings differ (method, K, --label, --after-error, --unjudged, model, sampling, seed, ...) is
refused, naming what differs (fingerprint in OUT.resume.json), so one file never mixes labelings. Rejected samples (unknown problem,
empty solution, problem without gold answer/tests) go to OUT.rejects.jsonl with file:line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from prm.commands.argtypes import fraction, nonneg_float, nonneg_int, positive_float, positive_int
from prm.commands.engine_flags import add_engine_flags, engine_config
from prm.errors import UserError

METHODS = ("outcome", "direct", "mc", "binary", "consensus")


def add_arguments(p):
    io = p.add_argument_group("input and output")
    io.add_argument("--method", required=True, choices=METHODS, help="labeling method (see above)")
    io.add_argument("--problems", required=True, help="JSONL of Problem records (gold answers / unit tests)")
    io.add_argument("--samples", required=True, help="JSONL of Sample records (problem_id, text, steps)")
    io.add_argument("--out", required=True, help="output JSONL of stepwise records (appended to: resumable)")
    io.add_argument("--overwrite", action="store_true", help="start the output afresh instead of resuming")
    io.add_argument("--limit", type=positive_int, default=None, help="label at most this many new samples")
    io.add_argument("--compare", default=None, metavar="FILE",
                    help="another labeled file of the same samples: print step and first-error agreement")
    io.add_argument("--summary-json", default=None, metavar="FILE", help="also write the summary as JSON")

    pol = p.add_argument_group("labeling policy")
    pol.add_argument("--label", choices=("hard", "soft"), default="hard",
                     help="mc: labels column holds hard (any rollout correct) or soft (fraction) labels")
    pol.add_argument("--after-error", choices=("incorrect", "unlabeled"), default="incorrect",
                     help="direct, binary: label of steps after the first error (False, or None = no loss)")
    pol.add_argument("--pair", type=_pair, default=None, metavar="A,B",
                     help="consensus: the two labelers (default per domain: mc,direct where a step "
                          "checker exists, else mc,binary)")
    pol.add_argument("--consensus-unit", choices=("step", "sample"), default="step",
                     help="consensus: keep agreeing steps, or whole samples whose first errors agree (Qwen)")
    pol.add_argument("--unjudged", choices=("unlabeled", "correct"), default="unlabeled",
                     help="direct: label of steps before the first error that no check could judge")

    ro = p.add_argument_group("rollouts (mc, binary)")
    ro.add_argument("--model", default=argparse.SUPPRESS,
                    help="policy model directory; default: the embedded tiny policy per domain (prm.policy)")
    ro.add_argument("-k", "--rollouts", type=positive_int, default=8, help="rollouts per step prefix (K)")
    ro.add_argument("--temperature", type=nonneg_float, default=0.7, help="rollout sampling temperature")
    ro.add_argument("--top-p", type=fraction, default=1.0, help="rollout nucleus sampling")
    ro.add_argument("--max-tokens", type=positive_int, default=256, help="max new tokens per rollout")
    ro.add_argument("--seed", type=nonneg_int, default=0, help="seed for the engine and for each prefix's rollouts (same seed and input, same rollouts, however the input is split)")
    ro.add_argument("--quick-policy", action="store_true", help="use the quick (smaller) embedded policy")

    add_engine_flags(p.add_argument_group("policy engine (mc, binary)"))

    run = p.add_argument_group("execution")
    run.add_argument("--batch-size", type=positive_int, default=32,
                     help="samples per batch: all their prefixes go to the engine in one call")
    run.add_argument("--workers", type=positive_int, default=argparse.SUPPRESS,
                     help="parallel verifier workers (default: CPU count)")
    run.add_argument("--code-timeout", type=positive_float, default=5.0, help="seconds per program run (code)")
    run.add_argument("--fsync", action="store_true", help="fsync every record (survive power loss)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")


class _Policies:
    """One sampler per domain, started on first use and closed at the end."""

    def __init__(self, args):
        self.args = args
        self.samplers: dict[str, object] = {}
        self.models: dict[str, str] = {}

    def model_for(self, domain: str) -> str:
        if domain not in self.models:
            if getattr(self.args, "model", None):
                self.models[domain] = self.args.model
            else:
                from prm.policy import ensure_policy

                print(f"prm label: using the embedded {domain} policy (trained on first use)", file=sys.stderr)
                self.models[domain] = str(ensure_policy(domain, quick=self.args.quick_policy))
        return self.models[domain]

    def sampler_for(self, domain: str):
        model = self.model_for(domain)
        if model not in self.samplers:
            from prm.sampler import make_sampler

            self.samplers[model] = make_sampler(engine_config(self.args, model, seed=self.args.seed))
        return self.samplers[model]

    def prompt_fn(self, domain: str):
        from prm.sampler import build_prompt

        model = self.model_for(domain)
        return lambda question: build_prompt(model, question)

    def close(self):
        for s in self.samplers.values():
            s.close()


def make_label_batch(args, policies: _Policies, agreement: dict | None = None):
    """The method's batch labeler: (items) -> records, splitting a mixed batch by domain."""
    from prm.labeling import (BinaryConfig, DirectConfig, JudgeConfig, MCConfig, RolloutConfig,
                              label_binary, label_direct, label_mc, label_outcome)

    agreement = {} if agreement is None else agreement
    judge = JudgeConfig(workers=getattr(args, "workers", None), code_timeout=args.code_timeout)
    if args.rollouts < 1:
        raise UserError(f"--rollouts must be >= 1, got {args.rollouts}")
    # the seed goes to the engine and, per prefix, to each request (see RolloutConfig.seed), so two
    # sampler workers splitting the input produce the same records as one
    rollout = RolloutConfig(k=args.rollouts, temperature=args.temperature, top_p=args.top_p,
                            max_tokens=args.max_tokens, seed=args.seed)
    rollout.sampling()  # bad sampling settings fail now (UserError), not after the engine has started
    if args.method == "outcome":
        return lambda items: label_outcome(items, judge)
    if args.method == "consensus":
        return _consensus_batch(args, policies, agreement)
    if args.method == "direct":
        cfg = DirectConfig(after_error=args.after_error, unjudged=args.unjudged)
        return lambda items: label_direct(items, cfg, judge)

    def by_domain(fn):
        def label(items):
            out = [None] * len(items)
            for domain in dict.fromkeys(it.domain for it in items):
                idx = [i for i, it in enumerate(items) if it.domain == domain]
                recs = fn([items[i] for i in idx], policies.sampler_for(domain), policies.prompt_fn(domain))
                for i, r in zip(idx, recs):
                    out[i] = r
            return out
        return label

    if args.method == "mc":
        cfg = MCConfig(rollout=rollout, label=args.label)
        return with_direct(by_domain(lambda items, s, pf: label_mc(items, s, pf, cfg, judge)), judge, agreement)
    cfg = BinaryConfig(rollout=rollout, after_error=args.after_error)
    return with_direct(by_domain(lambda items, s, pf: label_binary(items, s, pf, cfg, judge)), judge, agreement)


def _pair(text: str) -> tuple[str, str]:
    from prm.labeling.consensus import PAIRABLE

    pair = tuple(x.strip() for x in text.split(","))
    if len(pair) != 2 or pair[0] == pair[1] or not set(pair) <= set(PAIRABLE):
        raise argparse.ArgumentTypeError(f"two different methods of {', '.join(PAIRABLE)}, e.g. mc,direct; "
                                         f"got {text!r}")
    return pair


def _consensus_batch(args, policies: _Policies, agreement: dict):
    """Both labelers of the pair, each built as its own --method would be, combined by agreement."""
    from prm.labeling.consensus import ConsensusConfig, label_consensus

    cfg = ConsensusConfig(pair=args.pair, unit=args.consensus_unit, after_error=args.after_error)
    subs: dict = {}

    def label_with(method, items):
        if method not in subs:
            sub_args = argparse.Namespace(**{**vars(args), "method": method})
            subs[method] = make_label_batch(sub_args, policies, agreement)
        return subs[method](items)
    return lambda items: label_consensus(items, label_with, cfg)


def _domains_for(method: str, pair: tuple[str, str] | None = None) -> tuple[str, ...]:
    """The domains a method can label (`prm.labeling.methods_for`: `direct` needs a step checker)."""
    from prm.domains import DOMAINS
    from prm.labeling import methods_for

    return tuple(d for d in DOMAINS if all(m in methods_for(d) for m in (pair or (method,))))


def with_direct(label, judge, agreement: dict):
    """Also label the math samples of each batch with `direct` (cheap: no rollouts, not written) and
    keep the running agreement with the rollout labels, for the summary."""
    from prm.domains import DOMAINS
    from prm.labeling import label_direct
    from prm.labeling.agreement import compare, merge

    def run(items):
        records = label(items)
        checkable = [it for it in items if DOMAINS[it.domain].check_steps is not None]
        if checkable:
            direct = [r.to_dict() for r in label_direct(checkable, judge=judge)]
            agreement["direct"] = merge(agreement.get("direct"), compare(direct, [r.to_dict() for r in records]))
        return records
    return run


def run(args) -> int:
    from prm.labeling import RunConfig, format_summary, run_labeling
    from prm.labeling.agreement import compare_files, format_agreement

    from prm import resume
    from prm.labeling.runner import rejects_path
    from prm.paths import check_paths

    # before anything is read or deleted (--overwrite included)
    check_paths(inputs={"--problems": args.problems, "--samples": args.samples, "--compare": args.compare},
                models={"--model": getattr(args, "model", None)},
                outputs={"--out": args.out, "--out (rejects file)": rejects_path(args.out),
                         "--out (resume record)": resume.sidecar(args.out), "--summary-json": args.summary_json},
                lock=args.out)
    policies = _Policies(args)
    pair = args.pair if args.method == "consensus" else None
    cfg = RunConfig(batch_size=args.batch_size, domains=_domains_for(args.method, pair),
                    limit=args.limit, overwrite=args.overwrite, fsync=args.fsync, progress=not args.no_progress)
    agreement: dict = {}
    try:
        summary = run_labeling(args.problems, args.samples, args.out, make_label_batch(args, policies, agreement), cfg,
                               settings=record_settings(args))
    finally:
        policies.close()
    print(format_summary(summary, args.out))
    if args.method == "binary":
        print(_binary_savings(args.out, args.rollouts))
    if agreement.get("direct"):
        summary["agreement_direct"] = agreement["direct"]
        print(format_agreement(agreement["direct"], "direct", args.method) + " (math samples of this run)")
    if args.compare:
        summary["agreement"] = compare_files(args.out, args.compare)
        print(format_agreement(summary["agreement"], args.method, Path(args.compare).name))
    if args.summary_json:
        from prm.records import write_text_atomic

        write_text_atomic(args.summary_json, json.dumps(summary, indent=2) + "\n")  # a kill never leaves half a file
    return 0


# the flags that change a record, per method (the resume fingerprint): how many or how fast
# (--limit, --batch-size, --workers) is left out, since it never changes a record
_COMMON = ("method", "code_timeout")
_ROLLOUT = ("rollouts", "temperature", "top_p", "max_tokens", "seed", "model", "quick_policy",
            "backend", "dtype", "max_model_len")
RECORD_SETTINGS = {"outcome": _COMMON, "direct": _COMMON + ("after_error", "unjudged"),
                   "mc": _COMMON + ("label",) + _ROLLOUT, "binary": _COMMON + ("after_error",) + _ROLLOUT,
                   "consensus": _COMMON + ("pair", "consensus_unit", "after_error", "unjudged", "label") + _ROLLOUT}


def record_settings(args) -> dict:
    """{flag: value} of the settings that change this method's records (see RECORD_SETTINGS)."""
    flag = {"rollouts": "-k"}
    out = {}
    for name in RECORD_SETTINGS[args.method]:
        value = getattr(args, name, None)
        if name == "model" and value is None:
            value = f"embedded {'quick ' if args.quick_policy else ''}policy"
        out[flag.get(name, "--" + name.replace("_", "-"))] = value
    return out


def _binary_savings(out: str, k: int) -> str:
    """Rollouts binary search used vs what MC would draw on the same samples (K per non-final step)."""
    from prm.records import iter_jsonl

    used = mc = 0
    for _, r in iter_jsonl(out, skip_bad=True):
        used += ((r.get("provenance") or {}).get("cost") or {}).get("rollouts", 0)
        mc += k * max(0, len(r.get("completions") or []) - 1)
    saved = f"{100 * (1 - used / mc):.1f}% saved" if mc else "n/a"
    return f"binary search: {used} rollouts; mc on the same samples would draw up to {mc} ({saved})"
