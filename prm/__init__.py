"""prm-toolkit: process reward models for math and code.

The pipeline: problems -> samples -> steps -> labels -> PRM/ORM -> search -> report.
Heavy modules (torch, transformers, vllm) are imported lazily by the stages that need them,
so `import prm` and `prm --help` stay fast.
"""

__version__ = "0.1.0"
