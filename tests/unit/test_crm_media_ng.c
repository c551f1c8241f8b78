/*
 * The Kamailio module's rtpengine ng helpers (plugin-api/kamailio/crm_media_ng.c, issue 13):
 * bencode writing and reading, the control address, the proxy's black-hole answer SDP and
 * rtpengine's DTMF events. That file needs no Kamailio: it is compiled into this test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugin-api/kamailio/crm_media_ng.c"

static void test_bencode_writer(void **state)
{
    char buf[64];
    crm_benc b;

    (void)state;
    crm_b_init(&b, buf, sizeof(buf));
    crm_b_raw(&b, "d", 1);
    crm_b_kv(&b, "command", "offer");
    crm_b_kv(&b, "skipped", NULL);
    crm_b_str(&b, "repeat-times");
    crm_b_int(&b, -3);
    crm_b_raw(&b, "e", 1);
    assert_int_equal(b.err, 0);
    assert_string_equal(buf, "d7:command5:offer12:repeat-timesi-3ee");
    /* an overflow sets err and keeps what fitted, NUL-terminated */
    crm_b_init(&b, buf, 8);
    crm_b_str(&b, "0123456789");
    assert_int_equal(b.err, 1);
    assert_true(strlen(buf) < 8);
}

static void test_bencode_reader(void **state)
{
    const char *rep = "d5:callsl2:x12:x2e3:sdp8:v=0\r\nc=x8:durationi2000e6:result2:oke";
    char out[32];
    int64_t v = 0;

    (void)state;
    assert_int_equal(crm_bencode_str(rep, (int)strlen(rep), "result", out, sizeof(out)), 2);
    assert_string_equal(out, "ok");
    assert_int_equal(crm_bencode_str(rep, (int)strlen(rep), "sdp", out, sizeof(out)), 8);
    assert_string_equal(out, "v=0\r\nc=x");
    assert_int_equal(crm_bencode_int(rep, (int)strlen(rep), "duration", &v), 0);
    assert_int_equal(v, 2000);
    /* absent, or of another type */
    assert_int_equal(crm_bencode_str(rep, (int)strlen(rep), "error-reason", out, 8), -1);
    assert_int_equal(crm_bencode_int(rep, (int)strlen(rep), "result", &v), -1);
    assert_int_equal(crm_bencode_str(rep, (int)strlen(rep), "calls", out, 8), -1);
    /* truncated into a small buffer: the full length, NUL-terminated */
    assert_int_equal(crm_bencode_str(rep, (int)strlen(rep), "sdp", out, 4), 8);
    assert_string_equal(out, "v=0");
}

static void test_bencode_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "x",
        "d",
        "d6:result",
        "d6:result99:oke",
        "d6:resulti12",
        "d3:sdpl1:ae",
        "d6:resultie",
        "d6:resulti1x2e",
        "d2:ab",
        "d99999999999999999999:a2:oke",
    };
    char deep[200], out[8];
    size_t i;
    int64_t v;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(crm_bencode_str(bad[i], (int)strlen(bad[i]), "result", out, 8), -1);
        assert_int_equal(crm_bencode_int(bad[i], (int)strlen(bad[i]), "result", &v), -1);
    }
    /* nesting beyond 32 levels is refused, not recursed into */
    memset(deep, 'l', sizeof(deep));
    memcpy(deep, "d1:a", 4);
    assert_int_equal(crm_bencode_str(deep, (int)sizeof(deep), "b", out, 8), -1);
}

static void test_ng_addr(void **state)
{
    struct sockaddr_in sa;

    (void)state;
    assert_int_equal(crm_ng_addr("udp:127.0.0.1:2223", &sa), 0);
    assert_int_equal(ntohs(sa.sin_port), 2223);
    assert_int_equal(crm_ng_addr("127.0.0.1:9", &sa), 0);
    assert_int_equal(crm_ng_addr("udp:localhost:2223", &sa), -1);
    assert_int_equal(crm_ng_addr("127.0.0.1", &sa), -1);
    assert_int_equal(crm_ng_addr(":2223", &sa), -1);
    assert_int_equal(crm_ng_addr("127.0.0.1:70000", &sa), -1);
    assert_int_equal(crm_ng_addr("127.0.0.1:22x", &sa), -1);
    assert_int_equal(crm_ng_addr(NULL, &sa), -1);
}

static void test_ng_no_reply(void **state)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    char rep[64], err[128];
    int quiet = socket(AF_INET, SOCK_DGRAM, 0), fd = -1;

    (void)state;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(quiet, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(quiet, (struct sockaddr *)&sa, &sl), 0);
    assert_int_equal(
        crm_ng_request(&fd, &sa, "d7:command4:pinge", 17, rep, sizeof(rep), 40, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "no reply"));
    assert_true(fd >= 0);
    /* the request went out twice (a retry), each with its cookie */
    assert_true(recv(quiet, rep, sizeof(rep), MSG_DONTWAIT) > 17);
    assert_true(recv(quiet, rep, sizeof(rep), MSG_DONTWAIT) > 17);
    close(fd);
    close(quiet);
}

static void test_sdp_blackhole(void **state)
{
    const char *offer = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                        "t=0 0\r\nm=audio 42300 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\n"
                        "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
                        "a=fmtp:101 0-16\r\na=sendrecv\r\na=rtcp:42301\r\n"
                        "m=video 42302 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
    char out[1024], small[40];

    (void)state;
    assert_true(crm_sdp_blackhole(offer, out, sizeof(out)) > 0);
    assert_non_null(strstr(out, "\r\nc=IN IP4 127.0.0.1\r\n"));
    assert_non_null(strstr(out, "\r\nm=audio 9 RTP/AVP 8 0 101\r\n"));
    assert_non_null(strstr(out, "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"));
    assert_null(strstr(out, "rtcp"));
    assert_null(strstr(out, "H264"));
    assert_non_null(strstr(out, "a=sendrecv\r\n"));
    assert_int_equal(crm_sdp_blackhole(offer, small, sizeof(small)), -1);
    assert_int_equal(crm_sdp_blackhole("v=0\r\nm=audio 1 RTP/SAVP 8\r\n", out, sizeof(out)), -1);
    assert_int_equal(
        crm_sdp_blackhole("v=0\r\nm=audio 1 UDP/TLS\r\na=x RTP/AVP 8\r\n", out, sizeof(out)), -1);
    assert_int_equal(crm_sdp_blackhole("v=0\r\n", out, sizeof(out)), -1);
}

static void test_dtmf_events(void **state)
{
    /* as rtpengine 10.5 sends them (--dtmf-log-dest) */
    const char *one = "{\"callid\":\"1-32278@127.0.0.1\",\"source_tag\":\"32278IVR1\",\"tags\":"
                      "[\"bfc78b4c-619c4ac4\",\"32278IVR1\"],\"type\":\"DTMF\",\"timestamp\":"
                      "1796311015,\"source_ip\":\"127.0.0.1\",\"event\":1,\"duration\":280,"
                      "\"volume\":10}";
    char callid[64], tag[16], key = 0;

    (void)state;
    assert_int_equal(crm_dtmf_parse(one, callid, sizeof(callid), tag, sizeof(tag), &key), 1);
    assert_string_equal(callid, "1-32278@127.0.0.1");
    assert_string_equal(tag, "32278IVR1");
    assert_int_equal(key, '1');
    assert_int_equal(crm_dtmf_parse("{\"callid\":\"a\",\"source_tag\":\"t\",\"type\":\"DTMF\","
                                    "\"event\": 10}",
                                    callid, sizeof(callid), tag, sizeof(tag), &key),
                     1);
    assert_int_equal(key, '*');
    assert_int_equal(crm_dtmf_parse("{\"callid\":\"a\",\"source_tag\":\"t\",\"type\":\"DTMF\","
                                    "\"event\":11}",
                                    callid, sizeof(callid), tag, sizeof(tag), &key),
                     1);
    assert_int_equal(key, '#');
    /* not a key: another type, an event out of range, a field missing, not JSON */
    assert_int_equal(crm_dtmf_parse("{\"callid\":\"a\",\"source_tag\":\"t\",\"type\":\"x\","
                                    "\"event\":1}",
                                    callid, sizeof(callid), tag, sizeof(tag), &key),
                     0);
    assert_int_equal(crm_dtmf_parse("{\"callid\":\"a\",\"source_tag\":\"t\",\"type\":\"DTMF\","
                                    "\"event\":16}",
                                    callid, sizeof(callid), tag, sizeof(tag), &key),
                     0);
    assert_int_equal(crm_dtmf_parse("{\"callid\":\"a\",\"type\":\"DTMF\",\"event\":1}", callid,
                                    sizeof(callid), tag, sizeof(tag), &key),
                     0);
    assert_int_equal(
        crm_dtmf_parse("garbage \"type\"", callid, sizeof(callid), tag, sizeof(tag), &key), 0);
    /* a Call-ID longer than the buffer is cut, NUL-terminated */
    assert_int_equal(crm_dtmf_parse(one, callid, 6, tag, sizeof(tag), &key), 1);
    assert_string_equal(callid, "1-322");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bencode_writer),    cmocka_unit_test(test_bencode_reader),
        cmocka_unit_test(test_bencode_malformed), cmocka_unit_test(test_ng_addr),
        cmocka_unit_test(test_ng_no_reply),       cmocka_unit_test(test_sdp_blackhole),
        cmocka_unit_test(test_dtmf_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
