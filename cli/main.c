/* main.c: settle, the operator's command line: one table of commands, one option parser.
 *
 * Every command and subcommand takes -h/--help (its usage on stdout, exit 0); an unknown
 * option, a missing or extra argument, or a NAME starting with '-' or holding control or
 * format characters is an error (a message and the usage on stderr, exit 2). Nothing
 * touches the database before the command line parsed. */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "migrate.h"
#include "names.h"
#include "sign.h"

#define CLI_EXIT_USAGE 2

struct cli_opt {
	const char *name;  /* a long option that takes a value, e.g. "older-than" */
	const char *value; /* its placeholder in the usage, e.g. "S" */
	bool required;
};

struct cli_cmd {
	const char *words;          /* "user create" */
	const char *arg;            /* the one positional argument ("NAME"), or NULL for none */
	const struct cli_opt *opts; /* at most CLI_MAX_OPTS, ended by an empty one; or NULL */
	bool no_db;                 /* runs without a database connection (gets NULL) */
	int (*run)(PGconn *c, const struct cli_args *a);
	const char *help;
};

static int cli_migrate(PGconn *c, const struct cli_args *a);

static const struct cli_opt cli_reconcile_opts[] = {{"older-than", "S", false},
                                                    {NULL, NULL, false}};
static const struct cli_opt cli_drain_opts[] = {{"duration", "S", true}, {NULL, NULL, false}};
static const struct cli_opt cli_user_create_opts[] = {{"email", "E", false}, {NULL, NULL, false}};

static const struct cli_cmd cli_cmds[] = {
    {"migrate", NULL, NULL, false, cli_migrate, "apply pending database migrations"},
    {"user create", "NAME", cli_user_create_opts, false, cli_user_create,
     "create a user (or a new key for it; --email: its email); prints its key"},
    {"user disable", "NAME", NULL, false, cli_user_disable,
     "refuse the user tokens; its live ones answer 401 within 5 s"},
    {"user enable", "NAME", NULL, false, cli_user_enable,
     "allow the user again; tokens from before the disable stay dead"},
    {"agent create", "NAME", NULL, false, cli_agent_create,
     "create a software agent; prints its key"},
    {"agent disable", "NAME", NULL, false, cli_agent_disable,
     "disable every agent named NAME (or with id NAME), as for a user"},
    {"agent enable", "NAME", NULL, false, cli_agent_enable,
     "enable every agent named NAME (or with id NAME)"},
    {"stats", NULL, NULL, false, cli_stats, "pending/consistent/failed resources, backlog, queues"},
    {"reconcile", NULL, cli_reconcile_opts, false, cli_reconcile,
     "re-enqueue resources pending longer than S seconds"},
    {"dead-letters list", NULL, NULL, false, cli_dead_letters_list, "show the jobs in settle.dead"},
    {"dead-letters requeue", NULL, NULL, false, cli_dead_letters_requeue,
     "re-run the jobs in settle.dead"},
    {"message-log drain", NULL, cli_drain_opts, false, cli_message_log_drain,
     "move settle.message_log into the message_log table"},
    {"relay", NULL, NULL, true, cli_relay, "run the outbox relay alone (SETTLE_RELAY=off on APIs)"},
    {"sql check", NULL, NULL, false, cli_sql_check,
     "prepare every SQL unit; fail on one broken or running a settle_* function uninlined"},
};

static int
cli_migrate(PGconn *c, const struct cli_args *a)
{
	char *err = NULL;
	int applied;

	(void)a;
	if (migrate_run(c, &applied, &err) < 0) {
		fprintf(stderr, "settle migrate: %s\n", err);
		free(err);
		return 1;
	}
	printf("migrations applied: %d\n", applied);
	return 0;
}

/* The length of the first word of words. */
static size_t
cli_word_len(const char *words)
{
	return strcspn(words, " ");
}

/* True if the command's first word is `word`. */
static bool
cli_in_group(const struct cli_cmd *cmd, const char *word)
{
	size_t n = cli_word_len(cmd->words);
	return strlen(word) == n && strncmp(cmd->words, word, n) == 0;
}

/* Prints the usage line of one command: "settle WORDS [--opt V] ARG   help". */
static void
cli_usage_line(FILE *out, const struct cli_cmd *cmd)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%s", cmd->words);

	for (const struct cli_opt *o = cmd->opts; o != NULL && o->name != NULL; o++)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
		              o->required ? " --%s %s" : " [--%s %s]", o->name, o->value);
	if (cmd->arg != NULL)
		snprintf(line + n, sizeof(line) - (size_t)n, " %s", cmd->arg);
	fprintf(out, "  settle %-34s %s\n", line, cmd->help);
}

/* Prints the usage of one command, or of every command whose first word is group (every
 * command when both are NULL). */
static void
cli_usage(FILE *out, const char *group, const struct cli_cmd *only)
{
	fputs("usage:\n", out);
	for (size_t i = 0; i < ARRAY_LEN(cli_cmds); i++)
		if (only != NULL ? only == &cli_cmds[i]
		                 : group == NULL || cli_in_group(&cli_cmds[i], group))
			cli_usage_line(out, &cli_cmds[i]);
	if (only != NULL)
		fprintf(out, "  settle %s -h|--help\n", only->words);
	else if (group != NULL)
		fprintf(out, "  settle %s SUBCOMMAND -h|--help\n", group);
	else
		fprintf(out, "  settle [COMMAND] -h|--help\n");
	if (group == NULL && only == NULL)
		fputs("\nConfiguration comes from the environment; `settle --help` lists it.\n",
		      out);
}

/* Reports a usage error: "what: message" and the usage (as cli_usage) on stderr. Returns
 * CLI_EXIT_USAGE. */
PRINTFLIKE(4, 5)
static int
cli_usage_error(const char *group, const struct cli_cmd *only, const char *what, const char *fmt,
                ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cli_usage(stderr, group, only);
	return CLI_EXIT_USAGE;
}

static bool
cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/*
 * Finds the command named by argv[1] (and argv[2] for a command of two words). Returns it
 * with *words set to how many arguments named it, or NULL with *rc set: 0 after printing
 * the usage a -h/--help asked for, CLI_EXIT_USAGE after reporting an error.
 */
static const struct cli_cmd *
cli_find(int argc, char **argv, int *words, int *rc)
{
	const char *group = argv[1], *sub = argc > 2 ? argv[2] : NULL;
	bool known = false;

	for (size_t i = 0; i < ARRAY_LEN(cli_cmds); i++) {
		const struct cli_cmd *cmd = &cli_cmds[i];
		if (!cli_in_group(cmd, group))
			continue;
		known = true;
		*words = cmd->words[cli_word_len(cmd->words)] == '\0' ? 1 : 2;
		if (*words == 1 ||
		    (sub != NULL && strcmp(cmd->words + strlen(group) + 1, sub) == 0))
			return cmd;
	}
	if (!known) {
		*rc = cli_usage_error(
		    NULL, NULL, "settle",
		    group[0] == '-' ? "unknown option '%s'" : "unknown command '%s'", group);
	} else if (sub != NULL && cli_is_help(sub)) {
		cli_usage(stdout, group, NULL);
		*rc = 0;
	} else {
		char what[64];
		snprintf(what, sizeof(what), "settle %s", group);
		*rc = sub == NULL
		          ? cli_usage_error(group, NULL, what, "a subcommand is needed")
		          : cli_usage_error(group, NULL, what, "unknown subcommand '%s'", sub);
	}
	return NULL;
}

/* A positional NAME must not look like an option, nor be empty, and must be UTF-8 without
 * control or format characters (names_text_problem; not echoed, since it could drive the
 * terminal). 0 or CLI_EXIT_USAGE. */
static int
cli_check_name(const struct cli_cmd *cmd, const char *what, const char *name)
{
	const char *problem = names_text_problem(name);

	if (problem != NULL)
		return cli_usage_error(NULL, cmd, what, "%s %s", cmd->arg, problem);
	if (name[0] == '-')
		return cli_usage_error(NULL, cmd, what, "%s may not start with '-': '%s'", cmd->arg,
		                       name);
	if (name[0] == '\0')
		return cli_usage_error(NULL, cmd, what, "%s may not be empty", cmd->arg);
	return 0;
}

/* getopt_long's table for cmd: --help/-h, then each of its options (val: 1000 + index). */
static void
cli_long_options(const struct cli_cmd *cmd, struct option *out)
{
	int n = 0;

	out[n++] = (struct option){"help", no_argument, NULL, 'h'};
	for (int i = 0; cmd->opts != NULL && cmd->opts[i].name != NULL; i++)
		out[n++] = (struct option){cmd->opts[i].name, required_argument, NULL, 1000 + i};
	out[n] = (struct option){NULL, 0, NULL, 0};
}

/*
 * Parses what follows the command's words (argv[0] is its last word) into *a. Returns -1
 * when the command is to run, 0 after printing the usage -h/--help asked for, or
 * CLI_EXIT_USAGE after reporting an unknown option, a missing value or a wrong argument.
 */
static int
cli_parse(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *a)
{
	struct option longopts[CLI_MAX_OPTS + 2];
	char what[64];
	int ch;

	snprintf(what, sizeof(what), "settle %s", cmd->words);
	cli_long_options(cmd, longopts);
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch == 'h') {
			cli_usage(stdout, NULL, cmd);
			return 0;
		}
		if (ch == ':')
			return cli_usage_error(NULL, cmd, what, "option '%s' needs a value",
			                       argv[optind - 1]);
		if (ch == '?' && optopt != 0)
			return cli_usage_error(NULL, cmd, what, "unknown option '-%c'", optopt);
		if (ch == '?')
			return cli_usage_error(NULL, cmd, what, "unknown option '%s'",
			                       argv[optind - 1]);
		a->opts[ch - 1000] = optarg;
	}
	for (int i = 0; cmd->opts != NULL && cmd->opts[i].name != NULL; i++)
		if (cmd->opts[i].required && a->opts[i] == NULL)
			return cli_usage_error(NULL, cmd, what, "--%s %s is required",
			                       cmd->opts[i].name, cmd->opts[i].value);
	if (cmd->arg != NULL && optind == argc)
		return cli_usage_error(NULL, cmd, what, "%s is missing", cmd->arg);
	if (cmd->arg != NULL) {
		a->arg = argv[optind++];
		if (cli_check_name(cmd, what, a->arg) != 0)
			return CLI_EXIT_USAGE;
	}
	if (optind < argc)
		return cli_usage_error(NULL, cmd, what, "unexpected argument '%s'", argv[optind]);
	return -1;
}

int
main(int argc, char **argv)
{
	const struct cli_cmd *cmd;
	struct cli_args a = {{NULL}, NULL};
	int words = 0, rc = CLI_EXIT_USAGE;
	PGconn *c = NULL;

	if (argc < 2) {
		cli_usage(stderr, NULL, NULL);
		return CLI_EXIT_USAGE;
	}
	if (cli_is_help(argv[1])) {
		cli_usage(stdout, NULL, NULL);
		putchar('\n');
		config_usage(stdout, "settle");
		return 0;
	}
	if ((cmd = cli_find(argc, argv, &words, &rc)) == NULL)
		return rc;
	if ((rc = cli_parse(cmd, argc - words, argv + words, &a)) >= 0)
		return rc;
	config_init(1, argv, "settle");
	signal(SIGPIPE, SIG_IGN);
	sign_set_key(cfg.secret);
	if (!cmd->no_db && (c = db_connect(cfg.database_url, 3)) == NULL) {
		fprintf(stderr, "settle: cannot connect to %s\n", cfg.database_url);
		return 1;
	}
	rc = cmd->run(c, &a);
	if (c != NULL)
		PQfinish(c);
	return rc;
}
