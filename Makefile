# Thin wrapper over CMake: the README's two commands.
BUILD ?= build
JOBS ?= 2
RUN ?= runs/fashion-jempp

.PHONY: all deps deps-tests build test test-sanitize train clean refdata bench

all: build

# What building, training and evaluating need; the tests need PyTorch etc. besides.
deps:
	@sh scripts/install-deps.sh

deps-tests:
	@sh scripts/install-deps.sh --tests

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DJEMPP_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: deps-tests build
	cd $(BUILD) && ctest --output-on-failure -j 1

# The suite again on a build with AddressSanitizer and UndefinedBehaviorSanitizer (CI).
test-sanitize: deps-tests
	@cmake -S . -B $(BUILD)-sanitize -DCMAKE_BUILD_TYPE=Release -DJEMPP_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)-sanitize -j $(JOBS)
	cd $(BUILD)-sanitize && ctest --output-on-failure -j 1

# The main job: train on the built-in default dataset (Fashion-MNIST) and write results.
train: build
	$(BUILD)/jempp train --preset fashion --device auto --save_dir $(RUN)
	$(BUILD)/jempp report $(RUN)

# Regenerate the PyTorch reference files under tests/data (needs Debian's python3-torch).
refdata:
	for g in tools/gen_*_ref.py; do /usr/bin/python3 $$g || exit 1; done

clean:
	rm -rf $(BUILD) $(BUILD)-sanitize
