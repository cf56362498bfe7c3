# The two commands of the README: `make run` (SpaceTweet) and `make test` (everything CI runs).
PRESET ?= dev
EXO := $(CURDIR)/build/$(PRESET)/src/cli/exo
RUN_ARGS ?=
FUZZ_SECONDS ?= 60
# What runs under the sanitizers: the unit and integration tests under AddressSanitizer and
# UndefinedBehaviorSanitizer; the SDK's and the runner's tests (the threaded code) under
# ThreadSanitizer.
ASAN_TARGETS := exocom unit_common unit_config unit_exocom unit_sdk unit_deploy unit_runner unit_cli \
                integration_exocom integration_sdk integration_store
TSAN_TESTS := unit_sdk integration_sdk unit_runner e2e_run

.PHONY: all deps build test check test-asan test-tsan test-fuzz test-package package install run rehearse clean
all: build

deps:
	@scripts/install-deps

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET)

# Every test (CI's command): the whole suite, then the sanitizer and fuzz runs, then the package.
test: check test-asan test-tsan test-fuzz test-package

# The whole suite on the development build: what to run while working.
check: build
	@ctest --preset $(PRESET)

test-asan: deps
	@echo "test: unit and integration tests under AddressSanitizer and UndefinedBehaviorSanitizer"
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug --target $(ASAN_TARGETS)
	@ctest --preset debug -L 'unit|integration'

test-tsan: deps
	@echo "test: the SDK and runner tests under ThreadSanitizer"
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan --target $(TSAN_TESTS) exo exocom
	@for t in $(TSAN_TESTS); do \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build/tsan/tests/$$t --gtest_brief=1 || exit 1; \
	done

test-fuzz: deps
	@echo "test: every fuzz target for $(FUZZ_SECONDS) s on its committed corpus"
	@fuzz/run $(FUZZ_SECONDS)

# The Debian package, build/package/exosphere_<version>_amd64.deb (release build, /usr).
package: deps
	@cmake --preset package >/dev/null
	@cmake --build --preset package
	@rm -f build/package/exosphere_*.deb
	@cd build/package && cpack -G DEB >/dev/null && echo "package: $$(ls exosphere_*_amd64.deb)"

# Its control fields, Depends and files; installed, used and removed in a clean container.
test-package: package
	@tests/install/check-deb build/package/exosphere_*_amd64.deb

# exo, exocom, the SDK, the templates, completions and manual pages under PREFIX (/usr/local).
PREFIX ?= /usr/local
install: deps
	@cmake --preset package -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build --preset package
	@cmake --install build/package --prefix $(PREFIX)

# Builds SpaceTweet's services and runs them; the URL to open is printed once all are online.
run: build
	@cd examples/space-tweet && $(EXO) setup && exec $(EXO) run $(RUN_ARGS)

# SpaceTweet as `exo deploy` would put it on AWS, in containers on this machine (docs/deploy.md).
# Its one secret, the key that signs sessions, is made once for this machine.
REHEARSAL_SECRETS := examples/space-tweet/.exosphere/secrets/production.env
rehearse: build
	@test -f $(REHEARSAL_SECRETS) || (mkdir -p $(dir $(REHEARSAL_SECRETS)) && umask 077 && \
	  echo "SESSION_KEY=$$(head -c 32 /dev/urandom | base64 | tr -d '=\n')" > $(REHEARSAL_SECRETS))
	@cd examples/space-tweet && exec $(EXO) deploy --rehearse production $(RUN_ARGS)

clean:
	rm -rf build
