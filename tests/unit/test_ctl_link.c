/*
 * Unit tests for dataplane/ctllink: the snapshot link against a fake
 * sluice-ctld on a Unix socket in /tmp (hello, snapshot, ack, reconnect
 * with the generation kept), quiescent-state reclamation, snapshot
 * parsing errors, and the shared-memory counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dataplane/ctllink/ctl_link.h"
#include "dataplane/ctllink/metrics_shm.h"

static const char *snapshot_fmt =
	"{\"type\":\"snapshot\",\"generation\":%d,\"created\":1,"
	"\"keys\":[{\"domain\":\"example.com\",\"selector\":\"s1\",\"algorithm\":\"rsa\",\"path\":\"/k/s1.pem\"}],"
	"\"signing\":[{\"sender\":\"example.com\",\"keys\":[{\"domain\":\"example.com\",\"selector\":\"s1\"}],"
	"\"expire\":3600,\"identity\":\"@example.com\"}],"
	"\"throttle\":{\"rules\":[{\"name\":\"default\",\"default\":true,\"rate\":\"%d/s\"}]},"
	"\"suspensions\":[{\"key\":\"domain:slow.test\",\"until\":99,\"reason\":\"operator\"}],"
	"\"actions\":[{\"seq\":4,\"action\":\"bounce\",\"domain\":\"gone.test\"}]}\n";

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* Reads one line with a generous timeout; the test fails on timeout
 * rather than measuring time. */
static json_t *read_json_line(int fd)
{
	char buf[4096];
	size_t len = 0;
	json_error_t jerr;

	while (len < sizeof(buf) - 1) {
		struct pollfd p = { fd, POLLIN, 0 };

		assert_int_equal(poll(&p, 1, 10000), 1);
		assert_int_equal(recv(fd, buf + len, 1, 0), 1);
		if (buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	return json_loads(buf, 0, &jerr);
}

static void send_snapshot(int fd, int generation, int rate)
{
	char msg[2048];
	int n = snprintf(msg, sizeof(msg), snapshot_fmt, generation, rate);

	assert_int_equal(send(fd, msg, (size_t)n, MSG_NOSIGNAL), n);
}

static int loads, frees;

static void *fake_load(const char *path, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	loads++;
	return strdup(path);
}

static void fake_free(void *handle)
{
	frees++;
	free(handle);
}

static void link_receives_and_resyncs(void **state)
{
	char path[64];
	struct sl_ctl_link_config cfg = { 0 };
	struct sl_ctl_link *link;
	const struct sl_snapshot *snap;
	const struct sl_snap_signer *signer;
	struct sl_resolved res;
	json_t *msg;
	int lfd, cfd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/sluice-link-test.%d.sock", (int)getpid());
	lfd = listen_on(path);
	cfg.socket_path = path;
	cfg.nworkers = 1;
	cfg.retry_ms = 20;
	cfg.keys.load = fake_load;
	cfg.keys.free = fake_free;
	assert_int_equal(sl_ctl_link_start(&cfg, &link), 0);
	assert_null(sl_ctl_link_current(link));

	cfd = accept(lfd, NULL, NULL);
	msg = read_json_line(cfd);
	assert_string_equal(json_string_value(json_object_get(msg, "type")), "hello");
	assert_int_equal(json_integer_value(json_object_get(msg, "generation")), 0);
	json_decref(msg);

	send_snapshot(cfd, 1, 10);
	msg = read_json_line(cfd);
	assert_string_equal(json_string_value(json_object_get(msg, "type")), "ack");
	assert_int_equal(json_integer_value(json_object_get(msg, "generation")), 1);
	json_decref(msg);

	snap = sl_ctl_link_current(link);
	assert_non_null(snap);
	assert_int_equal(snap->generation, 1);
	assert_int_equal(snap->nkeys, 1);
	assert_string_equal((const char *)snap->keys[0].handle, "/k/s1.pem");
	signer = sl_snapshot_signer(snap, "EXAMPLE.com");
	assert_non_null(signer);
	assert_int_equal(signer->nkeys, 1);
	assert_int_equal(signer->expire_s, 3600);
	assert_string_equal(signer->identity, "@example.com");
	assert_null(sl_snapshot_signer(snap, "other.test"));
	sl_policy_resolve(snap->policy, "a.test", NULL, NULL, &res);
	assert_int_equal(res.limits.rate.count, 10);
	assert_int_equal(snap->nsuspensions, 1);
	assert_int_equal(snap->suspensions[0].until, 99);
	assert_int_equal(snap->nactions, 1);
	assert_int_equal(snap->actions[0].kind, SL_SNAP_BOUNCE);
	assert_int_equal(snap->actions[0].seq, 4);

	/* ctld restarts: sluiced keeps generation 1 meanwhile, then
	 * reconnects and announces it. */
	close(cfd);
	cfd = accept(lfd, NULL, NULL);
	assert_int_equal(sl_ctl_link_generation(link), 1);
	msg = read_json_line(cfd);
	assert_int_equal(json_integer_value(json_object_get(msg, "generation")), 1);
	json_decref(msg);

	/* The worker passes a quiescent point, then generation 2 arrives and
	 * generation 1 is freed once the worker passes another. */
	sl_ctl_link_quiescent(link, 0);
	send_snapshot(cfd, 2, 20);
	msg = read_json_line(cfd);
	assert_int_equal(json_integer_value(json_object_get(msg, "generation")), 2);
	json_decref(msg);
	assert_int_equal(sl_ctl_link_current(link)->generation, 2);
	assert_int_equal(frees, 0);
	sl_ctl_link_quiescent(link, 0);
	/* Reclaim runs on the next message; an invalid snapshot gets a nack. */
	assert_int_equal(send(cfd, "{\"type\":\"snapshot\",\"generation\":0}\n", 36, MSG_NOSIGNAL), 36);
	msg = read_json_line(cfd);
	assert_string_equal(json_string_value(json_object_get(msg, "type")), "nack");
	assert_non_null(strstr(json_string_value(json_object_get(msg, "error")), "snapshot.generation: missing"));
	json_decref(msg);
	assert_int_equal(sl_ctl_link_current(link)->generation, 2);

	close(cfd);
	sl_ctl_link_stop(link);
	assert_int_equal(loads, 2);
	assert_int_equal(frees, 2);
	close(lfd);
	unlink(path);
}

static void snapshot_rejects_unknown_key(void **state)
{
	json_error_t jerr;
	char err[256] = "";
	json_t *msg = json_loads("{\"generation\":3,\"keys\":[],\"signing\":[{\"sender\":\"a.test\","
				 "\"keys\":[{\"domain\":\"a.test\",\"selector\":\"x\"}]}]}", 0, &jerr);

	(void)state;
	assert_null(sl_snapshot_from_json(msg, NULL, err, sizeof(err)));
	assert_string_equal(err, "signing[0].keys[0]: key not in the snapshot's key list");
	json_decref(msg);
}

static void shm_counters_round_trip(void **state)
{
	char name[64];
	struct sl_shm *w;
	const struct sl_shm *r;
	struct sl_shm_totals t;
	struct sl_shm_dest_view d;
	int error;

	(void)state;
	snprintf(name, sizeof(name), "/sluice-test-%d", (int)getpid());
	w = sl_shm_create(name, 2, &error);
	assert_non_null(w);
	r = sl_shm_open(name, &error);
	assert_non_null(r);
	atomic_fetch_add(&w->workers[0].delivered, 5);
	atomic_fetch_add(&w->workers[1].delivered, 7);
	atomic_fetch_add(&w->workers[1].signatures[SL_SHM_ALG_ED25519], 3);
	atomic_fetch_add(&w->workers[0].connections, 2);
	sl_shm_count_flush(&w->workers[0], 50);
	sl_shm_count_flush(&w->workers[1], 2000000);
	sl_shm_dest_set(w, 0, "example.com", 42, 0, NULL);
	sl_shm_dest_set(w, 1, "slow.test", 3, 1234, "operator");

	sl_shm_totals(r, &t);
	assert_int_equal(t.delivered, 12);
	assert_int_equal(t.signatures[SL_SHM_ALG_ED25519], 3);
	assert_int_equal(t.connections, 2);
	assert_int_equal(t.flush_count, 2);
	assert_int_equal(t.flush_sum_us, 2000050);
	assert_int_equal(t.flush_buckets[0], 1);
	assert_int_equal(t.flush_buckets[SL_SHM_FLUSH_BUCKETS], 1);
	assert_int_equal(r->ndests, 2);
	assert_int_equal(sl_shm_dest_get(r, 1, &d), 0);
	assert_string_equal(d.name, "slow.test");
	assert_int_equal(d.depth, 3);
	assert_int_equal(d.suspended_until, 1234);
	assert_string_equal(d.reason, "operator");
	sl_shm_close(r);
	sl_shm_close(w);
	sl_shm_unlink(name);
	assert_null(sl_shm_open(name, &error));
	assert_int_equal(error, -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(link_receives_and_resyncs),
		cmocka_unit_test(snapshot_rejects_unknown_key),
		cmocka_unit_test(shm_counters_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
