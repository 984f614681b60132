"""Step labeling: turn step-segmented samples into stepwise records grounded in the verifiers.

    from prm.labeling import label_outcome, label_direct, label_mc, label_binary, make_items
    items = make_items([(problem, sample), ...])
    records = label_mc(items, sampler, prompt_fn, MCConfig(rollout=RolloutConfig(k=8)))

Labelers (one module each):
  outcome.py  final answer / unit tests, one label per sample (ORM supervision)
  direct.py   math only: `check_steps` per step, documented policies for later and unchecked steps
  mc.py       Math-Shepherd: K rollouts from every prefix, soft and hard labels
  binary.py   OmegaPRM-style binary search for the first error, O(log n) prefix evaluations
  consensus.py two of the above (math: mc and direct), a step kept only where they agree (Qwen)
Shared pieces: inputs.py (samples joined to problems, rejects), rollouts.py (batched sampler calls),
verify.py (parallel judging), base.py (record building), provenance.py (cost and origin),
runner.py (streaming, resumable file runs, summary), pairs.py (in-memory labeling by method name),
agreement.py (labeler vs labeler).
"""

from prm.labeling.agreement import compare, compare_files
from prm.labeling.base import make_items
from prm.labeling.binary import BinaryConfig, label_binary
from prm.labeling.consensus import ConsensusConfig, label_consensus
from prm.labeling.direct import DirectConfig, label_direct
from prm.labeling.inputs import LabelItem, Reject, iter_items, load_problems
from prm.labeling.mc import MCConfig, label_mc
from prm.labeling.outcome import label_outcome
from prm.labeling.pairs import label_pairs, label_summary, methods_for
from prm.labeling.rollouts import RolloutConfig
from prm.labeling.runner import RunConfig, format_summary, run_labeling, summarize_file
from prm.labeling.verify import JudgeConfig

METHODS = ("outcome", "direct", "mc", "binary", "consensus")

__all__ = ["BinaryConfig", "ConsensusConfig", "DirectConfig", "JudgeConfig", "LabelItem", "MCConfig", "METHODS", "Reject",
           "RolloutConfig", "RunConfig", "compare", "compare_files", "format_summary", "iter_items",
           "label_binary", "label_consensus", "label_direct", "label_mc", "label_outcome", "label_pairs", "label_summary", "methods_for", "load_problems", "make_items",
           "run_labeling", "summarize_file"]
