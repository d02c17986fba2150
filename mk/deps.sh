#!/usr/bin/env bash
# Install the Debian packages that sluice needs to build, test, demo and
# benchmark, and nothing else.
#
# Every deps/*.txt lists packages, one per line; "#" starts a comment.
# A package is installed only when dpkg-query reports it missing, and
# "apt-get update" runs only when something must be installed. A name
# with an architecture suffix (for example libssl-dev:arm64) enables that
# foreign architecture first.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t wanted < <(sed -e 's/#.*//' deps/*.txt | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)

missing=()
for pkg in "${wanted[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	[[ "$status" == *"ok installed"* ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
	echo "deps: all ${#wanted[@]} packages present"
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run 'make deps' as root to install them" >&2
	exit 1
fi

for pkg in "${missing[@]}"; do
	if [[ "$pkg" == *:* ]]; then
		arch=${pkg##*:}
		dpkg --print-foreign-architectures | grep -qx "$arch" || dpkg --add-architecture "$arch"
	fi
done

# Postfix prompts with a debconf question at install time. "No configuration"
# installs the programs without setting up or starting a system mail server.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

echo "deps: installing ${missing[*]}"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

# Some packages (opendkim, redis-server, dnsmasq) enable a system service at
# install time. Tests start their own instances, so stop the system ones.
for unit in opendkim redis-server dnsmasq postfix; do
	if command -v systemctl >/dev/null && systemctl is-active --quiet "$unit" 2>/dev/null; then
		systemctl stop "$unit" || true
	fi
done
