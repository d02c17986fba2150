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
