#!/usr/bin/env bash
# Set up everything this project needs, then run it.
#   ./dev.sh up      the local data plane with a sample service you can curl
#   ./dev.sh test    the whole test suite, compiled build then pure-Python build
#   ./dev.sh bench NAME [ARGS]   a benchmark from loadtests/ (bench_NAME.py)
#   ./dev.sh setup   set up only
# Idempotent: a second run skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
VENV=$ROOT/.venv
PY=$VENV/bin/python
APT_UPDATED=

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

apt_install() {
    command -v apt-get >/dev/null || { echo "missing $*, and no apt-get to install it" >&2; exit 1; }
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    if [ -z "$APT_UPDATED" ]; then
        log "apt-get update"
        $sudo apt-get update -qq
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_system() {
    command -v python3 >/dev/null || apt_install python3
    local pkgs=()
    python3 -c 'import ensurepip, venv' 2>/dev/null || pkgs+=(python3-venv)
    python3 - <<'PYEOF' 2>/dev/null || pkgs+=(python3-dev)
import os, sysconfig, sys
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PYEOF
    command -v cc >/dev/null || pkgs+=(gcc libc6-dev)
    # the compiled HTTP/2 session binds libnghttp2; h2load drives its socket test
    [ -e /usr/include/nghttp2/nghttp2.h ] || pkgs+=(libnghttp2-dev)
    command -v h2load >/dev/null || pkgs+=(nghttp2-client)
    command -v node >/dev/null || pkgs+=(nodejs)
    command -v curl >/dev/null || pkgs+=(curl)
    # the completion test checks `dataplane completion zsh` with zsh itself
    command -v zsh >/dev/null || pkgs+=(zsh)
    # the console's browser test drives Debian's Chromium through its chromedriver (nothing downloaded)
    command -v chromium >/dev/null || pkgs+=(chromium)
    command -v chromedriver >/dev/null || pkgs+=(chromium-driver)
    [ ${#pkgs[@]} -eq 0 ] || apt_install "${pkgs[@]}"
}

ensure_venv() {
    if [ ! -x "$PY" ]; then
        log "creating $VENV"
        python3 -m venv "$VENV"
    fi
    local stamp
    stamp=$( (cat pyproject.toml setup.py; echo compat) | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$VENV/.dataplane-stamp" 2>/dev/null)" != "$stamp" ]; then
        log "installing dataplane and its dependencies into $VENV"
        "$PY" -m pip install -q --upgrade pip setuptools wheel Cython
        # this project was installed as "dataplane" before it had its own distribution name; a venv
        # from then would keep that record (and its claim on bin/dataplane) beside the new one
        "$PY" -m pip uninstall -q -y dataplane >/dev/null 2>&1 || true
        # "compat" puts the checkout on sys.path with a plain .pth line; the default mode installs an
        # import hook that loads pathlib into every process, 0.6 MB more in each queue-proxy.
        "$PY" -m pip install -q --no-build-isolation -e '.[test]' --config-settings editable_mode=compat 2>/dev/null ||
            "$PY" -m pip install -q --no-build-isolation -e '.[test]'
        echo "$stamp" >"$VENV/.dataplane-stamp"
    fi
}

build_ext() {
    # incremental: only changed sources (.pyx, or a twin's .py and .pxd) are re-translated and re-compiled
    DATAPLANE_REQUIRE_EXTENSIONS=1 "$PY" setup.py -q build_ext --inplace >/dev/null
}

setup() {
    ensure_system
    ensure_venv
    build_ext
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
setup)
    setup
    ;;
test)
    setup
    bash loadtests/ensure-tools.sh  # nginx, haproxy, wrk: the benchmark harness is tested against them
    log "import contracts (.importlinter)"
    "$VENV/bin/lint-imports" --no-cache
    log "tests, compiled build"
    rc=0
    DATAPLANE_REQUIRE_EXTENSIONS=1 "$PY" -m pytest "$@" || rc=$?
    # the twin-sensitive tests run again on the pure-Python build: the twins' unit tests and the integration
    # tests of the request path (engine, parser, HTTP/2 session, breaker, collector, both policies); the
    # control plane's, the platforms' and the slow end-to-end ones drive no twin the compiled pass leaves out
    log "tests, pure-Python build (twin-sensitive tests)"
    if [ $# -eq 0 ]; then
        set -- tests/unit/engine tests/unit/http tests/unit/queueproxy tests/unit/activator tests/unit/stats tests/unit/foundation \
            tests/integration/test_queueproxy.py tests/integration/test_queueproxy_h2.py tests/integration/test_activator.py \
            tests/integration/test_activator_h2.py tests/integration/test_activator_subsetting.py \
            tests/integration/test_engine_pool.py tests/integration/test_h2_socket.py tests/integration/test_grpcprobe.py \
            tests/integration/test_reliability_input.py tests/integration/test_stat_socket.py
    fi
    DATAPLANE_NO_EXTENSIONS=1 "$PY" -m pytest -m "not slow" "$@" || rc=$?
    exit $rc
    ;;
up)
    setup
    # pods run their commands with `dataplane up`'s PATH: the venv's first, so a sample's python3 has what this
    # project installed (grpcio for samples/grpc-greeter) and its `dataplane` is this checkout's
    export PATH="$VENV/bin:$PATH"
    exec "$PY" -m dataplane.cmd.demo "$@"
    ;;
bench)
    setup
    bash loadtests/ensure-tools.sh
    name=${1:?usage: ./dev.sh bench NAME}
    shift
    exec "$PY" "loadtests/bench_$name.py" "$@"
    ;;
*)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
