#!/usr/bin/env python3
"""Self-test of verify.py (ctest soak_verify): synthetic run directories in which each kind of
fault the soak must catch is planted once, and one clean run that must pass."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify  # noqa: E402

A = [{"gateway": "GW-A", "uri": "sip:+14255550200@127.0.0.1:1;user=phone"},
     {"gateway": "GW-B", "uri": "sip:+14255550200@127.0.0.1:2;user=phone"}]
LOCAL = {"decision": "outbound", "attempts": A}
EMERGENCY = {"decision": "outbound",
             "attempts": [{"gateway": "GW-A", "uri": "sip:911@127.0.0.1:1;user=phone"}]}
INTERNAL = {"decision": "internal", "target": "sip:bob@contoso.com", "attempts": []}
BLOCKED = {"decision": "blocked", "attempts": []}
T0 = 1000.0
MEM = ("== core.shmmem\n{\n\tused: %d\n\treal_used: 1\n}\n== pkg.stats\n{\n\tpid: 7\n"
       "\tused: %d\n}\n")


class Run:
    """A run directory with calls, landings, reloads and memory figures written as soak.sh
    and its helpers write them."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name
        self.calls, self.lands, self.decs = [], [], {}
        self.reloads = ["reload 1 broken 1 refused", "reload 2 good 0 accepted"]
        self.shm = (1000, 1000)
        self.pkg = (500, 500)

    def call(self, cid, number, dec, t, final=None, lands=()):
        self.decs[number] = dec
        self.calls.append("sent %s alice %s %d.000000.%06d.000000" % (cid, number, t, 0))
        if final:
            self.calls.append("final %s alice %s %.6f %s" % (cid, number, final[0], final[1]))
        for lt, ep, action, ruri in lands:
            self.lands.append("inv\t%.6f\t%s\t%s\t%s\t%s" % (lt, ep, action, cid, ruri))

    def write(self):
        def put(name, text):
            with open(os.path.join(self.d, name), "w") as f:
                f.write(text)
        put("calls.log", "\n".join(self.calls) + "\n")
        put("gateways.log", "\n".join(self.lands) + "\n")
        put("decisions.jsonl", "".join(
            json.dumps({"caller": "alice", "number": n, "decision": d}) + "\n"
            for n, d in self.decs.items()))
        put("reloads.log", "\n".join(self.reloads) + "\n")
        put("malformed.json", json.dumps({"sent": 3, "by_kind": {"garbage": 3}, "replies": 0}))
        put("mem-start.txt", MEM % (self.shm[0], self.pkg[0]))
        put("mem-end.txt", MEM % (self.shm[1], self.pkg[1]))
        put("endpoints.txt", "GW-A GW-A\nGW-B GW-B\nbob sip:bob@contoso.com\n"
            "carol sip:carol@contoso.com\n")

    def verify(self):
        self.write()

        class Args:
            dir, holdoff, fr_timer, shm_bound, pkg_bound = self.d, 3.0, 2.0, 100, 100
        out = []
        bad = verify.summarize(Args, out)
        return bad, "\n".join(out)


def ruri(gw, number="+14255550200"):
    return "sip:%s@127.0.0.1:%d;user=phone" % (number, {"GW-A": 1, "GW-B": 2}[gw])


class VerifyTest(unittest.TestCase):
    def clean(self):
        r = Run()
        r.call("1", "5550200", LOCAL, T0, (T0 + 0.01, "200"), [(T0, "GW-A", "200", ruri("GW-A"))])
        # GW-A refuses: the call goes on to GW-B, and the next call may skip GW-A
        r.call("2", "5550200", LOCAL, T0 + 10, (T0 + 10.02, "200"),
               [(T0 + 10, "GW-A", "503", ruri("GW-A")), (T0 + 10.01, "GW-B", "200", ruri("GW-B"))])
        r.call("3", "5550200", LOCAL, T0 + 11, (T0 + 11.01, "200"),
               [(T0 + 11, "GW-B", "200", ruri("GW-B"))])
        # emergency while GW-A is down: refused without an attempt
        r.call("4", "911", EMERGENCY, T0 + 11.5, (T0 + 11.51, "403"))
        # GW-A silent: tm gives up, the caller gets 408
        r.call("5", "911", EMERGENCY, T0 + 30, (T0 + 32, "408"),
               [(T0 + 30, "GW-A", "silent", ruri("GW-A", "911"))])
        r.call("6", "50101", INTERNAL, T0 + 40, (T0 + 40.01, "200"),
               [(T0 + 40, "bob", "200", "sip:bob@127.0.0.1:9")])
        r.call("7", "19005550100", BLOCKED, T0 + 41, (T0 + 41.01, "403"))
        return r

    def assert_misrouted(self, r, why):
        bad, out = r.verify()
        self.assertIn("mis-routed calls", bad, out)
        self.assertIn(why, out)

    def test_clean_run_passes(self):
        bad, out = self.clean().verify()
        self.assertEqual(bad, [], out)
        self.assertIn("mis-routed: 0", out)

    def test_sipp_times(self):
        self.assertEqual(verify.sipp_time("1796317042.000000.812470.000000"), 1796317042.81247)
        self.assertEqual(verify.sipp_time("1796318603.000000."), 1796318603.0)

    def test_first_attempt_passed_over_while_up(self):
        r = self.clean()
        r.call("8", "5550200", LOCAL, T0 + 50, (T0 + 50.01, "200"),
               [(T0 + 50, "GW-B", "200", ruri("GW-B"))])
        self.assert_misrouted(r, "passed over GW-A while it was up")

    def test_gateway_not_in_the_decision(self):
        r = self.clean()
        r.call("8", "5550200", LOCAL, T0 + 50, (T0 + 50.01, "200"),
               [(T0 + 50, "GW-C", "200", "sip:x@127.0.0.1:3")])
        self.assert_misrouted(r, "not a remaining attempt")

    def test_wrong_request_uri(self):
        r = self.clean()
        r.call("8", "5550200", LOCAL, T0 + 50, (T0 + 50.01, "200"),
               [(T0 + 50, "GW-A", "200", ruri("GW-A", "+14255550999"))])
        self.assert_misrouted(r, "received Request-URI")

    def test_call_sent_to_a_gateway_in_hold_off(self):
        r = self.clean()
        r.call("8", "5550200", LOCAL, T0 + 60, (T0 + 60.02, "200"),
               [(T0 + 60, "GW-A", "503", ruri("GW-A")), (T0 + 60.01, "GW-B", "200", ruri("GW-B"))])
        r.call("9", "5550200", LOCAL, T0 + 61.5, (T0 + 61.51, "200"),
               [(T0 + 61.5, "GW-A", "200", ruri("GW-A"))])
        self.assert_misrouted(r, "while it was down")

    def test_invite_delayed_past_the_hold_off(self):
        # sipp's first INVITE was lost and its retransmission reached Kamailio 2.6 s later,
        # after GW-A's hold-off (failure at T0+59) had ended: GW-A was up again.
        r = self.clean()
        r.call("8", "5550200", LOCAL, T0 + 59, (T0 + 59.02, "200"),
               [(T0 + 59, "GW-A", "503", ruri("GW-A")), (T0 + 59.01, "GW-B", "200", ruri("GW-B"))])
        r.call("9", "5550200", LOCAL, T0 + 60, (T0 + 62.61, "200"),
               [(T0 + 62.6, "GW-A", "200", ruri("GW-A"))])
        bad, out = r.verify()
        self.assertEqual(bad, [], out)

    def test_no_failover_after_503(self):
        r = self.clean()
        r.call("8", "5550200", LOCAL, T0 + 70, (T0 + 70.01, "500"),
               [(T0 + 70, "GW-A", "503", ruri("GW-A"))])
        self.assert_misrouted(r, "without trying GW-B")

    def test_gateway_503_relayed_as_500(self):
        r = self.clean()
        r.call("8", "911", EMERGENCY, T0 + 75, (T0 + 75.01, "500"),
               [(T0 + 75, "GW-A", "503", ruri("GW-A", "911"))])
        bad, out = r.verify()
        self.assertEqual(bad, [], out)
        r.call("9", "911", EMERGENCY, T0 + 85, (T0 + 85.01, "503"),
               [(T0 + 85, "GW-A", "503", ruri("GW-A", "911"))])
        self.assert_misrouted(r, "final 503 but the last gateway (GW-A) did 503")

    def test_refused_emergency_while_gateway_up(self):
        r = self.clean()
        r.call("8", "911", EMERGENCY, T0 + 80, (T0 + 80.01, "403"))
        self.assert_misrouted(r, "no gateway reached")

    def test_blocked_number_reaches_a_gateway(self):
        r = self.clean()
        r.call("8", "19005550101", BLOCKED, T0 + 90, (T0 + 90.01, "200"),
               [(T0 + 90, "GW-B", "200", ruri("GW-B", "+19005550101"))])
        self.assert_misrouted(r, "blocked but reached")

    def test_internal_call_to_the_wrong_phone(self):
        r = self.clean()
        r.call("8", "50101", INTERNAL, T0 + 95, (T0 + 95.01, "200"),
               [(T0 + 95, "carol", "200", "sip:carol@127.0.0.1:8")])
        self.assert_misrouted(r, "internal to sip:bob@contoso.com but reached")

    def test_call_without_final_answer_fails(self):
        r = self.clean()
        r.call("8", "5550200", LOCAL, T0 + 99, None, [(T0 + 99, "GW-A", "200", ruri("GW-A"))])
        bad, out = r.verify()
        self.assertIn("calls without a final answer", bad, out)

    def test_stray_invite_fails(self):
        r = self.clean()
        r.lands.append("inv\t%.6f\tGW-B\t200\tsoak-malformed-3\tsip:x@y" % (T0 + 5))
        bad, out = r.verify()
        self.assertIn("stray INVITEs at gateways", bad, out)

    def test_broken_reload_accepted_fails(self):
        r = self.clean()
        r.reloads.append("reload 3 broken 2 accepted")
        bad, out = r.verify()
        self.assertIn("reloads", bad, out)

    def test_broken_reload_with_empty_reply_fails(self):
        r = self.clean()
        r.reloads.append("reload 3 broken 4 empty")
        bad, out = r.verify()
        self.assertIn("reloads", bad, out)
        self.assertIn("empty RPC reply", out)

    def test_shared_memory_growth_fails(self):
        r = self.clean()
        r.shm = (1000, 1101)
        bad, out = r.verify()
        self.assertTrue(any("shared memory grew" in b for b in bad), out)

    def test_pkg_memory_growth_fails(self):
        r = self.clean()
        r.pkg = (500, 601)
        bad, out = r.verify()
        self.assertTrue(any("pkg memory" in b for b in bad), out)


if __name__ == "__main__":
    unittest.main()
