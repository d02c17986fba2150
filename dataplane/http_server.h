/*
 * dataplane/http_server.h - sluiced's HTTP injection API (POST
 * /v1/messages and POST /v1/send, HTTP/1.1 with keep-alive, API keys).
 *
 * sl_http_server_register() adds the API to every worker; call it after
 * sl_net_kernel_register() and sl_store_register() and before
 * sl_workers_start(). Configuration: the "http" section; without
 * http.listen the module does nothing. docs/http-api.md describes the
 * endpoints.
 */
#ifndef SLUICE_DATAPLANE_HTTP_SERVER_H
#define SLUICE_DATAPLANE_HTTP_SERVER_H

int sl_http_server_register(void);

#endif
