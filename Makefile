# Every target bootstraps .venv from pyproject.toml when it is missing or stale.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck pytest bench clean chromium oidc-provider pdf-tools graphiql-assets

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/cardhub demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

# Browser tests drive Debian's Chromium (Playwright's own browser download does not work here).
# Data exports embed a CJK font in their PDF; the export tests read it back with pdftotext.
pdf-tools:
	@{ command -v pdftotext >/dev/null && fc-list :lang=zh | grep -q .; } || { command -v apt-get >/dev/null && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils fonts-wqy-microhei \
		>/dev/null) || echo "poppler-utils or fonts-wqy-microhei not installed: the export PDF test will skip"; }

chromium:
	@command -v chromium >/dev/null || { command -v apt-get >/dev/null && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium not installed: browser tests will skip"; }

# The login tests run a real OpenID Provider (panva's oidc-provider, tests/oidc_provider) under Node,
# installed from the committed lockfile; again only when the lockfile changed. Without Node they skip.
OIDC_PROVIDER := tests/oidc_provider
oidc-provider:
	@if command -v npm >/dev/null; then \
		test $(OIDC_PROVIDER)/node_modules/.package-lock.json -nt $(OIDC_PROVIDER)/package-lock.json || \
		(cd $(OIDC_PROVIDER) && npm ci --no-audit --no-fund --loglevel=error); \
	else echo "node/npm not installed: the OpenID Provider tests will skip"; fi

# GraphiQL's files are committed (hub/static/graphiql/): the hub serves them, so it needs no CDN nor npm
# at run time. This refreshes them from the packages pinned in that folder's package-lock.json.
GRAPHIQL := hub/static/graphiql
graphiql-assets:
	rm -rf $(GRAPHIQL)/node_modules && cd $(GRAPHIQL) && npm ci --no-audit --no-fund --loglevel=error
	cp $(GRAPHIQL)/node_modules/graphiql/graphiql.min.js $(GRAPHIQL)/node_modules/graphiql/graphiql.min.css \
		$(GRAPHIQL)/node_modules/react/umd/react.production.min.js \
		$(GRAPHIQL)/node_modules/react-dom/umd/react-dom.production.min.js $(GRAPHIQL)/
	rm -rf $(GRAPHIQL)/node_modules

pytest: $(STAMP) chromium oidc-provider pdf-tools
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.full_profile $(ARGS)
	$(BIN)/python -m benchmarks.cache_and_instances
	$(BIN)/python -m benchmarks.audit_log
	@command -v wrk >/dev/null || { command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) || echo "wrk not installed: the peer comparison will skip"; }
	@if command -v npm >/dev/null; then test benchmarks/hive/node_modules/.package-lock.json -nt benchmarks/hive/package-lock.json || (cd benchmarks/hive && npm ci --no-audit --no-fund --loglevel=error) || echo "npm ci failed: the peer comparison will skip"; else echo "node/npm not installed: the peer comparison will skip"; fi
	$(BIN)/python -m benchmarks.lean
	$(BIN)/python -m benchmarks.peer $(PEER_ARGS)
	$(BIN)/python -m benchmarks.card

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache *.egg-info
