# Two set-up commands for a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIP_FLAGS := -q --disable-pip-version-check -c requirements/constraints.txt

.PHONY: demo test test-main test-py36 bench eval-localisation install lint clean

$(STAMP): setup.py requirements/constraints.txt
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install $(PIP_FLAGS) -e '.[tools,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VPY) tools/demo.py --out demo_out

# Two lanes: the main one (this venv, everything), then the drone side on Python 3.6 with JetPack 4.6's packages
# (test/lane_py36.py builds .venv36 once; one line says the lane was skipped where no Python 3.6 exists).
test: test-main test-py36

test-main: $(STAMP)
	$(VPY) -m pytest -q -p no:cacheprovider

test-py36: $(STAMP)
	$(VPY) test/lane_py36.py

bench: $(STAMP)
	$(VPY) tools/benchmark.py --out bench

# SYNTHETIC person-localisation figures of docs/EVALUATION.md (make_bag flights replayed with eval_bag's library)
eval-localisation: $(STAMP)
	$(VPY) -m vitedge_ros.eval.localisation_report --bundle models/aerial_vit_tiny --doc docs/EVALUATION.md

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf demo_out bench_out build *.egg-info
