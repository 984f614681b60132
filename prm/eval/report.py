"""The run's outputs: `results.json` (every number), `manifest.json` (how to audit and rerun) and
`report.md` (tables, plots and a plain-language reading). Schema: docs/results_schema.md.

The reading is generated from the numbers by fixed rules, never written by hand:
- the *primary* comparison is declared before any result exists: the PRM with `min` aggregation
  (`PRIMARY_AGG`) against the ORM, majority vote and random, at the largest N, as a paired difference
  with its 95% interval;
- "won" means the whole interval is above zero, "lost" the whole interval below, otherwise "no clear
  difference"; other aggregations are shown but never promoted to the headline (picking the best of
  four after the fact would flatter the PRM);
- a stage that did not run is reported as missing, loudly, and its numbers are absent, not zero.
"""

from __future__ import annotations

import json
from pathlib import Path

from prm.records import write_text_atomic

PRIMARY_AGG = "min"
SCHEMA_VERSION = 1
# The demo's sentence on backbone size, quoted from the size curve (BENCHMARKS.md `prm_size`, measured
# by scripts/bench/bench_prm_size.py on the embedded math tasks; docs/prm_diagnosis.md section 9):
# a benchmark's reading cited in the report, not this run's result. Rerun the bench to change it.
SIZE_FINDING = ("Size (BENCHMARKS.md `prm_size`): from 0.23M to 3.3M backbone parameters the token-classification "
                "PRM stays below majority vote (best-of-16 19-25% against 52.9%, within-problem AUROC 0.50-0.58 on "
                "the size curve's test pool), while the same backbones' likelihood ratio climbs from 0.50 to 0.88 "
                "within-problem AUROC: size teaches the backbone the task, a head on the step separator does not "
                "read it.")


def write_json(path: str | Path, obj: dict) -> Path:
    path = Path(path)
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False, default=str) + "\n")
    return path


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def pts(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f}"


def _ci(mean, lo, hi) -> str:
    return f"{pct(mean)} [{pct(lo)}, {pct(hi)}]" if mean is not None else "n/a"


def verdict_word(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None:
        return "not measured"
    if lo > 0:
        return "won"
    if hi < 0:
        return "lost"
    return "no clear difference"


def comparisons(curves, aggregation: str = PRIMARY_AGG, pairs: tuple = ()) -> dict:
    """Paired differences at every N for the pre-declared primary comparisons (present methods only):
    each PRM with the headline `aggregation`, declared before the run (the demo: `DemoConfig`), and
    the declared (a, b) `pairs` (the demo's headline against the reward models read beside it)."""
    names = {m.name for m in curves.methods}
    prms = sorted({m.rm for m in curves.methods if m.aggregation == aggregation and not m.gated})
    orms = sorted({m.rm for m in curves.methods if m.rm is not None and m.aggregation is None and not m.gated})
    out = {}
    for prm in prms:
        a = f"{prm}:{aggregation}"
        for b in [*orms, "majority", "random", f"weighted:{a}"]:
            if b in names and b != a:
                out[f"{a} - {b}"] = curves.paired_delta(a, b)
        if f"weighted:{a}" in names:
            out[f"weighted:{a} - majority"] = curves.paired_delta(f"weighted:{a}", "majority")
    for a, b in pairs:
        if a in names and b in names:
            out[f"{a} - {b}"] = curves.paired_delta(a, b)
    for orm in orms:
        if "majority" in names:
            out[f"{orm} - majority"] = curves.paired_delta(orm, "majority")
    if "sympy" in names:
        out["sympy - random"] = curves.paired_delta("sympy", "random")
        for m in curves.methods:
            if m.gated and m.rm is not None:
                base = _ungated(m.name)
                if base in names:
                    out[f"{m.name} - {base}"] = curves.paired_delta(m.name, base)
    return out


def _flags(flags: list[dict]) -> str:
    return "; ".join(f"N {f['from_n']}->{f['to_n']}" for f in flags) or "none"


def _ungated(name: str) -> str:
    return name[len("sympy+"):] if name.startswith("sympy+") else name


def reading(domain: str, d: dict) -> list[str]:
    """Plain-language sentences for one domain, from its results block."""
    lines = []
    bon = d.get("bon")
    if not bon:
        return [f"**{domain}: no best-of-N result** -- see the stage table for what did not run."]
    ns = bon["ns"]
    n = ns[-1]
    m = bon["methods"]
    # `prm eval bon --methods` may leave out the random pick and the oracle: say only what was measured
    rnd, orc = (m[k]["mean"][-1] if k in m else None for k in ("random", "oracle"))
    if rnd is not None and orc is not None:
        lines.append(f"Policy alone (random pick): {pct(rnd)}; pass@{n} (oracle): {pct(orc)}. "
                     "Every selection method lives between these two.")
    labels = d.get("labels", {})
    if labels and all(v.get("positive", 0) == 0 for v in labels.values()):
        solves = f" (the policy solves {pct(rnd)} of test samples)" if rnd is not None else ""
        lines.append("**The reward models had nothing to learn from:** no training step was labeled correct"
                     f"{solves}. Every RM result below "
                     "is a model that never saw a correct step; read it as a check of the pipeline, not of PRMs.")
    if rnd is not None and orc is not None and orc - rnd < 0.02:
        lines.append(f"The pool leaves almost no room for selection (oracle within 2 points of random), "
                     f"so no reward model can show a gain here.")
    for key, delta in d.get("deltas", {}).items():
        word = verdict_word(delta["lo"][-1], delta["hi"][-1])
        a, b = key.split(" - ")
        lines.append(f"At N={n}, **{a}** vs **{b}**: {pts(delta['mean'][-1])} points "
                     f"(95% interval {pts(delta['lo'][-1])} to {pts(delta['hi'][-1])}): {a} **{word}**.")
    head = d.get("headline")                     # set by `prm demo` only: its embedded tiny models
    lost = d.get("deltas", {}).get(f"{head} - majority") if head else None
    if lost and lost["hi"][-1] < 0 and head.startswith("prm:"):
        lines.append(f"**{head} is below majority vote. With the embedded tiny models that is the expected result**: "
                     "on the learning curve (BENCHMARKS.md, `prm_scaling`; 256 to 12,800 training samples, every label source, "
                     "math and code) the token-classification PRM stays below majority with the interval below "
                     "zero, and no training recipe tried moved its within-problem ranking off chance "
                     "(`prm_recipes`). Why, and what would reach it (a larger judge trained as a language model, "
                     "or far more labels): docs/prm_diagnosis.md. The likelihood-ratio row, where present, is the "
                     "scorer that earns its keep here.")
    if head and head.startswith("lprm:"):
        vs = d.get("deltas", {}).get(f"{head} - ratio:{head.split(':', 1)[1]}")
        lines.append(f"**{head}** starts from zero reward (the policy against itself), so it ranks by what the "
                     "verifiers' labels taught it and nothing else: that is where process and outcome supervision can "
                     "differ. The judge-started models (`ratio`, `iprm`, `iorm`) start from a stronger language model "
                     "whose likelihood already checks the arithmetic" +
                     (f" ({head} minus ratio: {pts(vs['mean'][-1])} points)" if vs else "") +
                     "; from there no label kind can beat another, the ratio already picks a sound solution almost "
                     "wherever the pool holds one (docs/prm_diagnosis.md sections 11-12). For reranking on this task, "
                     "read the judge-started rows; for what the labels teach, this one.")
    if head and _has_step_checker(domain):     # the size curve was measured with the step checker's labels
        lines.append(SIZE_FINDING)
    snd = (d.get("hacking") or {}).get("sound") or {}
    if head and head in snd:
        room = snd["_ceiling"] - snd[head]
        lines.append(f"Sound solutions (right answer, no step the checker proves false): **{head}** picks one on "
                     f"{pct(snd[head])} of problems at N={snd['_n']}, where the pool holds one on {pct(snd['_ceiling'])} "
                     f"(pass@{snd['_n']}'s {pct(snd['_pass'])} also counts answers reached only through a step proven "
                     f"false). A reward model that prefers sound solutions can gain at most {100 * room:.1f} points over "
                     f"it here" + (": too little room for any comparison of label kinds to separate on this pool."
                                   if room < 0.02 else "."))
    beam = d.get("beam")
    if beam and beam.get("accuracy") is not None and beam.get("bon_at_equal_compute"):
        eq = beam["bon_at_equal_compute"]
        lines.append(f"Beam search: {pct(beam['accuracy'])} using {beam['tokens_per_problem']:.0f} generated tokens "
                     f"per problem; best-of-N with the same PRM at equal tokens (N~{eq['n_equivalent']:.1f}"
                     f"{', outside the measured range: clamped' if eq['clamped'] else ''}): {pct(eq['mean'])}.")
    hack = d.get("hacking", {}).get("goodhart", {})
    flagged = [k for k, v in hack.items() if v["flags"]]
    if flagged:
        lines.append("Goodhart warning: the selected score rose while accuracy fell for " + ", ".join(flagged) + ".")
    elif hack:
        lines.append("No reward model showed the Goodhart pattern (score up, accuracy down) over this range of N.")
    return lines


def _curve_table(bon: dict) -> list[str]:
    ns = bon["ns"]
    rows = ["| method | " + " | ".join(f"N={n}" for n in ns) + " |", "|---|" + "---|" * len(ns)]
    for name, s in bon["methods"].items():
        rows.append(f"| {name} | " + " | ".join(_ci(a, b, c) for a, b, c in zip(s["mean"], s["lo"], s["hi"])) + " |")
    return rows


def _stage_table(stages: dict) -> list[str]:
    rows = ["| stage | status | time | detail |", "|---|---|---|---|"]
    for name, st in stages.items():
        status = st["status"]
        mark = {"ran": "ran", "reused": "reused (cached)"}.get(status, f"**{status.upper()}**")
        t = f"{st['seconds']:.1f}s" if st.get("seconds") is not None else ""
        rows.append(f"| {name} | {mark} | {t} | {st.get('detail', '')} |")
    return rows


def _has_step_checker(domain: str) -> bool:
    from prm.domains import DOMAINS

    return domain in DOMAINS and DOMAINS[domain].check_steps is not None


def _headline_names(results: dict) -> str:
    """The declared headline methods of the run's domains (`prm:min` where none was declared)."""
    heads = sorted({d["headline"] for d in results.get("domains", {}).values() if d.get("headline")})
    return "`, `".join(heads) or f"prm:{results.get('headline_aggregation', PRIMARY_AGG)}"


def render_report(results: dict, manifest: dict) -> str:
    out = [f"# prm-toolkit report", "",
           f"Run `{results.get('command', '')}` at {results.get('created', '')}; backend: "
           f"**{manifest.get('backend', 'unknown')}**. Every number below is in `results.json`; "
           f"`manifest.json` lists versions, hashes, seeds and settings.", ""]
    missing = [(dom, s) for dom, d in results.get("domains", {}).items() for s, st in d.get("stages", {}).items()
               if st["status"] not in ("ran", "reused")]
    if missing:
        out += ["> **Warning: not every stage ran.** " + "; ".join(f"{dom}/{s}" for dom, s in missing) +
                ". Results that depend on them are absent, not estimated.", ""]
    out += ["## How to read this", "",
            "Each problem gets one fixed pool of samples. For N = 1, 2, 4, ... we draw N of them many times "
            "and let each method pick one (Lightman et al.'s protocol). Intervals are 95% percentile intervals "
            "over draws that also resample problems, so they include which problems happened to be in the test "
            "set. Methods: `prm:AGG` best-of-N by the PRM with step aggregation AGG; `orm` best-of-N by the ORM; "
            "`weighted:X` weighted majority vote with X's scores; `majority` plain self-consistency; `sympy` the "
            "sympy step checker alone (random pick among samples with no step proven false); `sympy+X` X restricted "
            "to those samples; `oracle` pass@N (upper bound); `random` the policy alone; `ratio:AGG` (math) the "
            "zero-training likelihood ratio of the judge backbone against the policy, per step; `iprm:AGG` a PRM "
            "in the implicit parametrization (beta x log pi/pi_policy, summed over the steps so far) trained on the "
            "verifiers' step labels (process supervision), `iorm:AGG` the same model trained on the outcome "
            "labels of the same samples (outcome supervision); `lprm:AGG` / `lorm:AGG` (math) the same two label "
            "kinds on 51,200 samples, trained from the policy against itself, so the reward starts at zero "
            "(prm/learned.py, shipped).",
            f"The headline comparison (`{_headline_names(results)}` against the others) was fixed before the run; "
            "other aggregations are shown but not promoted.", ""]
    for dom, d in results.get("domains", {}).items():
        out += [f"## {dom}", "", "### What ran", ""] + _stage_table(d.get("stages", {})) + [""]
        if d.get("setup"):
            out += ["Setup: " + ", ".join(f"{k}={v}" for k, v in d["setup"].items()), ""]
        if d.get("headline"):
            s = d.get("setup", {})
            if d["headline"].startswith("lprm:"):
                line = ("a PRM in the implicit parametrization trained on the sympy step checker's labels (process "
                        "supervision), beside `lorm`, the same model trained on the same samples' outcomes: "
                        f"{s.get('learned pair', 'a shipped pair')}, 8 per train-split problem, starting from the "
                        "policy against itself (zero reward).")
            else:
                what = (f"a PRM in the implicit parametrization trained on {s.get('implicit PRM labels', '?')} step "
                        "labels (process supervision), beside `iorm`, the same model trained on the same samples' "
                        "outcomes," if d["headline"].startswith("iprm:") else
                        f"a token-classification PRM trained with {s.get('PRM labels', '?')} labels")
                line = (f"{what} on {s.get('train problems', '?')} problems x {s.get('samples each', '?')} samples, "
                        f"starting from the {s.get('RM backbone', 'policy')}.")
            out += [f"Headline method (declared before the run): `{d['headline']}`, {line}", ""]
        out += ["### Reading", ""] + [f"- {s}" for s in reading(dom, d)] + [""]
        if d.get("bon"):
            out += ["### Accuracy versus N (mean [95% interval])", ""] + _curve_table(d["bon"]) + [""]
            if d.get("plot"):
                out += [f"![{dom} best-of-N]({d['plot']})", ""]
        if d.get("deltas"):
            out += ["### Paired differences at the largest N", "", "| comparison | difference (points) | 95% interval | verdict |",
                    "|---|---|---|---|"]
            for k, v in d["deltas"].items():
                out.append(f"| {k} | {pts(v['mean'][-1])} | {pts(v['lo'][-1])} to {pts(v['hi'][-1])} | "
                           f"{verdict_word(v['lo'][-1], v['hi'][-1])} |")
            out.append("")
        if d.get("beam"):
            b = d["beam"]
            out += ["### Beam search", "", "| | accuracy | generated tokens / problem |", "|---|---|---|",
                    f"| beam search ({b.get('settings', '')}) | {_ci(b.get('accuracy'), b.get('lo'), b.get('hi'))} | "
                    f"{b.get('tokens_per_problem', 0):.0f} |"]
            if b.get("bon_at_equal_compute"):
                e = b["bon_at_equal_compute"]
                out.append(f"| best-of-N {b.get('compared_to', '')} at N~{e['n_equivalent']:.1f} | "
                           f"{_ci(e['mean'], e['lo'], e['hi'])} | {b.get('tokens_per_problem', 0):.0f} |")
            out.append("")
        h = d.get("hacking")
        if h:
            out += ["### Reward-hacking diagnostics", "",
                    "Selected sample's mean RM score (proxy) and accuracy as N grows; a flag means the proxy rose "
                    "while accuracy fell by more than one problem's worth (and at least 1 point).", "",
                    "| method | proxy by N | accuracy by N | flags |", "|---|---|---|---|"]
            for k, v in h.get("goodhart", {}).items():
                out.append(f"| {k} | {' / '.join(f'{x:.2f}' for x in v['proxy'])} | "
                           f"{' / '.join(pct(x) for x in v['accuracy'])} | "
                           f"{_flags(v['flags'])} |")
            out += ["", "Spearman correlation of each score with length, step count and correctness (all samples):", "",
                    "| score | vs length | vs steps | vs correct |", "|---|---|---|---|"]
            for k, v in h.get("length_bias", {}).items():
                if k.startswith("_"):
                    continue
                f = lambda x: "n/a" if x is None else f"{x:+.2f}"  # noqa: E731
                out.append(f"| {k} | {f(v.get('vs_length'))} | {f(v.get('vs_steps'))} | {f(v.get('vs_correct'))} |")
            fsr = h.get("false_step_rate")
            if fsr:
                out += ["", f"Correct answers selected at N={fsr.get('_n')} that contain a step sympy proves false: " +
                        ", ".join(f"{k} {pct(v)}" for k, v in fsr.items() if not k.startswith("_")), ""]
            snd = h.get("sound")
            if snd:
                out += [f"Sound solutions at N={snd['_n']} (the right answer and no step sympy proves false): ceiling "
                        f"{pct(snd['_ceiling'])} (pass@{snd['_n']}, counting lucky answers: {pct(snd['_pass'])}); " +
                        ", ".join(f"{k} {pct(v)}" for k, v in snd.items() if not k.startswith("_")), ""]
        if d.get("step_quality"):
            q = d["step_quality"]
            out += ["### Quality of the scores on the held-out pool", "",
                    "AUROC: how well the score ranks correct above incorrect (0.5 = chance); ECE: calibration "
                    "error of the score read as P(correct). Rows 'vs sample correctness' use one score per sample; "
                    "'steps vs direct sympy labels' uses every step sympy could judge. With few positives these "
                    "are noisy: see the counts.", "",
                    "| scorer | AUROC | ECE | items | positives |", "|---|---|---|---|---|"]
            for k, v in q.items():
                fmt = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
                out.append(f"| {k} | {fmt(v.get('auroc'))} | {fmt(v.get('ece'))} | {v.get('n', 0)} | {v.get('positives', '')} |")
            out.append("")
    if results.get("processbench"):
        out += ["## ProcessBench-format step evaluation", "", "| data | scorer | acc. erroneous | acc. correct | F1 |",
                "|---|---|---|---|---|"]
        for k, v in results["processbench"].items():
            out.append(f"| {k} | {v.get('scorer', '')} | {pct(v['acc_error'])} | {pct(v['acc_correct'])} | {pct(v['f1'])} |")
        out.append("")
    if results.get("notes"):
        out += ["## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
    return "\n".join(out) + "\n"


def write_outputs(out_dir: str | Path, results: dict, manifest: dict) -> dict[str, Path]:
    out_dir = Path(out_dir)
    results = {"schema_version": SCHEMA_VERSION, **results}
    paths = {"results": write_json(out_dir / "results.json", results),
             "manifest": write_json(out_dir / "manifest.json", manifest)}
    write_text_atomic(out_dir / "report.md", render_report(results, manifest))
    paths["report"] = out_dir / "report.md"
    return paths
