// bench/smtpc/bench_smtpc.cc - CPU cost of the SMTP client engine's data
// phase: DATA (dot-stuffing and line-end conversion of every byte) against
// BDAT (the stored bytes copied as they are), on the same messages.
//
// Benchmarks (Google Benchmark, one thread):
//   Transfer/data/SIZE   one transaction with DATA: MAIL, two RCPT, DATA,
//                        the content, the final "."
//   Transfer/bdat/SIZE   the same transaction with BDAT chunks of 64 KiB,
//                        each sent after the reply to the previous one
// SIZE is the message size in bytes (20 KB, 100 KB, 1 MB): a 600-byte
// DKIM-Signature field, then CRLF lines of 76 bytes, one in seven starting
// with ".". The server's replies are fed from memory and the output is
// drained without a socket, so only the engine's own work is measured.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

extern "C" {
#include "dataplane/smtp_client.h"
}

namespace {

void on_ready(void *) {}
void on_done(void *, struct sl_smtpc_txn *) {}
void on_closed(void *, const struct sl_smtp_reply *) {}

const struct sl_smtpc_callbacks callbacks = {
	nullptr, on_ready, on_done, on_closed,
};

std::string make_message(size_t size)
{
	std::string m = "DKIM-Signature: v=1; a=rsa-sha256; d=a.test; s=r1; b=";
	m.append(600 - m.size() - 2, 'x');
	m += "\r\nSubject: bench\r\n\r\n";
	for (size_t n = 0; m.size() < size; n++) {
		std::string line = n % 7 == 0 ? "." : "";
		line.append(74 - line.size(), 'a' + n % 26);
		m += line + "\r\n";
	}
	return m;
}

void feed(struct sl_smtpc *c, const char *s)
{
	sl_smtpc_input(c, s, strlen(s), 0);
}

// Drain the engine's output as a socket would, returning the bytes sent.
size_t drain(struct sl_smtpc *c)
{
	const char *data;
	size_t n, total = 0;

	while ((n = sl_smtpc_output(c, &data)) > 0) {
		benchmark::DoNotOptimize(data);
		sl_smtpc_output_done(c, n, 0);
		total += n;
	}
	return total;
}

void transfer(benchmark::State &state, bool chunking)
{
	const std::string message = make_message((size_t)state.range(0));
	struct sl_smtpc_config cfg = {};
	const char *rcpts[] = { "a@dest.test", "b@dest.test" };
	struct sl_smtp_reply replies[2];
	struct iovec iov = { (void *)message.data(), message.size() };
	size_t chunks = (message.size() + 65535) / 65536;
	size_t sent = 0;

	cfg.helo_name = "mta.bench";
	cfg.tls = SL_SMTPC_TLS_NONE;
	cfg.chunking = chunking;
	sl_smtpc_default_timeouts(&cfg.timeouts);
	struct sl_smtpc *c = sl_smtpc_new(&cfg, &callbacks, nullptr, 0);

	feed(c, "220 mx ESMTP\r\n");
	drain(c);
	feed(c, "250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n");
	for (auto _ : state) {
		struct sl_smtpc_txn t = {};

		t.sender = "bounce@a.test";
		t.rcpts = rcpts;
		t.rcpt_count = 2;
		t.body = &iov;
		t.body_count = 1;
		t.size = message.size();
		t.rcpt_reply = replies;
		sl_smtpc_submit(c, &t, 0);
		sent += drain(c);
		if (chunking) {
			// Each chunk waits for the reply to the previous one.
			feed(c, "250 ok\r\n250 ok\r\n250 ok\r\n");
			for (size_t i = 0; i < chunks; i++) {
				sent += drain(c);
				feed(c, "250 ok\r\n");
			}
		} else {
			feed(c, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
			sent += drain(c);
			feed(c, "250 ok\r\n");
		}
		if (t.accepted != 2 || !sl_smtpc_is_ready(c)) {
			state.SkipWithError("transaction failed: a recipient was not accepted or the session is not ready");
			break;
		}
	}
	state.SetBytesProcessed((int64_t)sent);
	state.SetItemsProcessed(state.iterations());
	sl_smtpc_free(c);
}

void data_transfer(benchmark::State &state) { transfer(state, false); }
void bdat_transfer(benchmark::State &state) { transfer(state, true); }

} // namespace

BENCHMARK(data_transfer)->Name("Transfer/data")->Arg(20000)->Arg(100000)->Arg(1000000);
BENCHMARK(bdat_transfer)->Name("Transfer/bdat")->Arg(20000)->Arg(100000)->Arg(1000000);

BENCHMARK_MAIN();
