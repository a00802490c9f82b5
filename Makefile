# Two entry points (see README): `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
HL     := $(VENV)/bin/highlights

.PHONY: demo test venv clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# Generate a 2-minute sample match and run the pipeline on it.
demo: venv
	$(HL) synth -o samples/demo.mp4 --duration 120 --seed 7 --force
	$(HL) probe samples/demo.mp4

test: venv
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
