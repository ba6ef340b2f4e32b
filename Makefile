# Everything runs from a local virtualenv; `make run` and `make test` set it up on first use.
PYTHON ?= python3
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
	$(BIN)/imageserver serve --host 127.0.0.1 --port 7000 --storage ./data

test: install
	$(BIN)/ruff check .
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
