"""Evaluation: best-of-N curves, ProcessBench step metrics, calibration, reward-hacking
diagnostics, plots and the report.

- `metrics.py`      -- AUROC, ECE, F1, intervals and correlations (pure numpy).
- `pool.py`         -- the scored-pool record (`prm eval bon --pool`) and its loader.
- `bon.py`          -- accuracy-versus-N curves by repeated subsampling (Lightman's method).
- `processbench.py` -- first-error identification on ProcessBench-format data; sympy scorer.
- `hacking.py`      -- Goodhart diagnostics: proxy score versus accuracy, length bias, false steps.
- `plots.py`        -- matplotlib (Agg) figures.
- `report.py`       -- report.md, results.json and manifest.json.
"""
