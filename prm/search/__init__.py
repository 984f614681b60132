"""Search and selection over sampled solutions: aggregate step scores, pick one sample per problem
(best-of-N, majority, weighted vote, oracle, random), gate with the sympy step checker, and
PRM-guided step-level beam search.

- `aggregate.py` -- step scores -> one sample score (`min`, `prod`, `last`, `mean`); ensembles.
- `select.py`    -- answer grouping by verifier equivalence and the selection methods.
- `verified.py`  -- sympy `check_steps` as a zero-training reranker and as a gate on any method.
- `beam.py`      -- step-level beam search against the Sampler and Scorer interfaces.
- `pool.py`      -- sample N per problem, judge, sympy-check and score: a pool for `prm eval bon`.
"""
