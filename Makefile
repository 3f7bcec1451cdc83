# kubeflow-profile-manager: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

BINARY       := kubeflow-profile-manager
# The deployed function (its name or ARN), for doctor; the pool and the function for set-trigger.
FUNCTION     ?=
DOCTOR_EMAIL ?=
DOCTOR_GROUPS ?=
USER_POOL_ID ?=
FUNCTION_ARN ?=
TRIGGER_VERSION ?= V1_0
FORMAT       ?= json
REPORT_USER  ?=
REPORT_NAMESPACE ?=
OUTPUT       ?=
TARGET_DIR   ?= $(or $(CARGO_TARGET_DIR),target)
TOOLS        ?= $(CURDIR)/.tools
VENV         := $(TOOLS)/venv
EVENT        ?= events/v1-adfs-hosted-auth.json
LATENCY_MS   ?= 20
GROUPS       ?= 1,10,50
PEOPLE       ?= 5000
BALLAST      ?= 0
WATCH_PORT   ?= 9100
# make demo ENV="KEY=VALUE ...": settings for the function, on top of the demo's.
ENV          ?=
# make deploy: the stack, and PARAMS="Key=Value ..." (template parameters) for this deploy.
STACK        ?= kubeflow-profile-manager
PARAMS       ?=
SAM_FLAGS    ?=
# make rbac: the stack whose KubernetesGroup the manifests bind (or GROUP=...); ADMIN=true adds rbac-admin.yaml.
GROUP        ?=
ADMIN        ?=
# make admission: the group that may write the function's objects besides the functions.
BREAK_GLASS  ?=
export SAM_CLI_TELEMETRY := 0
# Said before a step that compiles: a cold build takes minutes, and cargo is quiet until it ends.
say_build = @echo "== $(1): cargo builds first (a cold debug build takes about 4 minutes on 2 cores, a warm one seconds)"
say_release = @echo "== $(1): a release build first (cold: about 8 minutes on 2 cores; warm: seconds)"

.PHONY: help fmt lint test demo doctor-local bench bench-clusters bench-sweep build sam-build invoke validate deploy rbac admission doctor pool-check access-report access-report-local set-trigger e2e-cognito tools clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-20s %s\n", $$1, $$2}'

fmt: ## Format the code (rustfmt)
	cargo fmt --all

lint: ## rustfmt check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

test: ## Run every test (unit, property, integration against the fake cluster)
	cargo test --workspace

demo: ## Run the function on EVENT against a local fake EKS cluster and show what it created (ENV="KEY=VALUE ...")
	$(call say_build,make demo)
	cargo build --workspace --bins
	$(TARGET_DIR)/debug/kfpm-local demo --binary $(TARGET_DIR)/debug/$(BINARY) $(foreach setting,$(ENV),--env $(setting)) $(EVENT)

doctor-local: ## Run the function's doctor against the local fake cluster (DOCTOR_EMAIL, DOCTOR_GROUPS)
	$(call say_build,make doctor-local)
	cargo build --workspace --bins
	$(TARGET_DIR)/debug/kfpm-local doctor --binary $(TARGET_DIR)/debug/$(BINARY) \
	  $(if $(DOCTOR_EMAIL),--email $(DOCTOR_EMAIL)) $(if $(DOCTOR_GROUPS),--ad-groups "$(DOCTOR_GROUPS)")

bench: ## Benchmark the release binary against the fake cluster (LATENCY_MS, GROUPS)
	$(call say_release,make bench)
	cargo build --release --workspace --bins
	$(TARGET_DIR)/release/kfpm-local bench --binary $(TARGET_DIR)/release/$(BINARY) --latency-ms $(LATENCY_MS) --groups $(GROUPS)

bench-clusters: ## Benchmark sign-ins of the release binary on one cluster and on three (LATENCY_MS)
	$(call say_release,make bench-clusters)
	cargo build --release --workspace --bins
	$(TARGET_DIR)/release/kfpm-local bench-clusters --binary $(TARGET_DIR)/release/$(BINARY) --latency-ms $(LATENCY_MS) --groups 10

bench-sweep: ## Benchmark one offboarding sweep of the release binary over PEOPLE managed people (LATENCY_MS; BALLAST tenant-stored 200 KiB bindings)
	$(call say_release,make bench-sweep)
	cargo build --release --workspace --bins
	$(TARGET_DIR)/release/kfpm-local bench-sweep --binary $(TARGET_DIR)/release/$(BINARY) --latency-ms $(LATENCY_MS) --people $(PEOPLE) --ballast $(BALLAST)

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

$(VENV)/bin/cargo-lambda: | $(VENV)/bin/python
	@echo "== installing cargo-lambda into $(VENV) (with zig, about 470 MB, a minute or two)"
	$(VENV)/bin/pip install --quiet 'cargo-lambda==1.9.2'

# Pinned: CI runs these very versions, so what CI builds and lints is what make deploy does.
$(VENV)/bin/cfn-lint: | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet 'cfn-lint==1.58.0'

# checkov in a venv of its own: it pins libraries the SAM CLI pins otherwise.
CHECKOV_VENV := $(TOOLS)/checkov-venv
$(CHECKOV_VENV)/bin/checkov:
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==3.3.30'

$(VENV)/bin/sam: | $(VENV)/bin/python
	@echo "== installing the SAM CLI into $(VENV) (about 340 MB, a minute or two)"
	$(VENV)/bin/pip install --quiet 'aws-sam-cli==1.170.0'

tools: $(VENV)/bin/cargo-lambda $(VENV)/bin/cfn-lint $(VENV)/bin/sam ## Install cargo-lambda, cfn-lint and the SAM CLI into .tools/

build: $(VENV)/bin/cargo-lambda ## Build the arm64 Lambda package (cargo lambda build --release --arm64)
	rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	$(call say_release,make build: cargo lambda build --release --arm64)
	PATH=$(VENV)/bin:$$PATH cargo lambda build --release --arm64 --bin $(BINARY)
	@ls -l $(TARGET_DIR)/lambda/$(BINARY)/bootstrap

sam-build: $(VENV)/bin/sam $(VENV)/bin/cargo-lambda ## sam build: what make deploy packages (cargo lambda, arm64, into .aws-sam/); CI runs it too
	rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	$(call say_release,sam build: cargo lambda build --release --arm64)
	PATH=$(VENV)/bin:$$PATH $(VENV)/bin/sam build

validate: $(VENV)/bin/cfn-lint $(VENV)/bin/sam $(CHECKOV_VENV)/bin/checkov ## Lint template.yaml (cfn-lint, sam validate --lint, checkov's security checks)
	$(VENV)/bin/cfn-lint template.yaml
	AWS_DEFAULT_REGION=us-east-1 $(VENV)/bin/sam validate --lint --template template.yaml
	@# Every check it skips is skipped in template.yaml, with its reason.
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

invoke: $(VENV)/bin/cargo-lambda ## Run the function under cargo lambda watch (fake cluster) and invoke it with EVENT
	$(call say_build,make invoke)
	cargo build --workspace --bins
	PATH=$(VENV)/bin:$$PATH bash scripts/invoke-local.sh $(EVENT) $(WATCH_PORT)

e2e-cognito: $(VENV)/bin/cargo-lambda ## Sign a user in through cognito-local, with this function as its trigger
	$(call say_build,make e2e-cognito)
	cargo build --workspace --bins
	TOOLS=$(TOOLS) PATH=$(VENV)/bin:$$PATH bash scripts/e2e-cognito.sh $(WATCH_PORT)

deploy: $(VENV)/bin/sam $(VENV)/bin/cargo-lambda ## Check, sam build, sam deploy STACK; PARAMS="Key=Value ..." sets parameters (a first deploy: ClusterName, UserPoolArn, GroupPrefix)
	@region=$$(python3 scripts/deploy-check.py --stack "$(STACK)" $(PARAMS)) \
	  && $(MAKE) --no-print-directory sam-build \
	  && echo "== sam deploy --stack-name $(STACK) --region $$region" \
	  && PATH=$(VENV)/bin:$$PATH $(VENV)/bin/sam deploy --stack-name "$(STACK)" --region "$$region" \
	       $(if $(strip $(PARAMS)),--parameter-overrides $(PARAMS)) $(SAM_FLAGS)

rbac: ## Print deploy/rbac.yaml for STACK's KubernetesGroup (or GROUP=...; ADMIN=true adds rbac-admin.yaml): make -s rbac | kubectl apply -f -
	@python3 scripts/rbac.py $(if $(GROUP),--group "$(GROUP)",--stack "$(STACK)") $(if $(filter true,$(ADMIN)),--admin)

admission: ## Print deploy/admission.yaml (Kubernetes 1.30+) with STACK's settings (or GROUP=...; BREAK_GLASS=group; TEAM_DEFAULTS=file; IRSA_ROLE=arn): make -s admission | kubectl apply -f -
	@$(if $(wildcard $(VENV)/bin/python),$(VENV)/bin/python,python3) scripts/rbac.py --admission $(if $(GROUP),--group "$(GROUP)",--stack "$(STACK)") $(if $(filter true,$(ADMIN)),--admin) $(if $(BREAK_GLASS),--break-glass "$(BREAK_GLASS)") $(if $(TEAM_DEFAULTS),--team-defaults "$(TEAM_DEFAULTS)") $(if $(IRSA_ROLE),--irsa-role "$(IRSA_ROLE)")

doctor: ## Ask the deployed FUNCTION's doctor (AWS CLI): cluster, token, permissions; preview DOCTOR_EMAIL's sign-in with DOCTOR_GROUPS; then make pool-check
	@test -n "$(FUNCTION)" || { echo "make doctor FUNCTION=<deployed function name> [DOCTOR_EMAIL=you@corp.example DOCTOR_GROUPS=KF-A,KF-B]"; exit 2; }
	@status=0; bash scripts/doctor.sh "$(FUNCTION)" "$(DOCTOR_EMAIL)" "$(DOCTOR_GROUPS)" || status=$$?; \
	  python3 scripts/pool-check.py --function "$(FUNCTION)" || { code=$$?; [ $$status -ne 0 ] || status=$$code; }; \
	  exit $$status

pool-check: ## With your own AWS credentials: can the users of any app client of FUNCTION's pool (or USER_POOL_ID's) rewrite their groups or email?
	@test -n "$(FUNCTION)$(USER_POOL_ID)" || { echo "make pool-check FUNCTION=<deployed function name> (or USER_POOL_ID=<pool id>)"; exit 2; }
	python3 scripts/pool-check.py $(if $(FUNCTION),--function "$(FUNCTION)",--user-pool-id "$(USER_POOL_ID)")

access-report: ## Every access the deployed FUNCTION manages (JSON, or FORMAT=csv); filter with REPORT_USER, REPORT_NAMESPACE; OUTPUT=file
	@test -n "$(FUNCTION)" || { echo "make access-report FUNCTION=<the stack's SweepFunctionName> [FORMAT=csv] [REPORT_USER=jane@corp.example] [REPORT_NAMESPACE=team-a] [OUTPUT=access.csv]"; exit 2; }
	python3 scripts/access-report.py --function "$(FUNCTION)" --format "$(FORMAT)" \
	  $(if $(REPORT_USER),--user "$(REPORT_USER)") $(if $(REPORT_NAMESPACE),--namespace "$(REPORT_NAMESPACE)") $(if $(OUTPUT),--output "$(OUTPUT)")

access-report-local: ## The access report of the local fake cluster after a demo sign-in (FORMAT=json|csv)
	$(call say_build,make access-report-local)
	cargo build --workspace --bins
	$(TARGET_DIR)/debug/kfpm-local access-report --binary $(TARGET_DIR)/debug/$(BINARY) --format $(FORMAT) $(EVENT)

set-trigger: ## Make FUNCTION_ARN the Pre Token Generation trigger of USER_POOL_ID, keeping the pool's other settings (TRIGGER_VERSION=V1_0)
	@test -n "$(USER_POOL_ID)" -a -n "$(FUNCTION_ARN)" || { echo "make set-trigger USER_POOL_ID=<pool id> FUNCTION_ARN=<function ARN> [TRIGGER_VERSION=V1_0]"; exit 2; }
	python3 scripts/set-trigger.py --user-pool-id "$(USER_POOL_ID)" --function-arn "$(FUNCTION_ARN)" --version "$(TRIGGER_VERSION)" $(SET_TRIGGER_FLAGS)

clean: ## Remove build output and local tools
	cargo clean
	rm -rf $(TOOLS)
