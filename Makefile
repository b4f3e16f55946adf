# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run serve-prod worker test lint format typecheck bench install migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

.secret_key:
	$(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > .secret_key
	chmod 600 .secret_key

# The settings read .secret_key when SECRET_KEY is unset, so manage.py commands run from this
# checkout use the server's key with nothing exported.
run: install .secret_key
	@$(BIN)/python -m config.portcheck $(HOST) $(PORT) && \
	$(BIN)/python manage.py migrate --noinput && \
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0 && \
	$(BIN)/python manage.py seed_demo --with-admin && \
	echo "" && \
	echo "Serving on http://$(HOST):$(PORT)" && \
	echo "  Home:         http://$(HOST):$(PORT)/" && \
	echo "  API:          http://$(HOST):$(PORT)/openapi/v1/_health" && \
	echo "  API docs:     http://$(HOST):$(PORT)/openapi/v1/docs" && \
	echo "  Device login: http://$(HOST):$(PORT)/device" && \
	echo "  Admin:        http://$(HOST):$(PORT)/admin/  (the demo admin above, not the demo account)" && \
	SERVE_HOST=$(HOST) SERVE_PORT=$(PORT) $(BIN)/daphne -b $(HOST) -p $(PORT) config.asgi:application

# The production layout (config/serve.py): gunicorn WSGI workers for the JSON API, pages and admin
# on SERVE_WSGI_PORT (8000), daphne for the SSE paths on SERVE_ASGI_PORT (8001), SERVE_RUN_WORKERS
# Celery workers (2) for the runs; a reverse proxy routes between the first two (README). Needs
# SECRET_KEY (or .secret_key), and DATABASE_URL and REDIS_URL in .env (the one configuration
# every manage.py command reads too; `config.serve check` refuses them from the shell alone).
serve-prod: install .secret_key
	@export SECRET_KEY="$${SECRET_KEY:-$$(cat .secret_key)}"; \
	export RUN_EXECUTOR="$${RUN_EXECUTOR:-celery}"; \
	$(BIN)/python -m config.serve check && \
	$(BIN)/python manage.py migrate --noinput && \
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0 && \
	$(BIN)/python -m config.serve

# One Celery run worker (RUN_EXECUTOR=celery) in the environment `make run` uses (.secret_key);
# needs DATABASE_URL and REDIS_URL in .env, and web processes started with RUN_EXECUTOR=celery.
worker: install .secret_key
	@$(BIN)/python -m config.serve check && \
	RUN_EXECUTOR="$${RUN_EXECUTOR:-celery}" $(BIN)/python -m config.serve worker

# The SSO tests' OpenID provider: npm's oidc-provider, pinned by tests/oidc/package-lock.json
# (without npm those tests are skipped, saying why).
OIDC_STAMP := tests/oidc/node_modules/.package-lock.json
$(OIDC_STAMP): tests/oidc/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tests/oidc --ignore-scripts --no-audit --no-fund --loglevel=error; \
	else echo "npm is missing: the OpenID provider tests will be skipped"; fi

test: install $(OIDC_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	TESTING=1 $(BIN)/mypy config accounts workspaces oauth_device sso apps_runtime uploads

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	TESTING=1 $(BIN)/mypy config accounts workspaces oauth_device sso apps_runtime uploads

bench: install
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) staticfiles .test-db.sqlite3
