/*
 * Unit tests for dataplane/dns against a real dnsmasq on a loopback port
 * that the test starts itself (skipped when dnsmasq is not installed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "dataplane/dns.h"

static pid_t dnsmasq_pid;
static char server[64];

static int free_udp_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int start_dnsmasq(void **state)
{
	char port_arg[32];
	int port = free_udp_port();

	(void)state;
	if (access("/usr/sbin/dnsmasq", X_OK) != 0)
		return -1;
	snprintf(port_arg, sizeof(port_arg), "--port=%d", port);
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	dnsmasq_pid = fork();
	if (dnsmasq_pid == 0) {
		execl("/usr/sbin/dnsmasq", "dnsmasq", "--keep-in-foreground", port_arg,
		      "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
		      "--no-hosts", "--pid-file=", "--local=/test/", "--local-ttl=60",
		      "--mx-host=mx.test,mx1.mx.test,10", "--mx-host=mx.test,mx2.mx.test,20",
		      "--address=/mx1.mx.test/127.0.0.2", "--address=/mx2.mx.test/127.0.0.3",
		      "--host-record=implicit.test,127.0.0.4", "--dns-rr=null.test,15,000000",
		      "--mx-host=nohost.test,missing.test,5",
		      "--txt-record=_mta-sts.mx.test,v=STSv1; id=abc123;",
		      "--txt-record=_mta-sts.implicit.test,v=STSv1; id=1",
		      "--txt-record=_mta-sts.implicit.test,v=STSv1; id=2", (char *)NULL);
		_exit(127);
	}
	usleep(300 * 1000);
	return 0;
}

static int stop_dnsmasq(void **state)
{
	(void)state;
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, NULL, 0);
	}
	return 0;
}

static struct sl_dns_answer *resolve(struct sl_dns *dns, struct sl_dns_inbox *in,
				     enum sl_dns_kind kind, const char *name)
{
	struct pollfd pfd = { .fd = sl_dns_inbox_fd(in), .events = POLLIN };
	struct sl_dns_answer *a = NULL;

	assert_int_equal(sl_dns_submit(dns, kind, name, 2525, 7, in), 0);
	for (int i = 0; i < 50 && !a; i++) {
		poll(&pfd, 1, 100);
		a = sl_dns_inbox_take(in);
	}
	assert_non_null(a);
	assert_int_equal(a->cookie, 7);
	return a;
}

static struct sl_dns *start_resolver_with(uint32_t timeout_ms, int mta_sts)
{
	struct sl_dns_config cfg;

	sl_dns_default_config(&cfg);
	snprintf(cfg.server, sizeof(cfg.server), "%s", server);
	cfg.timeout_ms = timeout_ms;
	cfg.tries = 1;
	cfg.mx_port = 2500;
	cfg.mta_sts = mta_sts;
	return sl_dns_start(&cfg);
}

static struct sl_dns *start_resolver(uint32_t timeout_ms)
{
	return start_resolver_with(timeout_ms, 0);
}

static uint16_t port_of(const struct sl_dns_target *t)
{
	return ntohs(((const struct sockaddr_in *)&t->addr)->sin_port);
}

static const char *ip_of(const struct sl_dns_target *t, char *buf)
{
	inet_ntop(AF_INET, &((const struct sockaddr_in *)&t->addr)->sin_addr, buf, 64);
	return buf;
}

static void mx_in_preference_order(void **s)
{
	struct sl_dns_inbox *in = sl_dns_inbox_new();
	struct sl_dns *dns = start_resolver(2000);
	struct sl_dns_answer *a;
	char ip[64];

	(void)s;
	assert_non_null(dns);
	a = resolve(dns, in, SL_DNS_MX, "MX.test.");
	assert_int_equal(a->status, SL_DNS_OK);
	assert_int_equal(a->count, 2);
	assert_string_equal(a->target[0].host, "mx1.mx.test");
	assert_string_equal(ip_of(&a->target[0], ip), "127.0.0.2");
	assert_int_equal(a->target[0].preference, 10);
	assert_int_equal(port_of(&a->target[0]), 2500);
	assert_string_equal(ip_of(&a->target[1], ip), "127.0.0.3");
	assert_true(a->ttl_s > 0);
	sl_dns_answer_free(a);

	/* The second lookup comes from the cache with the same content. */
	a = resolve(dns, in, SL_DNS_MX, "mx.test");
	assert_int_equal(a->count, 2);
	sl_dns_answer_free(a);
	sl_dns_stop(dns);
	sl_dns_inbox_free(in);
}

static void implicit_null_and_missing(void **s)
{
	struct sl_dns_inbox *in = sl_dns_inbox_new();
	struct sl_dns *dns = start_resolver(2000);
	struct sl_dns_answer *a;
	char ip[64];

	(void)s;
	a = resolve(dns, in, SL_DNS_MX, "implicit.test");
	assert_int_equal(a->status, SL_DNS_OK);
	assert_int_equal(a->count, 1);
	assert_string_equal(a->target[0].host, "implicit.test");
	assert_string_equal(ip_of(&a->target[0], ip), "127.0.0.4");
	sl_dns_answer_free(a);

	a = resolve(dns, in, SL_DNS_MX, "null.test");
	assert_int_equal(a->status, SL_DNS_NULL_MX);
	sl_dns_answer_free(a);

	a = resolve(dns, in, SL_DNS_MX, "nxdomain.test");
	assert_int_equal(a->status, SL_DNS_NOT_FOUND);
	sl_dns_answer_free(a);

	a = resolve(dns, in, SL_DNS_MX, "nohost.test");
	assert_int_equal(a->status, SL_DNS_NOT_FOUND);
	sl_dns_answer_free(a);

	a = resolve(dns, in, SL_DNS_HOST, "mx2.mx.test");
	assert_int_equal(a->status, SL_DNS_OK);
	assert_int_equal(port_of(&a->target[0]), 2525);
	sl_dns_answer_free(a);
	sl_dns_stop(dns);
	sl_dns_inbox_free(in);
}

static void dead_server_times_out(void **s)
{
	struct sl_dns_config cfg;
	struct sl_dns_inbox *in = sl_dns_inbox_new();
	struct sl_dns *dns;
	struct sl_dns_answer *a;

	(void)s;
	sl_dns_default_config(&cfg);
	/* Nothing listens there: the lookup must end as a temporary failure. */
	snprintf(cfg.server, sizeof(cfg.server), "127.0.0.1:%d", free_udp_port());
	cfg.timeout_ms = 200;
	cfg.tries = 1;
	dns = sl_dns_start(&cfg);
	a = resolve(dns, in, SL_DNS_MX, "mx.test");
	assert_int_equal(a->status, SL_DNS_TEMPFAIL);
	sl_dns_answer_free(a);
	sl_dns_stop(dns);
	sl_dns_inbox_free(in);
}

static void mta_sts_txt_ids(void **s)
{
	struct sl_dns_inbox *in = sl_dns_inbox_new();
	struct sl_dns *dns = start_resolver_with(2000, 1);
	struct sl_dns_answer *a;

	(void)s;
	assert_non_null(dns);
	a = resolve(dns, in, SL_DNS_MX, "mx.test");
	assert_int_equal(a->status, SL_DNS_OK);
	assert_int_equal(a->count, 2);
	assert_string_equal(a->sts_id, "abc123");
	sl_dns_answer_free(a);

	/* Two STSv1 records: no usable policy id. */
	a = resolve(dns, in, SL_DNS_MX, "implicit.test");
	assert_int_equal(a->status, SL_DNS_OK);
	assert_string_equal(a->sts_id, "");
	sl_dns_answer_free(a);

	/* No TXT record (NXDOMAIN): no id, MX unaffected. */
	a = resolve(dns, in, SL_DNS_MX, "nohost.test");
	assert_string_equal(a->sts_id, "");
	sl_dns_answer_free(a);

	/* The cached answer keeps the id. */
	a = resolve(dns, in, SL_DNS_MX, "mx.test");
	assert_string_equal(a->sts_id, "abc123");
	sl_dns_answer_free(a);
	sl_dns_stop(dns);

	/* Without mta_sts the TXT record is not queried. */
	dns = start_resolver(2000);
	a = resolve(dns, in, SL_DNS_MX, "mx.test");
	assert_string_equal(a->sts_id, "");
	sl_dns_answer_free(a);
	sl_dns_stop(dns);
	sl_dns_inbox_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mx_in_preference_order),
		cmocka_unit_test(implicit_null_and_missing),
		cmocka_unit_test(dead_server_times_out),
		cmocka_unit_test(mta_sts_txt_ids),
	};

	sl_log_init("test", SL_LOG_WARN);
	if (access("/usr/sbin/dnsmasq", X_OK) != 0) {
		printf("1..0 # SKIP dnsmasq not installed\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, start_dnsmasq, stop_dnsmasq);
}
