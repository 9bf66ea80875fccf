#!/usr/bin/python3
"""Checks that every file and file:function reference in the docs exists.

Reads docs/**/*.md and README.md (outside fenced code blocks) and checks:
  - `path` in backticks whose first component is a source folder of the tree
    (proto/, core/, net/, modes/, cluster/, apps/, base/, tests/, fuzz/, bench/,
    docs/, scripts/, deploy/, web/, cmake/, .ci/): the file or folder exists.
    `a/b.{hpp,cpp}` and `a/b.*` work too.
    A command in backticks has each such word checked; `net/...` is skipped.
  - `path:name` or `path: name` (also `path:class::name`): the file exists and
    defines name: `name(`, `struct|class|enum|using|namespace name`, or a
    test `TEST(Suite, name)`.
  - `path:N`: the file has at least N lines.
  - a name right after a checked `path:name`, separated by only `, ` or ` / `
    or ` → ` (`proto/x.cpp:f`, `g`): checked in the same file.
  - [text](target) links: the target exists, relative to the linking page.
Prints each broken reference as FILE:LINE: ref: why, and exits 1 if any.
`--self-test` checks a small made-up tree instead (one good and one bad
reference of each kind) and exits 1 unless exactly the bad ones are caught.
Usage: scripts/check_docs.py [--root DIR] [--self-test] [--list]
(--list prints every reference it checked.)
"""
import glob
import os
import re
import sys
import tempfile

SOURCE_DIRS = {"proto", "core", "net", "modes", "cluster", "apps", "base", "tests", "fuzz",
               "bench", "docs", "scripts", "deploy", "web", "cmake", ".ci"}
PATH = r"(?:\.ci|[a-z_]+)(?:/[\w.*{},\-]+)*/?"
REF = re.compile(rf"^(?P<path>{PATH})(?::\s?(?P<name>[A-Za-z_~][\w:~]*|\d+))?$")
NAME = re.compile(r"^[A-Za-z_~][\w~]*(?:::[A-Za-z_~][\w~]*)*$")
JOINER = re.compile(r"^\s*(?:,|/|→|->)\s*$")
SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def expand(root, path):
    """The existing paths `path` names (braces and * expanded), or []."""
    m = re.search(r"\{([^}]*)\}", path)
    alts = [path[:m.start()] + a + path[m.end():] for a in m.group(1).split(",")] if m else [path]
    found = []
    for alt in alts:
        hits = glob.glob(os.path.join(root, alt.rstrip("/")))
        if not hits:
            return []  # every alternative of a brace must exist
        found += hits
    return found


def defines(text, name):
    last = re.escape(name.split("::")[-1].lstrip("~"))
    return re.search(rf"(?:\b|~){last}\s*\(|\b(?:struct|class|enum(?:\s+class)?|using|namespace)\s+"
                     rf"{last}\b|\bTEST\w*\(\s*\w+\s*,\s*{last}\s*\)", text) is not None


def check_ref(root, path, name):
    """None if fine, else why not."""
    hits = expand(root, path)
    if not hits:
        return "no such file or folder"
    if name is None:
        return None
    if len(hits) != 1 or not os.path.isfile(hits[0]):
        return "a name needs exactly one file"
    with open(hits[0], encoding="utf-8", errors="replace") as f:
        text = f.read()
    if name.isdigit():
        return None if text.count("\n") >= int(name) else f"has fewer than {name} lines"
    return None if defines(text, name) else f"defines no '{name.split('::')[-1]}'"


def span_refs(span):
    """(path, name) pairs in one backticked span."""
    words = span.replace(": ", ":").split() if re.match(rf"^{PATH}: \S+$", span) else span.split()
    out = []
    for w in words:
        w = w.strip("(),;'\"")
        m = REF.match(w)
        if (m and m.group("path").split("/")[0] in SOURCE_DIRS and "/" in m.group("path")
                and "..." not in w):  # `net/...` is a placeholder, not a path
            out.append((m.group("path"), m.group("name")))
    return out


LISTED = []  # --list: every reference checked


def check_file(root, doc, rel):
    errors = []
    fenced = False
    with open(doc, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for lineno, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        last_file, last_end = None, -1  # the file of the previous path:name span
        for m in SPAN.finditer(line):
            span = m.group(1)
            refs = span_refs(span)
            if refs:
                for path, name in refs:
                    LISTED.append(f"{rel}:{lineno}: {path}" + (f":{name}" if name else ""))
                    why = check_ref(root, path, name)
                    if why:
                        shown = f"{path}:{name}" if name else path
                        errors.append(f"{rel}:{lineno}: {shown}: {why}")
                single = len(refs) == 1 and refs[0][1] and not refs[0][1].isdigit()
                last_file, last_end = (refs[0][0] if single else None), m.end()
            elif last_file and NAME.match(span) and JOINER.match(line[last_end:m.start()]):
                LISTED.append(f"{rel}:{lineno}: {last_file}:{span} (continued)")
                why = check_ref(root, last_file, span)
                if why:
                    errors.append(f"{rel}:{lineno}: {last_file}:{span} (continued): {why}")
                last_end = m.end()
            else:
                last_file = None
        for target in LINK.findall(line):
            target = target.split("#")[0]
            if not target or re.match(r"^[a-z]+:", target):
                continue
            if not os.path.exists(os.path.normpath(os.path.join(os.path.dirname(doc), target))):
                errors.append(f"{rel}:{lineno}: link {target}: no such file or folder")
    return errors


def check_tree(root):
    docs = sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True))
    docs += [p for p in [os.path.join(root, "README.md")] if os.path.exists(p)]
    errors = []
    for doc in docs:
        errors += check_file(root, doc, os.path.relpath(doc, root))
    return len(docs), errors


def self_test():
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "docs"))
        os.makedirs(os.path.join(root, "net"))
        with open(os.path.join(root, "net", "a.cpp"), "w") as f:
            f.write("void session::good(int) {}\nstruct kind {};\n")
        open(os.path.join(root, "net", "a.hpp"), "w").close()
        with open(os.path.join(root, "docs", "x.md"), "w") as f:
            f.write("good: `net/a.cpp:session::good`, `kind`, [a](../net/a.cpp), `net/a.{cpp,hpp}`\n"
                    "bad: `net/b.cpp` and `net/a.{cpp,h}`\n"
                    "bad: `net/a.cpp: missing`\n"
                    "bad: `net/a.cpp:good`, `gone`\n"
                    "bad: [b](../net/b.hpp)\n"
                    "```\n`net/fenced.cpp` is not checked\n```\n"
                    "placeholder: `#include \"net/...\"`\n")
        _, errors = check_tree(root)
        with open(os.devnull, "w") as quiet:
            saved, sys.stdout = sys.stdout, quiet
            try:
                status = main(["--root", root])
            finally:
                sys.stdout = saved
    want = ["docs/x.md:2: net/b.cpp: no such file or folder",
            "docs/x.md:2: net/a.{cpp,h}: no such file or folder",
            "docs/x.md:3: net/a.cpp:missing: defines no 'missing'",
            "docs/x.md:4: net/a.cpp:gone (continued): defines no 'gone'",
            "docs/x.md:5: link ../net/b.hpp: no such file or folder"]
    if errors != want or status != 1:
        print(f"check_docs self-test FAILED (exit status {status}, want 1)\n  expected:", *want,
              "  got:", *errors, sep="\n    ")
        return 1
    print(f"check_docs self-test: ok ({len(want)} bad references caught, the good ones passed)")
    return 0


def main(argv):
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    if "--root" in argv:
        root = argv[argv.index("--root") + 1]
    if "--self-test" in argv:
        return self_test()
    count, errors = check_tree(root)
    if "--list" in argv:
        print(*LISTED, sep="\n")
    for e in errors:
        print(e)
    print(f"check_docs: {count} pages, {len(errors)} broken reference(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
