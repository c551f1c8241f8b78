/* callroute users: the LMDB user directory (import, export). */
#include "cli.h"
#include "opts.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const cr_optspec users_spec[] = {
    {"db", true},    {"format", true}, {"json", false}, {"replace", false},
    {"owner", true}, {"help", false},  {NULL, false},
};

static void usage(FILE *f)
{
    fputs("usage: callroute users import --db DIR FILE [--replace] [--owner USER[:GROUP]] "
          "[--json]\n"
          "       callroute users export --db DIR [FILE|-] [--format xml|csv]\n"
          "       callroute users list --db DIR [--json]\n"
          "       callroute users show|remove --db DIR URI [--json]\n"
          "  import: XML (<users> of <user>, as in the configuration) or CSV whose first line\n"
          "  is the header\n"
          "    uri,line,enterpriseVoice,voicePolicy,locationProfile,voicemail,simultaneousRing,\n"
          "    forwardImmediate,noAnswerAfter,noAnswerTarget,teamCallDelay,teamCall,delegates,\n"
          "    pbxIntegration\n"
          "  (columns in any order, only uri required; teamCall and delegates are lists\n"
          "  separated by spaces; booleans true, false, 1 or 0 in any case; a UTF-8 byte\n"
          "  order mark is skipped; fields are UTF-8 text; a line's ;ext= is digits). An\n"
          "  <include> is not followed: import the file that holds the <users>.\n"
          "  Users already in the directory are replaced; --replace\n"
          "  also removes those the file does not list. All or nothing: on an error nothing\n"
          "  changes. --owner gives the directory and its files to USER (and GROUP, else\n"
          "  USER's group): the SIP server's user, e.g. kamailio, must read data.mdb and read\n"
          "  and write lock.mdb. Without --owner a directory that exists keeps its owner.\n"
          "  export: every user, as XML (default, or FILE ending in .xml) or CSV.\n"
          "  list: each user's URI and line (the count on stderr); show: a user's fields;\n"
          "  --json: list as {\"db\", \"users\": [{\"uri\", \"line\"}...], \"count\"}, show as\n"
          "  one object of the CSV columns (null when not set), remove as {\"db\", \"removed\"}.\n"
          "  remove: deletes a user (exit status 1 when there is none): the other users are\n"
          "  exported and imported again with --replace, in one write transaction, so an\n"
          "  import that runs between the two is undone: do not run both at once.\n",
          f);
}

/* Gives the directory and the files in it to uid:gid; false after saying what failed. */
static bool give_dir(const char *db, uid_t uid, gid_t gid)
{
    DIR *dir = opendir(db);
    struct stat ds;
    if (!dir || stat(db, &ds) != 0 ||
        ((ds.st_uid != uid || ds.st_gid != gid) && chown(db, uid, gid) != 0)) {
        fprintf(stderr, "callroute users import: %s: cannot give it to uid %ld gid %ld: %s\n", db,
                (long)uid, (long)gid, strerror(errno));
        if (dir)
            closedir(dir);
        return false;
    }
    bool ok = true;
    char path[PATH_MAX];
    for (struct dirent *e; ok && (e = readdir(dir));) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", db, e->d_name);
        if (e->d_name[0] == '.' || lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
            (st.st_uid == uid && st.st_gid == gid))
            continue;
        if (chown(path, uid, gid) != 0) {
            fprintf(stderr, "callroute users import: %s: cannot give it to uid %ld: %s\n", path,
                    (long)uid, strerror(errno));
            ok = false;
        }
    }
    closedir(dir);
    return ok;
}

static int cmd_import(const cr_plugin *p, const cr_opts *o, const char *db)
{
    if (o->npos != 2) {
        usage(stderr);
        return 2;
    }
    /* the owner to give the directory: --owner, or the owner of the directory that exists */
    const char *owner = cr_opt(o, "owner");
    uid_t uid = 0;
    gid_t gid = 0;
    struct stat st;
    bool give = owner != NULL;
    if (owner && !cr_parse_owner("callroute users import", owner, &uid, &gid))
        return 2;
    if (!owner && stat(db, &st) == 0 && S_ISDIR(st.st_mode)) {
        uid = st.st_uid;
        gid = st.st_gid;
        give = true;
    }
    if (owner) {
        /* --owner is tried on the directory first: an import that cannot give the directory
         * away is refused before it changes anything ("all or nothing") */
        bool made = mkdir(db, 0775) == 0;
        if ((stat(db, &st) != 0 || st.st_uid != uid || st.st_gid != gid) &&
            chown(db, uid, gid) != 0) {
            fprintf(stderr, "callroute users import: %s: cannot give it to uid %ld gid %ld: %s\n",
                    db, (long)uid, (long)gid, strerror(errno));
            if (made)
                rmdir(db);
            fprintf(stderr, "callroute users import: nothing imported\n");
            return 2;
        }
    }
    bool replace = cr_flag(o, "replace");
    if (replace && !(CR_HAS(cr_plugin, p, users_import_ex) && p->users_import_ex)) {
        fprintf(stderr, "callroute users import: this library cannot --replace\n");
        return 2;
    }
    char err[16384];
    cr_result *r = NULL;
    int rc = replace ? p->users_import_ex(db, o->pos[1], CR_IMPORT_REPLACE, &r, err, sizeof err)
                     : p->users_import(db, o->pos[1], &r, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err[0] ? err : p->strerror(rc));
        fprintf(stderr, "callroute users import: nothing imported\n");
        return rc == CR_ABI_ECONFIG ? 1 : 2;
    }
    if (give && !give_dir(db, uid, gid) && owner) { /* keeping the owner is best effort */
        p->result_free(r);
        return 2;
    }
    if (cr_flag(o, "json"))
        cr_cli_print(p, r, 1);
    else
        printf("%s: %s users read (%s added, %s replaced, %s removed) in %s s; %s: %s users, "
               "%s lines, data.mdb %s bytes (%s in use)\n",
               o->pos[1], p->result_get(r, "read"), p->result_get(r, "added"),
               p->result_get(r, "replaced"), p->result_get(r, "removed"),
               p->result_get(r, "seconds"), db, p->result_get(r, "users"),
               p->result_get(r, "lines"), p->result_get(r, "file_bytes"),
               p->result_get(r, "used_bytes"));
    p->result_free(r);
    return 0;
}

/* The options each users subcommand takes (--db and --help: all of them). */
static const struct {
    const char *cmd, *opts;
} users_opts[] = {
    {"import", " replace owner json "},
    {"export", " format "},
    {"list", " json "},
    {"show", " json "},
    {"remove", " json "},
};

/* Whether every option given applies to `cmd` (issue 16: none silently ignored); false after
 * naming the first that does not. An unknown subcommand is left to the usage. */
static bool users_opts_apply(const cr_opts *o, const char *cmd)
{
    for (size_t i = 0; i < sizeof users_opts / sizeof users_opts[0]; i++) {
        if (strcmp(users_opts[i].cmd, cmd) != 0)
            continue;
        for (size_t k = 0; k < o->n; k++) {
            char word[64];
            snprintf(word, sizeof word, " %s ", o->names[k]);
            if (strcmp(o->names[k], "db") && strcmp(o->names[k], "help") &&
                !strstr(users_opts[i].opts, word)) {
                fprintf(stderr, "callroute users %s: --%s does not apply to %s%s\n", cmd,
                        o->names[k], cmd,
                        strcmp(cmd, "export") == 0 ? " (it writes XML or CSV: --format xml|csv)"
                                                   : "");
                return false;
            }
        }
    }
    return true;
}

int cr_cmd_users(const cr_plugin *p, int argc, char **argv)
{
    cr_opts o;
    if (!cr_opts_parse(argc, argv, users_spec, &o))
        return 2;
    if (cr_flag(&o, "help")) {
        usage(stdout);
        return 0;
    }
    const char *db = cr_opt(&o, "db");
    if (o.npos < 1 || !db) {
        usage(stderr);
        return 2;
    }
    if (!users_opts_apply(&o, o.pos[0]))
        return 2;
    if (!CR_HAS(cr_plugin, p, users_export) || !p->users_import || !p->users_export) {
        fprintf(stderr, "callroute users: the library has no user directory\n");
        return 2;
    }
    if (strcmp(o.pos[0], "import") == 0)
        return cmd_import(p, &o, db);
    if ((strcmp(o.pos[0], "list") == 0 && o.npos == 1) ||
        ((strcmp(o.pos[0], "show") == 0 || strcmp(o.pos[0], "remove") == 0) && o.npos == 2)) {
        if (strcmp(o.pos[0], "remove") == 0 && !CR_HAS(cr_plugin, p, users_import_ex)) {
            fprintf(stderr, "callroute users remove: this library cannot replace users\n");
            return 2;
        }
        return cr_users_list(p, db, o.pos[0], o.npos == 2 ? o.pos[1] : NULL, cr_flag(&o, "json"));
    }
    if (strcmp(o.pos[0], "export") == 0 && o.npos <= 2) {
        char err[1024];
        int rc = p->users_export(db, o.npos == 2 ? o.pos[1] : "-", cr_opt(&o, "format"), err,
                                 sizeof err);
        if (rc != 0) {
            fprintf(stderr, "callroute users export: %s\n", err[0] ? err : p->strerror(rc));
            return 2;
        }
        return 0;
    }
    usage(stderr);
    return 2;
}
