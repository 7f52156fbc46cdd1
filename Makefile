# Leviathan: typed cdk8s constructs -> versioned Helm charts for huge self-hosted LLMs.
# The Makefile is an index; the logic lives in scripts/.

SHELL := /bin/bash
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup engines synth test fuzz e2e e2e-bins images bench clean engine-flags

##@ Main jobs
setup:            ## create .venv with pinned deps + official helm/kubectl binaries
	@scripts/setup

synth: setup      ## write charts/ and rendered/ from constructs/
	@python main.py

engines: setup    ## the pinned vLLM (its own parser) in ~/.cache/leviathan/engines, for the conformance tests
	@scripts/engine-flags venv vllm >/dev/null

test: engines     ## fast tier: charts, schemas, goldens, engine parsers, images lint, harness unit tests
	@scripts/setup-e2e-host --if-root   # containerd, catatonit, busybox-static: 3 tests need them
	@python -m pytest tests

fuzz: setup       ## long random property sweep of every chart's values (FUZZ_EXAMPLES=2000 per chart)
	@LEVIATHAN_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} LEVIATHAN_FUZZ_RANDOM=1 python -m pytest -s tests/charts/test_values_fuzz.py

e2e: setup        ## real cluster with mocked GPUs; install every chart and prove its health flows
	@scripts/e2e

##@ Extras
e2e-bins:         ## build (or reuse) the pinned Kubernetes + etcd binaries in ~/.cache/leviathan
	@scripts/build-k8s

images:           ## build + push engine images: make images REGISTRY=host:5000 [PUSH=0 to only build]
	@scripts/images

engine-flags: engines ## regenerate the engine flag manifests from the engines' own parsers
	@scripts/engine-flags generate

bench: setup      ## print synth and helm-template figures
	@scripts/bench-synth

clean:
	rm -rf .venv .bench e2e-logs
