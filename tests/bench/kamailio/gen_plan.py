#!/usr/bin/env python3
"""One routing plan, written twice: as a callroute XML configuration and as Kamailio's own
tables (db_text) for dialplan (normalization), drouting and lcr (routes) and htable (callers).
Also writes the numbers sipp dials and the decision this script's own model expects for each.

  gen_plan.py OUTDIR PORT_A PORT_B [--split-npas N] [--users N] [--calls N] [--verify N]

The plan (NANP-like, a North American enterprise with four sites):
- 4 location profiles (Redmond 425, Seattle 206, New York 212, Dallas 214), 12 ordered
  normalization rules each (extension, 7-digit local, 9+local, 10/11-digit, 9+1+10,
  +1 E.164, 011 / 9011 / + international, 911): dialplan dpid 1..4, same order (pr), same
  regular expressions, first match wins in both.
- Routes, all anchored regexes with a literal prefix, prefix-disjoint so that "every
  matching route in usage order" (callroute) and "longest prefix" (drouting/lcr) pick the
  same ones: 911 (Emergency); +1 NPA NXX for the first --split-npas site area codes (Local,
  800 exchanges each, `^\\+1425555\\d{4}$`); +1 NPA for every other NANP area code
  (LongDistance, `^\\+1303\\d{7}$`); + country code for every ITU country code outside zone 1
  (International, `^\\+44\\d{4,13}$`). Each has a primary and a backup gateway: callroute
  writes two routes with the same pattern (route order = failover order), drouting one rule
  with gwlist "primary,backup" (sort_order 0), lcr one rule with two targets (priority 1, 2).
- 8 gateways (GW1..GW8) on two sipp gateway processes (odd: PORT_A, even: PORT_B).
- Users: sip:uNNNN@contoso.com, site = N % 4, policy "Full" (all usages) for even N,
  "Domestic" (no International) for odd N; line +1<site NPA>5550NNN. Kamailio: htable row
  uNNNN = dialplan id * 10 + routing group (drouting group 1 = Full, 2 = Domestic); drouting
  rules name their groups ("1,2" or "1" for international); lcr uses lcr_id 1 = Full, 2 = Domestic.
"""
import argparse
import os
import random
import re

SITES = [("Redmond", "425"), ("Seattle", "206"), ("NewYork", "212"), ("Dallas", "214")]
NGW = 8
# ITU-T E.164 country codes outside zone 1 (prefix-free, as the numbering plan requires).
COUNTRIES = """20 211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 230 231 232 233
234 235 236 237 238 239 240 241 242 243 244 245 246 248 249 250 251 252 253 254 255 256 257
258 260 261 262 263 264 265 266 267 268 269 27 290 291 297 298 299 30 31 32 33 34 350 351 352
353 354 355 356 357 358 359 36 370 371 372 373 374 375 376 377 378 380 381 382 383 385 386
387 389 39 40 41 420 421 423 43 44 45 46 47 48 49 500 501 502 503 504 505 506 507 508 509 51
52 53 54 55 56 57 58 590 591 592 593 594 595 596 597 598 599 60 61 62 63 64 65 66 670 672
673 674 675 676 677 678 679 680 681 682 683 685 686 687 688 689 690 691 692 7 81 82 84 850
852 853 855 856 86 880 886 90 91 92 93 94 95 960 961 962 963 964 965 966 967 968 970 971 972
973 974 975 976 977 98 992 993 994 995 996 998""".split()


def rules_for(npa):
    """(name, pattern, translation) in order; translation uses $1 (callroute syntax)."""
    return [
        ("Emergency", r"^(911)$", "$1"),
        ("Extension", r"^5(\d{4})$", "+1" + npa + "555$1"),
        ("Local7", r"^([2-9]\d{6})$", "+1" + npa + "$1"),
        ("Out9Local7", r"^9([2-9]\d{6})$", "+1" + npa + "$1"),
        ("NANP10", r"^([2-9]\d{9})$", "+1$1"),
        ("NANP11", r"^1([2-9]\d{9})$", "+1$1"),
        ("Out9NANP11", r"^91([2-9]\d{9})$", "+1$1"),
        ("E164NANP", r"^\+1([2-9]\d{9})$", "+1$1"),
        ("Intl011", r"^011([2-9]\d{6,14})$", "+$1"),
        ("Out9Intl", r"^9011([2-9]\d{6,14})$", "+$1"),
        ("E164Intl", r"^\+([2-9]\d{6,14})$", "+$1"),
        ("Operator", r"^0$", "+1" + npa + "5550000"),
    ]


def nanp_npas():
    out = []
    for a in "23456789":
        for b in "012345678":  # N9X codes are reserved
            for c in "0123456789":
                if b == "1" and c == "1":
                    continue  # N11 service codes
                out.append(a + b + c)
    return out


def build(split):
    """Routes: list of dicts (prefix, pattern, usage, name, gw primary/backup)."""
    routes = [dict(prefix="911", pattern=r"^911$", usage="Emergency", name="Emergency")]
    split_npas = [npa for _, npa in SITES[:split]]
    for npa in split_npas:
        for nxx in range(200, 1000):
            routes.append(dict(prefix="+1%s%d" % (npa, nxx),
                               pattern=r"^\+1%s%d\d{4}$" % (npa, nxx), usage="Local",
                               name="Local %s-%d" % (npa, nxx)))
    for npa in nanp_npas():
        if npa in split_npas:
            continue
        routes.append(dict(prefix="+1" + npa, pattern=r"^\+1%s\d{7}$" % npa,
                           usage="LongDistance", name="NANP %s" % npa))
    for cc in COUNTRIES:
        routes.append(dict(prefix="+" + cc, pattern=r"^\+%s\d{4,13}$" % cc,
                           usage="International", name="Country %s" % cc))
    for i, r in enumerate(routes):
        r["gw"] = (i % NGW + 1, (i + 3) % NGW + 1)
    return routes


POLICIES = {"Full": ["Emergency", "Local", "LongDistance", "International"],
            "Domestic": ["Emergency", "Local", "LongDistance"]}


class Model:
    def __init__(self, routes, nusers):
        self.routes = routes
        self.by_prefix = {r["prefix"]: r for r in routes}
        self.rx = {r["prefix"]: re.compile(r["pattern"]) for r in routes}
        self.rules = {npa: [(n, re.compile(p), t) for n, p, t in rules_for(npa)]
                      for _, npa in SITES}
        self.nusers = nusers

    def user(self, name):
        m = re.fullmatch(r"u(\d{4})", name)
        if not m or int(m.group(1)) >= self.nusers:
            return None
        n = int(m.group(1))
        return dict(site=n % 4, policy="Full" if n % 2 == 0 else "Domestic",
                    line="+1%s5550%03d" % (SITES[n % 4][1], n // 4))

    def normalize(self, npa, dialed):
        for name, rx, tr in self.rules[npa]:
            m = rx.match(dialed)
            if m:
                return name, tr.replace("$1", m.group(1))
        return None, dialed

    def decide(self, caller, dialed):
        """-> (status, normalized, [gateway names])"""
        u = self.user(caller)
        if u is None:
            return (404, "", [])
        _, norm = self.normalize(SITES[u["site"]][1], dialed)
        hits = [r for p, r in ((norm[:k], self.by_prefix.get(norm[:k]))
                               for k in range(1, len(norm) + 1))
                if r and self.rx[p].match(norm)]
        hits = [r for r in hits if r["usage"] in POLICIES[u["policy"]]]
        if not hits:
            return (403, norm, [])
        assert len(hits) == 1, (norm, hits)
        return (200, norm, ["GW%d" % g for g in hits[0]["gw"]])


def esc(s):
    """db_text value: backslash and ':' escaped."""
    return s.replace("\\", "\\\\").replace(":", "\\:")


def write_tables(db, routes, nusers, port_a, port_b):
    os.makedirs(db, exist_ok=True)

    def table(name, header, rows):
        with open(os.path.join(db, name), "w") as f:
            f.write(header + "\n")
            for r in rows:
                f.write(":".join(esc(str(v)) for v in r) + "\n")

    table("version", "id(int,auto) table_name(string) table_version(int)",
          [(i, t, v) for i, (t, v) in enumerate(
              [("version", 1), ("dialplan", 2), ("dr_gateways", 3), ("dr_rules", 3),
               ("dr_groups", 2), ("dr_gw_lists", 1), ("htable", 2), ("lcr_gw", 3),
               ("lcr_rule", 3), ("lcr_rule_target", 1)], 1)])
    dp = []
    for dpid, (_, npa) in enumerate(SITES, 1):
        for pr, (name, pat, tr) in enumerate(rules_for(npa), 1):
            # dialplan: match_op 1 (regex), match_len 0 (any), subst = match, \1 for $1
            dp.append((len(dp) + 1, dpid, pr, 1, pat, 0, pat, tr.replace("$1", "\\1"), name))
    table("dialplan", "id(int,auto) dpid(int) pr(int) match_op(int) match_exp(string) "
          "match_len(int) subst_exp(string) repl_exp(string) attrs(string)", dp)
    gws = [(g, 0, "127.0.0.1:%d" % (port_a if g % 2 else port_b), 0, "", "GW%d" % g,
            "gateway %d" % g) for g in range(1, NGW + 1)]
    table("dr_gateways", "gwid(int,auto) type(int) address(string) strip(int) "
          "pri_prefix(string,null) attrs(string,null) description(string)", gws)
    table("dr_rules", "ruleid(int,auto) groupid(string) prefix(string) timerec(string,null) "
          "priority(int) routeid(string,null) gwlist(string) description(string)",
          # timerec "|": no time restriction (db_text reads an empty string as NULL, which
          # drouting refuses; with SQL it would be '')
          [(i, "1" if r["usage"] == "International" else "1,2", r["prefix"], "|", 0, "0",
            "%d,%d" % r["gw"], r["name"]) for i, r in enumerate(routes, 1)])
    table("dr_groups", "id(int,auto) username(string) domain(string) groupid(int) "
          "description(string)", [])
    table("dr_gw_lists", "id(int,auto) gwlist(string) description(string)", [])
    ht = []
    for n in range(nusers):
        # value: dialplan id * 10 + routing group
        ht.append((len(ht) + 1, "u%04d" % n, 0, 1, (n % 4 + 1) * 10 + (1 if n % 2 == 0 else 2),
                   0))
    table("htable", "id(int,auto) key_name(string) key_type(int) value_type(int) "
          "key_value(string) expires(int)", ht)
    # lcr: instance 1 = Full policy, 2 = Domestic; the gateways exist in both instances.
    lgw, lrule, ltarget = [], [], []
    for lcr_id in (1, 2):
        for g in range(1, NGW + 1):
            lgw.append((len(lgw) + 1, lcr_id, "GW%d" % g, "127.0.0.1", "",
                        port_a if g % 2 else port_b, "", 1, 1, 0, "", "GW%d" % g, 0, 0))
    gwid = lambda lcr_id, g: (lcr_id - 1) * NGW + g
    for lcr_id in (1, 2):
        for r in routes:
            if lcr_id == 2 and r["usage"] == "International":
                continue
            rid = len(lrule) + 1
            lrule.append((rid, lcr_id, r["prefix"], "", "", "", 0, 1))
            for prio, g in enumerate(r["gw"], 1):
                ltarget.append((len(ltarget) + 1, lcr_id, rid, gwid(lcr_id, g), prio, 1))
    table("lcr_gw", "id(int,auto) lcr_id(int) gw_name(string,null) ip_addr(string,null) "
          "hostname(string,null) port(int,null) params(string,null) uri_scheme(int,null) "
          "transport(int,null) strip(int,null) prefix(string,null) tag(string,null) flags(int) "
          "defunct(int,null)", lgw)
    table("lcr_rule", "id(int,auto) lcr_id(int) prefix(string,null) from_uri(string,null) "
          "request_uri(string,null) mt_tvalue(string,null) stopper(int) enabled(int)", lrule)
    table("lcr_rule_target", "id(int,auto) lcr_id(int) rule_id(int) gw_id(int) priority(int) "
          "weight(int)", ltarget)


def xml_attr(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def write_xml(path, routes, nusers, port_a, port_b):
    o = ['<?xml version="1.0" encoding="UTF-8"?>',
         '<!-- generated by tests/bench/kamailio/gen_plan.py -->',
         '<callroute xmlns="urn:callroute:config:1">',
         '  <domains><domain>contoso.com</domain></domains>',
         '  <locationProfiles default="%s">' % SITES[0][0]]
    for site, npa in SITES:
        o.append('    <locationProfile name="%s">' % site)
        for name, pat, tr in rules_for(npa):
            o.append('      <rule name="%s" pattern="%s" translation="%s"/>'
                     % (name, xml_attr(pat), xml_attr(tr)))
        o.append('    </locationProfile>')
    o.append('  </locationProfiles>')
    o.append('  <phoneUsages>' + "".join('<usage name="%s"/>' % u for u in
                                         POLICIES["Full"]) + '</phoneUsages>')
    o.append('  <voicePolicies default="Full">')
    for pol, usages in POLICIES.items():
        o.append('    <voicePolicy name="%s">%s</voicePolicy>'
                 % (pol, "".join("<usage>%s</usage>" % u for u in usages)))
    o.append('  </voicePolicies>')
    o.append('  <gateways>')
    for g in range(1, NGW + 1):
        o.append('    <gateway name="GW%d" address="sip:127.0.0.1:%d" removePlus="false"/>'
                 % (g, port_a if g % 2 else port_b))
    o.append('  </gateways>')
    o.append('  <routes>')
    for r in routes:
        for k, g in enumerate(r["gw"]):
            o.append('    <route name="%s%s" pattern="%s"><usage>%s</usage>'
                     '<gateway>GW%d</gateway></route>'
                     % (xml_attr(r["name"]), " backup" if k else "", xml_attr(r["pattern"]),
                        r["usage"], g))
    o.append('  </routes>')
    o.append('  <users>')
    m = Model(routes, nusers)
    for n in range(nusers):
        u = m.user("u%04d" % n)
        o.append('    <user uri="sip:u%04d@contoso.com" line="tel:%s" enterpriseVoice="true" '
                 'voicePolicy="%s" locationProfile="%s"/>'
                 % (n, u["line"], u["policy"], SITES[u["site"]][0]))
    o.append('  </users>')
    o.append('</callroute>')
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def dial_sample(rnd, m, caller, routes):
    """A number as a user of `caller`'s site would dial it, never one of the users' lines."""
    u = m.user(caller)
    npa = SITES[u["site"]][1] if u else "425"
    while True:
        k = rnd.random()
        sub = "%d%02d%04d" % (rnd.randint(2, 9), rnd.randint(0, 99), rnd.randint(0, 9999))
        if sub[:3] == "555":
            continue  # users' lines are +1 NPA 5550xxx
        if k < 0.02:
            return "911"
        if k < 0.05:
            return "5%d" % rnd.randint(1000, 9999)
        if k < 0.25:
            return rnd.choice(["", "9"]) + sub
        nanp = [r for r in routes if r["usage"] == "LongDistance"]
        if k < 0.70:
            npa2 = rnd.choice(nanp)["prefix"][2:] if rnd.random() < 0.8 else \
                rnd.choice(SITES)[1]
            return rnd.choice(["", "1", "91", "+1"]) + npa2 + sub
        cc = rnd.choice([r for r in routes if r["usage"] == "International"])["prefix"][1:]
        tail = "".join(str(rnd.randint(0, 9)) for _ in range(rnd.randint(7, 9)))
        return rnd.choice(["011", "9011", "+"]) + cc + rnd.choice("23456789") + tail


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("port_a", type=int)
    ap.add_argument("port_b", type=int)
    ap.add_argument("--split-npas", type=int, default=2)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--verify", type=int, default=600)
    ap.add_argument("--seed", type=int, default=4)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    routes = build(a.split_npas)
    os.makedirs(a.outdir, exist_ok=True)
    write_xml(os.path.join(a.outdir, "plan.xml"), routes, a.users, a.port_a, a.port_b)
    write_tables(os.path.join(a.outdir, "db"), routes, a.users, a.port_a, a.port_b)
    m = Model(routes, a.users)
    # Load: answered calls only (callers of either policy; Domestic ones dial no abroad).
    with open(os.path.join(a.outdir, "calls.csv"), "w") as f:
        f.write("SEQUENTIAL\n")
        n = 0
        while n < a.calls:
            caller = "u%04d" % rnd.randrange(a.users)
            num = dial_sample(rnd, m, caller, routes)
            if m.decide(caller, num)[0] == 200:
                f.write("%s;%s;\n" % (caller, num))
                n += 1
    # Verification sample: answered, blocked (Domestic caller abroad) and unknown callers.
    with open(os.path.join(a.outdir, "verify.csv"), "w") as f, \
            open(os.path.join(a.outdir, "expected.txt"), "w") as e:
        f.write("SEQUENTIAL\n")
        for i in range(a.verify):
            # 24 callers cover every site x policy; `callroute route --batch` runs once each
            caller = "u%04d" % rnd.randrange(min(24, a.users)) if i % 50 else "nobody"
            num = dial_sample(rnd, m, caller, routes)
            st, norm, gws = m.decide(caller, num)
            f.write("%s;%s;\n" % (caller, num))
            e.write("%s %s %d %s %s\n" % (caller, num, st, norm or "-",
                                          ",".join(gws) or "-"))
    nrules = len(SITES) * len(rules_for("425"))
    print("plan: %d route prefixes (%d callroute routes with backups, %d drouting rules, "
          "%d lcr rules), %d normalization rules in %d profiles, %d gateways, %d users"
          % (len(routes), 2 * len(routes), len(routes),
             2 * len(routes) - sum(r["usage"] == "International" for r in routes),
             nrules, len(SITES), NGW, a.users))


if __name__ == "__main__":
    main()
