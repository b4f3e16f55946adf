# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint format typecheck bench install migrate clean

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
	@$(BIN)/python manage.py migrate --noinput && \
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0 && \
	$(BIN)/python manage.py seed_demo && \
	echo "" && \
	echo "Serving on http://$(HOST):$(PORT)" && \
	echo "  Home:         http://$(HOST):$(PORT)/" && \
	echo "  API:          http://$(HOST):$(PORT)/openapi/v1/_health" && \
	echo "  API docs:     http://$(HOST):$(PORT)/openapi/v1/docs" && \
	echo "  Device login: http://$(HOST):$(PORT)/device" && \
	echo "  Admin:        http://$(HOST):$(PORT)/admin/" && \
	$(BIN)/daphne -b $(HOST) -p $(PORT) config.asgi:application

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	TESTING=1 $(BIN)/mypy config accounts workspaces oauth_device apps_runtime

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	TESTING=1 $(BIN)/mypy config accounts workspaces oauth_device apps_runtime

bench: install
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) staticfiles .test-db.sqlite3
