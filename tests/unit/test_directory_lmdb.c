/*
 * The LMDB user directory (directory/include/cr_directory.h): import from CSV and XML, lookups by
 * SIP URI and by line (E.164, ;ext=, private), export round trips, all-or-nothing imports,
 * conflicts with a configuration's inline users, routing through the directory, and
 * readers in another process while an import writes.
 */
#include <setjmp.h>
#include <signal.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cr_directory.h"
#include "cr_rules.h"
#include "testutil.h"

static char dir[64];
static cr_directory *db;

static int fresh_db(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cr_dir_test_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    return cr_directory_open(dir, true, &db, NULL, 0) == CR_OK ? 0 : -1;
}

static int drop_db(void **state)
{
    cr_directory_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *file_in_db_dir(const char *name, const char *text)
{
    static char path[8][128];
    static int slot;
    char *p = path[slot++ % 8];
    snprintf(p, 128, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static int import_text(const char *name, const char *text, bool replace, cr_diag *d)
{
    cr_diag_init(d);
    return cr_directory_import(db, file_in_db_dir(name, text), replace, NULL, d);
}

static void import_ok(const char *name, const char *text, bool replace)
{
    cr_diag d;
    int rc = import_text(name, text, replace, &d);
    for (size_t i = 0; i < d.count; i++)
        fprintf(stderr, "%s:%d: %s\n", d.items[i].file, d.items[i].line, d.items[i].message);
    cr_diag_free(&d);
    assert_int_equal(rc, CR_OK);
}

static bool has_error(const cr_diag *d, int line, const char *needle)
{
    for (size_t i = 0; i < d->count; i++)
        if ((line < 0 || d->items[i].line == line) && strstr(d->items[i].message, needle))
            return true;
    return false;
}

static const char *fixture_csv(void)
{
    static char buf[8192];
    FILE *f = fopen(cr_test_src("tests/users/directory.csv"), "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void csv_import_finds_users_by_uri_line_extension_and_private_number(void **state)
{
    import_ok("u.csv", fixture_csv(), false);
    cr_dir_reader r;
    assert_int_equal(cr_dir_reader_begin(db, NULL, &r), CR_OK);
    const cr_user *zoe = cr_dir_reader_find(&r, "<sip:zoe@CONTOSO.com;transport=tcp>");
    assert_non_null(zoe);
    assert_string_equal(zoe->uri, "sip:zoe@contoso.com");
    assert_true(zoe->enterprise_voice);
    assert_string_equal(zoe->policy, "Full");
    assert_string_equal(zoe->profile, "Redmond.contoso.com");
    assert_string_equal(zoe->voicemail, "sip:zoe-vm@contoso.com");
    assert_string_equal(zoe->simultaneous_ring, "+14255550299");
    assert_int_equal(zoe->forwarding.no_answer_after, 30);
    assert_string_equal(zoe->forwarding.no_answer_target, "voicemail");
    assert_int_equal(zoe->team_call_delay, 5);
    assert_int_equal(zoe->team_call.count, 2);
    assert_string_equal(zoe->team_call.names[1], "sip:yann@contoso.com");
    assert_int_equal(zoe->delegates.count, 1);
    assert_string_equal(zoe->delegates.names[0], "sip:xena@contoso.com");
    /* the line with its extension, and the bare number */
    assert_ptr_equal(cr_dir_reader_by_number(&r, "+14255550200", "50200")->uri, zoe->uri);
    assert_non_null(cr_dir_reader_by_number(&r, "+14255550200", NULL));
    assert_string_equal(cr_dir_reader_by_number(&r, "+14255550200", NULL)->uri, zoe->uri);
    assert_string_equal(cr_dir_reader_by_number(&r, "5550202", NULL)->uri, "sip:xena@contoso.com");
    assert_string_equal(cr_dir_reader_by_number(&r, "+14255550203", NULL)->forwarding.immediate,
                        "sip:bob@contoso.com");
    assert_null(cr_dir_reader_by_number(&r, "+14255550999", NULL));
    assert_null(cr_dir_reader_find(&r, "sip:nobody@contoso.com"));
    /* the earlier users stay valid while the snapshot is open */
    assert_string_equal(zoe->uri, "sip:zoe@contoso.com");
    cr_dir_reader_end(&r);
    cr_directory_stats st;
    assert_int_equal(cr_directory_stat(db, &st), CR_OK);
    assert_int_equal(st.users, 5);
    assert_int_equal(st.lines, 6); /* five lines and zoe's bare number */
    assert_true(st.file_bytes > 0);
}

static char *export_text(cr_dir_format fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(cr_directory_export(db, f, fmt, NULL, 0), CR_OK);
    fclose(f);
    return buf;
}

static void export_and_reimport_give_the_same_directory(void **state)
{
    import_ok("u.csv", fixture_csv(), false);
    char *csv = export_text(CR_DIR_CSV), *xml = export_text(CR_DIR_XML);
    assert_non_null(strstr(xml, "<teamCall delay=\"5\"><member>sip:bob@contoso.com</member>"));
    /* the XML export imported with `replace` gives the same CSV export */
    import_ok("again.xml", xml, true);
    char *csv2 = export_text(CR_DIR_CSV);
    assert_string_equal(csv, csv2);
    /* and so does the CSV export */
    import_ok("again.csv", csv, true);
    char *csv3 = export_text(CR_DIR_CSV);
    assert_string_equal(csv, csv3);
    free(csv);
    free(xml);
    free(csv2);
    free(csv3);
}

static void xml_users_of_a_whole_configuration_are_imported(void **state)
{
    cr_diag d;
    cr_diag_init(&d);
    cr_import_report rep;
    assert_int_equal(cr_directory_import(db, cr_test_src("tests/users/plan.xml"), false, &rep, &d),
                     CR_OK);
    cr_diag_free(&d);
    assert_string_equal(rep.format, "xml");
    assert_int_equal(rep.added, 17);
    cr_dir_reader r;
    cr_dir_reader_begin(db, NULL, &r);
    const cr_user *alice = cr_dir_reader_by_number(&r, "+14255550100", "50100");
    assert_non_null(alice);
    assert_string_equal(alice->simultaneous_ring, "+1 (425) 555-0199");
    assert_int_equal(alice->team_call_delay, 10);
    assert_string_equal(alice->delegates.names[0], "sip:carol@contoso.com");
    cr_dir_reader_end(&r);
}

static void an_empty_file_is_refused(void **state)
{
    cr_diag d;
    assert_int_equal(import_text("e.csv", "", false, &d), CR_ECONFIG);
    assert_true(has_error(&d, -1, "no header line"));
    cr_diag_free(&d);
}

static void errors_name_the_line_and_change_nothing(void **state)
{
    import_ok("u.csv", fixture_csv(), false);
    cr_diag d;
    int rc = import_text("bad.csv",
                         "uri,line,noAnswerAfter\n"
                         "sip:new1@contoso.com,tel:+14255550301,\n"
                         "sip:new2@contoso.com,+14255550302,\n"
                         "sip:new3@contoso.com,tel:+14255550303,9999\n"
                         "sip:new1@contoso.com,,\n"
                         "sip:new4@contoso.com,tel:+14255550201,\n"
                         "bob@contoso.com,,\n",
                         false, &d);
    assert_int_equal(rc, CR_ECONFIG);
    assert_true(has_error(&d, 3, "is not a tel: URI"));
    assert_true(has_error(&d, 4, "noAnswerAfter is '9999'"));
    assert_true(has_error(&d, 5, "listed twice (first at"));
    assert_true(has_error(&d, 6, "already the line of user 'sip:yann@contoso.com'"));
    assert_true(has_error(&d, 7, "must be a SIP URI"));
    cr_diag_free(&d);
    cr_dir_reader r;
    cr_dir_reader_begin(db, NULL, &r);
    assert_null(cr_dir_reader_find(&r, "sip:new1@contoso.com"));
    assert_non_null(cr_dir_reader_find(&r, "sip:zoe@contoso.com"));
    cr_dir_reader_end(&r);
}

static void bad_headers_and_bad_xml_are_refused(void **state)
{
    cr_diag d;
    assert_int_equal(import_text("h.csv", "uri,mobile\n", false, &d), CR_ECONFIG);
    assert_true(has_error(&d, 1, "unknown column 'mobile'"));
    cr_diag_free(&d);
    assert_int_equal(import_text("h2.csv", "line\ntel:+1\n", false, &d), CR_ECONFIG);
    assert_true(has_error(&d, 1, "no 'uri' column"));
    cr_diag_free(&d);
    assert_int_equal(import_text("x.xml", "<users>\n<user uri='sip:a@b'>\n</users>\n", false, &d),
                     CR_ECONFIG);
    assert_true(has_error(&d, -1, "not well-formed XML"));
    cr_diag_free(&d);
    assert_int_equal(import_text("y.xml",
                                 "<users>\n<user uri='sip:a@b' mobile='1'/>\n"
                                 "<user uri='sip:c@b'><pager/></user></users>\n",
                                 false, &d),
                     CR_ECONFIG);
    assert_true(has_error(&d, 2, "unknown attribute 'mobile'"));
    assert_true(has_error(&d, 3, "unknown element <pager>"));
    cr_diag_free(&d);
    /* the routing loader's element reader: name-only children are not empty, numbers in range */
    assert_int_equal(import_text("m.xml",
                                 "<users>\n<user uri='sip:a@b'><teamCall delay='5'>\n"
                                 "<member/></teamCall></user>\n"
                                 "<user uri='sip:c@b'><forwarding noAnswerAfter='0'/></user>\n"
                                 "<user uri='sip:e@b' pbxIntegration='maybe'/></users>\n",
                                 false, &d),
                     CR_ECONFIG);
    assert_true(has_error(&d, 3, "<member> is empty"));
    assert_true(has_error(&d, 4, "attribute 'noAnswerAfter' is '0', expected a whole number"));
    assert_true(has_error(&d, 5, "attribute 'pbxIntegration' is 'maybe'"));
    cr_diag_free(&d);
    assert_int_equal(
        import_text("z.xml", "<?xml version='1.0'?>\n<!DOCTYPE users []>\n<users/>", false, &d),
        CR_ECONFIG);
    assert_true(has_error(&d, -1, "DOCTYPE"));
    cr_diag_free(&d);
}

/* A header with an unknown column used to leave that column's index at -1, and every record
 * was then stored through it (UBSan: index -1 out of bounds): now no record is read. */
static void an_unknown_column_stops_the_import_at_the_header(void **state)
{
    cr_diag d;
    assert_int_equal(import_text("uc.csv",
                                 "uri,mobile,line\n"
                                 "sip:u1@contoso.com,1,tel:+14255550401\n"
                                 "bob@contoso.com,2,\n",
                                 false, &d),
                     CR_ECONFIG);
    assert_true(has_error(&d, 1, "unknown column 'mobile'"));
    /* the records are not read against a broken header: no error about line 3 */
    assert_int_equal(d.errors, 1);
    cr_diag_free(&d);
    cr_dir_reader r;
    cr_dir_reader_begin(db, NULL, &r);
    assert_null(cr_dir_reader_find(&r, "sip:u1@contoso.com"));
    cr_dir_reader_end(&r);
}

/* `n` attributes on one <user> (or namespace declarations with `ns`), as a users file. */
static char *many_attributes(size_t n, bool ns)
{
    char *s = malloc(n * 24 + 128);
    assert_non_null(s);
    size_t o = (size_t)sprintf(s, "<users>\n<user uri=\"sip:a@contoso.com\"");
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, ns ? " xmlns:p%zu=\"u%zu\"" : " a%zu=\"%zu\"", i, i);
    strcpy(s + o, "/>\n</users>\n");
    return s;
}

/* libxml2 2.9 needs minutes for one element with 200,000 attributes (quadratic duplicate
 * checks): refused by the scan before libxml2 sees the element. */
static void an_element_with_too_many_attributes_is_refused(void **state)
{
    for (int ns = 0; ns < 2; ns++) {
        char *xml = many_attributes(200000, ns);
        cr_diag d;
        assert_int_equal(import_text("attrs.xml", xml, false, &d), CR_ECONFIG);
        free(xml);
        assert_true(has_error(&d, 2, "element <user> has more than 256 attributes"));
        assert_int_equal(d.errors, 1);
        cr_diag_free(&d);
    }
    /* 255 unknown attributes besides uri: within the limit, each then named by the import */
    char *xml = many_attributes(255, false);
    cr_diag d;
    assert_int_equal(import_text("attrs.xml", xml, false, &d), CR_ECONFIG);
    free(xml);
    assert_true(has_error(&d, 2, "unknown attribute 'a0'"));
    cr_diag_free(&d);
}

static void quoted_csv_fields(void **state)
{
    import_ok("q.csv",
              "# comment before the header\n"
              "voicePolicy,uri,delegates\n"
              "\"Policy, with comma\",sip:q@contoso.com,\"sip:a@contoso.com sip:b@contoso.com\"\n"
              "\"say \"\"hi\"\"\",sip:r@contoso.com,\n",
              false);
    cr_dir_reader r;
    cr_dir_reader_begin(db, NULL, &r);
    const cr_user *q = cr_dir_reader_find(&r, "sip:q@contoso.com");
    assert_string_equal(q->policy, "Policy, with comma");
    assert_int_equal(q->delegates.count, 2);
    assert_string_equal(cr_dir_reader_find(&r, "sip:r@contoso.com")->policy, "say \"hi\"");
    cr_dir_reader_end(&r);
}

static void reimport_moves_a_line_and_replace_removes_the_rest(void **state)
{
    import_ok("u.csv", fixture_csv(), false);
    import_ok("move.csv", "uri,line\nsip:yann@contoso.com,tel:+14255550401\n", false);
    cr_dir_reader r;
    cr_dir_reader_begin(db, NULL, &r);
    assert_null(cr_dir_reader_by_number(&r, "+14255550201", NULL));
    assert_string_equal(cr_dir_reader_by_number(&r, "+14255550401", NULL)->uri,
                        "sip:yann@contoso.com");
    assert_non_null(cr_dir_reader_find(&r, "sip:zoe@contoso.com"));
    cr_dir_reader_end(&r);
    cr_diag d;
    cr_diag_init(&d);
    cr_import_report rep;
    assert_int_equal(cr_directory_import(db,
                                         file_in_db_dir("only.csv", "uri,line\nsip:zoe@contoso.com,"
                                                                    "tel:+14255550201\n"),
                                         true, &rep, &d),
                     CR_OK);
    cr_diag_free(&d);
    assert_int_equal(rep.replaced, 1);
    assert_int_equal(rep.removed, 4);
    cr_directory_stats st;
    cr_directory_stat(db, &st);
    assert_int_equal(st.users, 1);
    assert_int_equal(st.lines, 1);
    cr_dir_reader_begin(db, NULL, &r);
    assert_string_equal(cr_dir_reader_by_number(&r, "+14255550201", NULL)->uri,
                        "sip:zoe@contoso.com");
    assert_null(cr_dir_reader_by_number(&r, "+14255550200", "50200"));
    cr_dir_reader_end(&r);
}

/* ---- imports written with MDB_APPEND (an empty directory, or `replace`) ------------------- */

/* The sorted write finds the errors the user-by-user write found, at the same lines. */
static void a_fresh_import_names_duplicates_and_shared_lines_at_their_lines(void **state)
{
    cr_diag d;
    int rc = import_text("dup.csv",
                         "uri,line\n"
                         "sip:zed@contoso.com,tel:+14255550500\n"
                         "sip:adam@contoso.com,tel:+14255550501\n"
                         "sip:zed@contoso.com,tel:+14255550502\n"
                         "sip:bea@contoso.com,tel:+14255550500\n"
                         "sip:zed@contoso.com,\n",
                         true, &d);
    assert_int_equal(rc, CR_ECONFIG);
    assert_true(has_error(&d, 4, "listed twice (first at"));
    assert_true(has_error(&d, 4, ":2)"));
    assert_true(has_error(&d, 6, "listed twice"));
    assert_true(has_error(&d, 5,
                          "line 'tel:+14255550500' is already the line of user "
                          "'sip:zed@contoso.com'"));
    assert_int_equal(d.errors, 3);
    cr_diag_free(&d);
    cr_directory_stats st;
    cr_directory_stat(db, &st);
    assert_int_equal(st.users, 0);
}

/* Users are written in URI order, yet the first user of the file keeps a bare number that
 * several lines with extensions share, in both kinds of import. */
static void the_first_user_in_the_file_keeps_a_shared_bare_number(void **state)
{
    const char *text = "uri,line\n"
                       "sip:zed@contoso.com,tel:+14255550600;ext=2\n"
                       "sip:adam@contoso.com,tel:+14255550600;ext=1\n"
                       "sip:mia@contoso.com,tel:+14255550601;ext=7\n"
                       "sip:bo@contoso.com,tel:+14255550601\n";
    for (int merge = 0; merge < 2; merge++) {
        if (merge)
            import_ok("other.csv", "uri\nsip:other@contoso.com\n", true);
        import_ok("shared.csv", text, false);
        cr_dir_reader r;
        cr_dir_reader_begin(db, NULL, &r);
        assert_string_equal(cr_dir_reader_by_number(&r, "+14255550600", NULL)->uri,
                            "sip:zed@contoso.com");
        assert_string_equal(cr_dir_reader_by_number(&r, "+14255550600", "1")->uri,
                            "sip:adam@contoso.com");
        assert_string_equal(cr_dir_reader_by_number(&r, "+14255550600", "9")->uri,
                            "sip:zed@contoso.com"); /* an unknown extension: the bare number */
        /* an exact line wins over an alias, whichever comes first */
        assert_string_equal(cr_dir_reader_by_number(&r, "+14255550601", NULL)->uri,
                            "sip:bo@contoso.com");
        assert_string_equal(cr_dir_reader_by_number(&r, "+14255550601", "7")->uri,
                            "sip:mia@contoso.com");
        assert_int_equal(merge, cr_dir_reader_find(&r, "sip:other@contoso.com") != NULL);
        cr_dir_reader_end(&r);
    }
}

/* Number keys are packed 4 bits a character up to 16 characters; longer ones, and an
 * extension, are hashed and checked against the record. */
static void long_numbers_stars_and_extensions_are_found_exactly(void **state)
{
    import_ok("long.csv",
              "uri,line\n"
              "sip:long@contoso.com,tel:+4930123456789012345\n"
              "sip:long2@contoso.com,tel:+4930123456789012346\n"
              "sip:star@contoso.com,tel:*86#\n"
              "sip:ext@contoso.com,tel:+14255550700;ext=1234567890123456789\n",
              true);
    cr_dir_reader r;
    cr_dir_reader_begin(db, NULL, &r);
    assert_string_equal(cr_dir_reader_by_number(&r, "+4930123456789012345", NULL)->uri,
                        "sip:long@contoso.com");
    assert_string_equal(cr_dir_reader_by_number(&r, "+4930123456789012346", NULL)->uri,
                        "sip:long2@contoso.com");
    assert_null(cr_dir_reader_by_number(&r, "+4930123456789012347", NULL));
    assert_null(cr_dir_reader_by_number(&r, "+493012345678901234", NULL));
    assert_string_equal(cr_dir_reader_by_number(&r, "*86#", NULL)->uri, "sip:star@contoso.com");
    assert_null(cr_dir_reader_by_number(&r, "*86", NULL));
    assert_string_equal(cr_dir_reader_by_number(&r, "+14255550700", "1234567890123456789")->uri,
                        "sip:ext@contoso.com");
    assert_string_equal(cr_dir_reader_by_number(&r, "+14255550700", NULL)->uri,
                        "sip:ext@contoso.com");
    assert_null(cr_dir_reader_by_number(&r, "+1425555070", NULL));
    cr_dir_reader_end(&r);
}

/* A reader's cached transaction belongs to its process: a child that forked after the parent
 * read opens the directory again and reads it (the cached one is dropped, never renewed). */
static void a_child_reads_after_its_parent_cached_a_snapshot(void **state)
{
    import_ok("u.csv", fixture_csv(), false);
    cr_dir_reader r;
    cr_dir_reader_begin(db, NULL, &r);
    assert_non_null(cr_dir_reader_find(&r, "sip:zoe@contoso.com"));
    cr_dir_reader_end(&r); /* cached for this thread */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        cr_directory *mine;
        int ok = cr_directory_open(dir, false, &mine, NULL, 0) == CR_OK && mine != db;
        for (int i = 0; ok && i < 3; i++) {
            ok = cr_dir_reader_begin(mine, NULL, &r) == CR_OK &&
                 cr_dir_reader_by_number(&r, "+14255550201", NULL) != NULL;
            cr_dir_reader_end(&r);
        }
        _exit(ok ? 0 : 1);
    }
    int status;
    waitpid(child, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_dir_reader_begin(db, NULL, &r); /* and the parent's cache still works */
    assert_non_null(cr_dir_reader_find(&r, "sip:zoe@contoso.com"));
    cr_dir_reader_end(&r);
}

/* An import killed with SIGKILL at any point leaves the directory as it was (LMDB commits
 * by switching its meta page): old users all there, the new ones all there or none. */
static void an_import_killed_at_any_point_leaves_the_directory_whole(void **state)
{
    import_ok("u.csv", fixture_csv(), false);
    const char *path = file_in_db_dir("big.csv", "");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("uri,line\n", f);
    const int n = 50000;
    for (int i = 0; i < n; i++)
        fprintf(f, "sip:k%d@contoso.com,tel:+1206%07d\n", i, i);
    fclose(f);
    static const int delays_ms[] = {0, 30, 120, 400, 1500};
    for (size_t t = 0; t < sizeof delays_ms / sizeof delays_ms[0]; t++) {
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            cr_directory *mine;
            cr_diag d;
            cr_diag_init(&d);
            if (cr_directory_open(dir, false, &mine, NULL, 0) != CR_OK)
                _exit(2);
            _exit(cr_directory_import(mine, path, true, NULL, &d) == CR_OK ? 0 : 1);
        }
        struct timespec ts = {0, delays_ms[t] * 1000000L};
        while (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        nanosleep(&ts, NULL);
        kill(child, SIGKILL);
        int status;
        waitpid(child, &status, 0);
        assert_false(WIFEXITED(status) && WEXITSTATUS(status) != 0);
        cr_directory_stats st;
        assert_int_equal(cr_directory_stat(db, &st), CR_OK);
        cr_dir_reader r;
        assert_int_equal(cr_dir_reader_begin(db, NULL, &r), CR_OK);
        bool replaced = st.users == (size_t)n;
        assert_true(replaced || st.users == 5);
        assert_int_equal(replaced, cr_dir_reader_by_number(&r, "+12060049999", NULL) != NULL);
        assert_int_equal(!replaced, cr_dir_reader_find(&r, "sip:zoe@contoso.com") != NULL);
        assert_int_equal(!replaced, cr_dir_reader_by_number(&r, "+14255550200", "50200") != NULL);
        cr_dir_reader_end(&r);
        if (replaced)
            import_ok("u.csv", fixture_csv(), true);
    }
}

/* A directory whose map is too small for the import says what to raise, and keeps what it
 * held. */
static void an_import_larger_than_the_map_names_the_setting_to_raise(void **state)
{
    char small[128], path[160];
    snprintf(small, sizeof small, "%s/small", dir);
    snprintf(path, sizeof path, "%s/many.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("uri,line\n", f);
    for (int i = 0; i < 20000; i++)
        fprintf(f, "sip:m%d@contoso.com,tel:+1206%07d\n", i, i);
    fclose(f);
    setenv("CALLROUTE_DB_MAPSIZE_MB", "1", 1);
    cr_directory *sd;
    int rc = cr_directory_open(small, true, &sd, NULL, 0);
    unsetenv("CALLROUTE_DB_MAPSIZE_MB");
    assert_int_equal(rc, CR_OK);
    cr_diag d;
    cr_diag_init(&d);
    assert_int_not_equal(cr_directory_import(sd, path, true, NULL, &d), CR_OK);
    assert_true(has_error(&d, -1, "CALLROUTE_DB_MAPSIZE_MB"));
    cr_diag_free(&d);
    cr_directory_stats st;
    assert_int_equal(cr_directory_stat(sd, &st), CR_OK);
    assert_int_equal(st.users, 0);
    cr_directory_close(sd);
}

/* ---- with a configuration ------------------------------------------------------------------ */

static const char *config_naming_the_db(void)
{
    char text[1024];
    snprintf(text, sizeof text,
             "<callroute xmlns=\"urn:callroute:config:1\">\n"
             "  <directory path=\"%s\"/>\n"
             "  <include href=\"%s\"/>\n"
             "</callroute>\n",
             strrchr(dir, '/') + 1, cr_test_src("tests/users/plan.xml"));
    /* next to the directory, so that the relative path resolves against this file */
    static char path[128];
    snprintf(path, sizeof path, "/tmp/%s.xml", strrchr(dir, '/') + 1);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The configuration of config_naming_the_db(), which includes the plan from the source tree
 * (an include directory beside the configuration's own). */
static int load_naming_the_db(const char *cfgpath, cr_config **cfg, cr_diag *d)
{
    char users[PATH_MAX];
    snprintf(users, sizeof users, "%s", cr_test_src("tests/users"));
    const char *const dirs[] = {users, NULL};
    cr_load_options opts = {.include_dirs = dirs};
    return cr_rules_load_ex(cfgpath, &opts, cfg, d);
}

static void a_user_both_inline_and_in_the_directory_is_refused_naming_both(void **state)
{
    import_ok("dup.csv", "uri,line\nsip:bob@contoso.com,\nsip:new@contoso.com,tel:+14255550102\n",
              false);
    const char *cfgpath = config_naming_the_db();
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(load_naming_the_db(cfgpath, &cfg, &d), CR_ECONFIG);
    assert_null(cfg);
    assert_true(has_error(&d, 38, "listed here"));
    assert_true(has_error(&d, 38, dir));
    assert_true(has_error(&d, 40, "is also the line of 'sip:new@contoso.com'"));
    cr_diag_free(&d);
    unlink(cfgpath);
}

static void a_missing_directory_is_an_error_at_its_element(void **state)
{
    const char *cfgpath = cr_test_tmpfile("<callroute xmlns=\"urn:callroute:config:1\">\n"
                                          "<directory path=\"no/such/dir\"/>\n"
                                          "<directory path=\"other\"/>\n"
                                          "</callroute>\n",
                                          ".xml");
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(cr_rules_load(cfgpath, &cfg, &d), CR_ECONFIG);
    assert_true(has_error(&d, 3, "a user directory is already named at"));
    cr_diag_free(&d);
    cfgpath = cr_test_tmpfile("<callroute xmlns=\"urn:callroute:config:1\">\n"
                              "<directory path=\"no/such/dir\"/>\n"
                              "</callroute>\n",
                              ".xml");
    cr_diag_init(&d);
    assert_int_equal(cr_rules_load(cfgpath, &cfg, &d), CR_ECONFIG);
    assert_true(has_error(&d, 2, "cannot open the user directory"));
    cr_diag_free(&d);
}

static void routing_uses_the_directory_for_caller_and_reverse_lookup(void **state)
{
    import_ok("u.csv", fixture_csv(), false);
    const char *cfgpath = config_naming_the_db();
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    assert_int_equal(load_naming_the_db(cfgpath, &cfg, &d), CR_OK);
    cr_diag_free(&d);
    unlink(cfgpath);
    cr_dir_reader r;
    assert_int_equal(cr_dir_reader_begin(db, cfg, &r), CR_OK);
    cr_runtime rt = {.users = &r.source};
    cr_decision dec;
    /* an inline caller dialing a directory user's extension: internal */
    cr_route_decide(cfg, "sip:alice@contoso.com", "50201", &rt, &dec, NULL);
    assert_int_equal(dec.kind, CR_INTERNAL);
    assert_string_equal(dec.callee->uri, "sip:yann@contoso.com");
    /* a directory caller is routed with its own policy (LocalOnly: no long distance) */
    cr_route_decide(cfg, "sip:xena@contoso.com", "2065550111", &rt, &dec, NULL);
    assert_int_equal(dec.kind, CR_BLOCKED);
    cr_route_decide(cfg, "sip:zoe@contoso.com", "2065550111", &rt, &dec, NULL);
    assert_int_equal(dec.kind, CR_OUTBOUND);
    /* a policy the configuration lacks (deleted): the default policy applies (guide 9460) */
    cr_trace tr;
    cr_trace_init(&tr);
    cr_route_decide(cfg, "sip:vera@contoso.com", "5550177", &rt, &dec, &tr);
    assert_int_equal(dec.kind, CR_OUTBOUND);
    assert_non_null(tr.buf);
    assert_non_null(strstr(tr.buf, "voice policy 'Missing Policy' is not configured: the default"));
    cr_trace_free(&tr);
    /* inbound from a gateway finds directory callees */
    cr_inbound in;
    assert_int_equal(
        cr_inbound_decide_ex(cfg, NULL, "+14255550200;ext=50200", "2065550111", &rt, &in, NULL),
        CR_OK);
    assert_non_null(in.callee);
    assert_string_equal(in.callee->uri, "sip:zoe@contoso.com");
    /* without the source the directory is invisible */
    cr_route_decide(cfg, "sip:zoe@contoso.com", "2065550111", NULL, &dec, NULL);
    assert_int_equal(dec.kind, CR_NOT_APPLICABLE);
    cr_dir_reader_end(&r);
    cr_config_free(cfg);
}

/* ---- a reader in another process while an import writes ------------------------------------ */

static void lookups_keep_working_in_another_process_during_an_import(void **state)
{
    import_ok("u.csv", fixture_csv(), false);
    /* a big file, so that the import takes a while */
    const size_t n = 200000;
    char path[128];
    snprintf(path, sizeof path, "%s/big.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("uri,line,enterpriseVoice\n", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "sip:u%zu@contoso.com,tel:+1206%07zu,true\n", i, i);
    fclose(f);
    int pipefd[2], ready[2];
    assert_int_equal(pipe(pipefd), 0);
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* the reader: its own environment (after fork), lookups in a loop until told to stop
         * by the new users appearing; reports lookups done and failures */
        close(pipefd[0]);
        close(ready[0]);
        cr_directory *d;
        long done = 0, failed = 0, snapshots_after = 0;
        if (cr_directory_open(dir, false, &d, NULL, 0) != CR_OK)
            _exit(3);
        time_t until = time(NULL) + 60;
        while (snapshots_after < 50 && time(NULL) < until) {
            cr_dir_reader r;
            if (cr_dir_reader_begin(d, NULL, &r) != CR_OK) {
                failed++;
                continue;
            }
            const cr_user *z = cr_dir_reader_by_number(&r, "+14255550200", "50200");
            const cr_user *x = cr_dir_reader_find(&r, "sip:xena@contoso.com");
            if (!z || !x || strcmp(z->uri, "sip:zoe@contoso.com") != 0)
                failed++;
            if (cr_dir_reader_find(&r, "sip:u199999@contoso.com"))
                snapshots_after++;
            done++;
            cr_dir_reader_end(&r);
            if (done == 1 && write(ready[1], "r", 1) != 1) /* one round before the import */
                _exit(5);
        }
        cr_directory_close(d);
        long res[3] = {done, failed, snapshots_after};
        if (write(pipefd[1], res, sizeof res) != sizeof res)
            _exit(4);
        _exit(0);
    }
    close(pipefd[1]);
    close(ready[1]);
    char r1;
    assert_int_equal(read(ready[0], &r1, 1), 1); /* the reader has read the old directory */
    close(ready[0]);
    cr_diag d;
    cr_diag_init(&d);
    cr_import_report rep;
    assert_int_equal(cr_directory_import(db, path, false, &rep, &d), CR_OK);
    cr_diag_free(&d);
    assert_int_equal(rep.added, n);
    long res[3] = {0, 0, 0};
    assert_int_equal(read(pipefd[0], res, sizeof res), sizeof res);
    int status;
    waitpid(child, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fprintf(stderr, "reader process: %ld lookups rounds, %ld failed, %ld after the commit\n",
            res[0], res[1], res[2]);
    /* rounds before the commit (at least the one before the import) and after it, none failed
     * (a count of rounds would depend on scheduling) */
    assert_true(res[0] > res[2]);
    assert_int_equal(res[1], 0);
    assert_int_equal(res[2], 50); /* and it saw the import once committed */
}

#define T(f) cmocka_unit_test_setup_teardown(f, fresh_db, drop_db)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(csv_import_finds_users_by_uri_line_extension_and_private_number),
        T(export_and_reimport_give_the_same_directory),
        T(xml_users_of_a_whole_configuration_are_imported),
        T(an_empty_file_is_refused),
        T(errors_name_the_line_and_change_nothing),
        T(bad_headers_and_bad_xml_are_refused),
        T(an_unknown_column_stops_the_import_at_the_header),
        T(an_element_with_too_many_attributes_is_refused),
        T(quoted_csv_fields),
        T(reimport_moves_a_line_and_replace_removes_the_rest),
        T(a_fresh_import_names_duplicates_and_shared_lines_at_their_lines),
        T(the_first_user_in_the_file_keeps_a_shared_bare_number),
        T(long_numbers_stars_and_extensions_are_found_exactly),
        T(a_child_reads_after_its_parent_cached_a_snapshot),
        T(an_import_killed_at_any_point_leaves_the_directory_whole),
        T(an_import_larger_than_the_map_names_the_setting_to_raise),
        T(a_user_both_inline_and_in_the_directory_is_refused_naming_both),
        T(a_missing_directory_is_an_error_at_its_element),
        T(routing_uses_the_directory_for_caller_and_reverse_lookup),
        T(lookups_keep_working_in_another_process_during_an_import),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
