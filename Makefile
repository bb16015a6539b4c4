# SPDX-License-Identifier: GPL-2.0-or-later
# The two set-up commands of the README, and a few more. CMake does the build;
# this file installs what is missing, configures, builds and runs.
#
#   make run    install dependencies, build, run spackle (WEB=127.0.0.1:3031
#               also serves the web monitor)
#   make test   install dependencies, build (plain and sanitized), run ctest
#   make stress install dependencies, build, run tests/stress/stress.sh (root:
#               floods, malformed frames, control-socket abuse, reload storm,
#               SIGKILL loop, in namespaces; 5 to 12 minutes; one table)

BUILD      ?= build
BUILD_SAN  ?= build-san
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 600

# Debian packages, by what needs them.
PKGS_BUILD = build-essential cmake pkg-config netbase iptables nftables \
	libpcap-dev libnet1-dev liblmdb-dev libevent-dev \
	libnetfilter-queue-dev libnetfilter-conntrack-dev libmnl-dev libnftnl-dev \
	libjansson-dev libcap-dev libsystemd-dev libcmocka-dev \
	libbpf-dev bpftool clang
# (the last three: attribution's eBPF program; without them the build goes
# on without it, docs/attribution.md)
PKGS_TEST  = libclang-rt-14-dev libcmocka-dev lmdb-utils tcpdump conntrack \
	iproute2 jq openssl curl groff-base man-db \
	chromium python3-websocket
# (the last two: tests/web, the web monitor in a headless browser)
# bench/divert's and bench/scale's load; OpenSnitch's column needs
# `opensnitch` (bench/divert.md says how to install it without starting it
# on the host).
PKGS_BENCH = iperf3 jq iproute2

.PHONY: all deps deps-test build build-san run demo test stress fuzz bench \
	format format-check clean

all: build

deps:
	@./.ci/install-deps $(PKGS_BUILD)

deps-test:
	@./.ci/install-deps $(PKGS_BUILD) $(PKGS_TEST)

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(BUILD_SAN)/Makefile:
	CC=clang cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug \
		-DSPACKLE_SANITIZE=ON -DSPACKLE_FUZZ=ON

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

build-san: deps-test $(BUILD_SAN)/Makefile
	cmake --build $(BUILD_SAN) -j $(JOBS)

# `run` starts the daemon in the foreground with the shipped configuration,
# its rules from rules/, its store and control socket under the build tree;
# it drops to the user spackle, created here when missing (as an install
# does). Ctrl-C removes its steering and leaves the firewall as it was.
run: build
	@./etc/add-user.sh
	@mkdir -p $(BUILD)/rules && cp -u rules/*.rules $(BUILD)/rules/
	@sed -e 's|^rules = .*|rules = $(CURDIR)/$(BUILD)/rules|' \
	     -e 's|^db = .*|db = $(CURDIR)/$(BUILD)/db|' \
	     -e 's|^control = .*|control = $(CURDIR)/$(BUILD)/run/spackle.sock|' \
	     etc/spackle.conf > $(BUILD)/spackle.conf
	@echo "web_token = $(CURDIR)/$(BUILD)/run/web.token" >> $(BUILD)/spackle.conf
	@if [ -n "$(WEB)" ]; then echo "web = $(WEB)" >> $(BUILD)/spackle.conf; fi
	@mkdir -p $(BUILD)/db
	@echo "spackle: config $(BUILD)/spackle.conf; in another shell:" \
	      "$(BUILD)/spackle conns -c $(BUILD)/spackle.conf"
	@if grep -q '^web = ' $(BUILD)/spackle.conf; then \
	  echo "spackle: the web monitor's URL: $(BUILD)/spackle web -c $(BUILD)/spackle.conf"; fi
	$(BUILD)/spackle run -c $(BUILD)/spackle.conf

# The classifier over a generated capture, with the example rules; as
# root, then, spackle audit in a sandbox of namespaces with three holes
# made on purpose (tests/netns/audit.sh --demo).
demo: build
	$(BUILD)/mkcap demo $(BUILD)/demo.pcap
	$(BUILD)/spackle replay --rules rules/examples --local 192.0.2.0/24 \
		--local 2001:db8:1::/48 $(BUILD)/demo.pcap
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "demo: the audit sandbox needs root (network namespaces), skipped"; \
	else \
		tests/netns/audit.sh $(BUILD)/spackle \
			$(BUILD)/tests/netns/nettool --demo; \
	fi

# The fuzzers' smoke runs (each a fixed time on one core) two at a time,
# then the rest: the namespace tests run alone (RUN_SERIAL) either way.
test: deps-test build build-san
	cd $(BUILD) && ctest --output-on-failure
	cd $(BUILD_SAN) && { ctest --output-on-failure -j2 -R '^fuzz/'; f=$$?; \
		ctest --output-on-failure -E '^fuzz/'; r=$$?; \
		[ $$f -eq 0 ] && [ $$r -eq 0 ]; }

# Hostile load in namespaces, both divert modes; docs/reliability.md says
# what each figure means. Exits non-zero when a probe fails a condition.
stress: deps-test build
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "stress: needs root (network namespaces)"; exit 1; \
	fi
	tests/stress/stress.sh $(BUILD)/spackle $(BUILD)/tests/netns/nettool \
		$(BUILD)/tests/stress/abuse

# Longer fuzzing: every harness for FUZZ_SECONDS, corpus grows in build-san.
fuzz: build-san
	@set -e; for f in $(BUILD_SAN)/fuzz/fuzz_*; do \
		n=$$(basename $$f | sed 's/^fuzz_//'); \
		mkdir -p $(BUILD_SAN)/corpus/$$n; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(BUILD_SAN)/corpus/$$n tests/fuzz/corpus/$$n; \
	done

bench: build
	$(BUILD)/bench/classify
	$(BUILD)/bench/import
	@if [ "$$(id -u)" -ne 0 ]; then \
		$(BUILD)/bench/store; \
		echo "bench/attrib, bench/divert, bench/scale: need root (network namespaces), skipped"; \
	else \
		./.ci/install-deps $(PKGS_BENCH) && \
		$(BUILD)/bench/store --divert && \
		$(BUILD)/bench/attrib && \
		bench/divert/divert.sh $(BUILD)/spackle \
			$(BUILD)/tests/netns/nettool \
			$(BUILD)/bench/divert/nfq_accept && \
		bench/scale/scale.sh $(BUILD)/spackle \
			$(BUILD)/tests/netns/nettool; \
	fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
