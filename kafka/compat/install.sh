#!/usr/bin/env bash
# Installs what the client matrix (kafka/compat, go test -tags e2e) needs
# besides Go modules: kcat and the libraries and build tools the native
# clients build against (apt-get), and the Node.js clients (npm ci in
# node/, building @confluentinc/kafka-javascript against the system
# librdkafka dependencies: CKJS_LINKING=dynamic, since its prebuilt download
# is not reachable). Idempotent, and quick when everything is in place: apt
# runs only for missing packages, npm ci only when package-lock.json or the
# Node version changed since the last install.
#
# Under CI=true a failure exits 1; elsewhere it warns, exits 0, and the
# tests that need the missing client skip and say why.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

fail() {
	if [ "${CI:-}" = "true" ]; then
		echo "compat install: $1" >&2
		exit 1
	fi
	echo "compat install: warning: $1; the client matrix will skip what is missing" >&2
	exit 0
}

# kcat, the -dev packages librdkafka (in @confluentinc/kafka-javascript)
# links against, and compilers for it and for cgo (confluent-kafka-go).
# Also a real MIT KDC with its tools, and Cyrus SASL's GSSAPI plugin for
# kcat, for the SASL GSSAPI tests (core/kerberos/kdctest, -tags integration).
pkgs="kcat libssl-dev libzstd-dev libcurl4-openssl-dev zlib1g-dev libsasl2-dev liblz4-dev build-essential python3 krb5-kdc krb5-admin-server krb5-user libsasl2-modules-gssapi-mit"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
	for p in $pkgs; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			missing="$missing $p"
		fi
	done
else
	command -v kcat >/dev/null 2>&1 || missing=" kcat"
fi

if [ -n "$missing" ]; then
	command -v apt-get >/dev/null 2>&1 || fail "missing:$missing and apt-get is not available: install them with your package manager"
	SUDO=""
	if [ "$(id -u)" != "0" ]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			SUDO=sudo
		else
			fail "missing:$missing and installing them needs root: run 'sudo apt-get install -y$missing'"
		fi
	fi
	echo "compat install: apt-get install$missing"
	export DEBIAN_FRONTEND=noninteractive
	# A fresh machine may have no package lists yet: update once on failure.
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -q $missing ||
		{ $SUDO apt-get update -q && $SUDO apt-get install -y -q $missing; } ||
		fail "'apt-get install -y$missing' failed (see its output above)"
fi

command -v node >/dev/null 2>&1 || fail "node is not on PATH: install Node.js 20 or later"
command -v npm >/dev/null 2>&1 || fail "npm is not on PATH: install it with Node.js"

cd "$here/node"
# The stamp records what node_modules was installed from; the native addon
# is built for one Node version.
want="$(sha256sum package-lock.json | cut -d' ' -f1) node $(node --version)"
stamp="node_modules/.chronik-install-stamp"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi
echo "compat install: npm ci in $here/node (builds @confluentinc/kafka-javascript: about 1.5 min)"
CKJS_LINKING=dynamic npm ci --no-audit --no-fund || fail "npm ci in $here/node failed (see its output above)"
echo "$want" >"$stamp"
