#!/usr/bin/env bash
# Spool on a full disk: a 16 MiB tmpfs mounted in a private mount
# namespace (unshare -m), so nothing outside this test sees it.
# spool_crash_writer enospc fills it and prints key=value results:
# appends fail with ENOSPC (SMTP 452), committed messages stay intact
# also across a restart, appends succeed once space returns, and below
# the 10% free-space floor new mail is refused while state records
# (delivery) still go through.
. "$(dirname "$0")/../lib.sh"

if ! command -v unshare >/dev/null || [[ $(id -u) -ne 0 ]]; then
	echo "unshare or root missing: skipped"
	exit 77
fi
work=$(make_tmpdir)
# make_tmpdir runs in a command substitution (a subshell), so its cleanup
# registration is lost: register the folder again in this shell.
on_exit_remove "$work"
mnt=$work/mnt
mkdir -p "$mnt"

# The mount lives only as long as the namespace: no unmount needed.
unshare -m --propagation private bash -c '
	mount -t tmpfs -o size=16m,mode=0700 sluice-spool-enospc "$1" || exit 3
	"$2" enospc "$1/spool" "$1/filler"
' _ "$mnt" "$BIN/spool_crash_writer" >"$work/out" 2>"$work/err"
status=$?
check_eq "enospc scenario exit status" 0 "$status"

value() { sed -n "s/^$1=//p" "$work/out"; }
check_eq "open on small tmpfs" 0 "$(value open_err)"
check_eq "append on full disk fails with ENOSPC" ENOSPC "$(value append_error)"
check_eq "full disk maps to SMTP 452" "452 4.3.1 Insufficient system storage" "$(value smtp_reply)"
check_eq "messages committed before the disk filled" many "$(value acked_before_full)"
check_eq "committed messages intact when full" all "$(value intact_when_full)"
check_eq "reopen on full disk" 0 "$(value reopen_err)"
check_eq "committed messages intact after reopen" all "$(value intact_after_reopen)"
check_eq "appends succeed once space returns" 5 "$(value appends_after_free)"
check_eq "no error once space returns" 0 "$(value error_after_free)"
check_eq "free-space floor refuses new mail" EDQUOT "$(value floor_append)"
check_eq "floor maps to SMTP 452" "452 4.3.1 Insufficient system storage" "$(value floor_smtp_reply)"
check_eq "state records pass below the floor" ok "$(value floor_state_record)"
check_eq "mount stayed private" 0 "$(grep -c sluice-spool-enospc /proc/self/mounts)"
[[ $T_FAILED -eq 0 ]] || sed 's/^/# /' "$work/err" "$work/out" | head -20
finish
