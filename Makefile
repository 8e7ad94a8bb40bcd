# The two set-up commands of the README, and a few conveniences.  Meson and
# Ninja do the building; this file only orders the steps.
BUILD ?= build
ASAN_BUILD ?= build-asan
INSTALL_BUILD ?= build-install
PREFIX ?= /opt/picket
POLICY ?= etc/policy.conf

.PHONY: all deps run check build asan install uninstall clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

$(ASAN_BUILD)/build.ninja:
	CC=clang meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=undefined -Dfuzz=enabled

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

# The connector in the foreground on the shipped default policy (as root),
# with the scan service from the same build.
run: build
	$(BUILD)/src/daemon/picketd -f -c $(POLICY) --scand $(BUILD)/src/scand/picket-scand

# Every test: unit, end-to-end and fuzz, on a normal and a sanitized build.
check: build asan
	scripts/check.sh $(BUILD) $(ASAN_BUILD)

$(INSTALL_BUILD)/build.ninja:
	meson setup $(INSTALL_BUILD) --prefix=$(PREFIX) --sbindir=sbin --bindir=bin \
		--libexecdir=libexec --datadir=share --sysconfdir=/etc --buildtype=release

# Installs under $(PREFIX), creates the scan user and the admin group, the
# unit and (where SELinux is on) the picket_bpf module.  Idempotent.
install: deps $(INSTALL_BUILD)/build.ninja
	ninja -C $(INSTALL_BUILD)
	packaging/install.sh $(INSTALL_BUILD)

uninstall:
	packaging/install.sh --uninstall $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(INSTALL_BUILD)
