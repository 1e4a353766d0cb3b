# Shared settings for the test-environment scripts. Sourced, never run.
# The cache lives outside the repository so a clean clone reuses earlier builds. Each component
# has its own directory keyed by its pinned version, so changing one pin rebuilds only that one.
set -euo pipefail

ENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../pins.env
source "$ENV_DIR/pins.env"

CACHE_ROOT="${RUNNEL_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/runnel-testenv}"
KUBE_CACHE="$CACHE_ROOT/kubernetes-$KUBERNETES_VERSION"
ETCD_CACHE="$CACHE_ROOT/etcd-$ETCD_VERSION"
HELM_CACHE="$CACHE_ROOT/helm-$HELM_VERSION"
KAFKA_CACHE="$CACHE_ROOT/kafka-$KAFKA_VERSION-$(sha256sum "$ENV_DIR/kafka/pom.xml" | cut -c1-8)"
TIMINGS_FILE="$CACHE_ROOT/timings.tsv"
# Where `up` keeps the running environment: data dirs, logs, pids and env.sh for the test runner.
RUN_DIR="${RUNNEL_TESTENV_RUN:-/tmp/runnel-testenv}"

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export CGO_ENABLED=0

log() { printf '[testenv %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# timed NAME CMD...: runs CMD and appends "NAME seconds" to the timing file for docs/testing.md.
timed() {
  local name="$1"; shift
  local start end
  start=$(date +%s)
  "$@"
  end=$(date +%s)
  mkdir -p "$CACHE_ROOT"
  printf '%s\t%s\t%ss\n' "$(date -u +%FT%TZ)" "$name" "$((end - start))" >> "$TIMINGS_FILE"
  log "$name took $((end - start))s"
}
