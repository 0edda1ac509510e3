#!/usr/bin/env bash
# Builds the e2e suite's binaries from their Go modules into a cache outside the repository,
# one folder per binary and version, and skips what is already there.
#
#   tests/e2e/build-binaries.sh [name ...]     names: modules kubernetes calicoctl calico pulumi
#                                              pulumi-kubernetes pulumi-yaml sdkgen chart-render kwok
#                                              prometheus-operator prometheus prometheus2 etcd
#
# Cache: $CALICO_MONITORING_E2E_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/calico-monitoring/e2e.
# BUILD_JOBS builds run at once (default 2), so that one build's module downloads and single-threaded links
# overlap another's compiling: both cores stayed busy through a measured cold build. Each build's output goes to
# <cache>/logs/<name>-<version>.log; a failed build prints the end of its log.
# Nothing is downloaded except Go modules through the machine's Go module proxy.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

command -v go >/dev/null 2>&1 || [ ! -x /usr/local/go/bin/go ] || PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null 2>&1; then
  echo "build-binaries: Go is needed to build the e2e binaries (go 1.26 or newer on PATH); none found" >&2
  exit 2
fi

cache=${CALICO_MONITORING_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/calico-monitoring/e2e}
mkdir -p "$cache/src"
# -dwarf=false: the links strip debug information (-s -w) anyway; not generating it saves about a tenth of the
# compile time of a cold build.
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false -gcflags=all=-dwarf=false"
# The calico and pulumi-kubernetes pseudo-versions are served by the proxy but have no checksum-database
# entry; their go.sum lines come from the proxy's own hashes instead.
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/projectcalico,github.com/pulumi/pulumi-kubernetes"

KUBERNETES_BINARIES="kube-apiserver kube-controller-manager kube-scheduler kubectl"

# Progress lines go to the caller's stderr (fd 3) while each build's own output goes to its log file.
exec 3>&2
log() { printf 'build-binaries: %s\n' "$*" >&3; }

# build NAME VERSION FUNCTION BINARY...: run FUNCTION in a fresh wrapper module unless every BINARY is there.
build() {
  local name=$1 version=$2 step=$3
  shift 3
  local out="$cache/$name-$version" binary complete=yes
  for binary in "$@"; do
    [ -x "$out/bin/$binary" ] || complete=no
  done
  if [ "$complete" = yes ]; then
    log "$name $version: cached in $out"
    return
  fi
  local started=$SECONDS build_log="$cache/logs/$name-$version.log"
  log "$name $version: building into $out (output: $build_log)"
  rm -rf "$cache/src/$name-$version"
  mkdir -p "$out/bin" "$cache/src/$name-$version" "$cache/logs"
  # A job of its own, waited for: inside an `if` or `||` bash would ignore set -e in the step's commands.
  local status=0
  (cd "$cache/src/$name-$version" && go mod init "e2e.local/$name" && "$step" "$out/bin") >"$build_log" 2>&1 &
  wait $! || status=$?
  if [ "$status" != 0 ]; then
    log "$name $version: FAILED (exit $status) after $((SECONDS - started)) s; the end of $build_log:"
    tail -n 40 "$build_log" >&3
    return 1
  fi
  log "$name $version: built in $((SECONDS - started)) s"
}

sdkgen_key() { sha256sum "$here/sdkgen/main.go" | cut -c1-12; }
chart_render_key() { sha256sum "$here/chart_render/main.go" | cut -c1-12; }

origin_hash() { # the commit behind a module version, from the proxy's record
  go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Origin"]["Hash"])'
}

build_kubernetes() {
  local bin=$1 gomod module
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  # k8s.io/kubernetes replaces its staging modules with local folders; take them at the matching version.
  for module in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/src/.*#\1#p' "$gomod"); do
    go mod edit -replace "$module=$module@$KUBERNETES_STAGING_VERSION"
  done
  go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" "k8s.io/kubernetes/cmd/kubectl@$KUBERNETES_VERSION" \
    "k8s.io/kubernetes/cmd/kube-controller-manager@$KUBERNETES_VERSION" "k8s.io/kubernetes/cmd/kube-scheduler@$KUBERNETES_VERSION"
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local flags="" package
  for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags="$flags -X $package.gitVersion=$KUBERNETES_VERSION -X $package.gitMajor=1 -X $package.gitMinor=$minor"
    flags="$flags -X $package.gitTreeState=clean -X $package.buildDate=1970-01-01T00:00:00Z"
  done
  # One go build for all four: it links them in parallel (-o into a folder names each after its package).
  # shellcheck disable=SC2046,SC2086
  go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "-s -w $flags" -o "$bin/" $(printf 'k8s.io/kubernetes/cmd/%s ' $KUBERNETES_BINARIES)
}

calico_wrapper() {
  # calico's go.mod replaces its api and lib modules with local folders (taken at the release's commits) and
  # pins every k8s.io staging module to one release with replace directives (copied where they name a version).
  go mod edit \
    -replace "github.com/projectcalico/api=github.com/projectcalico/api@$CALICO_API_MODULE_VERSION" \
    -replace "github.com/projectcalico/calico/lib/std=github.com/projectcalico/calico/lib/std@$CALICO_MODULE_VERSION" \
    -replace "github.com/projectcalico/calico/lib/httpmachinery=github.com/projectcalico/calico/lib/httpmachinery@$CALICO_MODULE_VERSION" \
    -replace "gopkg.in/natefinch/lumberjack.v2=gopkg.in/natefinch/lumberjack.v2@v2.0.0"
  local gomod module
  gomod=$(go mod download -json "github.com/projectcalico/calico@$CALICO_MODULE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  for module in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => k8s\.io/[^ ]* v.*#\1#p' "$gomod"); do
    go mod edit -replace "$module=$module@$CALICO_K8S_STAGING_VERSION"
  done
}

calico_build() { # calico_build BIN PACKAGE...: the main packages into BIN, each under its last path element's name
  local bin=$1
  shift
  go build -trimpath -ldflags "-s -w -X github.com/projectcalico/calico/pkg/buildinfo.Version=$CALICO_VERSION" -o "$bin/" "$@"
}

build_calico() {
  # calicoctl with the processes: one module graph and one compile of the Calico libraries they share.
  local bin=$1 packages="calicoctl/calicoctl node/cmd/calico-node felix/cmd/calico-felix typha/cmd/calico-typha kube-controllers/cmd/kube-controllers"
  # With the Go toolchain the release declares: Typha built with Go 1.26 crashes marshalling labels
  # (docs/development.md: "Real Calico processes"). The proxy serves that toolchain like a module.
  export GOTOOLCHAIN=$CALICO_GO_TOOLCHAIN
  go mod edit -go="${CALICO_GO_TOOLCHAIN#go}" -toolchain=none
  calico_wrapper
  local package tools=""
  for package in $packages; do tools="$tools github.com/projectcalico/calico/$package@$CALICO_MODULE_VERSION"; done
  # shellcheck disable=SC2086
  go get -tool $tools
  # shellcheck disable=SC2086
  calico_build "$bin" $(printf 'github.com/projectcalico/calico/%s ' $packages)
  mv "$bin/kube-controllers" "$bin/calico-kube-controllers"
}

build_pulumi() {
  local bin=$1
  go mod edit -replace github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
  go get -tool "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION"
  go get "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
  go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    -o "$bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  # Python dynamic providers and the program's executor ship as scripts inside the SDK module.
  local sdk
  sdk=$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
  install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$bin/pulumi-resource-pulumi-python"
  install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$bin/pulumi-language-python-exec"
}

build_pulumi_kubernetes() {
  local bin=$1 module=github.com/pulumi/pulumi-kubernetes/provider/v4
  go get "$module@$PULUMI_KUBERNETES_PROVIDER_MODULE_VERSION" "github.com/pulumi/pulumi-kubernetes/sdk/v4@v$PULUMI_KUBERNETES_VERSION"
  # The provider's main package embeds two generated files that are not in the module: generate them here.
  local dir
  dir=$(go list -m -f '{{.Dir}}' "$module")/cmd/pulumi-resource-kubernetes
  mkdir -p cmd/pulumi-resource-kubernetes
  cp "$dir"/*.go "$dir"/*.json cmd/pulumi-resource-kubernetes/
  chmod -R u+w cmd
  rm -f cmd/pulumi-resource-kubernetes/generate.go
  python3 - "$PULUMI_KUBERNETES_VERSION" <<'PY'
import json, sys
folder = "cmd/pulumi-resource-kubernetes/"
schema = json.load(open(folder + "schema.json"))
schema["version"] = sys.argv[1]
json.dump(schema, open(folder + "schema-embed.json", "w"), separators=(",", ":"))
mapping = json.load(open(folder + "terraform-mapping.json"))
json.dump(mapping, open(folder + "terraform-mapping-embed.json", "w"), separators=(",", ":"))
PY
  # No `go mod tidy`: go build (-mod=mod) adds the few requirements it needs, where tidy would also download what
  # other platforms' imports need.
  go build -trimpath -ldflags "-s -w -X $module/pkg/version.Version=v$PULUMI_KUBERNETES_VERSION" \
    -o "$bin/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
}

build_pulumi_yaml() {
  local bin=$1 module=github.com/pulumi/pulumi-yaml
  # The YAML language host for Pulumi YAML programs; its go.mod has no replace, so its own requirements apply.
  go get -tool "$module/cmd/pulumi-language-yaml@$PULUMI_YAML_VERSION"
  go build -trimpath -ldflags "-s -w -X $module/pkg/version.Version=$PULUMI_YAML_VERSION" \
    -o "$bin/pulumi-language-yaml" "$module/cmd/pulumi-language-yaml"
}

build_sdkgen() {
  local bin=$1
  # Our own tool (tests/e2e/sdkgen): a package's Python SDK from its schema, with the codegen of the CLI's release.
  cp "$here/sdkgen/main.go" .
  go mod edit -replace github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
  go get "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$bin/sdkgen" .
}

build_chart_render() {
  local bin=$1 gomod helm
  # Our own tool (tests/e2e/chart_render): Helm's template engine at the release pulumi-kubernetes renders
  # charts with (read from the provider module's go.mod), its lookups answered from given objects.
  gomod=$(go mod download -json "github.com/pulumi/pulumi-kubernetes/provider/v4@$PULUMI_KUBERNETES_PROVIDER_MODULE_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  helm=$(sed -n 's#^[[:space:]]*helm\.sh/helm/v3 \(v[^ ]*\).*#\1#p' "$gomod")
  cp "$here/chart_render/main.go" .
  go get "helm.sh/helm/v3@$helm"
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$bin/chart-render" .
}

build_kwok() {
  local bin=$1
  go get -tool "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
    -o "$bin/kwok" sigs.k8s.io/kwok/cmd/kwok
}

build_prometheus_operator() {
  local bin=$1 module=github.com/prometheus-operator/prometheus-operator
  # The operator's go.mod replaces its two API modules with local folders; take them at the same tag.
  go get -tool "$module/cmd/operator@$PROMETHEUS_OPERATOR_VERSION"
  go get "$module/pkg/apis/monitoring@$PROMETHEUS_OPERATOR_VERSION" "$module/pkg/client@$PROMETHEUS_OPERATOR_VERSION"
  go build -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_OPERATOR_VERSION#v}" \
    -o "$bin/prometheus-operator" "$module/cmd/operator"
}

prometheus_build() { # prometheus_build BIN VERSION MODULE_VERSION
  local bin=$1 version=$2 module_version=$3 module=github.com/prometheus/prometheus gomod
  # Debian's prometheus is built without Kubernetes service discovery; prometheus-operator's configuration needs it.
  # Prometheus releases are the module's v0.x versions (2.53.3 is v0.53.3, 3.16.0 is v0.316.0); copy the
  # replaces of its go.mod that name a version (2.x has two for klog).
  gomod=$(go mod download -json "$module@$module_version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  go mod edit -json "$gomod" | python3 -c '
import json, sys
for replace in json.load(sys.stdin).get("Replace") or []:
    old, new = replace["Old"], replace["New"]
    if new.get("Version"):
        print("-replace=" + old["Path"] + "=" + new["Path"] + "@" + new["Version"])' | xargs -r go mod edit
  go get -tool "$module/cmd/prometheus@$module_version" "$module/cmd/promtool@$module_version"
  local flags="-s -w -X github.com/prometheus/common/version.Version=${version#v}"
  go build -trimpath -tags netgo -ldflags "$flags" -o "$bin/" "$module/cmd/prometheus" "$module/cmd/promtool"
}

build_prometheus() { prometheus_build "$1" "$PROMETHEUS_VERSION" "$PROMETHEUS_MODULE_VERSION"; }
build_prometheus2() { prometheus_build "$1" "$PROMETHEUS2_VERSION" "$PROMETHEUS2_MODULE_VERSION"; }

build_etcd() {
  local bin=$1
  # Debian's etcd 3.4.23 has no watch progress requests, without which kube-apiserver 1.36 refuses
  # streaming watch lists; KWOK's informers then back off for seconds and a rollout crawls.
  go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3
}

# Modules read at test time for CRDs and manifests (nothing from them is committed).
fetch_modules() {
  go mod download "github.com/projectcalico/calico@$CALICO_MODULE_VERSION" \
    "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION"
}

known="modules kubernetes calicoctl calico pulumi pulumi-kubernetes pulumi-yaml sdkgen chart-render kwok prometheus-operator prometheus prometheus2 etcd"
# Longest cold build first, so that the last ones to finish are short.
names=${*:-pulumi-kubernetes kubernetes prometheus pulumi prometheus-operator prometheus2 calico kwok chart-render pulumi-yaml etcd sdkgen modules}
queue=""
for name in $names; do
  case " $known " in
    *" $name "*) ;;
    *) echo "build-binaries: unknown binary '$name' (known: $known)" >&2; exit 2 ;;
  esac
  [ "$name" != calicoctl ] || name=calico  # one build makes both
  case " $queue " in *" $name "*) ;; *) queue="$queue $name" ;; esac
done
jobs_at_once=${BUILD_JOBS:-2}
case $jobs_at_once in
  '' | *[!0-9]* | 0) echo "build-binaries: BUILD_JOBS must be a whole number of at least 1, not '$jobs_at_once'" >&2; exit 2 ;;
esac

build_named() {
  case $1 in
    modules) log "modules: downloading calico $CALICO_VERSION and prometheus-operator $PROMETHEUS_OPERATOR_VERSION"; fetch_modules ;;
    # shellcheck disable=SC2086
    kubernetes) build kubernetes "$KUBERNETES_VERSION" build_kubernetes $KUBERNETES_BINARIES ;;
    # calicoctl is built with the Calico processes; the name stays for whoever builds it alone.
    calico | calicoctl) build calico "$CALICO_VERSION-$CALICO_GO_TOOLCHAIN" build_calico calicoctl calico-node calico-felix calico-typha calico-kube-controllers ;;
    pulumi) build pulumi "$PULUMI_VERSION" build_pulumi pulumi pulumi-resource-pulumi-python ;;
    pulumi-kubernetes) build pulumi-kubernetes "v$PULUMI_KUBERNETES_VERSION" build_pulumi_kubernetes pulumi-resource-kubernetes ;;
    pulumi-yaml) build pulumi-yaml "$PULUMI_YAML_VERSION" build_pulumi_yaml pulumi-language-yaml ;;
    # Keyed by the CLI release and the source, so an edit of main.go rebuilds it.
    sdkgen) build sdkgen "$PULUMI_VERSION-$(sdkgen_key)" build_sdkgen sdkgen ;;
    chart-render) build chart-render "v$PULUMI_KUBERNETES_VERSION-$(chart_render_key)" build_chart_render chart-render ;;
    kwok) build kwok "$KWOK_VERSION" build_kwok kwok ;;
    prometheus-operator) build prometheus-operator "$PROMETHEUS_OPERATOR_VERSION" build_prometheus_operator prometheus-operator ;;
    prometheus) build prometheus "$PROMETHEUS_VERSION" build_prometheus prometheus promtool ;;
    prometheus2) build prometheus "$PROMETHEUS2_VERSION" build_prometheus2 prometheus promtool ;;
    etcd) build etcd "$ETCD_VERSION" build_etcd etcd ;;
  esac
}

# A queue of BUILD_JOBS workers; every build runs to its end even when another fails, and the script fails
# naming each failed one.
declare -A running=()
failed=()
collect_one() {
  local finished status=0
  wait -n -p finished || status=$?
  [ "$status" = 0 ] || failed+=("${running[$finished]}")
  unset "running[$finished]"
}
for name in $queue; do
  while [ "${#running[@]}" -ge "$jobs_at_once" ]; do collect_one; done
  build_named "$name" &
  running[$!]=$name
done
while [ "${#running[@]}" -gt 0 ]; do collect_one; done
log "cache: $cache"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "build-binaries: failed: ${failed[*]}" >&2
  exit 1
fi
