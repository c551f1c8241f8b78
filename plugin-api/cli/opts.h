/*
 * The option parser of the subcommands, over glibc's getopt_long: each subcommand has its own
 * table of long options with a value ("--config FILE" or "--config=FILE"), flags ("--json"),
 * repeatable options, and positional arguments, in any order. "--" ends options. An option
 * the table lacks is an error; -h/--help prints the subcommand's help (cr_cli_help) and exits
 * 0, unless the table lists "help" itself (then it is an ordinary flag).
 */
#ifndef CR_CLI_OPTS_H
#define CR_CLI_OPTS_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdio.h>

#define CR_OPTS_MAX 64

typedef struct cr_optspec {
    const char *name; /* without "--" */
    bool has_value;
} cr_optspec;

typedef struct cr_opts {
    const char *names[CR_OPTS_MAX];
    const char *values[CR_OPTS_MAX]; /* NULL for flags */
    size_t n;
    const char *pos[CR_OPTS_MAX];
    size_t npos;
} cr_opts;

/* Parses argv[1..argc) (argv[0] is the subcommand). On a usage error prints it and returns
 * false. */
bool cr_opts_parse(int argc, char **argv, const cr_optspec *spec, cr_opts *o);
/* The help text of subcommand `cmd` (the whole usage when unknown or NULL) to `f`. */
void cr_cli_help(const char *cmd, FILE *f);
/* Last value of an option, or NULL. */
const char *cr_opt(const cr_opts *o, const char *name);
bool cr_flag(const cr_opts *o, const char *name);
/* --owner "USER[:GROUP]" (names or numbers) into uid/gid; without GROUP the user's own group.
 * False after saying on stderr, as `cmd`, what is not known. */
bool cr_parse_owner(const char *cmd, const char *s, uid_t *uid, gid_t *gid);
/* Every value of a repeatable option, split at commas too; returns the count. */
size_t cr_opt_all(const cr_opts *o, const char *name, const char **out, size_t max, char *buf,
                  size_t buflen);

#endif
