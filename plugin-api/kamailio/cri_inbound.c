/*
 * callroute.so: calls arriving from gateways (callroute_inbound()).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/data_lump.h"
#include "core/dprint.h"
#include "core/dset.h"
#include "core/ip_addr.h"
#include "core/mem/mem.h"
#include "core/parser/msg_parser.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_uri.h"

#include "callroute_mod.h"
#include "cri_inbound.h"
#include "crl_library.h"
#include "cro_outbound.h"

/* Replaces any P-Asserted-Identity with ours. */
static int cri_set_pai(struct sip_msg *msg, const char *pai)
{
    struct hdr_field *hf;
    struct lump *anchor;
    char *hdr;
    int len;
    int angle = strchr(pai, '<') != NULL;

    if (parse_headers(msg, HDR_EOH_F, 0) < 0)
        return -1;
    for (hf = msg->headers; hf; hf = hf->next) {
        if (hf->type == HDR_PAI_T && del_lump(msg, hf->name.s - msg->buf, hf->len, 0) == 0)
            return -1;
    }
    len = strlen("P-Asserted-Identity: ") + strlen(pai) + (angle ? 0 : 2) + 2;
    hdr = pkg_malloc(len + 1);
    if (hdr == NULL)
        return -1;
    snprintf(hdr, len + 1, "P-Asserted-Identity: %s%s%s\r\n", angle ? "" : "<", pai,
             angle ? "" : ">");
    anchor = anchor_lump(msg, msg->unparsed - msg->buf, 0, 0);
    if (anchor == NULL || insert_new_lump_before(anchor, hdr, len, 0) == NULL) {
        pkg_free(hdr);
        return -1;
    }
    return 0;
}

/* True when "ip:port" `src` is the address of a configured gateway. Asked only when the
 * library refused an inbound decision (a Request-URI user that is not a number): whether
 * the call comes from a gateway then decides between "not from a gateway" and "no such
 * user". A gateway's address without a port means 5060. */
static int cri_is_gateway(cr_handle *h, const char *src)
{
    cr_result *r = NULL;
    size_t i, n, hl, sl = strlen(src);
    const char *a, *at;
    int found = 0;

    if (crl_plugin->gateways == NULL || crl_plugin->gateways(h, &r) < 0 || r == NULL)
        return 0;
    n = crl_plugin->result_count(r, "gateways");
    for (i = 0; i < n && !found; i++) {
        a = crl_plugin->result_item(r, "gateways", i, "address");
        if (a == NULL)
            continue;
        if (strncasecmp(a, "sip:", 4) == 0)
            a += 4;
        if ((at = strchr(a, '@')) != NULL)
            a = at + 1;
        hl = strcspn(a, ";?>");
        if (hl == sl && strncasecmp(a, src, sl) == 0)
            found = 1;
        else if (!memchr(a, ':', hl) && hl + 5 == sl && strncasecmp(a, src, hl) == 0 &&
                 strcmp(src + hl, ":5060") == 0)
            found = 1;
    }
    crl_plugin->result_free(r);
    return found;
}

int cri_inbound(struct sip_msg *msg)
{
    char gw[IP_ADDR_MAX_STR_SIZE + 16], called[MAX_URI_SIZE], calling[MAX_URI_SIZE];
    struct sip_uri furi;
    const char *target, *pai;
    cr_handle *h = crl_handle();
    cr_result *r = NULL;
    str s;
    int rc, ret;

    if (h == NULL)
        return CRM_ERROR;
    if (crl_plugin->inbound == NULL) {
        LM_ERR("the library has no inbound decisions\n");
        return CRM_ERROR;
    }
    if (msg->first_line.type != SIP_REQUEST || parse_sip_msg_uri(msg) < 0) {
        LM_ERR("cannot read the Request-URI user\n");
        return CRM_ERROR;
    }
    snprintf(gw, sizeof(gw), "%s:%u", ip_addr2a(&msg->rcv.src_ip), msg->rcv.src_port);
    if (crl_cstr(&msg->parsed_uri.user, called, sizeof(called)) < 0) {
        /* longer than any number: no user's, and a call from a user is no error either */
        if (!cri_is_gateway(h, gw))
            return CRM_NOT_GATEWAY;
        LM_INFO("inbound from gateway %s: a Request-URI user of %d bytes is no user's number\n", gw,
                msg->parsed_uri.user.len);
        return CRM_NO_USER;
    }
    calling[0] = '\0';
    if (parse_from_header(msg) == 0 &&
        parse_uri(get_from(msg)->uri.s, get_from(msg)->uri.len, &furi) == 0)
        crl_cstr(&furi.user, calling, sizeof(calling));

    rc = crl_plugin->inbound(h, gw, called, calling, &r);
    /* Not from a gateway: the library says so with ENOENT or by naming no gateway. */
    if (rc == CR_ABI_ENOENT || (rc == 0 && r && crl_plugin->result_get(r, "gateway") == NULL)) {
        LM_DBG("%s is not a gateway\n", gw);
        if (r)
            crl_plugin->result_free(r);
        return CRM_NOT_GATEWAY;
    }
    if (rc == CR_ABI_EINVAL) {
        /* the library reads only numbers: a user name (sip:bob@...) is no error */
        if (!cri_is_gateway(h, gw)) {
            LM_DBG("%s is not a gateway\n", gw);
            return CRM_NOT_GATEWAY;
        }
        LM_INFO("inbound from gateway %s: '%s' is not a number of any user\n", gw, called);
        return CRM_NO_USER;
    }
    if (rc < 0 || r == NULL) {
        LM_ERR("inbound %s -> %s from %s failed: %s\n", calling, called, gw,
               crl_plugin->strerror ? crl_plugin->strerror(rc) : "error");
        return CRM_ERROR;
    }
    target = crl_plugin->result_get(r, "target");
    {
        /* $callroute(...) after an inbound call: the callee, the normalized called number */
        static cr_route_answer a;
        const char *v;
        a.kind =
            crl_plugin->result_kind(r) == 1 ? CR_DECISION_INTERNAL : CR_DECISION_NOT_APPLICABLE;
        snprintf(a.target, sizeof(a.target), "%s", target ? target : "");
        v = crl_plugin->result_get(r, "called");
        snprintf(a.normalized, sizeof(a.normalized), "%s", v ? v : "");
        v = crl_plugin->result_get(r, "profile");
        snprintf(a.profile, sizeof(a.profile), "%s", v ? v : "");
        v = crl_plugin->result_get(r, "workflow");
        if (target && v)
            snprintf(a.reason, sizeof(a.reason), "inbound call to workflow '%s'", v);
        else
            snprintf(a.reason, sizeof(a.reason), "%s",
                     target ? "inbound call to a user" : "inbound call to no user");
        a.rule[0] = '\0';
        cro_store_decision(&a, 0);
    }
    if (crl_plugin->result_kind(r) != 1 || target == NULL) {
        crl_plugin->result_free(r);
        return CRM_NO_USER;
    }
    ret = CRM_FOUND;
    s.s = (char *)target;
    s.len = strlen(target);
    if (rewrite_uri(msg, &s) < 0) {
        LM_ERR("cannot set Request-URI %s\n", target);
        ret = CRM_ERROR;
    }
    pai = crl_plugin->result_get(r, "pai");
    if (ret == CRM_FOUND && pai && *pai && cri_set_pai(msg, pai) < 0) {
        LM_ERR("cannot add P-Asserted-Identity\n");
        ret = CRM_ERROR;
    }
    crl_plugin->result_free(r);
    return ret;
}
