# The two commands of the README: `make run` (SpaceTweet) and `make test` (everything).
PRESET ?= dev
EXO := $(CURDIR)/build/$(PRESET)/src/cli/exo
RUN_ARGS ?=

.PHONY: all deps build test run clean
all: build

deps:
	@scripts/install-deps

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET)

test: build
	@ctest --preset $(PRESET)

# Builds SpaceTweet's services and runs them; the URL to open is printed once all are online.
run: build
	@cd examples/space-tweet && $(EXO) setup && exec $(EXO) run $(RUN_ARGS)

clean:
	rm -rf build
