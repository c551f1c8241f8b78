// callroute from a KEMI routing script (app_jsdt, JavaScript): the same routing as the
// native script of kamailio.cfg, with the module's functions under KSR.callroute.
// Loaded by kamailio-kemi.cfg. Return codes as in plugin-api/kamailio/README.md.

function ksr_request_route() {
    if (KSR.maxfwd.process_maxfwd(10) < 0) {
        KSR.sl.sl_send_reply(483, "Too Many Hops");
        return;
    }
    if (KSR.is_CANCEL()) {
        if (KSR.tm.t_check_trans() > 0) {
            ksr_relay();
        }
        return;
    }
    if (!KSR.is_ACK()) {
        KSR.tm.t_check_trans();
    }
    if (KSR.siputils.has_totag() > 0) {
        ksr_within_dialog();
        return;
    }
    KSR.hdr.remove("Route");
    if (KSR.is_REGISTER()) {
        if (KSR.registrar.save("location", 0) < 0) {
            KSR.sl.sl_reply_error();
        }
        return;
    }
    if (KSR.is_PUBLISH()) {
        ksr_publish();
        return;
    }
    if (!KSR.is_INVITE()) {
        KSR.sl.sl_send_reply(501, "Not Implemented");
        return;
    }
    KSR.rr.record_route();
    ksr_call();
}

function ksr_within_dialog() {
    if (KSR.rr.loose_route() > 0) {
        ksr_relay();
    } else if (KSR.is_ACK()) {
        if (KSR.tm.t_check_trans() > 0) {
            ksr_relay();
        }
    } else {
        KSR.sl.sl_send_reply(404, "Not Here");
    }
}

// Presence published by a phone (RFC 3903), as route[PUBLISH] of kamailio.cfg: for a
// response-group agent (the presentity in To) it feeds the engine, its PIDF body or offline
// when the publication is removed (Expires: 0); callroute_rgs_presence() returns -1 for
// anyone who is not an agent.
function ksr_publish() {
    if (KSR.pv.gete("$hdr(Event)") != "presence") {
        KSR.hdr.append_to_reply("Allow-Events: presence\r\n");
        KSR.sl.sl_send_reply(489, "Bad Event");
        return;
    }
    var state = KSR.pv.gete("$hdr(Expires)") == "0" ? "offline" : KSR.pv.gete("$rb");
    KSR.callroute.callroute_rgs_presence(KSR.pv.gete("$tu"), state);
    KSR.hdr.append_to_reply("SIP-ETag: " + KSR.pv.gete("$ci") + "x" + KSR.pv.gete("$cs") +
                            "\r\nExpires: 3600\r\n");
    KSR.sl.sl_send_reply(200, "OK");
}

// A response group (workflow contact URI or line): the module owns the call from here.
// Returns true when the call is handled (owned, refused with a reply, or failed).
function ksr_rgs() {
    var rc = KSR.callroute.callroute_rgs();
    if (rc == -3) {
        KSR.tm.send_reply(500, "Response Group Error");
    }
    return rc == 1 || rc == -2 || rc == -3; // -1: not a workflow
}

// A call the library found internal (a user's or a workflow's line): the Request-URI is now
// the user's or the workflow's SIP URI.
function ksr_internal() {
    if (!ksr_rgs()) {
        ksr_to_user();
    }
}

function ksr_call() {
    if (ksr_rgs()) {
        return;
    }
    var rc = KSR.callroute.callroute_inbound();
    if (rc == 1) {
        ksr_internal();
        return;
    }
    if (rc == -1 || rc == -3) {
        KSR.sl.sl_send_reply(rc == -1 ? 404 : 500, rc == -1 ? "Not Found" : "Routing Error");
        return;
    }
    // explicit caller and dialed (here From and the Request-URI user: a number)
    rc = KSR.callroute.callroute_route_params(KSR.pv.get("$fu"), KSR.pv.get("$rU"));
    KSR.info("callroute (kemi): " + KSR.pv.get("$fu") + " dialed " + KSR.pv.get("$oU") + ": " +
             KSR.pv.get("$callroute(decision)") + " via " + KSR.pv.get("$callroute(gateway)") + "\n");
    if (rc == 1) {
        KSR.tm.t_on_failure("ksr_failure_gateway");
        ksr_relay();
    } else if (rc == 2) {
        ksr_internal();
    } else if (rc == -1) {
        KSR.sl.sl_send_reply(403, "Forbidden");
    } else if (rc == -2) {
        KSR.sl.sl_send_reply(404, "Not Found");
    } else {
        KSR.sl.sl_send_reply(500, "Routing Error");
    }
}

function ksr_to_user() {
    var rc = KSR.callroute.callroute_user();
    if (rc == 1) {
        KSR.tm.t_on_failure("ksr_failure_user");
        ksr_relay();
    } else if (rc == -2) {
        KSR.tm.send_reply(480, "Temporarily Unavailable");
    } else if (rc == -3) {
        KSR.tm.send_reply(500, "Routing Error");
    } else if (KSR.registrar.lookup("location") < 0) {
        KSR.sl.sl_send_reply(480, "Temporarily Unavailable");
    } else {
        ksr_relay();
    }
}

function ksr_relay() {
    if (KSR.tm.t_relay() < 0) {
        KSR.sl.sl_reply_error();
    }
}

// A gateway answered 503/504/408 or nothing: the next attempt (callroute_next marks it down).
function ksr_failure_gateway() {
    if (KSR.tm.t_is_canceled() > 0) {
        return;
    }
    if (KSR.callroute.callroute_next() > 0) {
        KSR.info("callroute (kemi): next attempt via " + KSR.pv.get("$callroute(gateway)") + "\n");
        KSR.tm.t_on_failure("ksr_failure_gateway");
        ksr_relay();
    }
}

function ksr_failure_user() {
    if (KSR.tm.t_is_canceled() > 0) {
        return;
    }
    if (KSR.callroute.callroute_user_next() > 0) {
        KSR.tm.t_on_failure("ksr_failure_user");
        ksr_relay();
    }
}
