# Helpers for tests that run sluiced; source after tests/lib.sh.

# sluiced_make_cert DIR: a self-signed test certificate DIR/cert.pem and
# its key DIR/key.pem, made now so no key lives in the repository.
sluiced_make_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=mx.test \
		-keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# sluiced_start CONFIG PORT: start sluiced in the background, set
# SLUICED_PID and wait until PORT accepts connections.
sluiced_start() {
	"$BIN/sluiced" -c "$1" >>"$(dirname "$1")/sluiced.stderr" 2>&1 &
	SLUICED_PID=$!
	on_exit_kill "$SLUICED_PID"
	wait_port "$2" 10
}

# sluiced_yaml_base DIR PORT: print the start of a test configuration:
# two workers logging to DIR/sluiced.log, SMTP on 127.0.0.1:PORT relaying
# for 127.0.0.1, and a spool in DIR/spool. The caller appends the other
# sections.
sluiced_yaml_base() {
	cat <<YAML
sluiced:
  workers: 2
  log_file: $1/sluiced.log
smtp:
  listen: ['127.0.0.1:$2']
  hostname: mta.test
  relay_networks: [127.0.0.1/32]
spool:
  paths: [$1/spool]
  # Other programs on a shared test machine may fill the disk for a
  # while; these tests are not about the free-space floor.
  free_floor_percent: 0
YAML
}
