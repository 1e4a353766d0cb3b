# Builds the Go-based binaries of the test environment (Kubernetes control plane, kubectl,
# etcd, helm) from the Go module proxy into per-version folders of the cache. Sourced by test/env/install.

# The ldflags that stamp a version into Kubernetes binaries; unstamped ones report
# v0.0.0-master, which breaks helm's kubeVersion checks.
kube_ldflags() {
  local v="$KUBERNETES_VERSION" major minor
  major="$(echo "${v#v}" | cut -d. -f1)"
  minor="$(echo "${v#v}" | cut -d. -f2)"
  local flags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitCommit=0000000000000000000000000000000000000000 -X $pkg.gitTreeState=clean"
    flags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

# k8s.io/kubernetes points its staging modules at ./staging; a wrapper module replaces each of
# them with its published tag. The list is read from that version's own go.mod, never hard-coded.
build_kubernetes() {
  local want=(kube-apiserver kube-controller-manager kube-scheduler kubectl) missing=() b
  local bin="$KUBE_CACHE/bin"
  for b in "${want[@]}"; do [ -x "$bin/$b" ] || missing+=("$b"); done
  [ ${#missing[@]} -eq 0 ] && { log "kubernetes binaries cached"; return; }

  local work="$KUBE_CACHE/src"
  mkdir -p "$work" "$bin"
  (
    cd "$work"
    [ -f go.mod ] || go mod init runnel.dev/testenv/kubernetes >/dev/null 2>&1
    local gomod
    gomod="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
    [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$KUBERNETES_VERSION"
    local m
    for m in $(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$gomod"); do
      go mod edit -replace "$m=$m@$KUBERNETES_STAGING_VERSION"
    done
    go mod edit -require "k8s.io/kubernetes@$KUBERNETES_VERSION"
    # A file importing the commands lets `go mod tidy` compute the full module graph.
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    go mod tidy -e >/dev/null 2>tidy.log || { cat tidy.log >&2; die "go mod tidy failed for kubernetes"; }
    local ld
    ld="$(kube_ldflags)"
    for b in "${missing[@]}"; do
      log "building $b $KUBERNETES_VERSION"
      go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ld" \
        -o "$bin/$b.tmp" "k8s.io/kubernetes/cmd/$b"
      mv "$bin/$b.tmp" "$bin/$b"
    done
  )
}

# etcd's server module root is its main package; `go install` refuses its replace lines, so a
# wrapper module requires it and builds it.
build_etcd() {
  [ -x "$ETCD_CACHE/bin/etcd" ] && { log "etcd cached"; return; }
  local work="$ETCD_CACHE/src"
  mkdir -p "$work" "$ETCD_CACHE/bin"
  (
    cd "$work"
    [ -f go.mod ] || go mod init runnel.dev/testenv/etcd >/dev/null 2>&1
    cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>get.log || { cat get.log >&2; die "go get etcd failed"; }
    go mod tidy -e >/dev/null 2>tidy.log || { cat tidy.log >&2; die "go mod tidy failed for etcd"; }
    log "building etcd $ETCD_VERSION"
    go build -trimpath -ldflags "-s -w" -o "$ETCD_CACHE/bin/etcd.tmp" go.etcd.io/etcd/server/v3
    mv "$ETCD_CACHE/bin/etcd.tmp" "$ETCD_CACHE/bin/etcd"
  )
}

build_helm() {
  [ -x "$HELM_CACHE/bin/helm" ] && { log "helm cached"; return; }
  mkdir -p "$HELM_CACHE/bin"
  log "building helm $HELM_VERSION"
  GOBIN="$HELM_CACHE/bin" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}
