"""Split solutions into steps and write them as samples.

  prm segment --input solutions.jsonl --text-field solution --out samples.jsonl
  prm segment --input programs.jsonl --text-field code --mode code --out samples.jsonl

Input: JSONL with a text field and (optionally) a problem id field. Output: Sample records whose
`steps` join back to the text exactly (math: with the separator; code: with "\\n"; markers: with "").
"""

from __future__ import annotations

from tqdm import tqdm

from prm.commands.argtypes import separator
from prm.commands.vocab import add_renamed
from prm.errors import RecordError
from prm.records import Sample, iter_jsonl, write_jsonl_atomic
from prm.steps import split_code_steps, split_on_markers, split_steps


def add_arguments(p):
    p.add_argument("--input", required=True, help="JSONL file, one solution per line")
    add_renamed(p, "--out", "--output", required=True, help="JSONL file of Sample records (overwritten)")
    p.add_argument("--text-field", default="text", help="field holding the solution text")
    p.add_argument("--id-field", default="problem_id", help="field holding the problem id (line number if absent)")
    p.add_argument("--mode", choices=["sep", "markers", "code"], default="sep",
                   help="sep: split on --sep; markers: before each 'Step k'; code: statements via ast")
    p.add_argument("--sep", type=separator, default="\\n\\n", help="step separator for --mode sep (escapes like \\n allowed)")


def run(args) -> int:
    from prm.paths import check_paths

    check_paths(inputs={"--input": args.input}, outputs={"--out": args.out})
    sep = args.sep  # escapes decoded by the flag's type (argparse also runs it on the string default)
    split = {"sep": lambda t: split_steps(t, sep), "markers": split_on_markers, "code": split_code_steps}[args.mode]

    def samples():
        for lineno, obj in tqdm(iter_jsonl(args.input), desc="segment", unit="rec"):
            text = obj.get(args.text_field)
            if not isinstance(text, str):
                raise RecordError("missing or not a string", where=f"{args.input}:{lineno}", field=args.text_field)
            yield Sample(problem_id=str(obj.get(args.id_field, lineno)), text=text, steps=split(text),
                         source={"segmenter": args.mode, "sep": sep if args.mode == "sep" else None})

    # atomic: a bad line halfway leaves the old output untouched rather than a partial file
    n = write_jsonl_atomic(args.out, samples())
    print(f"wrote {n} samples to {args.out}")
    return 0
