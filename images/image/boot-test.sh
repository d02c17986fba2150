#!/bin/bash
# boot-test.sh ARCH DIR: boot the image that build-image.sh made in DIR
# under qemu-system (KVM for amd64 where /dev/kvm exists, TCG otherwise
# and always for arm64), with no network device. The image's
# sluice-smoke.service waits for both daemons and for sluicectl status to show them linked, prints
# "sluice-smoke: PASS ..." on the serial console and powers off. Exit
# status 0 only for that line; the boot is stopped after BOOT_TIMEOUT
# seconds (default 600 for amd64, 1500 for arm64 under TCG).
# BOOT_ACCEL=tcg makes amd64 use TCG too.
set -uo pipefail

ARCH=${1:?usage: boot-test.sh amd64|arm64 DIR}
DIR=${2:?usage: boot-test.sh ARCH DIR}
LOG=$DIR/console.log

die() {
	echo "boot-test: $*" >&2
	exit 1
}

for f in rootfs.ext4 vmlinuz initrd.img; do
	[[ -f $DIR/$f ]] || die "$DIR/$f not found: run 'make image ARCH=$ARCH' first"
done

# A copy, so the test boot leaves the built image as it was.
disk=$DIR/boot-test.ext4
cp --sparse=always "$DIR/rootfs.ext4" "$disk"
append="root=/dev/vda rw console=ttyS0 systemd.wants=sluice-smoke.service"
case $ARCH in
amd64)
	qemu=qemu-system-x86_64
	machine=(-machine q35 -cpu max)
	# BOOT_ACCEL=tcg forces emulation where KVM exists but fails (some
	# nested hosts reject -cpu host's MSRs).
	if [[ -w /dev/kvm && ${BOOT_ACCEL:-kvm} == kvm ]]; then
		machine=(-machine q35,accel=kvm -cpu host)
	fi
	timeout=${BOOT_TIMEOUT:-600}
	;;
arm64)
	qemu=qemu-system-aarch64
	machine=(-machine virt -cpu max)
	append=${append/ttyS0/ttyAMA0}
	timeout=${BOOT_TIMEOUT:-1500}
	;;
*) die "invalid ARCH '$ARCH': expected amd64 or arm64" ;;
esac
command -v "$qemu" >/dev/null || die "$qemu not found: apt-get install qemu-system-x86 (or qemu-system-arm)"

echo "boot-test: booting $ARCH with $qemu ${machine[*]}, limit ${timeout}s, console in $LOG"
timeout --kill-after=10 "$timeout" "$qemu" "${machine[@]}" -smp 2 -m 2048 \
	-nographic -no-reboot -nic none \
	-kernel "$DIR/vmlinuz" -initrd "$DIR/initrd.img" -append "$append" \
	-drive "file=$disk,format=raw,if=virtio" >"$LOG" 2>&1
rc=$?
rm -f "$disk"
grep -a "sluice-smoke:" "$LOG" | tr -d '\r'
if grep -aq "sluice-smoke: PASS" "$LOG"; then
	echo "boot-test: PASS"
	exit 0
fi
[[ $rc -eq 124 ]] && echo "boot-test: timed out after ${timeout}s" >&2
echo "boot-test: FAIL (qemu exit $rc); last console lines:" >&2
tail -n 30 "$LOG" | tr -d '\r' >&2
exit 1
