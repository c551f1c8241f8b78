/* The callroute command line: shared declarations of its subcommands. */
#ifndef CR_CLI_H
#define CR_CLI_H

#include "callroute.h"

#include <stdbool.h>

/* Each subcommand gets argv after the subcommand name (argv[0] is the subcommand) and
 * returns the process exit status: 0 success, 1 decision/validation failed, 2 usage or
 * configuration error. */
int cr_cmd_check(const cr_plugin *p, int argc, char **argv);
int cr_cmd_normalize(const cr_plugin *p, int argc, char **argv);
int cr_cmd_route(const cr_plugin *p, int argc, char **argv);
int cr_cmd_dial(const cr_plugin *p, int argc, char **argv);
int cr_cmd_simulate(const cr_plugin *p, int argc, char **argv);
int cr_cmd_bench(const cr_plugin *p, int argc, char **argv);
int cr_cmd_inbound(const cr_plugin *p, int argc, char **argv);
int cr_cmd_users(const cr_plugin *p, int argc, char **argv);
int cr_cmd_compile(const cr_plugin *p, int argc, char **argv);
/* users list|show|remove over the directory at db (uri for show and remove). */
int cr_users_list(const cr_plugin *p, const char *db, const char *cmd, const char *uri, bool json);
int cr_cmd_test(const cr_plugin *p, int argc, char **argv);
int cr_cmd_diff(const cr_plugin *p, int argc, char **argv);

/* Opens --config FILE through the plugin; prints the error and returns NULL on failure. */
cr_handle *cr_cli_open(const cr_plugin *p, const char *config, const cr_open_options *opts);
/* Prints a result as JSON (one line) or as human text to stdout. */
void cr_cli_print(const cr_plugin *p, const cr_result *r, int json);
/* s on stdout as a JSON string (escaped as the library escapes), or null for NULL. */
void cr_cli_json_str(const char *s);
#endif
