"""Dump fail2ban's own date detection on every sample log line.

Run by tests/f2b_dates_differential.rs with Debian's python3, the unpacked package on PYTHONPATH
and TZ=CET-01CEST-02,M3.5.0,M10.5.0 (the zone fail2ban's own tests run in):
    dates_dump.py CONFIG_DIR SAMPLE_LOGS_DIR OUT.json
    dates_dump.py --cases IN.json OUT.json

For every sample log (its name is the filter's name) one detector per run reads the log's lines
in file order (fail2ban reorders its templates by hits, so order matters): a run with the default
templates, and one per distinct `datepattern` the filter has (its default options and each
`# filterOptions:` set of the log). Per line: the span of the date as processLine cuts it
(group 1, in UTF-8 byte offsets) and the time getTime reads from it.

With --cases, IN.json is a list of {"datepattern": str|null, "logtimezone": str|null, "lines":
[...]}: each case is one detector fed its lines in order, output as a list of results lists.
"""

import json
import logging
import os
import sys

from fail2ban.server.mytime import MyTime

# as fail2ban's tests/utils.py setUpMyTime does
MyTime.setTime(1124013600)
# a pattern whose regex does not compile is logged on every line: the result says it already
logging.getLogger("fail2ban").setLevel(logging.CRITICAL)

from fail2ban.client.filterreader import FilterReader  # noqa: E402
from fail2ban.server import datedetector  # noqa: E402
from fail2ban.server.filter import Filter  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from regex_dump import log_lines, option_sets  # noqa: E402


def datepatterns(name, basedir, opts):
    reader = FilterReader(name, "jail", dict(opts), basedir=basedir)
    if not reader.read():
        return []
    reader.getOptions({})
    found = []
    for cmd in reader.convert():
        if cmd[2] == "datepattern":
            found.extend(cmd[3] if cmd[0] == "multi-set" else [cmd[3]])
    return found


def reset_shared_hits():
    """Templates are cached process-wide and count their matches on the shared object; a fresh
    fail2ban process (one per log) starts with none."""
    templates = list(datedetector.DateDetectorCache.DEFAULT_TEMPLATES)
    templates += list(datedetector.DateDetector._defCache.templates)
    templates += [v[0] for v in datedetector.DD_patternCache._cache.values()]
    for t in templates:
        if not isinstance(t, str):
            t.hits = 0


def byte_offset(text, index):
    return len(text[:index].encode("utf-8", "surrogatepass"))


def detect(detector, line):
    """[start, end, epoch, error] of processLine's date, or None when no template matched."""
    try:
        tm = detector.matchTime(line)
    except Exception as e:
        return [None, None, None, "matchTime: %s: %s" % (type(e).__name__, e)]
    m = tm[0]
    if not m:
        return None
    s, e = m.start(1), m.end(1)
    text = line[s:e]
    if s < 0:  # group 1 did not take part: Python's slice at -1
        s = e = max(0, len(line) - 1)
    start, end = byte_offset(line, s), byte_offset(line, e)
    if not text:
        return [start, end, None, None]
    try:
        date = detector.getTime(text, tm)
    except Exception as ex:
        return [start, end, None, "getTime: %s: %s" % (type(ex).__name__, ex)]
    return [start, end, None if date is None else float(date[0]), None]


def run(datepattern, lines, logtimezone=None):
    reset_shared_hits()
    flt = Filter(None)
    if logtimezone is not None:
        flt.setLogTimeZone(logtimezone)
    if datepattern is not None:
        flt.setDatePattern(datepattern)
    detector = flt.dateDetector
    return [detect(detector, line) for line in lines]


def cases(in_path, out_path):
    with open(in_path, encoding="utf-8") as f:
        todo = json.load(f)
    out = []
    for case in todo:
        try:
            out.append(run(case["datepattern"], case["lines"], case.get("logtimezone")))
        except Exception as e:
            out.append("%s: %s" % (type(e).__name__, e))
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)


def main():
    if sys.argv[1] == "--cases":
        return cases(sys.argv[2], sys.argv[3])
    config_dir, logs_dir, out_path = sys.argv[1:4]
    filter_dir = os.path.join(config_dir, "filter.d")
    out = {"files": []}
    for name in sorted(os.listdir(logs_dir)):
        log_path = os.path.join(logs_dir, name)
        if not os.path.isfile(log_path):
            continue
        lines = log_lines(log_path)
        patterns = [None]
        filter_path = os.path.join(filter_dir, name + ".conf")
        if os.path.isfile(filter_path):
            for opts in option_sets(filter_path, log_path):
                try:
                    found = datepatterns(name, config_dir, opts)
                except Exception:
                    continue
                for p in found:
                    if p not in patterns:
                        patterns.append(p)
        runs = []
        for p in patterns:
            try:
                runs.append({"datepattern": p, "results": run(p, lines)})
            except Exception as e:
                runs.append({"datepattern": p, "error": "%s: %s" % (type(e).__name__, e)})
        out["files"].append({"name": name, "lines": lines, "runs": runs})
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
