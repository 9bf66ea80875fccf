#!/usr/bin/python3
"""Checks that every metric the dashboard, the alerts and the docs name is one ws-server exposes.

Collects every `wsring_...` and `process_...` name used in
  - DASHBOARD (Grafana JSON): the PromQL of its panels and variables (the
    `expr`, `query` and `definition` strings, wherever they sit);
  - RULES (Prometheus rule file): every `expr:`, one line or a block;
  - DOC (Markdown): anywhere on the page, fenced blocks included; a name
    glued to a file name (`wsring_harness.py`) is not a metric;
and looks each one up in the union of METRICS_FILE... (scrapes of
GET /metrics in the Prometheus text format: a family is a `# TYPE name type`
line). A `_bucket`, `_sum` or `_count` name is found through its histogram
(or summary) family, and `X_total` through a counter family `X` (OpenMetrics
names counters without the suffix).
Prints each name found nowhere as FILE:LINE: name, then exits 1. Also
exits 1 if an input yields no name at all (its format was not understood)
or a scrape declares no family (an empty or failed scrape).
`--self-test` checks made-up inputs (one good and one bad use of each kind)
and exits 1 unless exactly the bad ones are caught.
Usage: scripts/check_metric_names.py DASHBOARD RULES DOC METRICS_FILE...
       scripts/check_metric_names.py --self-test
"""
import json
import os
import re
import sys
import tempfile

NAME = re.compile(r"(?<![\w/.\-])((?:wsring|process)_[a-z0-9_]+)(?![\w.\-]*\.[a-z]{1,4}\b)")
TYPE = re.compile(r"^#\s*TYPE\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s+(\w+)\s*$")
EXPR_KEYS = {"expr", "query", "definition"}
EXPR_LINE = re.compile(r"^(\s*)(?:-\s+)?expr:\s*(.*)$")


def names_in(text, lineno):
    return [(lineno + text.count("\n", 0, m.start()), m.group(1)) for m in NAME.finditer(text)]


def dashboard_names(path):
    """(line, name) for each name in the dashboard's expressions."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found = []

    def walk(node, key=None):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key in EXPR_KEYS:
            found.extend(n for _, n in names_in(node, 0))

    walk(json.loads(text))

    def line(n):  # JSON keeps no line numbers: the first line that has the name
        m = re.search(rf"(?<!\w){n}(?!\w)", text)
        return text.count("\n", 0, m.start() if m else 0) + 1

    return [(line(n), n) for n in found]


def rules_names(path):
    """(line, name) for each name in an `expr:`, plain, quoted or a | / > block."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    found, i = [], 0
    while i < len(lines):
        m = EXPR_LINE.match(lines[i])
        i += 1
        if not m:
            continue
        indent, first = len(m.group(1)), i  # first: the 1-based line of the expression's text
        if re.match(r"^[|>][-+]?\s*$", m.group(2)):
            body, first = [], i + 1
        else:
            body = [m.group(2)]
        # A block scalar, or a plain scalar folded over several lines: every
        # following line indented deeper than `expr:` (blank lines included).
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        found += names_in("\n".join(body), first)
    return found


def doc_names(path):
    with open(path, encoding="utf-8") as f:
        return names_in(f.read(), 1)


def families(paths):
    """({name: type} over every scrape, [the scrapes that declare no family])."""
    fams, empty = {}, []
    for p in paths:
        count = 0
        with open(p, encoding="utf-8") as f:
            for line in f:
                m = TYPE.match(line.strip())
                if m:
                    fams[m.group(1)] = m.group(2)
                    count += 1
        if not count:
            empty.append(p)
    return fams, empty


def exposed(name, fams):
    if name in fams:
        return True
    for suffix, kinds in (("_bucket", {"histogram"}), ("_sum", {"histogram", "summary"}),
                          ("_count", {"histogram", "summary"})):
        if name.endswith(suffix) and fams.get(name[:-len(suffix)]) in kinds:
            return True
    return name.endswith("_total") and fams.get(name[:-len("_total")]) == "counter"


def check(dashboard, rules, doc, scrapes):
    """(errors, number of distinct names checked)."""
    fams, empty = families(scrapes)
    errors = [f"{p}: no '# TYPE' line: not a scrape of /metrics" for p in empty]
    used = []
    for path, reader in ((dashboard, dashboard_names), (rules, rules_names), (doc, doc_names)):
        names = reader(path)
        if not names:
            errors.append(f"{path}: no wsring_ or process_ name found: not the file expected?")
        used += [(path, line, n) for line, n in names]
    seen = set()
    for path, line, n in used:
        if not exposed(n, fams) and (path, n) not in seen:
            seen.add((path, n))
            errors.append(f"{path}:{line}: {n}")
    return errors, len({n for _, _, n in used})


def self_test():
    with tempfile.TemporaryDirectory() as d:
        def put(name, text):
            with open(os.path.join(d, name), "w", encoding="utf-8") as f:
                f.write(text)
            return os.path.join(d, name)

        dash = put("dash.json", json.dumps({"panels": [
            {"title": "wsring_title_only is prose, not an expression", "targets": [
                {"expr": "histogram_quantile(0.99, sum by (le) (rate(wsring_lat_seconds_bucket[5m])))"},
                {"expr": "sum(rate(wsring_gone_total[1m]))"}]}],
            "templating": {"list": [{"query": {"query": "label_values(wsring_info, instance)"},
                                     "definition": "label_values(wsring_info, instance)"}]}}, indent=1))
        rules = put("rules.yml", "groups:\n  - name: g\n    rules:\n"
                    "      # expr: wsring_commented_out\n"
                    "      - alert: A\n        expr: wsring_up == 0\n        for: 1m\n"
                    "      - alert: B\n        expr: |\n          rate(wsring_lat_seconds_count[5m])\n"
                    "\n            / wsring_connections_count\n        labels:\n          wsring_label: x\n"
                    "      - alert: C\n        expr: process_open_fds / process_max_fds\n"
                    "          > wsring_plain_continued\n")
        doc = put("doc.md", "# Ops\n\n`wsring_up`, `process_open_fds`, `wsring_messages_total`\n"
                  "Read `tests/integration/wsring_harness.py` and wsring.v1; `wsring:{t}`.\n"
                  "```\nwsring_lat_seconds_sum / wsring_lat_seconds_count\nwsring_missing_doc\n```\n")
        echo = put("echo.prom", "# HELP wsring_up up\n# TYPE wsring_up gauge\nwsring_up 1\n"
                   "# TYPE wsring_info gauge\n# TYPE wsring_connections gauge\n"
                   "# TYPE wsring_messages counter\nwsring_messages_total 3\n"
                   "# TYPE process_open_fds gauge\n# TYPE process_max_fds gauge\n")
        pubsub = put("pubsub.prom", "# TYPE wsring_lat_seconds histogram\n"
                     'wsring_lat_seconds_bucket{le="+Inf"} 0\n')
        empty = put("empty.prom", "<html>404</html>\n")
        nothing = put("nothing.md", "no metric here\n")
        errors, _ = check(dash, rules, doc, [echo, pubsub])
        errors += check(dash, rules, nothing, [echo, pubsub, empty])[0][:2]
        with open(os.devnull, "w") as quiet:
            saved, sys.stdout = sys.stdout, quiet
            try:
                status = main([dash, rules, doc, echo, pubsub])
            finally:
                sys.stdout = saved
    want = [f"{dash}:10: wsring_gone_total",  # JSON: the first line naming it
            f"{rules}:12: wsring_connections_count",  # a gauge has no _count
            f"{rules}:17: wsring_plain_continued",
            f"{doc}:7: wsring_missing_doc",
            f"{empty}: no '# TYPE' line: not a scrape of /metrics",
            f"{nothing}: no wsring_ or process_ name found: not the file expected?"]
    if errors != want or status != 1:
        print(f"check_metric_names self-test FAILED (exit status {status}, want 1)\n  expected:",
              *want, "  got:", *errors, sep="\n    ")
        return 1
    print(f"check_metric_names self-test: ok ({len(want)} bad uses caught, the good ones passed)")
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    if len(argv) < 4 or any(a.startswith("-") for a in argv):
        print("usage: scripts/check_metric_names.py DASHBOARD RULES DOC METRICS_FILE... | --self-test",
              file=sys.stderr)
        return 2
    dashboard, rules, doc, scrapes = argv[0], argv[1], argv[2], argv[3:]
    try:
        errors, count = check(dashboard, rules, doc, scrapes)
    except (OSError, ValueError) as e:  # ValueError: JSON that does not parse
        print(f"check_metric_names: {e}", file=sys.stderr)
        return 2
    for e in errors:
        print(e)
    print(f"check_metric_names: {count} names in use, {len(errors)} problem(s), "
          f"{len(families(scrapes)[0])} families in {len(scrapes)} scrape(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
