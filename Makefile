# Two set-up commands for a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIP_FLAGS := -q --disable-pip-version-check -c requirements/constraints.txt

.PHONY: demo test bench install lint clean

$(STAMP): setup.py requirements/constraints.txt
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install $(PIP_FLAGS) -e '.[tools,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VPY) tools/demo.py --out demo_out

test: $(STAMP)
	$(VPY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(VPY) tools/benchmark.py --out bench

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf demo_out bench_out build *.egg-info
