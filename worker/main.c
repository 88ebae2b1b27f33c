/* main.c: settle-worker: consumes the job queues and runs the jobs (see consumer.c). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "consumer.h"
#include "db.h"
#include "housekeeper.h"
#include "log.h"
#include "storage.h"

static volatile sig_atomic_t main_stop;

/* SIGTERM / SIGINT: the first asks the loop to stop; a second one exits at once. */
static void
main_on_signal(int sig)
{
	(void)sig;
	if (main_stop)
		_exit(1);
	main_stop = 1;
}

/* Installs the signal handlers; SIGPIPE is ignored (errors come back from write). */
static void
main_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

int
main(int argc, char **argv)
{
	int rc;

	config_init(argc, argv, "settle-worker");
	log_set_program("settle-worker");
	main_signals();
	if ((rc = storage_start("settle-worker")) != 0)
		return rc;
	if (db_units_start(cfg.database_url) < 0)
		return 2;
	log_info("starting max_attempts=%lld prefetch=%lld fault_rate=%g",
	         (long long)cfg.max_attempts, (long long)cfg.worker_prefetch, cfg.fault_rate);
	struct housekeeper *h = housekeeper_start();
	rc = consumer_run(&main_stop);
	housekeeper_stop(h);
	if (rc < 0)
		return 1;
	log_info("stopped");
	return 0;
}
