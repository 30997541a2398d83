"""Dumps, as JSON, what fail2ban's own JailsReader resolves for the enabled jails of a config
dir (tests/f2b_jail_conf_differential.rs). Usage: jail_conf_dump.py CONFIG_DIR

Prints {"error": text} when reading fails altogether, else {"jails": [...]} with, per jail:
name, error (fail2ban's config-error, or null), options (the jail's converted options), the
filter as the jail runs it (or null) and the actions as [name, options] pairs.
"""
import json
import sys

from fail2ban.client.filterreader import FilterReader
from fail2ban.client.jailsreader import JailsReader
from fail2ban.helpers import extractOptions, splitWithOptions


def filter_of(jail):
    flt = jail._JailReader__filter
    if flt is None:
        return None
    stream = flt.convert()
    FilterReader._fillStream(stream, jail.options, jail.getName())
    out = {"prefregex": None, "failregex": [], "ignoreregex": [], "datepattern": None,
           "maxlines": None, "usedns": None, "journalmatch": []}
    for cmd in stream:
        kind, opt = cmd[0], cmd[2]
        values = cmd[3] if kind == "multi-set" else cmd[3:]
        if opt in ("addfailregex", "addignoreregex"):
            out[opt[3:]] += values
        elif opt in ("prefregex", "datepattern", "maxlines", "usedns"):
            out[opt] = values[0]
    for source in (flt.getCombined().get("journalmatch"), jail.options.get("journalmatch")):
        if source is not None:
            out["journalmatch"] += [m for m in source.split("\n") if m != ""]
    return out


def actions_of(jail):
    out = []
    for act in splitWithOptions(jail.options.get("action", "")):
        act = act.strip()
        if act:
            name, opts = extractOptions(act)
            out.append([name, opts])
    return out


def main():
    reader = JailsReader(basedir=sys.argv[1])
    try:
        reader.read()
        reader.getOptions()
    except Exception as e:
        json.dump({"error": "%s: %s" % (type(e).__name__, e)}, sys.stdout)
        return
    jails = []
    for jail in reader.jails:
        error = jail.options.get("config-error")
        entry = {"name": jail.getName(), "error": error}
        if not error:
            entry["options"] = dict(jail.options)
            entry["filter"] = filter_of(jail)
            entry["actions"] = actions_of(jail)
        jails.append(entry)
    json.dump({"jails": jails}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
