"""The whole loop in library calls: problems -> sample -> label -> train -> score -> best-of-N.

    python examples/pipeline.py                          # the embedded tiny math policy (trained once, ~5 min)
    python examples/pipeline.py --model DIR --problems 8 # any causal LM directory, fewer problems
"""

import argparse
import tempfile
from pathlib import Path

from prm.domains import DOMAINS
from prm.eval.summary import pool_summary
from prm.labeling import RolloutConfig, label_pairs
from prm.policy import ensure_policy
from prm.records import Sample, write_jsonl_atomic
from prm.sampler import EngineConfig, build_prompt, make_sampler
from prm.scoring import load_scorer
from prm.search import STRATEGIES
from prm.search.best_of_n import BestOfNConfig
from prm.tasks import load_tasks
from prm.train import TrainConfig, train_rm


def main(model: str | None, n_problems: int, out: Path, backend: str = "auto", max_tokens: int = 96) -> dict:
    model = model or str(ensure_policy("math"))
    train, test = load_tasks("math_train")[:n_problems], load_tasks("math_test")[:n_problems]
    sampler = make_sampler(EngineConfig(model=model, backend=backend))
    bon = BestOfNConfig(n=4, max_tokens=max_tokens)
    pool = STRATEGIES["bon"].run(train, sampler, {}, bon)                                          # sample
    pairs = [(p, Sample(p.id, s.extra["text"], s.steps)) for p, r in zip(train, pool) for s in r.samples if s.steps]
    labels = label_pairs("mc", pairs, sampler=sampler, prompt_fn=lambda q: build_prompt(model, q),  # label (MC)
                         rollout=RolloutConfig(k=4, max_tokens=max_tokens))
    write_jsonl_atomic(out / "labels.jsonl", labels)
    prm_dir = train_rm(TrainConfig(model=model, train_file=str(out / "labels.jsonl"), output_dir=str(out / "prm"),
                                   sep=DOMAINS["math"].sep, max_steps=20, learning_rate=1e-3), progress=False)  # train
    scorer = load_scorer(prm_dir, backend="transformers")                                          # score
    results = STRATEGIES["bon"].run(test, sampler, {"prm": scorer}, bon)
    sampler.close(), scorer.close()
    curves, _, block = pool_summary([s for r in results for s in r.samples], "math", repeats=50, seed=0,
                                    aggregation="min")                                             # best-of-N
    for name, m in block["bon"]["methods"].items():
        print(f"{name:>22}: N={curves.ns[-1]} accuracy {100 * m['mean'][-1]:.1f}%")
    return block


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="policy and PRM backbone (default: the embedded tiny math policy)")
    ap.add_argument("--problems", type=int, default=16, help="train and test problems each")
    ap.add_argument("--out", default=None, help="where labels and the PRM go (default: a temp dir)")
    args = ap.parse_args()
    main(args.model, args.problems, Path(args.out or tempfile.mkdtemp(prefix="prm-pipeline-")))
