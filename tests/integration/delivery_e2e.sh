#!/usr/bin/env bash
# End to end: messages injected into sluiced are signed at send time and
# delivered into Postfix's smtp-sink over two routes. The received bytes
# equal the injected ones apart from the added header fields, and every
# signature verifies with dkimpy and (RSA) Mail::DKIM.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/delivery/lib.sh"

dir=$(make_tmpdir)
chmod 0755 "$dir"
port=$(free_port)
sink1=$(free_port)
sink2=$(free_port)
mkdir -p "$dir/orig" "$dir/sink/one" "$dir/sink/two"
chmod -R 0777 "$dir/sink"

for p in "$sink1:one" "$sink2:two"; do
	/usr/sbin/smtp-sink -u nobody -d "$dir/sink/${p#*:}/%M." "127.0.0.1:${p%%:*}" 64 &
	on_exit_kill $!
done
delivery_keys "$dir" a.test
delivery_config "$dir" "$port" "  routes: ['one.test 127.0.0.1:$sink1', '* 127.0.0.1:$sink2']"
sluiced_start "$dir/sluice.yaml" "$port" || { not_ok "sluiced starts"; finish; }
wait_port "$sink1" && wait_port "$sink2"

$PY "$TOP/tests/delivery/make_messages.py" "$dir/orig" a.test 10
sent=$($PY "$TOP/tests/delivery/send.py" "$port" "$dir/orig" bounce@a.test u@one.test,v@two.test)
check_eq "all messages accepted" 10 "$sent"
delivery_wait "$dir" 20 60
check_eq "every recipient delivered" 20 "$(acct_count "$dir" delivered)"
check_eq "no recipient deferred" 0 "$(acct_count "$dir" deferred)"
check_eq "route one.test got its messages" 10 "$(find "$dir/sink/one" -type f | wc -l)"
check_eq "route * got the others" 10 "$(find "$dir/sink/two" -type f | wc -l)"

read -r same total < <($PY "$TOP/tests/delivery/check_sink.py" "$dir/orig" "$dir/sink" 2>"$dir/diff.txt")
check_eq "content byte-identical apart from added headers" "20/20" "$same/$total"

read -r passed checked < <($PY "$TOP/tests/demo/verify_sink.py" "$dir/dns.txt" "$dir/sink" 2>"$dir/dkimpy.txt")
check_eq "dkimpy verifies RSA and Ed25519 signatures" "20/20" "$passed/$checked"

mapfile -t files < <(find "$dir/sink" -type f)
for f in "${files[@]}"; do tr -d '\r' <"$f" >"$f.lf" && mv "$f.lf" "$f"; done
rsa_pass=$(perl "$TOP/tests/dkim/maildkim_verify.pl" "$dir/dns.txt" "${files[@]}" |
	awk -F'\t' '$4 == "rsa-sha256" && $5 == "pass"' | wc -l)
check_eq "Mail::DKIM verifies the RSA signatures" 20 "$rsa_pass"

check_eq "accounting names both selectors" 20 \
	"$($PY -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["dkim"] == ["s=r1 d=a.test", "s=e1 d=a.test"]))' "$dir/acct.jsonl")"
check_eq "accounting records plain sessions" 20 "$(acct_count "$dir" delivered tls=none)"
finish
