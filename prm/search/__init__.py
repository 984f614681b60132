"""Search and selection over sampled solutions: search strategies, step-score aggregation,
selection (best-of-N, majority, weighted vote, oracle, random) and the sympy gate.

Every search strategy is one module exposing `run(problems, sampler, scorers, cfg) ->
list[SearchResult]` and its config dataclass; `STRATEGIES` below is the only dispatch (`prm search
--method`, the demo). A new strategy (DVTS, particle filtering, ...) is one file plus one line here.

- `best_of_n.py` -- sample N per problem, judge and score them: a pool for `prm eval bon`.
- `beam.py`      -- PRM-guided step-level beam search against the sampler and scorer interfaces.
- `dvts.py`      -- diverse verifier tree search: n / M independent greedy subtrees of width M.
- `particle.py`  -- particle filtering: PRM-weighted particles, extended a step at a time and resampled.
- `stepwise.py`  -- step-level rejection sampling: one candidate per step until the guide accepts one;
                   more chains only while their answers disagree.
- `pool.py`      -- candidates as pool records: sample, judge, score (shared by the strategies).
- `aggregate.py` -- step scores -> one sample score (`min`, `prod`, `last`, `mean`); ensembles.
- `select.py`    -- answer grouping by verifier equivalence and the selection methods.
- `verified.py`  -- sympy `check_steps` as a zero-training reranker and as a gate on any method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import beam, best_of_n, dvts, particle, stepwise


@dataclass(frozen=True)
class Strategy:
    run: Callable        # run(problems, sampler, scorers, cfg, *, progress=False) -> list[SearchResult]
    config: type         # its config dataclass; `prm search` fills the fields its flags name


STRATEGIES = {
    "bon": Strategy(best_of_n.run, best_of_n.BestOfNConfig),
    "beam": Strategy(beam.run, beam.BeamConfig),
    "dvts": Strategy(dvts.run, dvts.DVTSConfig),
    "pf": Strategy(particle.run, particle.ParticleConfig),
    "stepwise": Strategy(stepwise.run, stepwise.StepwiseConfig),
}
