#!/usr/bin/env python3
"""Syntax check of Swift sources without a Swift compiler: parses each file with
tree-sitter-swift and fails on any syntax error, except the grammar's two known false positives
on valid Swift (an attribute alone inside `#if swift(>=5.8)`, and the empty closure `{ () }`),
which are masked only where they occur exactly.

Usage: parse_check.py FILE_OR_DIR...
"""

import pathlib
import re
import sys

import tree_sitter
import tree_sitter_swift

LANGUAGE = tree_sitter.Language(tree_sitter_swift.language())

# Valid Swift that the grammar misreads, each replaced by the same number of spaces and
# newlines (so line numbers stay right) before parsing.
FALSE_POSITIVES = [
    # `#if swift(>=5.8)` followed by a lone attribute line and `#endif`.
    re.compile(r"#if swift\(>=5\.8\)\n\s*@_documentation\(visibility: private\)\n\s*#endif"),
    # An empty closure returning Void.
    re.compile(r"\{ \(\) \}"),
]


def masked(text: str) -> str:
    for pattern in FALSE_POSITIVES:
        text = pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    return text


def errors(tree):
    """The ERROR and MISSING nodes of a parse tree."""
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            yield node
            continue
        stack.extend(node.children)


def check(path: pathlib.Path) -> int:
    parser = tree_sitter.Parser(LANGUAGE)
    source = masked(path.read_text(encoding="utf-8")).encode("utf-8")
    tree = parser.parse(source)
    found = 0
    for node in errors(tree):
        found += 1
        row, col = node.start_point
        line = source.splitlines()[row].decode("utf-8", "replace") if row < len(source.splitlines()) else ""
        print(f"{path}:{row + 1}:{col + 1}: syntax error: {line.strip()[:100]}")
    return found


def main(args):
    files = []
    for arg in args:
        p = pathlib.Path(arg)
        files.extend(sorted(p.rglob("*.swift")) if p.is_dir() else [p])
    if not files:
        print("no Swift files given", file=sys.stderr)
        return 2
    total = sum(check(f) for f in files)
    print(f"{len(files)} Swift file(s) parsed, {total} syntax error(s)")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
