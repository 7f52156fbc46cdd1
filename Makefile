# Leviathan: typed cdk8s constructs -> versioned Helm charts for huge self-hosted LLMs.
# The Makefile is an index; the logic lives in scripts/.

SHELL := /bin/bash
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup engines llama-server synth test fuzz e2e e2e-kind e2e-bins images bench clean engine-flags release-record release-notes package publish

##@ Main jobs
setup:            ## create .venv with pinned deps + official helm/kubectl binaries
	@scripts/setup

synth: setup      ## write charts/ and rendered/ from constructs/
	@python main.py

engines: setup llama-server ## the pinned vLLM and sglang-kt (their own parsers) and llama-server in ~/.cache/leviathan/engines, for the conformance tests
	@scripts/engine-flags venv vllm >/dev/null
	@scripts/engine-flags venv sglang >/dev/null

llama-server:     ## build (or reuse) the pinned CPU llama-server b11312 in ~/.cache/leviathan/engines (tests + e2e image)
	@scripts/build-llama-server >/dev/null

test: engines     ## fast tier: charts, schemas, goldens, engine parsers, images lint, harness unit tests
	@scripts/setup-e2e-host --if-root --kind   # containerd, catatonit, busybox-static, docker.io: 4 tests need them
	@python -m pytest tests

fuzz: setup       ## long random property sweep of every chart's values (FUZZ_EXAMPLES=2000 per chart)
	@LEVIATHAN_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} LEVIATHAN_FUZZ_RANDOM=1 python -m pytest -s tests/charts/test_values_fuzz.py

e2e: setup        ## real cluster with mocked GPUs; install every chart and prove its health flows
	@scripts/e2e

e2e-kind: setup   ## the same flows on the offline kind backend (e2e/README-kind.md), less the local-backend-only tests
	@LEVIATHAN_E2E_BACKEND=kind scripts/e2e -m "e2e and not local_backend"

##@ Releases (docs/releasing.md)
release-record: setup ## record each chart's current version in releases/ledger.yaml (AMEND=1: re-record an unpublished one)
	@python -m leviathan.release record $(if $(AMEND),--amend)

release-notes: setup  ## make release-notes CHART=vllm FROM=0.1.0 TO=0.2.0
	@python -m leviathan.release notes "$(CHART)" "$(FROM)" "$(TO)"

package: setup        ## dist/: reproducible chart packages (signed with LEVIATHAN_SIGN_KEY), bundles, index.yaml
	@python -m leviathan.release package $(if $(URL),--url "$(URL)")

publish: package      ## make publish REGISTRY=oci://host:port/path [CA_FILE=ca.crt]; never overwrites
	@python -m leviathan.release publish "$(REGISTRY)" $(if $(CA_FILE),--ca-file "$(CA_FILE)")

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
	rm -rf .venv .bench e2e-logs dist
