/*
 * dir_decode_check: a user record decoded as dir_encode wrote it, and damaged ones refused.
 * dir_decode writes the strings straight into the user's fields and skips the terminator
 * test of an absent string, so what it must still refuse is checked here: every shorter
 * length of a record (the record sits in a buffer of exactly its length, so a read past it
 * is an ASan error), each present string's NUL replaced, an absent URI; and a record whose
 * names do not fit the slots goes to the heap.
 */
#include "directory_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);                                \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The record of u in a buffer of its exact length (freed by the caller), its length in *len. */
static unsigned char *encoded(const cr_user *u, size_t *len)
{
    dir_buf b = {0};
    if (dir_encode(u, &b) != CR_OK) {
        fprintf(stderr, "dir_encode failed\n");
        exit(1);
    }
    unsigned char *p = malloc(b.len);
    memcpy(p, b.p, b.len);
    *len = b.len;
    free(b.p);
    return p;
}

/* A copy of rec[0, len) decoded into *out: the copy (its strings point into it; the caller
 * frees it), or NULL when dir_decode refused the record. */
static unsigned char *decode(const unsigned char *rec, size_t len, cr_user *out, char **names,
                             size_t n, char ***heap)
{
    unsigned char *p = malloc(len ? len : 1);
    memcpy(p, rec, len);
    if (dir_decode(p, len, out, names, n, heap))
        return p;
    free(p);
    return NULL;
}

static void check_user(const cr_user *u)
{
    size_t len;
    unsigned char *rec = encoded(u, &len);
    cr_user d;
    char *names[CR_DIR_SLOT_NAMES], **heap = NULL;
    unsigned char *copy = decode(rec, len, &d, names, CR_DIR_SLOT_NAMES, &heap);
    CHECK(copy);
    if (!copy) {
        free(rec);
        return;
    }
    CHECK(same(d.uri, u->uri) && same(d.line, u->line) && same(d.line_number, u->line_number) &&
          same(d.line_ext, u->line_ext) && same(d.policy, u->policy) &&
          same(d.profile, u->profile) && same(d.voicemail, u->voicemail) &&
          same(d.simultaneous_ring, u->simultaneous_ring) &&
          same(d.forwarding.immediate, u->forwarding.immediate) &&
          same(d.forwarding.no_answer_target, u->forwarding.no_answer_target));
    CHECK(d.forwarding.no_answer_after == u->forwarding.no_answer_after);
    CHECK(d.team_call_delay == u->team_call_delay);
    CHECK(d.enterprise_voice == u->enterprise_voice && d.pbx_integration == u->pbx_integration);
    CHECK(d.policy_idx == -1 && d.profile_idx == -1 && !d.loc.file);
    CHECK(d.team_call.count == u->team_call.count && d.delegates.count == u->delegates.count);
    for (size_t i = 0; i < u->team_call.count && i < d.team_call.count; i++)
        CHECK(same(d.team_call.names[i], u->team_call.names[i]));
    for (size_t i = 0; i < u->delegates.count && i < d.delegates.count; i++)
        CHECK(same(d.delegates.names[i], u->delegates.names[i]));
    CHECK((heap != NULL) == (u->team_call.count + u->delegates.count > CR_DIR_SLOT_NAMES));
    free(heap);
    free(copy);

    /* every shorter record is refused (and read within its length: ASan) */
    for (size_t n = 0; n < len; n++) {
        heap = NULL;
        CHECK(!decode(rec, n, &d, names, CR_DIR_SLOT_NAMES, &heap));
        CHECK(!heap);
    }
    /* each present string without its NUL is refused: a NUL is a byte 0 that a length points
     * to; the header's bytes are not strings */
    unsigned char *bad = malloc(len);
    for (size_t at = 12; at + 2 <= len;) {
        unsigned n = (unsigned)rec[at] | (unsigned)rec[at + 1] << 8;
        if (n == 0xFFFF) {
            at += 2;
            continue;
        }
        memcpy(bad, rec, len);
        bad[at + 2 + n] = 'x';
        CHECK(!decode(bad, len, &d, names, CR_DIR_SLOT_NAMES, &heap));
        at += n + 3;
    }
    free(bad);
    free(rec);
}

int main(void)
{
    char *team[20], *dele[3];
    char buf[20][32];
    for (int i = 0; i < 20; i++) {
        snprintf(buf[i], sizeof buf[i], "sip:m%d@contoso.com", i);
        team[i] = buf[i];
    }
    for (int i = 0; i < 3; i++)
        dele[i] = buf[19 - i];
    cr_user full = {
        .enterprise_voice = true,
        .pbx_integration = true,
        .uri = "sip:alice@contoso.com",
        .line = "tel:+14255550100;ext=100",
        .line_number = "+14255550100",
        .line_ext = "100",
        .policy = "Default Calling Policy",
        .profile = "Branch",
        .simultaneous_ring = "+12065550100",
        .forwarding = {"sip:bob@contoso.com", 20, "voicemail"},
        .team_call_delay = 10,
        .team_call = {team, NULL, 2, 2},
        .delegates = {dele, NULL, 1, 1},
        .voicemail = "sip:alice-vm@contoso.com",
    };
    check_user(&full);
    /* every optional string absent */
    cr_user bare = {.uri = "sip:bob@contoso.com"};
    check_user(&bare);
    /* absent strings between present ones, and more names than the slots hold */
    cr_user mixed = full;
    mixed.line_ext = NULL;
    mixed.line = "tel:+14255550101";
    mixed.line_number = "+14255550101";
    mixed.profile = NULL;
    mixed.simultaneous_ring = NULL;
    mixed.forwarding.immediate = NULL;
    mixed.team_call = (cr_namelist){team, NULL, 17, 17};
    mixed.delegates = (cr_namelist){dele, NULL, 3, 3};
    check_user(&mixed);
    /* a record without its URI is damaged */
    cr_user nouri = {.uri = NULL, .line = "tel:+1425", .line_number = "+1425"};
    size_t len;
    unsigned char *rec = encoded(&nouri, &len);
    cr_user d;
    char *names[CR_DIR_SLOT_NAMES], **heap = NULL;
    CHECK(!decode(rec, len, &d, names, CR_DIR_SLOT_NAMES, &heap));
    free(rec);
    if (failures)
        fprintf(stderr, "dir_decode_check: %d failures\n", failures);
    else
        printf("dir_decode_check: ok\n");
    return failures ? 1 : 0;
}
