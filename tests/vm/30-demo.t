# SPDX-License-Identifier: GPL-2.0
# `peermap demo` (what `make demo` shows) works on this topology too.
. "$(dirname "$0")/tap.sh"
out=$(peermap demo 2>&1)
st=$?
echo "$out" | sed 's/^/# /'
ok $st "peermap demo exits 0"
is "$(echo "$out" | tail -n 1)" "demo: OK" "the demo's last line is 'demo: OK'"
is "$(echo "$out" | grep -c 'compared byte for byte: identical')" 2 "both copies identical"
done_testing
