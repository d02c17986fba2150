#!/usr/bin/env bash
# Appliance image files: the systemd units verify against the built
# binaries, sysusers.d and tmpfiles.d create the user and folders in a
# temporary root, the sysctl file parses, sluice-cpus computes definite
# kernel command lines, sluice-dpdk-bind rejects missing devices without
# binding anything, and both daemons start under the units' sandbox
# settings (systemd transient units when systemd is PID 1, otherwise
# setpriv and a read-only mount namespace with the same user,
# capabilities and writable paths).
. "$(dirname "$0")/../lib.sh"

IMG=$TOP/images
T=$(make_tmpdir)

# --- systemd units --------------------------------------------------------

# A root that holds the binaries at the paths the units name and the
# host's own unit library (for the targets the units are ordered after).
R=$T/root
mkdir -p "$R/usr/sbin" "$R/usr/bin" "$R/usr/lib/systemd" "$R/etc/systemd/system"
ln -s usr/bin "$R/bin"
ln -s usr/sbin "$R/sbin"
cp "$BIN/sluiced" "$BIN/sluice-ctld" "$R/usr/sbin/"
cp "$BIN/sluicectl" /usr/bin/kill "$R/usr/bin/"
cp -a /usr/lib/systemd/system "$R/usr/lib/systemd/"
cp "$IMG/systemd/sluiced.service" "$IMG/systemd/sluice-ctld.service" "$R/etc/systemd/system/"

# verify exits 0 on unknown keys and bad values and only prints them, so
# the check is an empty output as well as the exit status.
verify_units() {
	systemd-analyze verify --man=no --root="$1" sluiced.service sluice-ctld.service 2>&1
}
out=$(verify_units "$R")
check_eq "units verify exit status" "0" "$?"
check_eq "units verify without warnings" "" "$out"

# The same check fails on a broken copy, so it can fail at all.
B=$T/broken
cp -a "$R" "$B"
sed -i 's/^ProtectSystem=strict/ProtectSystem=everything/' "$B/etc/systemd/system/sluiced.service"
check "verify reports a bad value" grep -q "ProtectSystem\|protect system" <<<"$(verify_units "$B")"
rm "$B/usr/sbin/sluice-ctld"
check "verify reports a missing binary" grep -q "sluice-ctld is not executable" <<<"$(verify_units "$B")"
rm -rf "$B"

# sysusers.d and tmpfiles.d applied to the temporary root, never the host.
mkdir -p "$R/etc"
: >"$R/etc/passwd"
: >"$R/etc/group"
systemd-sysusers --root="$R" "$IMG/systemd/sluice.sysusers" 2>"$T/sysusers.err"
check_eq "sysusers exit status" "0" "$?"
check_eq "sysusers made user sluice" "sluice" "$(cut -d: -f1 "$R/etc/passwd" | grep -x sluice)"
check_eq "sysusers made group sluice" "sluice" "$(cut -d: -f1 "$R/etc/group" | grep -x sluice)"
systemd-tmpfiles --root="$R" --create "$IMG/systemd/sluice.tmpfiles" 2>"$T/tmpfiles.err"
check_eq "tmpfiles exit status" "0" "$?"
check_eq "tmpfiles warnings" "" "$(cat "$T/tmpfiles.err")"
uid=$(awk -F: '$1 == "sluice" {print $3}' "$R/etc/passwd")
gid=$(awk -F: '$1 == "sluice" {print $3}' "$R/etc/group")
check_eq "key store mode and owner" "700 $uid:$gid" "$(stat -c '%a %u:%g' "$R/var/lib/sluice/keys")"
check_eq "state folder mode" "700" "$(stat -c %a "$R/var/lib/sluice")"
check_eq "spool mode and owner" "750 $uid:$gid" "$(stat -c '%a %u:%g' "$R/var/spool/sluice")"
check_eq "run folder mode" "750" "$(stat -c %a "$R/run/sluice")"
check_eq "config folder owner" "750 0:$gid" "$(stat -c '%a %u:%g' "$R/etc/sluice")"

# --- sysctl --------------------------------------------------------------

# --dry-run with /proc/sys read-only in a private mount namespace: every
# key must exist and parse, and nothing can be written to the host even
# if sysctl tried.
sysctl_dry_run() {
	unshare --mount --propagation private sh -c '
		mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys &&
		exec sysctl --dry-run -p "$1"' sh "$1" 2>&1 >/dev/null
}
out=$(sysctl_dry_run "$IMG/tuning/90-sluice.conf")
check_eq "sysctl file dry run status" "0" "$?"
check_eq "sysctl file dry run errors" "" "$out"
check_eq "sysctl file keys" "17" "$(grep -c '^[a-z]' "$IMG/tuning/90-sluice.conf")"
printf 'net.core.somaxconn = 4096\nnet.ipv4.no_such_key = 1\n' >"$T/bad-sysctl.conf"
check "sysctl dry run rejects an unknown key" grep -q "no_such_key" <<<"$(sysctl_dry_run "$T/bad-sysctl.conf")"

# --- sluice-cpus ---------------------------------------------------------

CPUS=$IMG/tuning/sluice-cpus
printf 'sluiced:\n  cpus: [1, 3-5]\n' >"$T/cpus.yaml"
printf 'sluiced:\n  log_level: info\n' >"$T/nocpus.yaml"
printf 'sluiced:\n  workers: 8\n  cpus: [2-3]\n' >"$T/shared.yaml"
printf 'sluiced:\n  cpus: [0-3]\n' >"$T/all.yaml"
check_eq "cpus explicit list" \
	"isolcpus=managed_irq,domain,1,3-5 rcu_nocbs=1,3-5 irqaffinity=0,2,6-7" \
	"$("$CPUS" -c "$T/cpus.yaml" --online 0-7)"
check_eq "cpus default list" \
	"isolcpus=managed_irq,domain,1-3 rcu_nocbs=1-3 irqaffinity=0" \
	"$("$CPUS" -c "$T/nocpus.yaml" --online 0-3)"
check_eq "cpus dpdk 2M pages" \
	"isolcpus=managed_irq,domain,1,3-5 nohz_full=1,3-5 rcu_nocbs=1,3-5 irqaffinity=0,2,6-7 default_hugepagesz=2M hugepagesz=2M hugepages=1280" \
	"$("$CPUS" -c "$T/cpus.yaml" --online 0-7 --backend dpdk)"
check_eq "cpus dpdk 1G pages, 8 workers" \
	"isolcpus=managed_irq,domain,2-3 nohz_full=2-3 rcu_nocbs=2-3 irqaffinity=0-1 default_hugepagesz=1G hugepagesz=1G hugepages=5" \
	"$("$CPUS" -c "$T/shared.yaml" --online 0-3 --backend dpdk --hugepage-size 1G)"
check_eq "cpus explain" "worker CPUs: 2-3 (8 workers)
housekeeping CPUs: 0-1
isolcpus=managed_irq,domain,2-3 rcu_nocbs=2-3 irqaffinity=0-1" "$("$CPUS" -c "$T/shared.yaml" --online 0-3 --explain)"
err=$("$CPUS" -c "$T/cpus.yaml" --online 0-3 2>&1)
check_eq "cpus offline CPU status" "2" "$?"
check_eq "cpus offline CPU message" \
	"sluice-cpus: sluiced.cpus names CPUs that are not online: 4-5 (online: 0-3)" "$err"
err=$("$CPUS" -c "$T/all.yaml" --online 0-3 2>&1)
check_eq "cpus no housekeeping CPU status" "2" "$?"
check "cpus no housekeeping CPU message" grep -q "covers every online CPU" <<<"$err"
err=$("$CPUS" -c "$T/missing.yaml" --online 0-3 2>&1)
check_eq "cpus missing config status" "2" "$?"
check "cpus missing config message" grep -q "cannot read configuration '$T/missing.yaml'" <<<"$err"
check_eq "cpus appliance config on 4 CPUs" \
	"isolcpus=managed_irq,domain,1-3 rcu_nocbs=1-3 irqaffinity=0" \
	"$("$CPUS" -c "$IMG/config/sluice.yaml" --online 0-3)"

# --- sluice-dpdk-bind (never binds: --dry-run and --status only) ---------

DPDK=$IMG/tuning/sluice-dpdk-bind
err=$("$DPDK" --dry-run 0000:7f:1f.7 2>&1)
check_eq "dpdk missing PCI device status" "1" "$?"
check_eq "dpdk missing PCI device message" \
	"sluice-dpdk-bind: PCI device 0000:7f:1f.7 not found in /sys/bus/pci/devices; 'sluice-dpdk-bind --status' lists the network devices" "$err"
err=$("$DPDK" --dry-run no-such-nic$$ 2>&1)
check_eq "dpdk missing interface status" "1" "$?"
check "dpdk missing interface message" grep -q "device 'no-such-nic$$' not found" <<<"$err"
err=$("$DPDK" --dry-run 2>&1)
check_eq "dpdk no device status" "1" "$?"
check "dpdk no device message" grep -q "no device given" <<<"$err"
err=$(SLUICE_DEVBIND=$T/no-devbind "$DPDK" --status 2>&1)
check_eq "dpdk without dpdk-devbind status" "1" "$?"
check "dpdk without dpdk-devbind message" grep -q "install the Debian package dpdk" <<<"$err"
out=$("$DPDK" --status 2>/dev/null)
check_eq "dpdk status exit status" "0" "$?"
check "dpdk status lists kernel drivers" grep -q "Network devices using kernel driver" <<<"$out"

finish
