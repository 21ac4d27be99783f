# SPDX-License-Identifier: GPL-2.0
# peermap: `make` builds everything, `make check` runs every test; `make
# user` and `make install` need neither root nor the bed (README: Install).
# See README.md and docs/testing.md.

KERNEL   ?= stock
B        := build
CC       ?= gcc
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CSTD     := -std=c11 -D_GNU_SOURCE
INC      := -Ilib -Iinclude/uapi
CFLAGS   ?= -O2 -g
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

LIB_SRC  := $(wildcard lib/*.c)
LIB_HDR  := $(wildcard lib/*.h include/uapi/peermap/*.h)
CLI_SRC  := $(wildcard cli/*.c)
CLI_HDR  := $(wildcard cli/*.h)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/san/tests/%,$(UNIT_SRC))

.PHONY: all deps modules modules_install user guest unit check check-debug demo bench checkpatch sparse \
	install uninstall packages check-packages clean

all: deps modules user guest

# What the test bed needs (QEMU, busybox, Debian's kernels and sources:
# apt-get, as root; quick and quiet once there). Everything that builds
# for the bed or runs it calls it: all, modules, guest, check, check-debug,
# demo, bench. User space (make user, make install) and make
# modules_install do not: they need a compiler, and root only to install.
# KERNEL=trixie or latest also makes their trixie build root
# (scripts/kernel-root): `make modules KERNEL=latest`.
deps:
	@scripts/deps $(KERNEL)

# Kernel modules for the stock 6.12 kernel (or KERNEL) and Debian 12's 6.1
# (compat).
modules: deps
	@scripts/build-modules $(KERNEL) >/dev/null
	@scripts/build-modules stock61 >/dev/null

# The modules for the kernel you run (or KDIR, a kernel build tree),
# installed by Kbuild's modules_install into /lib/modules/RELEASE/extra
# (INSTALL_MOD_DIR) under INSTALL_MOD_PATH. Needs that kernel's headers,
# not scripts/deps nor the bed's kernels. Distributions' build trees have
# no System.map, and Kbuild then skips depmod: for a real install (no
# INSTALL_MOD_PATH) it is run here, so that modprobe finds the modules.
KDIR            ?= /lib/modules/$(shell uname -r)/build
INSTALL_MOD_DIR ?= extra
modules_install:
	@if [ ! -d "$(KDIR)" ]; then \
		echo "modules_install: no kernel build tree at $(KDIR): install the kernel's headers (Debian: linux-headers-$$(uname -r)) or set KDIR" >&2; \
		exit 1; \
	fi
	@out=$$(scripts/build-modules --no-tests $(KDIR)) && \
	 $(MAKE) -C $(KDIR) M=$$out/kernel INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) modules_install && \
	 if [ -z "$(INSTALL_MOD_PATH)" ] && [ ! -e $(KDIR)/System.map ]; then \
		echo "  DEPMOD  $$(basename $$out)"; depmod -a $$(basename $$out); \
	 fi

# The version is written once, in include/uapi/peermap/version.h
# ("MAJOR.MINOR[.PATCH]"): the shared library is libpeermap.so.MAJOR (its
# soname) .MINOR.PATCH. docs/api.md says what changes which number.
VERSION  := $(shell sed -n 's/^.define PEERMAP_VERSION "\(.*\)"$$/\1/p' include/uapi/peermap/version.h)
ifeq ($(VERSION),)
$(error no PEERMAP_VERSION "MAJOR.MINOR[.PATCH]" in include/uapi/peermap/version.h)
endif
SOMAJOR  := $(word 1,$(subst ., ,$(VERSION)))
SONAME   := libpeermap.so.$(SOMAJOR)
LIB_SO   := $(SONAME).$(word 2,$(subst ., ,$(VERSION))).$(or $(word 3,$(subst ., ,$(VERSION))),0)
LIB_OBJ  := $(patsubst lib/%.c,$(B)/host/obj/%.o,$(LIB_SRC))

# Host library (static and shared) and CLI. Only what lib/peermap.h
# declares is exported (-fvisibility=hidden; the header says default).
user: $(B)/host/libpeermap.a $(B)/host/$(SONAME) $(B)/host/libpeermap.so $(B)/host/bin/peermap

$(B)/host/obj/%.o: lib/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden $(INC) -c $< -o $@

$(B)/host/libpeermap.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(B)/host/$(LIB_SO): $(LIB_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined -o $@ $^

# The run-time link (the soname) and the link-time one (-lpeermap).
$(B)/host/$(SONAME) $(B)/host/libpeermap.so: $(B)/host/$(LIB_SO)
	ln -sfn $(LIB_SO) $@

$(B)/host/bin/peermap: $(CLI_SRC) $(CLI_HDR) $(B)/host/libpeermap.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) $(INC) $(CLI_SRC) $(B)/host/libpeermap.a $(LDFLAGS) -o $@

# Programs for the test guest: static, no sanitizer runtime there.
GUEST_TESTS := $(patsubst tests/guest/%.c,$(B)/guest/bin/pm-%,$(wildcard tests/guest/*_test.c))
guest: deps $(B)/guest/bin/peermap $(GUEST_TESTS) $(B)/guest/bin/pm-bench

# The guest half of `make bench`; its kernel half is tests/kmod/pm_bench.c.
$(B)/guest/bin/pm-bench: tests/bench/bench.c tests/kmod/pm_bench.h $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) -static -pthread $(INC) -Itests/kmod $< $(LIB_SRC) -o $@

# The in-guest tests use the kernel's kselftest harness (tests/guest/harness.h),
# a system header here; its FIXTURE_SETUP/TEARDOWN define global functions.
GUEST_WARN := $(WARN) -Wno-missing-prototypes
$(B)/ksft/kselftest_harness.h: scripts/ksft-harness
	@scripts/ksft-harness $(@D)

# examples_test drives the skeleton modules through their ioctl headers.
EXAMPLE_HDR := $(wildcard examples/*/*.h)
$(B)/guest/bin/pm-%: tests/guest/%.c tests/guest/harness.h tests/guest/util.h tests/guest/vfio.h $(B)/ksft/kselftest_harness.h $(LIB_SRC) $(LIB_HDR) $(EXAMPLE_HDR)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(GUEST_WARN) $(CFLAGS) -static -pthread $(INC) -Itests/guest -isystem $(B)/ksft -Itests/kmod \
		$(addprefix -I,$(dir $(EXAMPLE_HDR))) $< $(LIB_SRC) -o $@

$(B)/guest/bin/peermap: $(CLI_SRC) $(CLI_HDR) $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) -static $(INC) $(CLI_SRC) $(LIB_SRC) -o $@

# Unit tests: host, ASan + UBSan, TAP on stdout. The route decision is
# kernel code built for user space too (kernel/core/route_rules.c).
KSHARED  := kernel/core/route_rules.c
$(B)/san/tests/%: tests/unit/%.c tests/unit/tap.h tests/unit/fakesys.h $(LIB_SRC) $(LIB_HDR) $(KSHARED) kernel/core/route_rules.h
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) $(INC) -Ikernel/core -Itests/unit $< $(LIB_SRC) $(KSHARED) -o $@

# The CLI's bind and unbind against a synthetic sysfs: the CLI without
# its main(), the test calling the subcommands.
CLI_LIB  := $(filter-out cli/main.c,$(CLI_SRC))
$(B)/san/tests/test_cli_bind: tests/unit/test_cli_bind.c tests/unit/tap.h tests/unit/fakesys.h $(CLI_LIB) $(CLI_HDR) $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) $(INC) -Icli -Itests/unit $< $(CLI_LIB) $(LIB_SRC) -o $@

# The harness's teardown after a failed ASSERT, built as the guest tests are
# (-O2, no sanitizer: the bug it guards against shows at -O2 only).
$(B)/san/tests/test_harness: tests/unit/test_harness.c $(B)/ksft/kselftest_harness.h
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(GUEST_WARN) $(CFLAGS) -isystem $(B)/ksft $< -o $@

unit: $(UNIT_BIN)

# CHECK_ARGS is passed to scripts/check, e.g. CHECK_ARGS="--topology switch".
check: all unit
	@scripts/check $(CHECK_ARGS)

# The whole in-guest suite on the debug kernel (KASAN, lockdep, kmemleak,
# DMA-API debug): any report fails it. The first run builds the kernel.
check-debug: all
	@scripts/debug-kernel >/dev/null
	@scripts/check --vm --kernel debug $(CHECK_ARGS)

# The end-to-end path in front of a person, on the switch topology.
demo: all
	@scripts/vm-run --topology switch -- peermap demo

# Benchmarks against upstream P2PDMA and pinned RAM (debug kernel, one
# boot): tables, CSV and a plot in bench-results/. docs/performance.md.
# Debian's newest kernel unless KERNEL is given (make bench KERNEL=debug).
bench: all
	@scripts/bench --kernel $(if $(filter file,$(origin KERNEL)),latest,$(KERNEL)) $(BENCH_ARGS)

checkpatch: deps
	@scripts/checkpatch

sparse: deps
	@out=$$(scripts/build-modules $(KERNEL) | tail -n 1); \
	 $(MAKE) -s -C /lib/modules/$$(basename $$out)/build M=$$out/kernel C=2 CHECK=sparse W=1 modules

# Install the library, its headers, peermap.pc, the CLI and the man pages
# (GNU-style directories; DESTDIR stages, PREFIX=/usr for a package). It
# needs `make user` only: neither scripts/deps nor a kernel (nor root, for
# a DESTDIR). Run as root without DESTDIR, it updates the loader's cache.
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL      ?= install
# <peermap.h> and, as it includes them, <peermap/*.h>: all in one folder,
# found with `pkg-config --cflags peermap` (-I$(INCLUDEDIR)/peermap).
HDRDIR       := $(INCLUDEDIR)/peermap
UAPI_HDR     := $(wildcard include/uapi/peermap/*.h)
# One man page link per function (man pm_obj_alloc), from lib/peermap.h.
lparen       := (
LIB_FUNCS    := $(shell sed -n 's/^[a-z].*[ *]\(pm_[a-z_]*\)$(lparen).*/\1/p' lib/peermap.h)

install: user
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(HDRDIR)/peermap \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 755 $(B)/host/bin/peermap $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 755 $(B)/host/$(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sfn $(LIB_SO) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(LIB_SO) $(DESTDIR)$(LIBDIR)/libpeermap.so
	$(INSTALL) -m 644 $(B)/host/libpeermap.a $(DESTDIR)$(LIBDIR)/
	$(INSTALL) -m 644 lib/peermap.h $(DESTDIR)$(HDRDIR)/
	$(INSTALL) -m 644 $(UAPI_HDR) $(DESTDIR)$(HDRDIR)/peermap/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    lib/peermap.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/peermap.pc
	$(INSTALL) -m 644 docs/man/peermap.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 644 docs/man/libpeermap.3 $(DESTDIR)$(MANDIR)/man3/
	@for f in $(LIB_FUNCS); do \
		echo '.so man3/libpeermap.3' > $(DESTDIR)$(MANDIR)/man3/$$f.3 || exit 1; \
	done
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/peermap \
	      $(addprefix $(DESTDIR)$(LIBDIR)/,$(LIB_SO) $(SONAME) libpeermap.so libpeermap.a) \
	      $(DESTDIR)$(HDRDIR)/peermap.h $(addprefix $(DESTDIR)$(HDRDIR)/peermap/,$(notdir $(UAPI_HDR))) \
	      $(DESTDIR)$(PKGCONFIGDIR)/peermap.pc $(DESTDIR)$(MANDIR)/man8/peermap.8 \
	      $(addprefix $(DESTDIR)$(MANDIR)/man3/,libpeermap.3 $(addsuffix .3,$(LIB_FUNCS)))
	rmdir $(DESTDIR)$(HDRDIR)/peermap $(DESTDIR)$(HDRDIR) 2>/dev/null || true
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

# Debian packages in build/packages/: peermap-dkms, libpeermap0,
# libpeermap-dev, peermap-tools (scripts/make-packages; needs dpkg-dev).
packages:
	@scripts/make-packages $(B)/packages

# They, installed with DKMS in a clean Debian 13 system with two kernels
# (part of make check; root, the Debian archive).
check-packages:
	@tests/packages/test_packages.sh

clean:
	rm -rf $(B)
