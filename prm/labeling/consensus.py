"""`consensus` labeling: keep a step's label only where two labelers agree (Qwen's consensus filter).

Qwen, "The Lessons of Developing Process Reward Models in Mathematical Reasoning" (arXiv 2501.07301):
the paper labels each sample with MC estimation and with an LLM judge and keeps the samples on
which the two agree; it finds MC labels noisy (a rollout can finish well from a wrong step, or badly
from a right one) and the filtered hard labels better than either alone. Here the two labelers are
any two of this toolkit's methods; by default per domain (`default_pair`): `mc` and the sympy
`direct` checker where the domain has a step checker (math), else `mc` and `binary` (code: both use
the policy's rollouts, so their consensus mainly drops binary search's inferred labels that MC
contradicts, a weaker filter than a second, independent kind of evidence).

The rule (`consensus_labels`, pure):
1. Each side's label becomes a verdict: True / False; a soft value is read with Math-Shepherd's hard
   rule (> 0 is correct, `prm.first_error.is_error`); None stays None (no verdict).
2. unit "step" (default): a step keeps the shared verdict where both sides have one and they agree;
   where they disagree, or either side has none, the step is unlabeled (None, no loss).
   unit "sample" (the paper's filter): the sample keeps labels only when both sides' first errors
   are known and equal; then the labels are rebuilt from that first error; else every step is None.
3. Steps after the first step both sides call wrong follow `after_error` as everywhere here
   (`prm.first_error`): "incorrect" (False: an error poisons what follows) or "unlabeled" (None).
4. `first_error` = `prm.first_error.first_error_of(labels)`: -1 only when every step is labeled
   correct, None when an unlabeled step comes before any error.

Hard labels only: the paper found hard labels better than soft ones after filtering, and an
agreement of two numbers has no natural value. How many steps survive is kept per record (the
`provenance.consensus` counts, summed in the run summary and `label_summary`), together with both
labelers' own provenance (`provenance.members`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Sequence

from prm.domains import DOMAINS
from prm.first_error import AFTER_ERROR, after_error_label, first_error_of, is_error, labels_from_first_error
from prm.labeling.base import make_record
from prm.labeling.inputs import LabelItem
from prm.labeling.provenance import Cost, make_provenance
from prm.records import StepwiseRecord

UNITS = ("step", "sample")
PAIRABLE = ("direct", "mc", "binary", "outcome")


def default_pair(domain: str) -> tuple[str, str]:
    """mc against the step checker where the domain has one (`direct`), else mc against binary search."""
    return ("mc", "direct") if DOMAINS[domain].check_steps is not None else ("mc", "binary")


@dataclass(frozen=True)
class ConsensusConfig:
    pair: tuple[str, str] | None = None   # None: `default_pair` of each sample's domain
    unit: str = "step"                    # "step": per-step agreement; "sample": agreeing first errors
    after_error: str = "incorrect"        # label of steps after the agreed first error

    def __post_init__(self):
        if self.pair is not None:
            if len(self.pair) != 2 or self.pair[0] == self.pair[1] or not set(self.pair) <= set(PAIRABLE):
                raise ValueError(f"pair must be two different methods of {PAIRABLE}, got {self.pair!r}")
            object.__setattr__(self, "pair", tuple(self.pair))
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}, got {self.unit!r}")
        if self.after_error not in AFTER_ERROR:
            raise ValueError(f"after_error must be one of {AFTER_ERROR}, got {self.after_error!r}")

    def pair_for(self, domain: str) -> tuple[str, str]:
        return self.pair or default_pair(domain)


def verdict(label) -> bool | None:
    """A label read as a verdict: None stays None, a number > 0 (or True) is correct."""
    return None if label is None else not is_error(label, soft=True)


def consensus_labels(a: Sequence, b: Sequence, cfg: ConsensusConfig = ConsensusConfig()) -> tuple[list, dict]:
    """Pure: two labelers' labels of one sample -> (consensus labels, counts). Counts: steps, agreed,
    disagreed, one_side_unlabeled (a per-step comparison, whatever the unit) and kept (labeled steps
    in the output)."""
    if len(a) != len(b):
        raise ValueError(f"the two labelings have {len(a)} and {len(b)} steps")
    va, vb = [verdict(x) for x in a], [verdict(x) for x in b]
    counts = {"steps": len(a), "agreed": 0, "disagreed": 0, "one_side_unlabeled": 0}
    for x, y in zip(va, vb):
        key = "one_side_unlabeled" if x is None or y is None else "agreed" if x == y else "disagreed"
        counts[key] += 1
    if cfg.unit == "sample":
        fa, fb = first_error_of(va), first_error_of(vb)
        labels = labels_from_first_error(len(a), fa if fa == fb else None, cfg.after_error)
    else:
        labels = [x if x is not None and x == y else None for x, y in zip(va, vb)]
        fe = next((i for i, v in enumerate(labels) if v is False), None)
        if fe is not None:
            labels[fe + 1:] = [after_error_label(cfg.after_error)] * (len(labels) - fe - 1)
    counts["kept"] = sum(v is not None for v in labels)
    return labels, counts


def combine(item: LabelItem, ra: StepwiseRecord, rb: StepwiseRecord, pair: tuple[str, str],
            cfg: ConsensusConfig) -> StepwiseRecord:
    """One consensus record from the two labelers' records of the same sample."""
    labels, counts = consensus_labels(ra.labels, rb.labels, cfg)
    pa, pb = ra.extra.get("provenance") or {}, rb.extra.get("provenance") or {}
    cost = Cost.from_dict(pa.get("cost")).add(Cost.from_dict(pb.get("cost")))
    settings = {"pair": list(pair), "unit": cfg.unit, "after_error": cfg.after_error}
    prov = make_provenance("consensus", settings, pa.get("verifier") or pb.get("verifier") or {}, cost,
                           pa.get("sampler") or pb.get("sampler"))
    prov["consensus"] = counts
    prov["members"] = [pa, pb]
    outcome = ra.extra.get("outcome") if ra.extra.get("outcome") is not None else rb.extra.get("outcome")
    extra = {f"{m}_labels": list(r.labels) for m, r in zip(pair, (ra, rb))}
    return make_record(item, labels, first_error=first_error_of(labels), judged=[v is not None for v in labels],
                       outcome=outcome, provenance=prov, **extra)


LabelWith = Callable[[str, list[LabelItem]], list[StepwiseRecord]]


def label_consensus(items: list[LabelItem], label_with: LabelWith,
                    cfg: ConsensusConfig = ConsensusConfig()) -> list[StepwiseRecord]:
    """Label `items` with both methods of each domain's pair (`label_with(method, items)` runs one
    labeler on a list of items, in order) and keep what they agree on."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        groups[cfg.pair_for(it.domain)].append(i)
    out: list = [None] * len(items)
    for pair, idx in groups.items():
        sub = [items[i] for i in idx]
        ra, rb = label_with(pair[0], sub), label_with(pair[1], sub)
        for i, it, x, y in zip(idx, sub, ra, rb):
            out[i] = combine(it, x, y, pair, cfg)
    return out


def consensus_summary(records) -> dict | None:
    """Summed `provenance.consensus` counts of record dicts (None when no record has them)."""
    total = {"steps": 0, "agreed": 0, "disagreed": 0, "one_side_unlabeled": 0, "kept": 0}
    seen = False
    for r in records:
        c = (r.get("provenance") or {}).get("consensus")
        if isinstance(c, dict):
            seen = True
            for k in total:
                total[k] += int(c.get(k) or 0)
    return total if seen else None


def format_consensus(c: dict) -> str:
    share = f" ({100 * c['kept'] / c['steps']:.1f}%)" if c["steps"] else ""
    return (f"consensus: {c['kept']} of {c['steps']} steps kept{share}; per step the two labelers agreed on "
            f"{c['agreed']}, disagreed on {c['disagreed']}, one side unlabeled on {c['one_side_unlabeled']}")
