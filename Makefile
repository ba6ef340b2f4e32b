# Everything runs from a local virtualenv; `make run` and `make test` set it up on first use.
# `make run PORT=8080 STORAGE=/srv/images` (HOST too) picks where the server listens and stores.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 7000
STORAGE ?= ./data
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint images bench bench-quick clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@# bytecode, as a regular install has: with PYTHONDONTWRITEBYTECODE set, an editable
	@# install would compile every module at every start of the CLI (45 ms)
	$(BIN)/python -m compileall -q imageserver cli
	touch $(STAMP)

run: install
	$(BIN)/imageserver serve --host $(HOST) --port $(PORT) --storage $(STORAGE)

# Tests needing the shared corpus (../shared/testdata, or IMAGESERVER_TESTDATA=path) skip
# without it; IMAGESERVER_REQUIRE_CORPUS=1 (.ci/run) makes its absence an error instead.
test: install
	$(BIN)/ruff check .
	$(BIN)/mypy  # the pure core, strictly: the files are listed in pyproject.toml [tool.mypy]
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks

bench-quick: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks --quick

images: install
	$(BIN)/python test/images/make_images.py

clean:
	rm -rf $(VENV) build *.egg-info
