/* watchdog.h: closes the connections whose request comes in too slowly. libmicrohttpd's own
 * timeout counts inactivity, so a client that sends one byte now and then holds a connection
 * for ever. One thread looks at every connection once a second and shuts down the socket of
 * a request whose headers are not complete SETTLE_HEADER_TIMEOUT seconds after its first
 * byte, or whose body comes in slower than SETTLE_BODY_MIN_RATE bytes a second on average
 * after that same grace (counted from the end of its headers). */
#ifndef SETTLE_WATCHDOG_H
#define SETTLE_WATCHDOG_H

#include <microhttpd.h>
#include <stddef.h>

#include "util.h"

/* Where a connection is in its current request; the lifecycle tells the watchdog. */
enum watchdog_phase {
	WATCHDOG_IDLE,    /* between requests (or before the first): no byte of the next yet */
	WATCHDOG_HEADERS, /* the first byte of a request came in; its headers are not complete */
	WATCHDOG_BODY,    /* the headers are complete; the body is coming in */
	WATCHDOG_HANDLER, /* the request is complete: handled, waiting or answered; not timed */
};

/* The MHD_OPTION_NOTIFY_CONNECTION callback (cls unused): follows each connection from its
 * start to its close. */
void watchdog_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode code);

/* The request of conn moved to phase (WATCHDOG_IDLE, WATCHDOG_BODY or WATCHDOG_HANDLER). */
void watchdog_set(struct MHD_Connection *conn, enum watchdog_phase phase);
/* n more bytes of the body of conn's request came in. */
void watchdog_body(struct MHD_Connection *conn, size_t n);

/* Starts the thread: header_timeout in seconds (> 0), body_min_rate in bytes a second (0: no
 * floor). 0, or -1 if the thread cannot start. */
int watchdog_start(int64_t header_timeout, int64_t body_min_rate) MUSTCHECK;
/* Stops the thread. */
void watchdog_stop(void);

#endif
