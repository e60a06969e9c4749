"""Inputs juggle reads to hash: only regular files. A FIFO, socket or device
named as an input would block the scheduler's thread forever."""
import os

from harness import backends, timeout


@backends
@timeout(60)
def test_fifo_input_fails_the_job_instead_of_hanging(t):
    os.mkfifo("feed")
    t.write("plain.txt", "plain\n")
    t.ini("""
        [cpu digest]
        task = sha256
        input = feed
        output = feed.sha256

        [cpu other]
        task = sha256
        input = plain.txt
        output = plain.sha256
        """)
    # Nobody ever writes the FIFO: on a build that reads it, this never ends.
    r = t.juggle("-k", rc=1, timeout=20)
    assert "input 'feed' is not a regular file" in r.out + r.err, r
    assert r.statuses() == {"digest": "failed", "other": "ok"}, r.statuses()
    assert not os.path.exists("feed.sha256")
    assert os.path.exists("plain.sha256")
