# One task runner. `make demo` and `make test` do all their set-up on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
TL := $(VENV)/bin/textlens
DEMO := demo-library

.PHONY: install browser test lint demo bench serve clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,rapidocr]'
	touch $@

install: $(VENV)/.installed

# The browser tests drive Debian's chromium through Playwright (which cannot download one here).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

test: install browser
	$(PY) -m pytest -q

# The web app over the demo library (run `make demo` first): http://127.0.0.1:8000/
serve: install
	$(TL) -L $(DEMO)/library serve

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy src/textlens

demo: install
	rm -rf $(DEMO)
	$(PY) -m textlens.samples $(DEMO)/samples
	$(TL) -L $(DEMO)/library init
	$(TL) -L $(DEMO)/library add --each $(DEMO)/samples
	$(TL) -L $(DEMO)/library scan
	$(TL) -L $(DEMO)/library status --failures
	$(TL) -L $(DEMO)/library search cladonia -survey
	$(TL) -L $(DEMO)/library search 'madison OR warranty' --limit 3
	$(TL) -L $(DEMO)/library search warrenty --fuzzy
	$(TL) -L $(DEMO)/library search '"field report"'
	$(TL) -L $(DEMO)/library show a4
	$(TL) -L $(DEMO)/library search WIS-L-0012033 --json

bench: install
	@command -v tesseract >/dev/null || (apt-get update -qq && apt-get install -y -qq tesseract-ocr)
	$(PY) benchmarks/bench_scan.py
	$(PY) benchmarks/bench_rescan.py
	$(PY) benchmarks/bench_search.py
	$(PY) benchmarks/bench_import.py
	$(PY) benchmarks/bench_serve.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
