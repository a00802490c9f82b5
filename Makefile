# Two entry points (see README): `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
HL     := $(VENV)/bin/highlights

.PHONY: demo test venv browser clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev,ray]'
	touch $@

venv: $(VENV)/.installed

# Headless Chromium for the review-page tests (Debian's package; Playwright never downloads
# a browser here). Skipped quietly where apt is not available: those tests then skip.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install chromium; browser tests will skip"; \
	fi

# Generate a 2-minute sample match and run the whole pipeline on it.
demo: venv
	$(HL) synth -o samples/demo.mp4 --duration 120 --seed 7 --force
	$(HL) run samples/demo.mp4 -o out/demo --target-duration 30 --force
	$(HL) eval out/demo --truth samples/demo.truth.json
	@echo "open out/demo/report.html in a browser to review the choices"

test: venv browser
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
