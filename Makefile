# The two commands of the README: `make run` and `make test`. Everything else is a helper.
.PHONY: run test setup setup-run lint format bench dist clean

setup:
	@scripts/setup.sh test

setup-run:
	@scripts/setup.sh run

run: setup-run
	@scripts/run.sh

test: setup
	@scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && .venv/bin/lint-imports

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

bench: setup
	@for b in bench/*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done

dist: setup
	.venv/bin/python -m installer.build

clean:
	rm -rf build dist .mypy_cache .ruff_cache
