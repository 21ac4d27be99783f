#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The skeleton exporter and importer (examples/) work, not only build: one
# guest on the `switch` topology loads them, binds them through
# driver_override, maps an object, sees PEER segments, revokes, sees the
# importer's callback, unbinds (tests/vm/examples.sh, tests/guest/
# examples_test.c). Their TAP is this test's output.
top=$(cd "$(dirname "$0")/../.." && pwd)
if ! build=$("$top/scripts/build-examples" stock 2>&1); then
	echo "Bail out! the examples do not build:"
	sed 's/^/# /' <<<"$build"
	exit 1
fi
exec "$top/scripts/vm-run" --topology switch \
	-- sh /usr/local/share/peermap/tests/examples.sh
