"""Run the package's fail2ban-regex with `-o row` and print each failure as a JSON line
[id, time], so a Rust test can compare it with `guard test --per-line --json`.

usage: regex_rows.py FAIL2BAN-REGEX ARGS...
"""
import ast
import json
import subprocess
import sys

out = subprocess.run([sys.executable] + sys.argv[1:], capture_output=True, text=True,
                     encoding="utf-8", errors="replace")
for line in out.stdout.splitlines():
    line = line.strip().rstrip(",")
    if not line.startswith("["):
        continue
    try:
        row = ast.literal_eval(line.replace("\t", " "))
    except (ValueError, SyntaxError):
        continue
    print(json.dumps([str(row[0]), row[1]]))
if out.returncode != 0:
    sys.stderr.write(out.stderr[-2000:])
    sys.exit(out.returncode)
