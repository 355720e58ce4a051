"""A whole branch-and-merge workflow through ``muse.Repository``.

    python examples/python/repository_workflow.py [DIR]

Creates a repository in DIR (default: a new temporary directory), commits a
file, works on a branch, merges it back (a conflict included, resolved by
hand) and prints the history. Each step is one method call, as in pygit2.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from muse import Repository
from muse.core.errors import MuseError


def main(where: Path) -> int:
    repo = Repository.init(where)
    root = repo.workdir
    print(f"initialised {repo!r} on branch {repo.head_branch}")

    (root / "notes.txt").write_text("line one\n")
    print("status:", repo.status())
    repo.add("notes.txt")
    base = repo.commit("add notes", author="Ann <ann@example.com>")
    print("committed", base.id[:19], repr(base.message))

    # Work on a branch.
    repo.create_branch("idea")
    repo.checkout("idea")
    (root / "notes.txt").write_text("line one\nidea\n")
    print("diff against HEAD:", repo.diff())
    repo.add_all()
    repo.commit("write the idea down")

    # Meanwhile on main, the same line changes.
    repo.checkout("main")
    (root / "notes.txt").write_text("line one\nmain's take\n")
    repo.add_all()
    repo.commit("main's take")

    result = repo.merge("idea", author="Ann <ann@example.com>")
    print("merge:", result)
    if result.kind == "conflicts":
        for path in result.conflicts:
            print(f"--- {path} with conflict markers:")
            print((root / path).read_text(), end="")
            (root / path).write_text("line one\nidea\nmain's take\n")
        repo.add(result.conflicts)
        merge_commit = repo.commit("merge idea")
        print("resolved with", merge_commit.id[:19], "parents", [p[:19] for p in merge_commit.parents])

    print("history:")
    for commit in repo.log():
        print(f"  {commit.id[7:19]}  {commit.committed_at:%H:%M:%S}  {commit.message}")
    print("HEAD~1 is", repo.revparse("HEAD~1")[:19])
    return 0


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="muse-example-")) / "repo"
    try:
        sys.exit(main(target))
    except MuseError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
