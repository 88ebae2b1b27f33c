/* sqlunits.c: the build's generator of the named SQL units (sql/<module>.sql). Reads every file
 * named on the command line and writes, to OUT.h and OUT.c:
 *
 *   enum sql_unit { SQL_<NAME>, ..., SQL_UNIT_COUNT };
 *   enum { <NAME>_C_<COLUMN>, ..., <NAME>_NCOLS };      one per unit that returns rows
 *   const struct sql_unit_def sql_units[SQL_UNIT_COUNT]; name, file, text, parameters, columns
 *
 * A file holds units, each headed by comment lines:
 *
 *   -- unit: files_get
 *   -- What it does, in sentences (any number of lines).
 *   -- returns: id, name, audit
 *   SELECT ...
 *
 * "-- unit:" starts a unit (lower-case name, unique across files); "-- returns:" lists its
 * result columns by name, in order (none: it returns no rows). The text runs to the next
 * "-- unit:" line, without the header's comments and a trailing ';'. The number of parameters
 * is the highest $n in the text. Nothing here checks the SQL itself: every unit is prepared
 * and described on each connection before its first use (db_units_prepare), where a unit
 * that does not parse, or whose columns differ from its "returns:", fails.
 *
 * Exits 1 with file:line on a malformed file. Memory is static: a bigger sql/ raises the
 * limits below. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_UNITS 512
#define MAX_COLS  64
#define MAX_TEXT  16384
#define MAX_NAME  64

struct unit {
	char name[MAX_NAME];
	const char *file;
	int line;
	char text[MAX_TEXT];
	size_t len;
	int nparams;
	int ncols;
	char cols[MAX_COLS][MAX_NAME];
	int in_body; /* a non-header line was read */
};

static struct unit units[MAX_UNITS];
static int nunits;

static void
die(const char *file, int line, const char *msg, const char *what)
{
	fprintf(stderr, "%s:%d: %s%s%s\n", file, line, msg, what ? ": " : "", what ? what : "");
	exit(1);
}

static void
upper(char *dst, const char *src, size_t cap)
{
	size_t i = 0;
	for (; src[i] != '\0' && i + 1 < cap; i++)
		dst[i] = (char)toupper((unsigned char)src[i]);
	dst[i] = '\0';
}

/* True when s (NUL-terminated, no newline) is a lower-case identifier. */
static int
is_ident(const char *s)
{
	if (!islower((unsigned char)s[0]))
		return 0;
	for (; *s != '\0'; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

static void
parse_returns(struct unit *u, char *list, const char *file, int line)
{
	for (char *tok = strtok(list, ", \t"); tok != NULL; tok = strtok(NULL, ", \t")) {
		if (!is_ident(tok) || strlen(tok) >= MAX_NAME)
			die(file, line, "a column is not a lower-case name", tok);
		if (u->ncols == MAX_COLS)
			die(file, line, "too many columns", NULL);
		for (int i = 0; i < u->ncols; i++)
			if (strcmp(u->cols[i], tok) == 0)
				die(file, line, "column named twice", tok);
		strcpy(u->cols[u->ncols++], tok);
	}
}

static void
append(struct unit *u, const char *s, const char *file, int line)
{
	size_t n = strlen(s);
	if (u->len + n + 1 >= MAX_TEXT)
		die(file, line, "unit too long", u->name);
	memcpy(u->text + u->len, s, n + 1);
	u->len += n;
}

/* Ends u: drops trailing blanks and one ';', counts the parameters. */
static void
finish(struct unit *u)
{
	while (u->len > 0 &&
	       (isspace((unsigned char)u->text[u->len - 1]) || u->text[u->len - 1] == ';'))
		u->text[--u->len] = '\0';
	if (u->len == 0)
		die(u->file, u->line, "unit has no SQL", u->name);
	for (const char *p = u->text; (p = strchr(p, '$')) != NULL; p++) {
		int n = atoi(p + 1);
		if (isdigit((unsigned char)p[1]) && n > u->nparams)
			u->nparams = n;
	}
}

static void
read_file(const char *file)
{
	FILE *f = fopen(file, "r");
	char buf[4096];
	struct unit *u = NULL;
	int line = 0;

	if (f == NULL)
		die(file, 0, "cannot open", NULL);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		line++;
		if (strchr(buf, '\n') == NULL && !feof(f))
			die(file, line, "line too long", NULL);
		if (strncmp(buf, "-- unit:", 8) == 0) {
			char *name = buf + 8 + strspn(buf + 8, " \t");
			name[strcspn(name, " \t\r\n")] = '\0';
			if (!is_ident(name) || strlen(name) >= MAX_NAME)
				die(file, line, "unit name is not a lower-case name", name);
			for (int i = 0; i < nunits; i++)
				if (strcmp(units[i].name, name) == 0)
					die(file, line, "unit named twice", name);
			if (u != NULL)
				finish(u);
			if (nunits == MAX_UNITS)
				die(file, line, "too many units", NULL);
			u = &units[nunits++];
			strcpy(u->name, name);
			u->file = file;
			u->line = line;
			continue;
		}
		if (u == NULL) {
			if (buf[strspn(buf, " \t\r\n")] != '\0' && strncmp(buf, "--", 2) != 0)
				die(file, line, "SQL before the first \"-- unit:\"", NULL);
			continue; /* the file's own heading */
		}
		if (!u->in_body && strncmp(buf, "-- returns:", 11) == 0) {
			buf[strcspn(buf, "\r\n")] = '\0';
			parse_returns(u, buf + 11, file, line);
			continue;
		}
		if (!u->in_body &&
		    (strncmp(buf, "--", 2) == 0 || buf[strspn(buf, " \t\r\n")] == '\0'))
			continue; /* the unit's description */
		u->in_body = 1;
		append(u, buf, file, line);
	}
	if (u != NULL)
		finish(u);
	fclose(f);
}

/* Writes s as the body of a C string literal. */
static void
put_c_string(FILE *o, const char *s)
{
	fputs("\t \"", o);
	for (; *s != '\0'; s++) {
		if (*s == '\n')
			fputs(s[1] != '\0' ? "\\n\"\n\t \"" : "\\n", o);
		else if (*s == '"' || *s == '\\')
			fprintf(o, "\\%c", *s);
		else if (*s == '\t')
			fputs("\\t", o);
		else
			fputc(*s, o);
	}
	fputs("\"", o);
}

static FILE *
open_out(const char *base, const char *ext, char *path, size_t cap)
{
	snprintf(path, cap, "%s%s.tmp", base, ext);
	FILE *o = fopen(path, "w");
	if (o == NULL)
		die(path, 0, "cannot write", NULL);
	return o;
}

/* Renames path (X.tmp) to X unless X already holds the same bytes, so that an unchanged
 * sql/ rebuilds nothing. */
static void
commit_out(const char *path)
{
	static char a[1 << 20], b[1 << 20];
	char final[4096];
	snprintf(final, sizeof(final), "%.*s", (int)(strlen(path) - 4), path);
	FILE *x = fopen(path, "r"), *y = fopen(final, "r");
	size_t na = x ? fread(a, 1, sizeof(a), x) : 0, nb = y ? fread(b, 1, sizeof(b), y) : 0;
	int same = x && y && na == nb && na < sizeof(a) && memcmp(a, b, na) == 0;
	if (x)
		fclose(x);
	if (y)
		fclose(y);
	if (same)
		remove(path);
	else if (rename(path, final) != 0)
		die(final, 0, "cannot rename", NULL);
}

static void
write_header(const char *base)
{
	char path[4096], up[MAX_NAME], col[MAX_NAME];
	FILE *o = open_out(base, ".h", path, sizeof(path));

	fputs("/* Generated by tools/sqlunits.c from sql/ *.sql: do not edit. */\n"
	      "#ifndef SETTLE_SQL_UNITS_H\n#define SETTLE_SQL_UNITS_H\n\n"
	      "/* The named statements of sql/, in file order. */\nenum sql_unit {\n",
	      o);
	for (int i = 0; i < nunits; i++) {
		upper(up, units[i].name, sizeof(up));
		const char *file = strrchr(units[i].file, '/');
		fprintf(o, "\tSQL_%s, /* sql/%s:%d */\n", up, file ? file + 1 : units[i].file,
		        units[i].line);
	}
	fputs("\tSQL_UNIT_COUNT\n};\n\n"
	      "/* The result columns of each unit that returns rows. */\n",
	      o);
	for (int i = 0; i < nunits; i++) {
		if (units[i].ncols == 0)
			continue;
		upper(up, units[i].name, sizeof(up));
		fprintf(o, "enum {");
		for (int k = 0; k < units[i].ncols; k++) {
			upper(col, units[i].cols[k], sizeof(col));
			fprintf(o, " %s_C_%s,", up, col);
		}
		fprintf(o, " %s_NCOLS };\n", up);
	}
	fputs("\nstruct sql_unit_def {\n"
	      "\tconst char *name;          /* as in sql/, e.g. \"files_get\" */\n"
	      "\tconst char *file;          /* the file and line it comes from */\n"
	      "\tint line;\n"
	      "\tconst char *sql;           /* its text */\n"
	      "\tint nparams;               /* $1..$nparams */\n"
	      "\tint ncols;                 /* result columns (0: none) */\n"
	      "\tconst char *const *cols;   /* their names, as \"-- returns:\" lists them */\n"
	      "};\n\n"
	      "extern const struct sql_unit_def sql_units[SQL_UNIT_COUNT];\n\n#endif\n",
	      o);
	fclose(o);
	commit_out(path);
}

static void
write_source(const char *base, const char *header)
{
	char path[4096];
	FILE *o = open_out(base, ".c", path, sizeof(path));
	size_t off = 0;

	fprintf(o,
	        "/* Generated by tools/sqlunits.c from sql/ *.sql: do not edit. */\n"
	        "#include \"%s\"\n\n",
	        header);
	for (int i = 0; i < nunits; i++) {
		if (units[i].ncols == 0)
			continue;
		fprintf(o, "static const char *const cols_%s[] = {", units[i].name);
		for (int k = 0; k < units[i].ncols; k++)
			fprintf(o, "\"%s\", ", units[i].cols[k]);
		fputs("};\n", o);
	}
	fputs("\n/* Every text, one after the other, each ending in a NUL. */\n"
	      "static const char sql_unit_text[] =\n",
	      o);
	for (int i = 0; i < nunits; i++) {
		fprintf(o, "\t/* %s */\n", units[i].name);
		put_c_string(o, units[i].text);
		fputs(" \"\\0\"\n", o);
	}
	fputs("\t;\n\nconst struct sql_unit_def sql_units[SQL_UNIT_COUNT] = {\n", o);
	for (int i = 0; i < nunits; i++) {
		const char *file = strrchr(units[i].file, '/');
		fprintf(o, "\t{\"%s\", \"sql/%s\", %d, sql_unit_text + %zu, %d, %d, ",
		        units[i].name, file ? file + 1 : units[i].file, units[i].line, off,
		        units[i].nparams, units[i].ncols);
		if (units[i].ncols > 0)
			fprintf(o, "cols_%s},\n", units[i].name);
		else
			fputs("0},\n", o);
		off += units[i].len + 1;
	}
	fputs("};\n", o);
	fclose(o);
	commit_out(path);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr,
		        "usage: sqlunits OUT FILE.sql...\n"
		        "writes OUT.h and OUT.c: the units of the files (see sqlunits.c)\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		read_file(argv[i]);
	const char *slash = strrchr(argv[1], '/');
	char header[256];
	snprintf(header, sizeof(header), "%s.h", slash ? slash + 1 : argv[1]);
	write_header(argv[1]);
	write_source(argv[1], header);
	return 0;
}
