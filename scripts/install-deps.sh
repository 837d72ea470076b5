#!/usr/bin/env bash
# Installs the Debian packages Trunkline's tests drive as real peers, and makes
# sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are up.
# Idempotent and quiet: apt-get update runs only when a package is missing.
# Never fails the caller for want of root: it warns and exits 0.
set -u

# Peers the tests run: SIPp (sip-tester), kamailio (with its TLS module, the
# TLS next hop of test/interop/kamailio-hop.test.ts), sipsak, sipvicious, and
# baresip's core (the `baresip` metapackage only adds GUI/video plugins).
# rtpengine-daemon: the media tests' and bench's rtpengine, run in userspace
# (--table=-1) by the tests themselves; its packaged service is not started.
PEERS=(sip-tester kamailio kamailio-tls-modules kamailio-sqlite-modules sipsak sipvicious baresip-core rtpengine-daemon)
# HEP3 capture tests: sngrep listens for HEP and writes what it decodes as pcap, tshark reads it;
# the web console test drives headless chromium.
PEERS+=(sngrep tshark chromium)

warn() { printf 'install-deps: %s\n' "$*" >&2; }
note() { printf 'install-deps: %s\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  SUDO=none
fi

export DEBIAN_FRONTEND=noninteractive

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

UPDATED=0
apt_install() {
  # $@: packages; installs those missing. Returns non-zero when apt fails.
  local missing=() p
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "${SUDO[*]}" = none ]; then
    warn "missing ${missing[*]}; not root and no sudo: skipping (tests that need them will skip or fail)"
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    warn "missing ${missing[*]}; no apt-get on this system: skipping"
    return 0
  fi
  note "installing ${missing[*]}"
  if [ "$UPDATED" -eq 0 ]; then
    "${SUDO[@]}" apt-get update -qq >/dev/null 2>&1 || warn "apt-get update failed"
    UPDATED=1
  fi
  local out
  # Output only when it fails: apt and debconf chatter otherwise.
  if ! out=$("${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" 2>&1); then
    printf '%s\n' "$out" | tail -n 20 >&2
    return 1
  fi
}

listening() { # $1: port on 127.0.0.1
  if command -v ss >/dev/null 2>&1; then
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

wait_listening() { # $1: port; up to ~10 s
  local i
  for i in $(seq 1 50); do listening "$1" && return 0; sleep 0.2; done
  return 1
}

ensure_postgres() {
  listening 5432 && return 0
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt_install postgresql || { warn "could not install postgresql"; return 0; }
  fi
  command -v pg_ctlcluster >/dev/null 2>&1 || { warn "PostgreSQL not available"; return 0; }
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] || { warn "PostgreSQL has no cluster in /etc/postgresql"; return 0; }
  note "starting PostgreSQL $version"
  if [ "${SUDO[*]}" = none ]; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1
  else
    "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1
  fi
  wait_listening 5432 || warn "PostgreSQL is not listening on 127.0.0.1:5432"
}

ensure_redis() {
  listening 6379 && return 0
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server || { warn "could not install redis-server"; return 0; }
  fi
  command -v redis-server >/dev/null 2>&1 || { warn "Redis not available"; return 0; }
  note "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >/dev/null 2>&1
  wait_listening 6379 || warn "Redis is not listening on 127.0.0.1:6379"
}

apt_install "${PEERS[@]}" || warn "apt-get install failed for some of: ${PEERS[*]}"
ensure_postgres
ensure_redis
exit 0
