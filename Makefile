# The two commands of the README: `make run` and `make test`.
PRESET ?= dev

.PHONY: all deps build test run clean
all: build

deps:
	@scripts/install-deps

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET)

test: build
	@ctest --preset $(PRESET)

run: build
	@build/$(PRESET)/src/exocom/exocom --port $${PORT:-3100} --dev-open

clean:
	rm -rf build
