# Two entry points on a fresh machine: `make demo` and `make test`. Both create .venv when missing,
# install the pinned OpenMMLab stack and clipdense (with its C++ ops), then do their job. Stamp
# files make a second run skip every install step that is already done.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STACK_STAMP := $(VENV)/.stack-installed
PROJECT_STAMP := $(VENV)/.project-installed
OPS_SOURCES := $(shell find clipdense/ops/csrc -type f 2>/dev/null)
PYTEST_ARGS ?=
DEMO_DIR ?= demo_out

.PHONY: demo test install clean-venv

install: $(PROJECT_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# torch first: mmcv 2.1.0 (source only) and clipdense's ops compile against it without build isolation.
$(STACK_STAMP): requirements/build.txt requirements/runtime.txt requirements/tests.txt | $(PY)
	$(PIP) install -r requirements/build.txt
	$(PIP) install --no-build-isolation -r requirements/runtime.txt -r requirements/tests.txt
	touch $@

$(PROJECT_STAMP): $(STACK_STAMP) setup.py $(OPS_SOURCES)
	$(PIP) install --no-build-isolation --no-deps -e .
	touch $@

test: $(PROJECT_STAMP)
	$(PY) -m pytest tests -n 2 $(PYTEST_ARGS)

demo: $(PROJECT_STAMP)
	$(PY) tools/demo.py --out $(DEMO_DIR)

clean-venv:
	rm -rf $(VENV)
