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

# A root that contains the binaries at the paths the units name and the
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

# --- both daemons under the units' sandbox settings ------------------------

# Loopback-only configuration inside a network namespace of this test, so
# sluiced can listen on port 25 as the appliance does.
NS=sluice-images-$$
ip netns add "$NS"
on_exit_netns "$NS"
ip -n "$NS" link set lo up
S=$T/sandbox
mkdir -p "$S/etc" "$S/spool" "$S/run" "$S/lib/keys"
chmod 755 "$T" "$S" "$S/etc"
chown 65534:65534 "$S/spool" "$S/run" "$S/lib" "$S/lib/keys"
chmod 700 "$S/lib" "$S/lib/keys"
SHM=/sluice-images-$$
on_exit_remove "/dev/shm$SHM"
sed -e "s|/var/spool/sluice|$S/spool|; s|/run/sluice|$S/run|; s|/var/lib/sluice|$S/lib|" \
	-e "s|socket_owner: sluice|socket_owner: nobody|; s|socket_group: sluice|socket_group: nogroup|" \
	-e "s|sluiced_user: sluice|sluiced_user: nobody|" \
	-e "s|/usr/share/sluice/providers.yaml|$TOP/ctl/rules/providers.yaml|" \
	"$IMG/config/sluice.yaml" >"$S/etc/sluice.yaml"
cat >>"$S/etc/sluice.yaml" <<YAML
  shm: $SHM
YAML
# The appended key belongs to the metrics section; move it there.
$PY - "$S/etc/sluice.yaml" <<'PYEOF'
import sys
path = sys.argv[1]
lines = open(path).read().splitlines()
shm = lines.pop()
lines.insert(lines.index("metrics:") + 1, shm)
open(path, "w").write("\n".join(lines) + "\n")
PYEOF
chmod 644 "$S/etc/sluice.yaml"
check_eq "appliance config checks" "0" "$("$BIN/sluiced" -c "$S/etc/sluice.yaml" -t >/dev/null 2>&1; echo $?)"
check_eq "appliance config checks in ctld" "0" "$("$BIN/sluice-ctld" -c "$S/etc/sluice.yaml" -t >/dev/null 2>&1; echo $?)"
export SLUICE_CTL_SOCKET=$S/run/ctl.sock

# unit_value UNIT KEY: the value of KEY in the unit file.
unit_value() { sed -n "s/^$2=//p" "$IMG/systemd/$1"; }

# sandboxed UNIT COMMAND...: run COMMAND in the test's network namespace
# with what UNIT sets: user nobody in place of sluice, the unit's
# capability bounding and ambient sets, no_new_privs, LimitNOFILE and
# LimitMEMLOCK, a read-only file system except the unit's
# ReadWritePaths (here the test's folders) and a private /tmp.
# ProtectSystem=strict, PrivateTmp and the capability sets are what
# this reproduces; the system call filter and the Protect*= settings
# need systemd.
sandboxed() {
	local unit=$1 caps bound ambient rw
	shift
	caps=$(unit_value "$unit" CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_//g')
	bound="-all${caps:+,+$caps}"
	ambient=$(unit_value "$unit" AmbientCapabilities | tr 'A-Z' 'a-z' | sed 's/cap_//g')
	case $unit in
	sluiced.service) rw="$S/spool $S/run" ;;
	*) rw="$S/lib $S/run" ;;
	esac
	exec ip netns exec "$NS" unshare --mount --propagation private bash -c '
		rw=$1 bound=$2 ambient=$3 nofile=$4 memlock=$5 top=$6
		shift 6
		# A checkout under /tmp would vanish under the private /tmp, so
		# it is kept open, then bound back into the new /tmp read-only.
		[[ $top == /tmp/* ]] && { exec 9<"$top" || exit 1; }
		mount -t tmpfs tmpfs /tmp || exit 1
		if [[ $top == /tmp/* ]]; then
			mkdir -p "$top" && mount --no-canonicalize --bind /proc/self/fd/9 "$top" || exit 1
			exec 9<&-
		fi
		for d in $rw; do mount --bind "$d" "$d" || exit 1; done
		mount -o remount,bind,ro / || exit 1
		if [[ $top == /tmp/* ]]; then
			mount -o remount,bind,ro "$top" || exit 1
		fi
		# Without CAP_SYS_RESOURCE the hard limits cannot be raised; then
		# the process keeps the hard limit (see "limits" below).
		ulimit -n "$nofile" 2>/dev/null || ulimit -n "$(ulimit -Hn)" || exit 1
		if [[ -n $memlock ]]; then
			ulimit -l "$memlock" 2>/dev/null || ulimit -l "$(ulimit -Hl)" || exit 1
		fi
		exec setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs \
			--bounding-set="$bound" --inh-caps="$bound" \
			${ambient:+--ambient-caps=+$ambient} "$@"' sandbox \
		"$rw" "$bound" "$ambient" \
		"$(unit_value "$unit" LimitNOFILE)" \
		"$(memlock_kib "$unit")" "$TOP" "$@"
}

# memlock_kib UNIT: the unit's LimitMEMLOCK (written in MiB) in KiB, or
# nothing when the unit sets none.
memlock_kib() {
	local value
	value=$(unit_value "$1" LimitMEMLOCK)
	[[ -z $value ]] || echo $((${value%M} * 1024))
}

# systemd_units: the same with systemd transient units, when systemd runs.
# NOTE: not run on the development machine, whose PID 1 is not systemd.
systemd_units() {
	local unit props=() key
	for unit in sluiced.service sluice-ctld.service; do
		props=()
		while IFS= read -r key; do
			props+=(-p "$key")
		done < <(grep -E '^(NoNewPrivileges|Protect[A-Za-z]*|Private[A-Za-z]*|Restrict[A-Za-z]*|LockPersonality|MemoryDenyWriteExecute|SystemCall[A-Za-z]*|UMask|CapabilityBoundingSet|AmbientCapabilities|Limit[A-Z]*)=' \
			"$IMG/systemd/$unit")
		systemd-run --quiet --unit="sluice-images-$$-${unit%.service}" -p User=nobody -p Group=nogroup \
			-p NetworkNamespacePath="/run/netns/$NS" -p ReadWritePaths="$S/spool $S/run $S/lib" \
			"${props[@]}" "$BIN/${unit%.service}" -c "$S/etc/sluice.yaml" || return 1
	done
}

# status_linked: sluicectl status answers and shows sluiced connected.
status_linked() {
	local i
	for i in $(seq 100); do
		"$BIN/sluicectl" status --json 2>/dev/null | $PY -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["sluiced"]["connected"] else 1)' 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

if [[ $(ps -o comm= -p 1) == systemd ]] && systemctl is-system-running >/dev/null 2>&1; then
	if systemd_units; then
		ok "transient units started"
	else
		not_ok "transient units started"
	fi
	check "status answers under systemd" status_linked
	for unit in sluiced sluice-ctld; do
		check_eq "$unit transient unit active" "active" "$(systemctl is-active "sluice-images-$$-$unit")"
		systemctl stop "sluice-images-$$-$unit"
	done
else
	ok "transient units # SKIP systemd is not PID 1 here ($(ps -o comm= -p 1)); setpriv sandbox below instead"
fi

nofile=$(unit_value sluiced.service LimitNOFILE)
memlock=$(memlock_kib sluiced.service)
if bash -c "ulimit -n $nofile && ulimit -l $memlock" 2>/dev/null; then
	LIMITS_RAISED=1
else
	LIMITS_RAISED=0
	ok "unit limits in the sandbox # SKIP this machine cannot raise the hard limits (no CAP_SYS_RESOURCE): the daemons run with nofile $(ulimit -Hn), memlock $(ulimit -Hl) KiB"
fi

# The read-only root really is read-only: only the listed folders take writes.
(sandboxed sluice-ctld.service touch "$S/etc/written" 2>/dev/null)
check_eq "sandbox root is read-only" "no" "$([[ -e $S/etc/written ]] && echo yes || echo no)"
(sandboxed sluice-ctld.service touch "$S/lib/written")
check_eq "sandbox writable path" "yes" "$([[ -e $S/lib/written ]] && echo yes || echo no)"
rm -f "$S/lib/written"

sandboxed sluice-ctld.service "$BIN/sluice-ctld" -c "$S/etc/sluice.yaml" >"$T/ctld.log" 2>&1 &
CTLD=$!
on_exit_kill $CTLD
sandboxed sluiced.service "$BIN/sluiced" -c "$S/etc/sluice.yaml" >"$T/sluiced.log" 2>&1 &
SLUICED=$!
on_exit_kill $SLUICED

check "status answers in the sandbox" status_linked
check_eq "sluiced runs as nobody" "nobody" "$(stat -c %U /proc/$SLUICED)"
check_eq "sluice-ctld runs as nobody" "nobody" "$(stat -c %U /proc/$CTLD)"
# Bit 10 is CAP_NET_BIND_SERVICE.
check_eq "sluiced capabilities" "0000000000000400" "$(awk '/^CapEff:/ {print $2}' /proc/$SLUICED/status)"
check_eq "sluiced bounding set" "0000000000000400" "$(awk '/^CapBnd:/ {print $2}' /proc/$SLUICED/status)"
check_eq "sluice-ctld capabilities" "0000000000000000" "$(awk '/^CapEff:/ {print $2}' /proc/$CTLD/status)"
if [[ $LIMITS_RAISED == 1 ]]; then
	check_eq "sluiced open files limit" "$nofile" "$(awk '/^Max open files/ {print $5}' /proc/$SLUICED/limits)"
	check_eq "sluiced locked memory limit" "$((memlock * 1024))" "$(awk '/^Max locked memory/ {print $5}' /proc/$SLUICED/limits)"
fi
check_eq "sluiced no_new_privs" "1" "$(awk '/^NoNewPrivs:/ {print $2}' /proc/$SLUICED/status)"
check_eq "ctl socket mode and owner" "660 nobody:nogroup" "$(stat -c '%a %U:%G' "$S/run/ctl.sock")"

# A message over SMTP on port 25 reaches the spool under the read-only root.
reply=$(ip netns exec "$NS" $PY - <<'PYEOF'
import smtplib
with smtplib.SMTP("127.0.0.1", 25, timeout=30) as s:
    refused = s.sendmail("sender@example.com", ["rcpt@example.net"],
                         "From: sender@example.com\r\nTo: rcpt@example.net\r\n"
                         "Subject: sandbox\r\n\r\nbody\r\n")
    print("refused" if refused else "accepted")
PYEOF
)
check_eq "port 25 accepts mail in the sandbox" "accepted" "$reply"
check_eq "spool shard written" "yes" "$([[ -d $S/spool/shard-000 ]] && echo yes || echo no)"

kill $SLUICED
wait $SLUICED
check_eq "sluiced stops cleanly" "0" "$?"
kill $CTLD
wait $CTLD
check_eq "sluice-ctld stops cleanly" "0" "$?"

finish
