"""Push with libgit2 (pygit2): the client that closes the connection as soon
as it has read the report-status, without waiting for the exit status.

usage: pygit2_push.py WORKTREE URL REFSPEC PUBKEY PRIVKEY

Prints one line per ref the server reported ("ok REF" or "ng REF MESSAGE")
and exits 1 when any ref was refused or the push failed.
"""

import sys

import pygit2


def main():
    worktree, url, refspec, pub, priv = sys.argv[1:6]
    if not pygit2.features & pygit2.GIT_FEATURE_SSH:
        print("libgit2 was built without ssh support", file=sys.stderr)
        return 2
    repo = pygit2.Repository(worktree)
    refused = []

    class Callbacks(pygit2.RemoteCallbacks):
        def credentials(self, url, username_from_url, allowed_types):
            return pygit2.Keypair(username_from_url or "dokku", pub, priv, "")

        def certificate_check(self, certificate, valid, host):
            return True  # a throwaway server on loopback

        def push_update_reference(self, refname, message):
            if message:
                refused.append(refname)
                print("ng %s %s" % (refname, message))
            else:
                print("ok %s" % refname)

    if "pygit2" in [r.name for r in repo.remotes]:
        repo.remotes.set_url("pygit2", url)
    else:
        repo.remotes.create("pygit2", url)
    remote = repo.remotes["pygit2"]
    try:
        remote.push([refspec], callbacks=Callbacks())
    except pygit2.GitError as e:
        print("push failed: %s" % e, file=sys.stderr)
        return 1
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
