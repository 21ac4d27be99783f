# SPDX-License-Identifier: GPL-2.0
# The peermap command's manners: --help (doing nothing else) and --version
# (with the loaded modules' versions, which must be the same) on stdout with
# status 0, usage errors on stderr with status 2, naming what was wrong,
# and a pointer to --help (no usage dump), operation failures with status 1 and a message that says
# what to do (a size over the BAR, missing modules or device nodes), and no
# peer route as status 3 naming the pair. Runs before 60-inval, which takes
# the exporter away on some topologies.
. "$(dirname "$0")/tap.sh"
. /etc/peermap/topology
params=/sys/module/peermap/parameters

devs=$(peermap devices)
exp=$(echo "$devs" | awk '$1 == "exporter" && $3 == "1af4:1110" {print $2}')
imp=$(echo "$devs" | awk '$1 == "importer" {print $2}')
diag "exporter $exp, importer $imp"

pm() {	# pm ARGS...: run peermap; sets $st, $out (stdout), $err (stderr)
	peermap "$@" >/tmp/cli.out 2>/tmp/cli.err
	st=$?
	out=$(cat /tmp/cli.out)
	err=$(cat /tmp/cli.err)
}

show() {	# show: what the last pm printed, as TAP comments
	echo "#   status $st; stdout:"
	echo "$out" | sed 's/^/#     /'
	echo "#   stderr:"
	echo "$err" | sed 's/^/#     /'
}

expect() {	# expect STATUS STDOUT-PART STDERR-PART DESCRIPTION
	# Passes when the last pm exited STATUS and each part ("" for none
	# wanted, "-" for "must be empty") is a substring of that stream.
	_ok=0
	[ "$st" = "$1" ] || _ok=1
	case $2 in
	"") ;; -) [ -z "$out" ] || _ok=1 ;;
	*) case $out in *"$2"*) ;; *) _ok=1 ;; esac ;;
	esac
	case $3 in
	"") ;; -) [ -z "$err" ] || _ok=1 ;;
	*) case $err in *"$3"*) ;; *) _ok=1 ;; esac ;;
	esac
	ok $_ok "$4"
	[ $_ok -eq 0 ] || show
}

# --help / -h: usage on stdout, status 0, for the command and each subcommand.
for h in --help -h help; do
	pm $h
	expect 0 "usage: peermap COMMAND" - "peermap $h: usage on stdout, status 0"
done
pm --help
expect 0 "2 usage error" - "peermap --help documents the exit statuses"
case $out in *"3 no peer route"*) _s=0 ;; *) _s=1 ;; esac
ok $_s "peermap --help documents status 3 (no peer route)"
for sub in devices alloc copy segments topo route bind unbind demo; do
	for h in --help -h; do
		pm $sub $h
		expect 0 "usage: peermap $sub" - "peermap $sub $h: usage on stdout, status 0"
	done
done
# --help does nothing else: each of these fails (status 1) without it.
pm alloc 1G --help
expect 0 "usage: peermap alloc" - "alloc 1G --help: usage, status 0, nothing allocated"
pm copy --bar 7 --size 4K -h
expect 0 "usage: peermap copy" - "copy --bar 7 -h: usage, status 0, no copy tried"
pm segments --help --bar 7
expect 0 "usage: peermap segments" - "segments --help --bar 7: usage, status 0"
pm route 0000:7f:1f.7 "$imp" --help
expect 0 "usage: peermap route" - "route of an unknown device --help: usage, status 0"

# --version: the command's version, then each loaded module's, the same.
pm --version
expect 0 "peermap " - "peermap --version prints the version, no warning"
echo "$out" | head -n 1 | grep -qx 'peermap [0-9][0-9.]*[0-9A-Za-z.~+-]*'
ok $? "version line is 'peermap VERSION'"
version=$(echo "$out" | head -n 1 | cut -d' ' -f2)
for m in peermap peermap_bar peermap_edu; do
	is "$(cat /sys/module/$m/version)" "$version" "module $m reports the CLI's version ($version)"
	case $out in *"module $m $version"*) _s=0 ;; *) _s=1 ;; esac
	ok $_s "peermap --version prints 'module $m $version'"
	[ $_s -eq 0 ] || show
done
# A loaded module of another version (a synthetic sysfs): a warning.
mkdir -p /tmp/fakesys/module/peermap /tmp/fakesys/module/peermap_bar
echo 0.0.1 > /tmp/fakesys/module/peermap/version
export PEERMAP_SYSFS=/tmp/fakesys
pm --version
unset PEERMAP_SYSFS
expect 0 "module peermap 0.0.1" "warning: the loaded module peermap is version 0.0.1, this peermap is $version" \
	"--version with another module version: status 0, warns naming both"
case $err in *"module peermap_bar reports no version"*) _s=0 ;; *) _s=1 ;; esac
ok $_s "--version with a module without a version: warns"
[ $_s -eq 0 ] || show

# Usage errors: status 2, on stderr only, naming the command, with a pointer
# to --help and without the whole usage.
pm
expect 2 - "peermap --help" "no command: status 2, stderr"
pm frob
expect 2 - "unknown command 'frob'" "unknown command: status 2, says which"
pm --frob
expect 2 - "peermap: unknown option '--frob'" "unknown option before the command: status 2, says which"
usage_error() {	# usage_error WHAT-STDERR-SAYS DESCRIPTION -- ARGS...
	_w=$1 _d=$2
	shift 3
	pm "$@"
	_sub=$1
	expect 2 - "peermap $_sub: $_w" "$_d: status 2, says '$_w'"
	case $err in *"peermap $_sub --help"*) _s=0 ;; *) _s=1 ;; esac
	case $err in *usage:*) _s=1 ;; esac
	ok $_s "$_d: points at 'peermap $_sub --help', no usage dump"
	[ $_s -eq 0 ] || show
}
usage_error "unknown option '--frob'" "devices --frob" -- devices --frob
usage_error "unknown option '--frob'" "topo --frob" -- topo --frob
usage_error "unknown option '--frob'" "copy --frob" -- copy --frob
usage_error "unexpected argument 'x'" "demo x" -- demo x
usage_error "needs PROVIDER and CLIENT" "route with one name" -- route "$exp"
usage_error "missing SIZE" "alloc without a size" -- alloc
usage_error "bad --size '12Q'" "copy --size 12Q" -- copy --size 12Q
usage_error "bad --size '0'" "copy --size 0" -- copy --size 0
usage_error "bad --size '-1'" "copy --size -1" -- copy --size -1
usage_error "bad --size '12Q'" "segments --size 12Q" -- segments --size 12Q
usage_error "bad --src-offset 'x'" "copy --src-offset x" -- copy --src-offset x
usage_error "bad SIZE '12Q'" "alloc 12Q" -- alloc 12Q
usage_error "bad SIZE '0'" "alloc 0" -- alloc 0
usage_error "bad --from 'gpu'" "copy --from gpu" -- copy --from gpu
usage_error "--size needs a value" "copy --size without a value" -- copy --size
# Per command: an option it does not take, a missing value, a bad number.
usage_error "unexpected argument 'x'" "devices x" -- devices x
usage_error "unknown option '-x'" "devices -x" -- devices -x
usage_error "unknown option '--evict'" "alloc --evict (copy's)" -- alloc 4K --evict
usage_error "--bar needs a value" "alloc --bar without a value" -- alloc 4K --bar
usage_error "bad --bar 'x': expected a device number" "alloc --bar x" -- alloc 4K --bar x
usage_error "bad --hold '1K': expected a number of seconds" "alloc --hold 1K" -- alloc 4K --hold 1K
usage_error "unexpected argument '8K'" "alloc with two sizes" -- alloc 4K 8K
usage_error "unknown option '--where'" "copy --where (segments')" -- copy --where dev
usage_error "bad --bar '1025': expected a device number, 0 to 1024" "copy --bar 1025" -- copy --bar 1025
usage_error "bad --edu '-1'" "copy --edu -1" -- copy --edu -1
usage_error "bad --seed '1x': expected a number" "copy --seed 1x" -- copy --seed 1x
usage_error "unknown option '--evict'" "segments --evict (copy's)" -- segments --evict
usage_error "--where needs a value" "segments --where without a value" -- segments --where
usage_error "bad --access 'x': expected r, w or rw" "segments --access x" -- segments --access x
usage_error "bad --edu 'one'" "segments --edu one" -- segments --edu one
usage_error "--json or --dot, not both" "topo --json --dot" -- topo --json --dot
usage_error "unexpected argument 'all'" "topo all" -- topo all
usage_error "unknown option '--json'" "route --json" -- route --json "$exp" "$imp"
usage_error "bad CLIENT 'gpu': not a PCI name" "route to a non-PCI name" -- route "$exp" gpu
usage_error "bad PROVIDER '00:zz.0'" "route from a bad PCI name" -- route 00:zz.0 "$imp"
usage_error "unknown option '--frob'" "demo --frob" -- demo --frob
usage_error "missing BDF" "bind without a device" -- bind
usage_error "bad BDF 'gpu': not a PCI name" "bind of a non-PCI name" -- bind gpu
usage_error "unexpected argument 'x'" "unbind with two names" -- unbind "$exp" x

# bind / unbind that change nothing: the exporter is peermap_bar's already,
# the importer peermap_edu's (refused without --force), no such device.
pm bind "$exp"
expect 0 "$exp is already bound to peermap_bar (/dev/peermap-bar" - "bind of the exporter: already bound, status 0"
pm bind "$imp"
expect 1 - "peermap_edu holds $imp: its /dev/peermap-* node goes away and every mapping of it is revoked; add --force to take it" \
	"bind of the importer: refused without --force, says what it costs"
is "$(basename "$(readlink /sys/bus/pci/devices/$imp/driver)")" peermap_edu "the importer stays peermap_edu's"
pm unbind 0000:7f:1f.7
expect 1 - "no PCI device 0000:7f:1f.7 (no /sys/bus/pci/devices/0000:7f:1f.7" "unbind of an absent device: status 1, says so"

# route A B: the pair in the order given (provider first).
pm route "$exp" "$imp"
echo "$out" | head -n 1 | grep -q "^route $exp -> $imp: "
_s=$?
ok $_s "route A B prints 'route A -> B'"
[ $_s -eq 0 ] || show

# An object larger than the BAR: the message gives the BAR's size.
pm alloc 1G
expect 1 - "BAR2 (64 MiB)" "alloc 1G: status 1, names the BAR and its size"
pm copy --from dev --to ram --size 100M
expect 1 - "BAR2 (64 MiB)" "copy of 100M from dev: status 1, names the BAR and its size"

# No peer route (the pair denied by the administrator): status 3, the pair
# named, and a pointer at `peermap route`.
cat $params/overrides > /tmp/overrides
echo "deny:$exp,$imp" > $params/overrides
ok $? "deny the pair"
noroute="no peer route from $exp to $imp (see peermap route $exp $imp)"
pm copy --from dev --to ram --size 4K
expect 3 - "peermap copy: $noroute" "copy without a route: status 3, names the pair"
pm segments --where dev --size 4K
expect 3 - "peermap segments: $noroute" "segments without a route: status 3, names the pair"
pm route "$exp" "$imp"
expect 3 "none" - "route of a denied pair: status 3"
pm segments --where ram --size 4K
expect 0 "ram" - "segments of RAM still work"
cat /tmp/overrides > $params/overrides
pm copy --size 4K
expect 0 "verified" - "the pair allowed again: copy works"

# Device nodes that are not there: say which module to load.
pm copy --bar 7 --size 4K
expect 1 - "no /dev/peermap-bar7" "copy --bar 7: status 1, names the node"
case $err in *"peermap devices"*) _s=0 ;; *) _s=1 ;; esac
ok $_s "and points at peermap devices (peermap_bar is loaded)"
run "unload the modules" pm-modules unload
pm --version
expect 0 "peermap $version" - "--version without the modules: status 0, no warning"
case $out in *module*) _s=1 ;; *) _s=0 ;; esac
ok $_s "and no module line"
[ $_s -eq 0 ] || show
pm copy --size 4K
expect 1 - "no /dev/peermap-bar0: is peermap_bar loaded?" "copy without modules: says to load peermap_bar"
pm segments --where ram --size 4K
expect 1 - "no /dev/peermap-edu0: is peermap_edu loaded?" "segments without modules: says to load peermap_edu"
pm route "$exp" "$imp"
expect 1 - "no /dev/peermap: is peermap loaded?" "route without modules: says to load peermap"
pm topo
expect 1 - "no /dev/peermap: is peermap loaded?" "topo without modules: says to load peermap"
pm demo
expect 1 "" "is peermap_bar loaded?" "demo without modules: says to load peermap_bar"
run "load the modules again" pm-modules load
pm copy --size 4K
expect 0 "verified" - "and copy again"

done_testing
