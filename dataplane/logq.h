/*
 * dataplane/logq.h - sluiced's log service thread, so that workers do not
 * wait for log writes to the disk.
 *
 * sl_logq_start() routes every log line (common/log.h) into a 1 MiB
 * in-memory queue that one service thread writes to the log file. A
 * thread that logs only copies its line under a mutex held for the copy.
 * When the queue is full the line is dropped and counted, and the writer
 * logs the count once there is room again. The service thread also
 * reopens the log file on request (SIGHUP), so writes and the reopen
 * never race. sl_logq_stop() writes what is queued and returns to direct
 * writes.
 */
#ifndef SLUICE_DATAPLANE_LOGQ_H
#define SLUICE_DATAPLANE_LOGQ_H

int sl_logq_start(void);
/* Ask the service thread to reopen PATH (kept by the caller). */
void sl_logq_reopen(const char *path);
void sl_logq_stop(void);

#endif
