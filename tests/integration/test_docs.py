"""The documentation's cross-references (issue 21 item 5): every relative link of README.md,
docs/*.md and bench/README.md reaches a file and, with an anchor, one of its headings; and
every mention of a section in the tree (`docs/api.md "Trash bin"` in a code comment, a test
or a migration; `README "The two commands"`) names a heading or a bold lead-in ("**Which provider holds
an upload.**") of that file. No server runs."""
import os
import re
import subprocess

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCS = ["README.md", "bench/README.md"] + sorted(
    "docs/" + f for f in os.listdir(os.path.join(REPO, "docs")) if f.endswith(".md"))
# A mention: the file, then the section in double quotes (a comment may wrap between them).
MENTION = re.compile(r'((?:docs/)?[a-z]+\.md|README)\s+(?:\*\s+|#\s+|--\s+)?"([^"\n]+)"')


def read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        return f.read()


def headings(path):
    """The heading texts of a Markdown file (outside code blocks)."""
    out, fence = [], False
    for line in read(path).splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and re.match(r"#+ ", line):
            out.append(line.lstrip("#").strip())
    return out


def anchor(heading):
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_links_reach_a_file_and_a_heading():
    bad = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", read(doc)):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, frag = target.partition("#")
            path = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
            if not os.path.exists(os.path.join(REPO, path)):
                bad.append(f"{doc}: {target}: no such file")
            elif frag and frag not in {anchor(h) for h in headings(path)}:
                bad.append(f"{doc}: {target}: no such heading")
    assert not bad, "\n".join(bad)


def test_section_mentions_name_a_section():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    bad, seen = [], 0
    for f in files:
        if f.startswith("bench/results") or f.startswith("bench/notes") or \
                not re.search(r"\.(c|h|py|sql|sh|yml|md)$", f):
            continue  # the benchmark reports quote the README of their own commit
        text = read(f)
        for doc, section in MENTION.findall(text):
            doc = "README.md" if doc == "README" else doc
            if doc in ("API.md", "DESIGN.md", "CONVENTIONS.md"):
                continue  # the shared documents, not in this tree
            if not doc.startswith("docs/") and doc not in ("README.md",) or \
                    not os.path.exists(os.path.join(REPO, doc)):
                continue
            seen += 1
            secs = headings(doc)
            lead_ins = re.findall(r"\*\*([^*]+?)\.?\*\*", read(doc))
            if not any(h == section or h.startswith(section + ":") for h in secs) and \
                    section not in lead_ins:
                bad.append(f'{f}: {doc} "{section}"')
    assert seen > 20, seen
    assert not bad, "sections that do not exist:\n" + "\n".join(bad)
