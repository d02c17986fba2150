/*
 * dataplane/smtp_commands.c - the SMTP command table: one check function
 * (is the command allowed now, are its arguments valid) and one action
 * function per verb. A check that fails has already sent its reply.
 *
 * Every reply after the greeting carries an enhanced status code
 * (RFC 2034). Commands allowed in a state are listed in the table's state
 * mask; any other state gets "503 5.5.1".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "ctl/config/config_smtp.h"
#include "dataplane/smtp_session.h"

#include <openssl/crypto.h>

struct smtp_command {
	const char *verb;
	unsigned states;	/* S(state) bits where the verb is allowed */
	int (*check)(struct session *s, const char *args);
	void (*action)(struct session *s, const char *args);
};

#define ANY_CMD_STATE (S(ST_NEW) | S(ST_READY) | S(ST_MAIL) | S(ST_RCPT) | S(ST_BDAT))

/* Shared checks. */

static int check_no_args(struct session *s, const char *verb, const char *args)
{
	if (*args) {
		char reply[64];

		snprintf(reply, sizeof(reply), "501 5.5.4 Syntax: %s takes no arguments", verb);
		smtp_reject(s, verb, reply);
		return -1;
	}
	return 0;
}

/* Never an open relay: MAIL and RCPT need AUTH or an allowed client address. */
static int check_relay(struct session *s, const char *verb)
{
	if (s->authenticated || s->relay_allowed)
		return 0;
	smtp_reject(s, verb, "550 5.7.1 Relay access denied: authenticate first");
	return -1;
}

/* HELO and EHLO. */

static int check_helo(struct session *s, const char *args)
{
	(void)s;
	if (!*args || strlen(args) >= sizeof(s->helo) || strchr(args, ' ')) {
		smtp_reject(s, "HELO", "501 5.5.4 Syntax: EHLO hostname");
		return -1;
	}
	return 0;
}

static void greet(struct session *s, const char *args, bool esmtp)
{
	snprintf(s->helo, sizeof(s->helo), "%s", args);
	s->esmtp = esmtp;
	smtp_reset_transaction(s);
	s->state = ST_READY;
}

static void act_helo(struct session *s, const char *args)
{
	greet(s, args, false);
	smtp_replyf(s, "250 %s", s->srv->hostname);
}

static void act_ehlo(struct session *s, const char *args)
{
	const struct smtp_server *srv = s->srv;
	const char *lines[16];
	char size[40];
	unsigned n = 0;

	greet(s, args, true);
	snprintf(size, sizeof(size), "SIZE %llu", (unsigned long long)srv->cfg->max_message_size);
	lines[n++] = "PIPELINING";
	lines[n++] = size;
	lines[n++] = "8BITMIME";
	lines[n++] = "SMTPUTF8";
	lines[n++] = "ENHANCEDSTATUSCODES";
	lines[n++] = "CHUNKING";
	lines[n++] = "DSN";
	if (srv->tls && !s->tls_on)
		lines[n++] = "STARTTLS";
	if (srv->auth && s->tls_on)
		lines[n++] = "AUTH PLAIN LOGIN";
	lines[n++] = "HELP";

	smtp_replyf(s, "250-%s Hello %s [%s]", srv->hostname, s->helo, s->client);
	for (unsigned i = 0; i < n; i++)
		smtp_replyf(s, "250%c%s", i + 1 == n ? ' ' : '-', lines[i]);
}

/* MAIL, RCPT. */

static int check_mail(struct session *s, const char *args)
{
	struct sl_smtp_error err;

	if (s->state == ST_NEW) {
		smtp_reject(s, "MAIL", "503 5.5.1 Error: send HELO/EHLO first");
		return -1;
	}
	if (s->state != ST_READY) {
		smtp_reject(s, "MAIL", "503 5.5.1 Error: nested MAIL command");
		return -1;
	}
	if (check_relay(s, "MAIL") < 0)
		return -1;
	if (sl_smtp_parse_mail(args, s->esmtp, &s->mail, &err) < 0) {
		smtp_reject(s, "MAIL", err.reply);
		return -1;
	}
	if (!s->esmtp && (s->mail.size || s->mail.body || s->mail.smtputf8 || s->mail.ret ||
			  s->mail.envid[0])) {
		smtp_reject(s, "MAIL", "555 5.5.4 Parameters need EHLO");
		return -1;
	}
	if (s->mail.size > s->srv->cfg->max_message_size) {
		smtp_reject(s, "MAIL", "552 5.3.4 Message size exceeds fixed maximum message size");
		return -1;
	}
	return 0;
}

static void act_mail(struct session *s, const char *args)
{
	(void)args;
	s->state = ST_MAIL;
	smtp_reply(s, "250 2.1.0 Ok");
}

static int check_rcpt(struct session *s, const char *args)
{
	struct sl_smtp_rcpt rcpt;
	struct sl_smtp_error err;

	if (s->state != ST_MAIL && s->state != ST_RCPT) {
		smtp_reject(s, "RCPT", "503 5.5.1 Error: need MAIL command");
		return -1;
	}
	if (check_relay(s, "RCPT") < 0)
		return -1;
	if (s->nrcpt >= s->srv->cfg->max_recipients) {
		smtp_reject(s, "RCPT", "452 4.5.3 Error: too many recipients");
		return -1;
	}
	if (sl_smtp_parse_rcpt(args, s->mail.smtputf8, &rcpt, &err) < 0) {
		smtp_reject(s, "RCPT", err.reply);
		return -1;
	}
	if (s->nrcpt == s->rcpt_cap) {
		unsigned cap = s->rcpt_cap ? s->rcpt_cap * 2 : 16;
		struct rcpt_ref *v = realloc(s->rcpts, cap * sizeof(*v));

		if (!v)
			abort();	/* allocation failure never returns */
		s->rcpts = v;
		s->rcpt_cap = cap;
	}
	struct rcpt_ref *ref = &s->rcpts[s->nrcpt];

	ref->addr = (uint32_t)s->strings.len;
	sl_buf_append(&s->strings, rcpt.addr, strlen(rcpt.addr) + 1);
	ref->orcpt = UINT32_MAX;
	if (rcpt.orcpt[0]) {
		ref->orcpt = (uint32_t)s->strings.len;
		sl_buf_append(&s->strings, rcpt.orcpt, strlen(rcpt.orcpt) + 1);
	}
	ref->notify = rcpt.notify;
	return 0;
}

static void act_rcpt(struct session *s, const char *args)
{
	(void)args;
	s->nrcpt++;
	s->state = ST_RCPT;
	smtp_reply(s, "250 2.1.5 Ok");
}

/* DATA, BDAT. */

static int check_data(struct session *s, const char *args)
{
	if (s->state == ST_MAIL) {
		smtp_reject(s, "DATA", "554 5.5.1 Error: no valid recipients");
		return -1;
	}
	if (s->state == ST_BDAT) {
		smtp_reject(s, "DATA", "503 5.5.1 Error: DATA after BDAT");
		return -1;
	}
	if (s->state != ST_RCPT) {
		smtp_reject(s, "DATA", "503 5.5.1 Error: need RCPT command");
		return -1;
	}
	return check_no_args(s, "DATA", args);
}

static void act_data(struct session *s, const char *args)
{
	(void)args;
	s->msg.len = 0;
	sl_smtp_data_begin(&s->data, s->srv->cfg->max_message_size, true);
	s->state = ST_DATA;
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* "BDAT size [LAST]"; returns 0 or -1 for a syntax error. */
static int parse_bdat(const char *args, uint64_t *size, bool *last)
{
	char *end;

	if (*args < '0' || *args > '9')
		return -1;
	*size = strtoull(args, &end, 10);
	*last = false;
	if (*end == '\0')
		return 0;
	if (*end == ' ' && !strcasecmp(end + 1, "LAST")) {
		*last = true;
		return 0;
	}
	return -1;
}

static int check_bdat(struct session *s, const char *args)
{
	uint64_t size;
	bool last;

	if (parse_bdat(args, &size, &last) < 0) {
		/* Without a valid size the chunk cannot be skipped: end the session. */
		smtp_reject(s, "BDAT", "501 5.5.4 Syntax: BDAT size [LAST]");
		smtp_close_after_reply(s, "421 4.5.0 Closing connection after BDAT syntax error");
		return -1;
	}
	s->chunk_left = size;
	s->chunk_last = last;
	if (s->state == ST_RCPT || s->state == ST_BDAT)
		return 0;

	/* RFC 3030 2: the chunk is read even when the command fails. */
	s->chunk_discard = true;
	s->chunk_return = s->state;
	s->chunk_reply = s->state == ST_MAIL ? "554 5.5.1 Error: no valid recipients"
					     : "503 5.5.1 Error: need RCPT command";
	s->state = ST_CHUNK;
	return -1;
}

static void act_bdat(struct session *s, const char *args)
{
	(void)args;
	if (s->state == ST_RCPT) {
		s->msg.len = 0;
		sl_smtp_data_begin(&s->data, s->srv->cfg->max_message_size, false);
	}
	s->state = ST_CHUNK;
}

/* RSET, NOOP, QUIT, VRFY, HELP. */

static void act_rset(struct session *s, const char *args)
{
	(void)args;
	smtp_reset_transaction(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

static int check_rset(struct session *s, const char *args)
{
	return check_no_args(s, "RSET", args);
}

static void act_noop(struct session *s, const char *args)
{
	(void)args;
	smtp_reply(s, "250 2.0.0 Ok");
}

static void act_quit(struct session *s, const char *args)
{
	(void)args;
	smtp_close_after_reply(s, "221 2.0.0 Bye");
}

static void act_vrfy(struct session *s, const char *args)
{
	(void)args;
	smtp_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
}

static void act_help(struct session *s, const char *args)
{
	(void)args;
	smtp_reply(s, "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP");
	smtp_reply(s, "214-2.0.0 Commands: STARTTLS AUTH");
	smtp_reply(s, "214 2.0.0 End of HELP");
}

/* STARTTLS. */

static int check_starttls(struct session *s, const char *args)
{
	if (!s->srv->tls) {
		smtp_reject(s, "STARTTLS", "502 5.5.1 Error: STARTTLS is not offered");
		return -1;
	}
	if (s->tls_on) {
		smtp_reject(s, "STARTTLS", "503 5.5.1 Error: TLS already active");
		return -1;
	}
	if (s->state != ST_READY && s->state != ST_NEW) {
		smtp_reject(s, "STARTTLS", "503 5.5.1 Error: STARTTLS inside a transaction");
		return -1;
	}
	return check_no_args(s, "STARTTLS", args);
}

static void act_starttls(struct session *s, const char *args)
{
	(void)args;
	smtp_start_tls(s);
}

/* AUTH PLAIN and LOGIN (RFC 4954). */

static int set_user(struct session *s, const char *name)
{
	size_t len = strlen(name);

	if (len >= sizeof(s->user))
		return -EINVAL;
	memcpy(s->user, name, len + 1);
	return 0;
}

static void auth_result(struct session *s, int rc)
{
	s->auth_step = AUTH_NONE;
	if (rc == 0) {
		s->authenticated = true;
		sl_info("client=%s authenticated user=%s", s->client, s->user);
		smtp_reply(s, "235 2.7.0 Authentication successful");
	} else if (rc == -EPERM) {
		s->user[0] = '\0';
		smtp_reject(s, "AUTH", "535 5.7.8 Authentication credentials invalid");
	} else {
		s->user[0] = '\0';
		smtp_reject(s, "AUTH", "501 5.5.2 Malformed authentication response");
	}
}

static void auth_plain_response(struct session *s, const char *b64)
{
	char resp[1024];
	int n = sl_auth_base64_decode(b64, resp, sizeof(resp));

	auth_result(s, n < 0 ? -EINVAL
			     : sl_auth_plain(s->srv->auth, resp, (size_t)n, s->user, sizeof(s->user)));
	OPENSSL_cleanse(resp, sizeof(resp));
}

static int check_auth(struct session *s, const char *args)
{
	if (!s->srv->auth) {
		smtp_reject(s, "AUTH", "502 5.5.1 Error: authentication is not offered");
		return -1;
	}
	if (!s->tls_on) {
		smtp_reject(s, "AUTH", "538 5.7.11 Encryption required for requested authentication mechanism");
		return -1;
	}
	if (!s->esmtp) {
		smtp_reject(s, "AUTH", "503 5.5.1 Error: send EHLO first");
		return -1;
	}
	if (s->authenticated) {
		smtp_reject(s, "AUTH", "503 5.5.1 Error: already authenticated");
		return -1;
	}
	if (s->state != ST_READY) {
		smtp_reject(s, "AUTH", "503 5.5.1 Error: AUTH inside a transaction");
		return -1;
	}
	if (strncasecmp(args, "PLAIN", 5) && strncasecmp(args, "LOGIN", 5)) {
		smtp_reject(s, "AUTH", "504 5.5.4 Unrecognized authentication type");
		return -1;
	}
	if (args[5] != '\0' && args[5] != ' ') {
		smtp_reject(s, "AUTH", "504 5.5.4 Unrecognized authentication type");
		return -1;
	}
	return 0;
}

static void act_auth(struct session *s, const char *args)
{
	const char *initial = args[5] == ' ' ? args + 6 : NULL;

	if (!strncasecmp(args, "PLAIN", 5)) {
		if (initial && strcmp(initial, "=") != 0) {
			auth_plain_response(s, initial);
			return;
		}
		s->auth_step = AUTH_PLAIN_WAIT;
		smtp_reply(s, "334 ");
		return;
	}
	if (initial) {
		char user[256];

		if (sl_auth_base64_decode(initial, user, sizeof(user)) < 0 || set_user(s, user) < 0) {
			auth_result(s, -EINVAL);
			return;
		}
		s->auth_step = AUTH_LOGIN_PASS;
		smtp_reply(s, "334 UGFzc3dvcmQ6");	/* "Password:" */
		return;
	}
	s->auth_step = AUTH_LOGIN_USER;
	smtp_reply(s, "334 VXNlcm5hbWU6");	/* "Username:" */
}

/* A line sent during an AUTH exchange: never logged, it holds credentials. */
void smtp_auth_continue(struct session *s, const char *line, size_t len)
{
	char text[1024], decoded[512];
	int n;

	if (len >= sizeof(text)) {
		auth_result(s, -EINVAL);
		return;
	}
	memcpy(text, line, len);
	text[len] = '\0';
	if (!strcmp(text, "*")) {
		s->auth_step = AUTH_NONE;
		s->user[0] = '\0';
		smtp_reject(s, "AUTH", "501 5.7.0 Authentication cancelled");
		return;
	}
	switch (s->auth_step) {
	case AUTH_PLAIN_WAIT:
		auth_plain_response(s, text);
		break;
	case AUTH_LOGIN_USER:
		n = sl_auth_base64_decode(text, decoded, sizeof(decoded));
		if (n < 0 || set_user(s, decoded) < 0) {
			auth_result(s, -EINVAL);
			break;
		}
		s->auth_step = AUTH_LOGIN_PASS;
		smtp_reply(s, "334 UGFzc3dvcmQ6");
		break;
	case AUTH_LOGIN_PASS:
		n = sl_auth_base64_decode(text, decoded, sizeof(decoded));
		if (n < 0)
			auth_result(s, -EINVAL);
		else
			auth_result(s, sl_auth_check(s->srv->auth, s->user, decoded) ? 0 : -EPERM);
		break;
	default:
		break;
	}
	OPENSSL_cleanse(text, sizeof(text));
	OPENSSL_cleanse(decoded, sizeof(decoded));
}

static const struct smtp_command commands[] = {
	{ "EHLO", ANY_CMD_STATE & ~S(ST_BDAT), check_helo, act_ehlo },
	{ "HELO", ANY_CMD_STATE & ~S(ST_BDAT), check_helo, act_helo },
	{ "MAIL", ANY_CMD_STATE & ~S(ST_BDAT), check_mail, act_mail },
	{ "RCPT", ANY_CMD_STATE & ~S(ST_BDAT), check_rcpt, act_rcpt },
	{ "DATA", ANY_CMD_STATE, check_data, act_data },
	{ "BDAT", ANY_CMD_STATE, check_bdat, act_bdat },
	{ "RSET", ANY_CMD_STATE, check_rset, act_rset },
	{ "NOOP", ANY_CMD_STATE, NULL, act_noop },
	{ "QUIT", ANY_CMD_STATE, NULL, act_quit },
	{ "VRFY", ANY_CMD_STATE & ~S(ST_BDAT), NULL, act_vrfy },
	{ "HELP", ANY_CMD_STATE & ~S(ST_BDAT), NULL, act_help },
	{ "STARTTLS", ANY_CMD_STATE & ~S(ST_BDAT), check_starttls, act_starttls },
	{ "AUTH", ANY_CMD_STATE & ~S(ST_BDAT), check_auth, act_auth },
};

void smtp_dispatch(struct session *s, const char *line, size_t len)
{
	char verb[16], copy[65536];
	const char *args;

	if (len >= sizeof(copy)) {
		smtp_reject(s, "-", "500 5.5.2 Line too long");
		return;
	}
	memcpy(copy, line, len);
	copy[len] = '\0';
	if (sl_smtp_split(copy, len, verb, sizeof(verb), &args) < 0) {
		smtp_reject(s, "-", "500 5.5.2 Syntax error: control characters in command");
		return;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct smtp_command *cmd = &commands[i];

		if (strcmp(cmd->verb, verb) != 0)
			continue;
		if (!(cmd->states & S(s->state))) {
			smtp_reject(s, cmd->verb, "503 5.5.1 Error: bad sequence of commands");
			return;
		}
		if (cmd->check && cmd->check(s, args) < 0)
			return;
		cmd->action(s, args);
		return;
	}
	smtp_reject(s, verb[0] ? verb : "-", "500 5.5.2 Error: command not recognized");
}
