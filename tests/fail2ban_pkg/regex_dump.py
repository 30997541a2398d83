"""Dump fail2ban's own view of every filter's regexes and of Python `re` matches on the sample logs.

Run by tests/f2b_regex_differential.rs with Debian's python3 and the unpacked package on
PYTHONPATH:  regex_dump.py CONFIG_DIR SAMPLE_LOGS_DIR OUT.json

For each filter in filter.d (and each option set: the default, every `mode` the filter names,
and every `# filterOptions:` set of its sample log), fail2ban's FilterReader reads the filter and
a fail2ban Filter object compiles its prefregex/failregex/ignoreregex. We record the regex text
as the reader hands it over (tags still in), the text fail2ban compiled, its compile flags and
group table, and for every non-comment line of the sample log with the filter's name the result
of Python's re.search: all group spans (in UTF-8 byte offsets, as Rust reports them); and the same on the texts fail2ban
itself would search for each line (see fail2ban_buffers).
"""

import json
import os
import re
import sys

from fail2ban.client.filterreader import FilterReader
from fail2ban.server.filter import Filter

MODE_REF = re.compile(r"<([\w-]+)-<mode>([\w-]*)>")
JSON_OPTS = re.compile(r"^#+ ?filterOptions:(.+)$")


def option_sets(filter_path, log_path):
    """The default options, each mode the filter refers to, each filterOptions of its log."""
    sets = [{}]
    with open(filter_path, encoding="utf-8") as f:
        text = f.read()
    if re.search(r"(?m)^mode\s*=", text):
        for prefix, suffix in set(MODE_REF.findall(text)):
            key = re.compile(r"(?m)^%s-(\w+)%s\s*=" % (re.escape(prefix), re.escape(suffix)))
            for mode in key.findall(text):
                sets.append({"mode": mode})
    if os.path.isfile(log_path):
        with open(log_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = JSON_OPTS.match(line.rstrip("\r\n"))
                if not m:
                    continue
                found = json.loads(m.group(1))
                for opts in found if isinstance(found, list) else [found]:
                    sets.append({k: v for k, v in opts.items() if not k.startswith("test.")})
    unique = []
    for s in sets:
        if s not in unique:
            unique.append(s)
    return unique


def read_filter(name, basedir, opts):
    """fail2ban's own reading: the command stream of FilterReader, applied to a Filter."""
    reader = FilterReader(name, "jail", dict(opts), basedir=basedir)
    if not reader.read():
        raise RuntimeError("cannot read filter %s" % name)
    reader.getOptions({})
    flt = Filter(None)
    raw = {"pref": [], "fail": [], "ignore": []}
    usedns = None
    for cmd in reader.convert():
        values = cmd[3] if cmd[0] == "multi-set" else [cmd[3]]
        for value in values:
            if cmd[2] == "usedns":
                usedns = value
                flt.setUseDns(value)
            elif cmd[2] == "prefregex":
                raw["pref"].append(value)
                flt.prefRegex = value
            elif cmd[2] == "addfailregex":
                raw["fail"].append(value)
                flt.addFailRegex(value)
            elif cmd[2] == "addignoreregex":
                raw["ignore"].append(value)
                flt.addIgnoreRegex(value)
            elif cmd[2] == "maxlines":
                flt.setMaxLines(value)
            elif cmd[2] == "datepattern":
                flt.setDatePattern(value)
    compiled = {
        "pref": [flt.prefRegex] if flt.prefRegex else [],
        "fail": list(flt._Filter__failRegex),
        "ignore": list(flt._Filter__ignoreRegex),
    }
    return raw, compiled, flt, usedns


def fail2ban_buffers(flt, line):
    """The texts fail2ban itself searches for this line: the line without its date plus the
    newline fail2ban's line buffer adds, and (with a prefregex) its F-CONTENT plus newline."""
    prefix, rest = "", line
    try:
        m = flt.dateDetector.matchTime(line)[0] if flt.dateDetector else None
    except Exception:
        m = None
    if m:
        prefix, rest = line[:m.start(1)], line[m.end(1):]
    buf = prefix + rest + "\n"
    out = [buf]
    pref = flt.prefRegex
    if pref is not None:
        pm = pref._regexObj.search(buf)
        if pm is not None and pm.groupdict().get("content"):
            out.append(pm.group("content") + "\n")
    return out


def byte_offset(text, index, cache):
    if index not in cache:
        cache[index] = len(text[:index].encode("utf-8", "surrogatepass"))
    return cache[index]


def search(regex_obj, line):
    m = regex_obj.search(line)
    if m is None:
        return None
    cache = {}
    spans = []
    for g in range(regex_obj.groups + 1):
        s, e = m.span(g)
        spans.append(None if s < 0 else [byte_offset(line, s, cache), byte_offset(line, e, cache)])
    return spans


def log_lines(path):
    lines = []
    if not os.path.isfile(path):
        return lines
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith("#") or not line.strip():
                continue
            lines.append(line)
    return lines


def main():
    config_dir, logs_dir, out_path = sys.argv[1:4]
    filter_dir = os.path.join(config_dir, "filter.d")
    names = sorted(
        f[:-5] for f in os.listdir(filter_dir) if f.endswith(".conf") and not f.endswith("common.conf")
    )
    out = {"python": sys.version, "filters": []}
    for name in names:
        log_path = os.path.join(logs_dir, name)
        lines = log_lines(log_path)
        entry = {"name": name, "lines": lines, "option_sets": []}
        for opts in option_sets(os.path.join(filter_dir, name + ".conf"), log_path):
            one = {"options": opts}
            try:
                raw, compiled, flt, usedns_opt = read_filter(name, config_dir, opts)
            except Exception as e:  # a filter fail2ban itself refuses: recorded, not fatal
                one["error"] = "%s: %s" % (type(e).__name__, e)
                entry["option_sets"].append(one)
                continue
            one["maxlines"] = flt.getMaxLines()
            one["usedns"] = flt.getUseDns()
            texts = list(lines)
            seen = set(texts)
            for line in lines:
                for buf in fail2ban_buffers(flt, line):
                    if buf not in seen:
                        seen.add(buf)
                        texts.append(buf)
            one["texts"] = texts
            regexes = []
            for kind in ("pref", "fail", "ignore"):
                for raw_text, rx in zip(raw[kind], compiled[kind]):
                    obj = rx._regexObj
                    regexes.append({
                        "kind": kind,
                        "raw": raw_text,
                        "expanded": rx.getRegex(),
                        "multiline": bool(obj.flags & re.MULTILINE),
                        "groups": obj.groups,
                        "groupindex": dict(obj.groupindex),
                        "results": [search(obj, text) for text in texts],
                    })
            one["regexes"] = regexes
            entry["option_sets"].append(one)
        out["filters"].append(entry)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
