# Two set-up commands for a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIP_FLAGS := -q --disable-pip-version-check -c requirements/constraints.txt

.PHONY: demo test test-main test-py36 test-runtime-only bench bench-peer student eval-localisation model-card install lint reformat-ament clean

$(STAMP): setup.py requirements/constraints.txt
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install $(PIP_FLAGS) -e '.[tools,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VPY) tools/demo.py --out demo_out

# Three lanes: the main one (this venv, everything), the drone side on Python 3.6 with JetPack 4.6's packages
# (test/lane_py36.py builds .venv36 once; one line says the lane was skipped where no Python 3.6 exists), and the
# whole test directory the way `colcon test` runs it on a ROS 2 Humble machine with only the node's runtime
# dependencies (test/lane_runtime_only.py builds .venv-rt once on Python 3.10; the workstation tests skip there).
test: test-main test-py36 test-runtime-only

test-main: $(STAMP)
	$(VPY) -m pytest -q -p no:cacheprovider

test-py36: $(STAMP)
	$(VPY) test/lane_py36.py

test-runtime-only: $(STAMP)
	$(VPY) test/lane_runtime_only.py

bench: $(STAMP)
	$(VPY) tools/benchmark.py --out bench

# SLOW (not part of `make bench`): the peer of docs/BENCHMARKS.md section 7 (issue 18). YOLOv8n's 5 epochs take
# about 45 minutes each on 2 CPU cores (both torch threads; 1.8 s per batch of 16 at 448 px), YOLO11n longer;
# resumable: run it again after a stop and it goes on from the last saved epoch (bench_out/peer/runs/ARCH).
# Writes the shipped detector's training images (every stage of its chain) as a YOLO dataset, trains YOLOv8n
# and YOLO11n from scratch with the same image-pass budget (ultralytics, offline: no weights, no font, no pip),
# times both models and the ViT in one process (onnxruntime CPU, 1 thread), evaluates them alike, writes
# bench/peer.json, the peer block of docs/BENCHMARKS.md (its wall time is printed there) with the acceptance
# verdict, and the peer-gap block of the model card (models/README.md); nothing else of either page.
# `python -m vitedge_ros.bench.peer_table` renders both blocks again from bench/peer.json, without training.
# `make bench-peer PEER_ARCHS=yolov8n` measures YOLOv8n alone (about half the time); a later full run reuses it.
# The ViT family's curve: the shipped detector, its compressed student and, where `make student` has run here,
# the recipe's INT8 QDQ graph ($(STUDENT_RUN)/bundle; left out with a line otherwise).
# ultralytics (AGPL-3.0, the optional `peer` extra) goes in without its opencv-python requirement: the
# headless OpenCV of the tools extra provides cv2. `--quick` proves the harness in about a minute.
PEER_STAMP := $(VENV)/.peer-installed
$(PEER_STAMP): $(STAMP)
	$(VPY) -m pip install $(PIP_FLAGS) --no-deps ultralytics ultralytics-thop ultralytics-platform polars \
	    polars-runtime-32 psutil requests httpx httpcore certifi charset-normalizer urllib3 nvidia-ml-py
	touch $(PEER_STAMP)

PEER_ARCHS ?= yolov8n,yolo11n
bench-peer: $(PEER_STAMP)
	nice $(VPY) -m vitedge_ros.bench.peer --out bench/peer.json --work bench_out/peer --doc docs/BENCHMARKS.md \
	    --card models/README.md --archs $(PEER_ARCHS) --family models/aerial_vit_tiny_student,$(STUDENT_RUN)/bundle

# SLOW (about an hour on 2 CPU cores; not part of demo, test or bench): models/aerial_vit_tiny_student, the second
# detector bundle (issue 16). The aerial compression recipe from the shipped checkpoint (prune, low-rank,
# distillation, INT8; each stage measured in $(STUDENT_RUN)/report.md), a short fine-tune of its distilled
# stage on new scenes and flight frames (config/train/aerial_vit_tiny_student_ft.yaml), then the export for the
# Nano's TensorRT 8.2 with the shipped detector's frame path (raw BGR pixels, linear resize) and its score
# threshold picked on the synthetic threshold flights (seeds 9000-9007) through the runtime.
STUDENT_RUN := runs/compress_aerial_student
student: $(STAMP)
	$(VPY) tools/compress.py --recipe config/recipes/aerial_detector.yaml --out $(STUDENT_RUN) --resume
	$(VPY) tools/train.py --config config/train/aerial_vit_tiny_student_ft.yaml --out runs/student_ft \
	    --resume --no-export
	$(VPY) tools/export_onnx.py runs/student_ft/final.pt --name aerial_vit_tiny_student --raw-pixels bgr \
	    --interpolation linear --score-threshold auto --out models/aerial_vit_tiny_student
	cp runs/student_ft/final.pt models/checkpoints/aerial_vit_tiny_student.pt

# SYNTHETIC person-localisation figures of docs/EVALUATION.md (make_bag flights replayed with eval_bag's library)
eval-localisation: $(STAMP)
	$(VPY) -m vitedge_ros.replay.flights_report --bundle models/aerial_vit_tiny --doc docs/EVALUATION.md

# The detector figures of models/README.md, measured (never typed by hand) into docs/reports/aerial_vit_tiny/:
# false persons per frame on held-out REAL photos with nobody in them (tools/false_positives.py) and person
# precision/recall on make demo's SYNTHETIC flight (seed 7), for the shipped bundle, for the one shipped
# before issue 13 (read from git: commit $(CARD_BEFORE)) and for the student (into $(STUDENT_CARD)/).
CARD := docs/reports/aerial_vit_tiny
STUDENT_CARD := docs/reports/aerial_vit_tiny_student
CARD_BEFORE := 8dfe613
model-card: $(STAMP)
	rm -rf build/model_card && mkdir -p build/model_card/before $(CARD)/before
	git archive $(CARD_BEFORE) models/aerial_vit_tiny | tar -x -C build/model_card/before
	$(VPY) tools/false_positives.py --bundle models/aerial_vit_tiny --out $(CARD)/real_no_person
	$(VPY) tools/false_positives.py --bundle build/model_card/before/models/aerial_vit_tiny \
	    --out $(CARD)/before/real_no_person
	$(VPY) tools/demo.py --backend onnxruntime --out build/model_card/demo > build/model_card/demo.log
	$(VPY) tools/demo.py --backend onnxruntime --bundle build/model_card/before/models/aerial_vit_tiny \
	    --out build/model_card/demo_before > build/model_card/demo_before.log
	tail -n 1 build/model_card/demo.log build/model_card/demo_before.log
	cp build/model_card/demo/summary.json $(CARD)/demo_flight.json
	cp build/model_card/demo_before/summary.json $(CARD)/before/demo_flight.json
	mkdir -p $(STUDENT_CARD)
	$(VPY) tools/false_positives.py --bundle models/aerial_vit_tiny_student --out $(STUDENT_CARD)/real_no_person
	$(VPY) tools/demo.py --backend onnxruntime --bundle models/aerial_vit_tiny_student \
	    --out build/model_card/demo_student > build/model_card/demo_student.log
	tail -n 1 build/model_card/demo_student.log
	cp build/model_card/demo_student/summary.json $(STUDENT_CARD)/demo_flight.json
	$(VPY) -m vitedge_ros.eval.box_errors --bundle models/aerial_vit_tiny --bundle models/aerial_vit_tiny_student \
	    --out docs/reports/box_errors.json

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# One-time rewrite to what the ament linters accept with their default configurations (99 columns, ament
# import order and quotes, pep257 layout, Apache-2.0 headers); prints what is left for a person (issue 17).
reformat-ament: $(STAMP)
	PY=$(VPY) RUFF=$(VENV)/bin/ruff tools/dev/reformat_ament.sh

clean:
	rm -rf demo_out bench_out build *.egg-info
