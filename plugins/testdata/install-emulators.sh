#!/usr/bin/env bash
# Installs the object-store emulators that the plugin tests run as child
# processes (go test -tags integration ./plugins/...):
#   - versitygw, pinned, with `go install` into GOBIN (or GOPATH/bin);
#   - Azurite, pinned by azurite/package-lock.json, with `npm ci` into
#     plugins/testdata/azurite/node_modules.
# gofakes3 and fake-gcs-server run in process and come as Go modules.
# Idempotent and quick when everything is in place (a stamp records what
# node_modules was installed from).
#
# Under CI=true a failure exits 1; elsewhere it warns, exits 0, and the tests
# that need the missing emulator skip and say why.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
VERSITYGW_VERSION=v1.8.0

fail() {
	if [ "${CI:-}" = "true" ]; then
		echo "emulator install: $1" >&2
		exit 1
	fi
	echo "emulator install: warning: $1; the tests that need it will skip" >&2
	exit 0
}

# versitygw: the one found where the tests look (PATH, GOBIN, GOPATH/bin),
# if it is the pinned version.
command -v go >/dev/null 2>&1 || fail "go is not on PATH"
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
vgw="$(command -v versitygw 2>/dev/null || true)"
[ -n "$vgw" ] || vgw="$gobin/versitygw"
have=""
if [ -x "$vgw" ]; then
	have="$(go version -m "$vgw" 2>/dev/null | awk '$1 == "mod" { print $3 }')"
fi
if [ "$have" != "$VERSITYGW_VERSION" ]; then
	echo "emulator install: go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION (builds it: 1-7 min)"
	go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" ||
		fail "go install of versitygw $VERSITYGW_VERSION failed (see its output above)"
	if [ -n "$(command -v versitygw 2>/dev/null || true)" ] && [ "$(command -v versitygw)" != "$gobin/versitygw" ]; then
		echo "emulator install: warning: $(command -v versitygw) comes first in PATH and is not $VERSITYGW_VERSION" >&2
	fi
fi

# Azurite
command -v node >/dev/null 2>&1 || fail "node is not on PATH: install Node.js 20 or later (Azurite runs on it)"
command -v npm >/dev/null 2>&1 || fail "npm is not on PATH: install it with Node.js"
cd "$here/azurite"
want="$(sha256sum package-lock.json | cut -d' ' -f1) node $(node --version)"
stamp="node_modules/.chronik-install-stamp"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x node_modules/.bin/azurite-blob ]; then
	exit 0
fi
echo "emulator install: npm ci in $here/azurite (Azurite: about 1-3 min)"
npm ci --no-audit --no-fund --loglevel=error || fail "npm ci in $here/azurite failed (see its output above)"
echo "$want" >"$stamp"
