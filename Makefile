# One entry point for people and CI. Everything runs from the project's own
# virtual environment, created on first use.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTOS := $(wildcard protos/complaints/v1/*.proto)
GEN := complaints/v1/.generated

.PHONY: install gen api-release run lint test bench bench-scale chaos clean ocr browser demo train eval

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

# intake.proto imports buf/validate/validate.proto (protovalidate's rules).
# No PyPI package ships it as a .proto for google.protobuf; the protovalidate
# 2.x wheel embeds its descriptor. We write that out as a descriptor set for
# protoc, and generate its Python module into the virtual environment.
BUF_VALIDATE := $(VENV)/buf-validate.pb

$(BUF_VALIDATE): $(STAMP) intake_service/buf_validate_descriptor.py
	$(PY) -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: protovalidate==2.1.0 -d $(VENV)/wheels
	$(PY) -m intake_service.buf_validate_descriptor $(VENV)/wheels/protovalidate-2.1.0-*.whl $@
	$(PY) -m grpc_tools.protoc --descriptor_set_in=$@ \
	  --python_out=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') buf/validate/validate.proto

# Python, gRPC and mypy stubs from protos/, plus a descriptor set for
# gateways (Envoy's gRPC-JSON transcoder): every import included, with
# google.rpc's Status and error details so Envoy can write a gRPC error as
# JSON, and source info so buf names lines. Never edited by hand.
GOOGLE_PROTOS = $$($(PY) -c 'import pathlib, google.api.annotations_pb2 as m; print(pathlib.Path(m.__file__).parents[2])')

gen: $(GEN)

$(GEN): $(STAMP) $(PROTOS) $(BUF_VALIDATE)
	rm -rf complaints/v1 && mkdir -p complaints/v1
	$(PY) -m grpc_tools.protoc -I protos --descriptor_set_in=$(BUF_VALIDATE) -I $(GOOGLE_PROTOS) \
	  --python_out=. --grpc_python_out=. --mypy_out=. --mypy_grpc_out=. \
	  --plugin=protoc-gen-mypy=$(VENV)/bin/protoc-gen-mypy \
	  --plugin=protoc-gen-mypy_grpc=$(VENV)/bin/protoc-gen-mypy_grpc \
	  $(PROTOS)
	$(PY) -m grpc_tools.protoc -I protos --descriptor_set_in=$(BUF_VALIDATE) -I $(GOOGLE_PROTOS) \
	  --include_imports --include_source_info --descriptor_set_out=complaints/v1/complaints.pb \
	  $(PROTOS) google/rpc/status.proto google/rpc/error_details.proto
	touch complaints/v1/__init__.py $@

# The API as released to integrating teams: `buf breaking` (tests/
# tests/system/test_api_stability.py) compares every change with it. Run at a release.
api-release: gen
	cp complaints/v1/complaints.pb protos/released/complaints.v1.binpb

run: gen
	$(PY) -m ops.supervisor

# Realistic Malay and English complaints with PDF and PNG evidence, sent to
# the services `make run` started (another terminal). DEMO_COUNT sets how many.
demo: gen
	$(PY) -m ops.demo --count $(or $(DEMO_COUNT),40)

# Tesseract with Malay and English for image evidence, from Debian where apt
# works; best effort: without it images are marked not extracted.
ocr:
	@tesseract --list-langs 2>/dev/null | grep -qx msa || { \
	  command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq tesseract-ocr tesseract-ocr-eng tesseract-ocr-msa) >/dev/null 2>&1; \
	  tesseract --list-langs 2>/dev/null | grep -qx msa \
	    || echo "tesseract (msa) not installed: OCR tests skip, images are marked not extracted"; }

# Headless Chromium for the dashboard page's browser test (Playwright drives
# Debian's build; it downloads no browser of its own).
browser:
	@command -v chromium >/dev/null || { \
	  command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq chromium) >/dev/null 2>&1; \
	  command -v chromium >/dev/null || echo "chromium not installed: the dashboard page's browser test fails"; }

# Style, lint and types over our own code, generated complaints/v1 excluded
# (settings in pyproject.toml). `ruff format .` writes what the check wants.
lint: gen
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: lint ocr browser
	$(PY) -m pytest

# The fault suite at full size (its small cases also run in make test).
chaos: gen
	CHAOS_SCALE=full $(PY) -m pytest -m chaos -v

bench: gen
	$(PY) -m bench

# How each call's cost grows with stored work: 10k, 100k and 1M complaints
# generated in SQL (BENCH_SCALE_SIZES to choose); bench/scale.md and its plot.
bench-scale: gen
	$(PY) -m bench.scale

# Fits the analysis model on the labelled corpus's train split (settings chosen
# on dev) and writes pipeline_service/analyzer/model.json, which is committed.
train: gen
	$(PY) -m ops.train

# The analysis on the dev and test splits: category, sector, review, grouping,
# entities, per language; the test split is never used to fit or choose.
eval: gen
	$(PY) -m ops.evaluate dev test

clean:
	rm -rf $(VENV) complaints/v1 .pytest_cache
