#!/usr/bin/env bash
# Make wrk, nginx and haproxy available for the benchmarks in loadtests/.
#
# Idempotent and quick when everything is already there. Installs Debian's
# packages only for what is missing, and makes sure Debian's own nginx/haproxy
# services are not running: the benchmarks start private instances with their
# own config files and ports, and a system instance would hold port 80 and
# steal CPU from the measurements.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# /usr/sbin is not on every user's PATH, so look for the binaries directly.
have() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]
}

missing=()
for tool in wrk nginx haproxy; do
    have "$tool" || missing+=("$tool")
done

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "ensure-tools: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    # Keep the packages' maintainer scripts from starting the system services
    # at all; only add the guard when the image does not already have one.
    guard_added=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        guard_added=1
    fi
    trap '[ "$guard_added" -eq 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
    echo "ensure-tools: installing ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Stop and disable a Debian system instance if one is running. The init
# scripts act on the pid file in /run only, so private instances (started
# with their own pid files) are left alone.
for svc in nginx haproxy; do
    pidfile="/run/$svc.pid"
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        if systemctl is-active --quiet "$svc" || systemctl is-enabled --quiet "$svc" 2>/dev/null; then
            echo "ensure-tools: stopping and disabling the system $svc service"
            systemctl disable --now "$svc" >/dev/null 2>&1 || true
        fi
    elif [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "ensure-tools: stopping the system $svc service"
        if [ -x "/etc/init.d/$svc" ]; then
            "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
        fi
        if command -v update-rc.d >/dev/null 2>&1; then
            update-rc.d "$svc" disable >/dev/null 2>&1 || true
        fi
    fi
done

for tool in wrk nginx haproxy; do
    have "$tool" || { echo "ensure-tools: $tool still missing" >&2; exit 1; }
done
echo "ensure-tools: wrk, nginx and haproxy are ready"
