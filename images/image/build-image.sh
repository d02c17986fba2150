#!/bin/bash
# build-image.sh ARCH OUT BIN: build a Debian 12 (bookworm) appliance image
# for ARCH (amd64 or arm64) into the folder OUT, with the sluice programs
# from the folder BIN.
#
# mmdebstrap (Debian package) makes the root file system from Debian's
# repositories, with the apt sources of this machine. The script installs
# the programs, units, tuning files and configuration into it, enables
# both daemons and packs it as an ext4 file system image. OUT gets
#   rootfs.ext4   the root file system (boot it with root=/dev/vda)
#   vmlinuz, initrd.img   the kernel and initramfs installed in it
# NOTE: the image has no partition table and no boot loader; qemu boots
# it with -kernel/-initrd (see boot-test.sh). A disk for bare metal needs
# GRUB or systemd-boot on an EFI partition, which this script does not add.
set -euo pipefail

ARCH=${1:?usage: build-image.sh amd64|arm64 OUT BIN}
OUT=${2:?usage: build-image.sh ARCH OUT BIN}
BIN=${3:?usage: build-image.sh ARCH OUT BIN}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
IMG=$TOP/images
SIZE=${IMAGE_SIZE:-3G}

die() {
	echo "build-image: $*" >&2
	exit 1
}

case $ARCH in
amd64) kernel=linux-image-amd64 ;;
arm64) kernel=linux-image-arm64 ;;
*) die "invalid ARCH '$ARCH': expected amd64 or arm64" ;;
esac
[[ $(id -u) -eq 0 ]] || die "must run as root (mmdebstrap --mode=root)"
command -v mmdebstrap >/dev/null || die "mmdebstrap not found: apt-get install mmdebstrap"
for prog in sluiced sluice-ctld sluicectl; do
	[[ -x $BIN/$prog ]] || die "$BIN/$prog not found: build the $ARCH programs first"
done
file -L "$BIN/sluiced" | grep -q "$([[ $ARCH == amd64 ]] && echo x86-64 || echo aarch64)" ||
	die "$BIN/sluiced is not an $ARCH program: $(file -bL "$BIN/sluiced")"

# Runtime libraries of the programs, as the Debian packages that contain them
# on this machine (for arm64, the :arm64 packages of the cross build).
runtime_packages() {
	local lib
	for prog in sluiced sluice-ctld sluicectl; do
		objdump -p "$BIN/$prog" | awk '/NEEDED/ {print $2}'
	done | sort -u | while read -r lib; do
		dpkg -S "*/$lib" 2>/dev/null | grep -E "(^|:)$ARCH:|^[^:]+: " | head -1 | cut -d: -f1
	done | sort -u
}
mapfile -t libs < <(runtime_packages)
[[ ${#libs[@]} -gt 0 ]] || die "could not map the programs' libraries to Debian packages"

# The host's own apt sources, so packages come from the same Debian
# mirror this machine uses.
sources=/etc/apt/sources.list.d/debian.sources
[[ -f $sources ]] || sources=/etc/apt/sources.list
[[ -f $sources ]] || die "no apt sources found on this machine"

ROOT=$OUT/root
rm -rf "$ROOT"
mkdir -p "$OUT"
packages=(systemd-sysv "$kernel" udev iproute2 procps python3 python3-yaml dpdk kmod "${libs[@]}")
echo "build-image: packages: ${packages[*]}"
mmdebstrap --mode=root --arch="$ARCH" --variant=important \
	--include="$(IFS=,; echo "${packages[*]}")" \
	bookworm "$ROOT" "$sources"

install -m 755 "$BIN/sluiced" "$BIN/sluice-ctld" "$ROOT/usr/sbin/"
install -m 755 "$BIN/sluicectl" "$ROOT/usr/bin/"
install -m 755 "$IMG/tuning/sluice-cpus" "$IMG/tuning/sluice-dpdk-bind" "$ROOT/usr/sbin/"
install -D -m 644 "$TOP/ctl/rules/providers.yaml" "$ROOT/usr/share/sluice/providers.yaml"
install -D -m 644 "$IMG/systemd/sluiced.service" "$ROOT/usr/lib/systemd/system/sluiced.service"
install -D -m 644 "$IMG/systemd/sluice-ctld.service" "$ROOT/usr/lib/systemd/system/sluice-ctld.service"
install -D -m 644 "$IMG/image/sluice-smoke.service" "$ROOT/usr/lib/systemd/system/sluice-smoke.service"
install -D -m 755 "$IMG/image/smoke-test" "$ROOT/usr/lib/sluice/smoke-test"
install -D -m 644 "$IMG/systemd/sluice.sysusers" "$ROOT/usr/lib/sysusers.d/sluice.conf"
install -D -m 644 "$IMG/systemd/sluice.tmpfiles" "$ROOT/usr/lib/tmpfiles.d/sluice.conf"
install -D -m 644 "$IMG/tuning/90-sluice.conf" "$ROOT/etc/sysctl.d/90-sluice.conf"
install -D -m 644 "$TOP/docs/images.md" "$ROOT/usr/share/doc/sluice/images.md"
systemd-sysusers --root="$ROOT" "$IMG/systemd/sluice.sysusers"
systemd-tmpfiles --root="$ROOT" --create "$IMG/systemd/sluice.tmpfiles"
install -m 640 -g "$(awk -F: '$1 == "sluice" {print $3}' "$ROOT/etc/group")" \
	"$IMG/config/sluice.yaml" "$ROOT/etc/sluice/sluice.yaml"
systemctl --root="$ROOT" enable sluiced.service sluice-ctld.service
echo sluice >"$ROOT/etc/hostname"
# The root file system is the whole virtual disk.
echo "/dev/vda / ext4 defaults 0 1" >"$ROOT/etc/fstab"

cp -L "$ROOT/vmlinuz" "$OUT/vmlinuz"
cp -L "$ROOT/initrd.img" "$OUT/initrd.img"
rm -f "$OUT/rootfs.ext4"
mkfs.ext4 -q -L sluice-root -d "$ROOT" "$OUT/rootfs.ext4" "$SIZE"
rm -rf "$ROOT"
echo "build-image: $OUT/rootfs.ext4, $OUT/vmlinuz, $OUT/initrd.img"
