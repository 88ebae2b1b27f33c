/* mqrate.c: the reference rate of RabbitMQ for Settle's job path, with a minimal rabbitmq-c
 * client doing what the relay and a worker do: publish N persistent messages (~150-byte
 * JSON bodies) to a durable quorum queue with publisher confirms, in batches of 200 (the
 * relay's batch), then consume them with prefetch 16 (the worker's default) and one ack per
 * message.
 *
 *   mqrate HOST PORT N [fanout]
 *
 * With `fanout` the messages go through a topic exchange bound to the queue and to a second
 * quorum queue that nobody consumes, as settle.jobs feeds both a job queue and
 * settle.message_log.
 *
 * Prints KEY=VALUE lines: publish_per_s, consume_per_s and combined_per_s = N / (publish
 * time + consume time). Exit 1 on any AMQP error. */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE    "settle.bench.mqrate"
#define LOGQ     "settle.bench.mqrate.log"
#define EXCHANGE "settle.bench.mqrate"
#define BATCH    200
#define PREFETCH 16

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
check_rpc(amqp_connection_state_t c, const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		fprintf(stderr, "mqrate: %s failed (reply type %d)\n", what, r.reply_type);
		exit(1);
	}
}

/* Reads frames until every publish up to seq is acked. */
static void
wait_confirms(amqp_connection_state_t c, uint64_t seq)
{
	uint64_t acked = 0;
	while (acked < seq) {
		amqp_frame_t f;
		if (amqp_simple_wait_frame(c, &f) != AMQP_STATUS_OK) {
			fprintf(stderr, "mqrate: waiting for confirms failed\n");
			exit(1);
		}
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
			amqp_basic_ack_t *a = f.payload.method.decoded;
			/* RabbitMQ confirms in order on a channel: the highest tag is the count. */
			if (a->delivery_tag > acked)
				acked = a->delivery_tag;
		} else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
			fprintf(stderr, "mqrate: broker nacked a message\n");
			exit(1);
		}
	}
}

int
main(int argc, char **argv)
{
	if (argc != 4 && !(argc == 5 && strcmp(argv[4], "fanout") == 0)) {
		fprintf(stderr, "usage: mqrate HOST PORT N [fanout]\n");
		return 2;
	}
	int n = atoi(argv[3]);
	int fanout = argc == 5;
	amqp_connection_state_t c = amqp_new_connection();
	amqp_socket_t *s = amqp_tcp_socket_new(c);
	if (amqp_socket_open(s, argv[1], atoi(argv[2])) != AMQP_STATUS_OK) {
		fprintf(stderr, "mqrate: cannot connect to %s:%s\n", argv[1], argv[2]);
		return 1;
	}
	amqp_rpc_reply_t r =
	    amqp_login(c, "/", 0, 131072, 60, AMQP_SASL_METHOD_PLAIN, "guest", "guest");
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		fprintf(stderr, "mqrate: login failed\n");
		return 1;
	}
	amqp_channel_open(c, 1);
	check_rpc(c, "channel.open");
	amqp_table_entry_t qt = {amqp_cstring_bytes("x-queue-type"),
	                         {AMQP_FIELD_KIND_UTF8, {.bytes = amqp_cstring_bytes("quorum")}}};
	amqp_table_t args = {1, &qt};
	amqp_queue_delete(c, 1, amqp_cstring_bytes(QUEUE), 0, 0);
	check_rpc(c, "queue.delete");
	amqp_queue_declare(c, 1, amqp_cstring_bytes(QUEUE), 0, 1, 0, 0, args);
	check_rpc(c, "queue.declare");
	if (fanout) {
		amqp_queue_delete(c, 1, amqp_cstring_bytes(LOGQ), 0, 0);
		check_rpc(c, "queue.delete");
		amqp_queue_declare(c, 1, amqp_cstring_bytes(LOGQ), 0, 1, 0, 0, args);
		check_rpc(c, "queue.declare");
		amqp_exchange_declare(c, 1, amqp_cstring_bytes(EXCHANGE),
		                      amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
		check_rpc(c, "exchange.declare");
		amqp_queue_bind(c, 1, amqp_cstring_bytes(QUEUE), amqp_cstring_bytes(EXCHANGE),
		                amqp_cstring_bytes(QUEUE), amqp_empty_table);
		check_rpc(c, "queue.bind");
		amqp_queue_bind(c, 1, amqp_cstring_bytes(LOGQ), amqp_cstring_bytes(EXCHANGE),
		                amqp_cstring_bytes("#"), amqp_empty_table);
		check_rpc(c, "queue.bind");
	}
	amqp_confirm_select(c, 1);
	check_rpc(c, "confirm.select");

	char body[256], id[40];
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
	           AMQP_BASIC_MESSAGE_ID_FLAG;
	p.content_type = amqp_cstring_bytes("application/json");
	p.delivery_mode = AMQP_DELIVERY_PERSISTENT;

	double t0 = now_s();
	for (int i = 1; i <= n; i++) {
		snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", i);
		int len = snprintf(body, sizeof(body),
		                   "{\"id\":\"%s\",\"kind\":\"upload.complete\",\"resource_id\":"
		                   "\"%s\",\"attempt\":1,\"enqueued_at\":\"2026-01-01T00:00:00Z\"}",
		                   id, id);
		p.message_id = amqp_cstring_bytes(id);
		if (amqp_basic_publish(c, 1,
		                       fanout ? amqp_cstring_bytes(EXCHANGE) : amqp_empty_bytes,
		                       amqp_cstring_bytes(QUEUE), 1, 0, &p,
		                       (amqp_bytes_t){(size_t)len, body}) != AMQP_STATUS_OK) {
			fprintf(stderr, "mqrate: publish failed\n");
			return 1;
		}
		if (i % BATCH == 0 || i == n)
			wait_confirms(c, (uint64_t)i);
	}
	double t1 = now_s();

	amqp_basic_qos(c, 1, 0, PREFETCH, 0);
	check_rpc(c, "basic.qos");
	amqp_basic_consume(c, 1, amqp_cstring_bytes(QUEUE), amqp_empty_bytes, 0, 0, 0,
	                   amqp_empty_table);
	check_rpc(c, "basic.consume");
	for (int i = 0; i < n; i++) {
		amqp_envelope_t e;
		amqp_maybe_release_buffers(c);
		r = amqp_consume_message(c, &e, NULL, 0);
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			fprintf(stderr, "mqrate: consume failed after %d messages\n", i);
			return 1;
		}
		if (amqp_basic_ack(c, 1, e.delivery_tag, 0) != AMQP_STATUS_OK) {
			fprintf(stderr, "mqrate: ack failed\n");
			return 1;
		}
		amqp_destroy_envelope(&e);
	}
	double t2 = now_s();

	amqp_queue_delete(c, 1, amqp_cstring_bytes(QUEUE), 0, 0);
	if (fanout) {
		amqp_queue_delete(c, 1, amqp_cstring_bytes(LOGQ), 0, 0);
		amqp_exchange_delete(c, 1, amqp_cstring_bytes(EXCHANGE), 0);
	}
	amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
	printf("messages=%d\npublish_s=%.3f\npublish_per_s=%.0f\nconsume_s=%.3f\n"
	       "consume_per_s=%.0f\ncombined_per_s=%.0f\n",
	       n, t1 - t0, n / (t1 - t0), t2 - t1, n / (t2 - t1), n / (t2 - t0));
	return 0;
}
