SHELL := /bin/bash
# ptvmlab: build, test and check.
#
#   make setup   install the Debian packages ptvmlab needs (root)
#   make run     ptvmlab run on the default kernel (Debian 6.12, x86_64 + i386)
#   make test    lint + unit tests + end-to-end tests on real kernels under QEMU
#   make bench   the lab's benchmarks (initramfs, boot-to-verdict vs bare QEMU)

GO      ?= go
BIN     := bin/ptvmlab
E2E_TIMEOUT ?= 80m

# clang and binutils-aarch64-linux-gnu are for `ptvmlab crossbuild` (arm64): every Debian 12
# cross gcc (gcc-aarch64-linux-gnu, ...) Conflicts with gcc-multilib, so none can be listed here.
APT_PACKAGES := qemu-system-x86 linux-source-6.12 build-essential flex bison bc \
	libelf-dev libssl-dev ccache cpio xz-utils git patch gcc-multilib linux-source-6.1 chromium \
	clang binutils-aarch64-linux-gnu libcap-dev libcap-dev:i386

.PHONY: all setup build run test lint unit e2e bench fuzz clean

all: build

setup:
	dpkg --add-architecture i386   # libcap-dev:i386: seccomp_bpf's static 32-bit build
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(APT_PACKAGES)

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
e2e:
	$(GO) test -count=1 -tags e2e -timeout $(E2E_TIMEOUT) -v ./cmd/ptvmlab/ -run 'E2E' 2>&1 | tee e2e.log | grep -E '^(=== RUN|--- |    |PASS|FAIL|ok|panic)' ; exit $${PIPESTATUS[0]}

bench:
	$(GO) test -run XXX -bench . -benchtime 5x ./initramfs/
	$(GO) test -tags e2e -run XXX -bench BootToVerdict -benchtime 3x -timeout 60m ./cmd/ptvmlab/

fuzz:
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime 60s ./lab/ktap/

clean:
	rm -rf bin ptvmlab-out e2e.log
