#!/usr/bin/env bash
# HTTP injection API end to end: curl posts messages to sluiced's HTTP
# listener (multipart and JSON forms), sluiced signs and delivers them into
# Postfix's smtp-sink. Multipart messages arrive byte-identical apart from
# the added header fields, every signature verifies with dkimpy, and the
# error cases (401, 411, 413, 415, 400 naming the field) store nothing.
# A message answered with 202 survives kill -9 of sluiced.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/delivery/lib.sh"

dir=$(make_tmpdir)
chmod 0755 "$dir"
port=$(free_port)
hport=$(free_port)
sink=$(free_port)
mport=$(free_port)
mkdir -p "$dir/orig" "$dir/sink"
chmod 0777 "$dir/sink"
url="http://127.0.0.1:$hport"
key="test-key-$$-0123456789abcdef"
auth="Authorization: Bearer $key"

start_sink() {
	/usr/sbin/smtp-sink -u nobody -d "$dir/sink/%M." "127.0.0.1:$sink" 64 &
	SINK_PID=$!
	on_exit_kill "$SINK_PID"
	wait_port "$sink"
}

start_sink
delivery_keys "$dir" a.test
delivery_config "$dir" "$port" "  routes: ['* 127.0.0.1:$sink']"
printf '# test keys\nother:another-key-0123456789abcdef\ntest:%s\n' "$key" >"$dir/api-keys"
chmod 600 "$dir/api-keys"
cat >>"$dir/sluice.yaml" <<YAML
http:
  listen: ['127.0.0.1:$hport']
  api_keys_file: $dir/api-keys
  max_message_size: 200k
  max_request_size: 256k
ctl:
  socket: $dir/ctl.sock
  link_socket: $dir/link.sock
  state: $dir/state.json
metrics:
  listen: 127.0.0.1:$mport
  shm: /sluice-http-inject-$$
keys:
  dir: $dir/ctl-keys
YAML
"$BIN/sluice-ctld" -c "$dir/sluice.yaml" 2>>"$dir/ctld.log" &
on_exit_kill $!
wait_port "$mport" || not_ok "sluice-ctld starts"
sluiced_start "$dir/sluice.yaml" "$port" && wait_port "$hport" ||
	{ not_ok "sluiced starts with the HTTP listener"; finish; }

# post PATH CURL-ARGS...: prints "STATUS" and leaves the body in $dir/resp.
post() {
	local path=$1
	shift
	curl -sS -o "$dir/resp" -w '%{http_code}' "$@" "$url$path"
}
json_field() { $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$dir/resp" "$1"; }

# POST /v1/messages: one multipart request per original message.
$PY "$TOP/tests/delivery/make_messages.py" "$dir/orig" a.test 4
echo '{"from": "bounce@a.test", "to": ["u@b.test"], "envid": "batch-7"}' >"$dir/env.json"
accepted=0
for f in "$dir"/orig/*; do
	status=$(post /v1/messages -H "$auth" -F "envelope=<$dir/env.json;type=application/json" \
		-F "message=@$f;type=message/rfc822")
	[[ "$status" == 202 && "$(json_field 'd["recipients"]')" == 1 ]] && accepted=$((accepted + 1))
done
check_eq "multipart messages answered 202" 4 "$accepted"
check_eq "202 carries a 16-digit queue id" 16 "$(json_field 'len(d["id"])')"

# A message with LF line ends is stored with CRLF; one that mixes them is rejected.
mkdir -p "$dir/extra"
printf 'From: news@a.test\nTo: u@b.test\nSubject: lf\nDate: Fri, 04 Dec 2026 12:00:00 +0000\nMessage-ID: <lf1@a.test>\n\nbody\n' >"$dir/extra/lf1"
status=$(post /v1/messages -H "$auth" -F "envelope=<$dir/env.json;type=application/json" \
	-F "message=@$dir/extra/lf1;type=message/rfc822")
check_eq "message with LF line ends answered 202" 202 "$status"
printf 'From: news@a.test\r\nSubject: mixed\r\n\r\nline one\nline two\r\n' >"$dir/mixed.eml"
status=$(post /v1/messages -H "$auth" -F "envelope=<$dir/env.json;type=application/json" \
	-F "message=@$dir/mixed.eml;type=message/rfc822")
check_eq "message mixing LF and CRLF answered 400" "400 message" \
	"$status $(json_field 'd["error"]["field"]')"

# multipart/mixed with unnamed parts, found by their media types.
status=$($PY - "$hport" "$key" <<'PY'
import socket, sys
msg = (b"From: news@a.test\r\nTo: u@b.test\r\nSubject: mixed form\r\n"
       b"Date: Fri, 04 Dec 2026 12:00:00 +0000\r\nMessage-ID: <mx1@a.test>\r\n\r\nsent as multipart/mixed\r\n")
body = (b"--b0\r\nContent-Type: application/json\r\n\r\n"
        b'{"from": "bounce@a.test", "to": ["u@b.test"]}\r\n'
        b"--b0\r\nContent-Type: message/rfc822\r\n\r\n" + msg + b"\r\n--b0--\r\n")
head = ("POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: multipart/mixed; boundary=\"b0\"\r\nContent-Length: %d\r\n"
        "Connection: close\r\n\r\n" % (sys.argv[2], len(body)))
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(head.encode() + body)
print(s.recv(4096).split(b" ")[1].decode())
PY
)
check_eq "multipart/mixed with unnamed parts answered 202" 202 "$status"
printf 'From: news@a.test\r\nTo: u@b.test\r\nSubject: mixed form\r\nDate: Fri, 04 Dec 2026 12:00:00 +0000\r\nMessage-ID: <mx1@a.test>\r\n\r\nsent as multipart/mixed\r\n' >"$dir/extra/mx1"

status=$(curl -sS -o "$dir/resp" -w '%{http_code}' -H "$auth" "$url/v1/messages")
check_eq "GET answered 405" 405 "$status"
status=$(post /v1/other -H "$auth" -H "Content-Type: application/json" --data-binary '{}')
check_eq "unknown path answered 404" 404 "$status"

# The same with a chunked body and Expect: 100-continue.
status=$(post /v1/messages -H "$auth" -H "Transfer-Encoding: chunked" -H "Expect: 100-continue" \
	-F "envelope=<$dir/env.json;type=application/json" \
	-F "message=@$dir/orig/m1;type=message/rfc822")
check_eq "chunked multipart with 100-continue answered 202" 202 "$status"

# POST /v1/send: one message per recipient built from the template.
cat >"$dir/send.json" <<'JSON'
{"from": "news@a.test", "from_name": "A News", "subject": "Hello {{name}}, code {{code}}",
 "text": "Dear {{name}},\nyour code is {{code}}.\n", "html": "<p>Dear {{name}}</p>",
 "recipients": [
   {"to": "ann@b.test", "name": "Ann", "vars": {"code": "A1"}},
   {"to": "bob@c.test", "vars": {"name": "Bob <b>", "code": 42}}]}
JSON
status=$(post /v1/send -H "$auth" -H "Content-Type: application/json" --data-binary @"$dir/send.json")
check_eq "send form answered 202" 202 "$status"
check_eq "send form lists a queue id per recipient" "2 ann@b.test bob@c.test" \
	"$(json_field '" ".join([str(len(d["messages"]))] + [m["to"] for m in d["messages"]])')"

# Keep-alive: three requests on one connection (num_connects is 0 after the first).
connects=$(curl -sS -o /dev/null -o /dev/null -o /dev/null -w '%{http_code}:%{num_connects} ' -H "$auth" \
	-H "Content-Type: application/json" --data-binary @"$dir/send.json" \
	"$url/v1/send" "$url/v1/send" "$url/v1/send")
check_eq "three requests on one kept-alive connection" "202:1 202:0 202:0 " "$connects"

# Errors: nothing of these is stored.
status=$(post /v1/messages -F "envelope=<$dir/env.json;type=application/json" \
	-F "message=@$dir/orig/m1;type=message/rfc822")
check_eq "missing API key answered 401" 401 "$status"
status=$(post /v1/messages -H "Authorization: Bearer wrong-key-0123456789abcdef" \
	-F "envelope=<$dir/env.json;type=application/json" -F "message=@$dir/orig/m1;type=message/rfc822")
check_eq "wrong API key answered 401" 401 "$status"
check_eq "401 log never shows the key" 0 "$(grep -c -e "$key" -e wrong-key "$dir/sluiced.log")"

head -c 300000 /dev/zero | tr '\0' 'x' | fold -w 76 | sed 's/$/\r/' >"$dir/big.body"
{ printf 'From: news@a.test\r\nSubject: big\r\n\r\n'; cat "$dir/big.body"; } >"$dir/big.eml"
status=$(post /v1/messages -H "$auth" -F "envelope=<$dir/env.json;type=application/json" \
	-F "message=@$dir/big.eml;type=message/rfc822")
check_eq "request over max_request_size answered 413" 413 "$status"

echo '{"from": "bounce@a.test", "to": "u@b.test"}' >"$dir/bad.json"
status=$(post /v1/messages -H "$auth" -F "envelope=<$dir/bad.json;type=application/json" \
	-F "message=@$dir/orig/m1;type=message/rfc822")
check_eq "envelope with a string 'to' answered 400" 400 "$status"
check_eq "400 names the field 'to'" to "$(json_field 'd["error"]["field"]')"

echo '{"from": "bounce@a.test", "to": ["u@b.test"' >"$dir/broken.json"
status=$(post /v1/messages -H "$auth" -F "envelope=<$dir/broken.json;type=application/json" \
	-F "message=@$dir/orig/m1;type=message/rfc822")
check_eq "malformed envelope JSON answered 400" "400 envelope" "$status $(json_field 'd["error"]["field"]')"

status=$(post /v1/send -H "$auth" -H "Content-Type: application/json" \
	--data-binary '{"from":"news@a.test","subject":"Hi {{name}}","text":"x","recipients":["z@b.test"]}')
check_eq "template variable missing answered 400" "400 recipients[0]" \
	"$status $(json_field 'd["error"]["field"]')"
status=$(post /v1/send -H "$auth" -H "Content-Type: text/plain" --data-binary '{}')
check_eq "wrong Content-Type answered 415" 415 "$status"
status=$($PY - "$hport" "$key" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("POST /v1/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\n\r\n" % sys.argv[2]).encode())
print(s.recv(4096).split(b" ")[1].decode())
PY
)
check_eq "POST without a body length answered 411" 411 "$status"

metric() {
	$PY -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$mport/metrics', timeout=10).read().decode())" |
		grep -E "^$1 " | awk '{print $2}'
}
check_eq "metrics count HTTP messages" 15 "$(metric sluice_http_messages_injected_total)"
check_eq "metrics count HTTP messages as injected" 15 "$(metric sluice_messages_injected_total)"
check_eq "metrics count HTTP requests" 22 "$(metric sluice_http_requests_total)"
check_eq "metrics count rejected HTTP requests" 11 "$(metric sluice_http_requests_rejected_total)"

# 4 + 1 + 2 multipart, 2 + 3 * 2 built: 15 messages, one recipient each.
delivery_wait "$dir" 15 60
check_eq "every accepted message delivered" 15 "$(acct_count "$dir" delivered)"

mkdir -p "$dir/multipart"
cp "$dir"/extra/* "$dir/orig/"
grep -l -E "^Message-ID: <(m[0-9]+|lf1|mx1)@a.test>" "$dir"/sink/* | while read -r f; do cp "$f" "$dir/multipart/"; done
read -r same total < <($PY "$TOP/tests/delivery/check_sink.py" "$dir/orig" "$dir/multipart" 2>"$dir/diff.txt")
check_eq "multipart messages byte-identical apart from added headers" "7/7" "$same/$total"
read -r passed checked < <($PY "$TOP/tests/demo/verify_sink.py" "$dir/dns.txt" "$dir/sink" 2>"$dir/dkimpy.txt")
check_eq "dkimpy verifies every delivered message" "15/15" "$passed/$checked"
check_eq "built messages have the expanded subject" 4 \
	"$(grep -l '^Subject: Hello Ann, code A1' "$dir"/sink/* | wc -l)"
check_eq "HTML values are escaped" 4 "$(grep -l 'Dear Bob &lt;b&gt;' "$dir"/sink/* | wc -l)"

# kill -9 after a 202: the message is delivered after a restart.
kill "$SINK_PID"
wait "$SINK_PID" 2>/dev/null
cp "$dir/orig/m1" "$dir/crash.eml"
sed -i 's/^Message-ID: <m1@a.test>/Message-ID: <crash1@a.test>/' "$dir/crash.eml"
status=$(post /v1/messages -H "$auth" -F "envelope=<$dir/env.json;type=application/json" \
	-F "message=@$dir/crash.eml;type=message/rfc822")
kill -9 "$SLUICED_PID"
wait "$SLUICED_PID" 2>/dev/null
check_eq "message before kill -9 answered 202" 202 "$status"
start_sink
sluiced_start "$dir/sluice.yaml" "$port" || not_ok "sluiced restarts after kill -9"
delivery_wait "$dir" 16 60
check_eq "message answered 202 before kill -9 delivered" 1 \
	"$(grep -l '^Message-ID: <crash1@a.test>' "$dir"/sink/* 2>/dev/null | wc -l)"

# Reject messages quote client input, so the log writes them as JSON
# strings: every one must parse, and the rejects above made some.
bad=$($PY - "$dir/sluiced.log" <<'PY'
import json, re, sys
lines = [l for l in open(sys.argv[1], errors="replace") if "http reject" in l]
bad = 0
for l in lines:
    m = re.search(r' message=(".*")\s*$', l)
    try:
        json.loads(m.group(1))
    except Exception:
        bad += 1
print(f"{len(lines) > 0} {bad}")
PY
)
check_eq "reject log lines carry JSON-escaped messages" "True 0" "$bad"
finish
