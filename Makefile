SHELL := /bin/bash
# ptvmlab: build, test and check.
#
#   make setup   install the Debian packages ptvmlab needs (root)
#   make run     ptvmlab run on the default kernel (Debian 6.12, x86_64 + i386)
#   make test    lint + unit tests + end-to-end tests on real kernels under QEMU
#   make bench   the lab's benchmarks (ptvmlab bench lab: run vs bare QEMU, initramfs, warm matrix)

GO      ?= go
BIN     := bin/ptvmlab
E2E_TIMEOUT ?= 80m

# clang and binutils-aarch64-linux-gnu are for `ptvmlab crossbuild` (arm64): every Debian 12
# cross gcc (gcc-aarch64-linux-gnu, ...) Conflicts with gcc-multilib, so none can be listed here.
APT_PACKAGES := qemu-system-x86 linux-source-6.12 build-essential flex bison bc \
	libelf-dev libssl-dev ccache cpio xz-utils git patch gcc-multilib linux-source-6.1 linux-source-7.3 chromium \
	clang binutils-aarch64-linux-gnu libcap-dev

.PHONY: all setup trixie-backports build run test lint unit e2e bench fuzz clean

all: build

# apt-get update fails as a whole when one index does not download (seen:
# a mirror serving bookworm-security's i386 index at the wrong size); the
# packages come from the indexes it did fetch, and a missing one still
# fails the install. The 32-bit libcap (seccomp_bpf's 32-bit build) is
# optional: without it the kselftest test reports seccomp_bpf_32 as not
# built, saying why.
# linux-source-7.3 (the 7.3 era) comes from trixie-backports, an
# arch-independent package that installs on Debian 12. The suite is added
# with a pin of 1 for everything in it but that one package, so nothing
# else on the machine is ever upgraded from it.
TRIXIE_BACKPORTS_LIST := /etc/apt/sources.list.d/ptvmlab-trixie-backports.list
TRIXIE_BACKPORTS_PIN  := /etc/apt/preferences.d/ptvmlab-trixie-backports

trixie-backports:
	printf '%s\n' 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main' > $(TRIXIE_BACKPORTS_LIST)
	printf '%s\n' 'Package: *' 'Pin: release n=trixie-backports' 'Pin-Priority: 1' '' \
	  'Package: linux-source-7.3' 'Pin: release n=trixie-backports' 'Pin-Priority: 500' > $(TRIXIE_BACKPORTS_PIN)

setup: trixie-backports
	apt-get update -q || echo "make setup: apt-get update could not fetch every index (above); installing from those it has"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(APT_PACKAGES)
	{ dpkg --add-architecture i386 && { apt-get update -q || true; } && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q libcap-dev:i386; } || \
	  echo "make setup: no libcap-dev:i386: seccomp_bpf_32 will be reported as not built"

build:
	$(GO) build -o $(BIN) ./cmd/ptvmlab

run: build
	./$(BIN) run

test: lint unit e2e

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	GOARCH=386 $(GO) vet ./guesttests/...
	$(GO) tool staticcheck ./...
	$(GO) tool actionlint

unit:
	$(GO) test -count=1 ./...

# End-to-end: real kernels built from the Debian 6.12 tree, booted under
# QEMU. Kernel builds are cached in $${XDG_CACHE_HOME:-~/.cache}/ptvmlab.
# A test whose kernels are not cached and do not fit what is left of
# PTVMLAB_E2E_BUDGET (default 50m; 0 for none) is skipped, saying why
# (README, Tests): a cold cache needs more compile than CI's time.
e2e:
	$(GO) test -count=1 -tags e2e -timeout $(E2E_TIMEOUT) -v ./cmd/ptvmlab/ -run 'E2E' 2>&1 | tee e2e.log | grep -E '^(=== RUN|--- |    |PASS|FAIL|ok|panic)' ; exit $${PIPESTATUS[0]}

# The lab's own speed (ptvmlab bench lab): run vs bare QEMU, the initramfs,
# the warm matrix (every cell booted, then reused). BENCH_ROWS=pair,cold
# adds the builds from nothing (a patched/unpatched pair; the whole matrix).
BENCH_ROWS ?= run,initramfs,matrix
bench: build
	$(GO) test -run XXX -bench . -benchtime 5x ./initramfs/
	./$(BIN) bench lab --rows $(BENCH_ROWS) --out bench-out

fuzz:
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime 60s ./lab/ktap/

clean:
	rm -rf bin ptvmlab-out bench-out e2e.log
