"""The example's Python functions, each called once per job by
tools/juggle-pyworker (see juggle.ini). Arguments arrive as strings."""
import collections


def cpu_bound(n, out):
    """The seed's CPU-bound function: the sum of i*i for i below n,
    written to out."""
    total = sum(i * i for i in range(int(n)))
    with open(out, "w") as f:
        f.write("%d\n" % total)
    print("sum of squares below %s: %d" % (n, total))


def word_counts(src, dst):
    """A file-processing function: the lines, words and five most common
    words of the text file src, written to dst."""
    with open(src, encoding="utf-8") as f:
        text = f.read()
    words = text.lower().split()
    common = collections.Counter(words).most_common(5)
    with open(dst, "w", encoding="utf-8") as f:
        f.write("lines %d\nwords %d\n" % (len(text.splitlines()), len(words)))
        for w, c in sorted(common, key=lambda wc: (-wc[1], wc[0])):
            f.write("%s %d\n" % (w, c))
