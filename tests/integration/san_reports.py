"""Sanitizer reports in the logs of the processes a test started.

ASan writes its reports to ASAN_OPTIONS' log_path (build.sh points it at
build/san-logs). UBSan does not: with gcc (12), where libasan and libubsan
are two runtimes in one process, UBSan ignores log_path and reports on
stderr (both export __sanitizer_set_report_path and libasan's comes
first, which is the likely reason). A daemon's stderr is its log in the
test's own runtime dir (nginx's error log, the workers' log), removed at
the end. The fixtures read those logs with a Reader: a report fails the
test that was running, and with MALL_SAN_LOG_DIR set (./build.sh test
--sanitize) it is also copied there, where build.sh's summary finds it.
"""

import os

MARKERS = ("runtime error:", "ERROR: AddressSanitizer",
           "ERROR: LeakSanitizer")


def report_lines(text):
    """The lines of text that start a sanitizer report."""
    return [l for l in text.splitlines() if any(m in l for m in MARKERS)]


def excerpt(text, context=30, limit=20):
    """The first limit reports of text, each with the context lines after
    it (UBSan's stack trace, with print_stacktrace=1)."""
    lines = text.splitlines()
    out, n, upto = [], 0, 0
    for i, l in enumerate(lines):
        if n < limit and any(m in l for m in MARKERS):
            out += lines[max(i, upto):i + 1 + context]
            upto = i + 1 + context
            n += 1
    return "\n".join(out) + "\n"


class Reader:
    """Reads the files of a log dir from where the last call stopped."""

    def __init__(self, logdir, label):
        self.logdir = logdir
        self.label = label
        self.offsets = {}

    def new_reports(self):
        """Report lines written since the last call, as "file: line"."""
        found = []
        try:
            names = sorted(os.listdir(self.logdir))
        except OSError:
            return found
        for name in names:
            path = os.path.join(self.logdir, name)
            try:
                with open(path, "rb") as f:
                    f.seek(self.offsets.get(name, 0))
                    data = f.read()
            except OSError:
                continue
            # only whole lines: a report may still be being written
            end = data.rfind(b"\n") + 1
            self.offsets[name] = self.offsets.get(name, 0) + end
            text = data[:end].decode("utf-8", "replace")
            lines = report_lines(text)
            if lines:
                save(self.label + "-" + name, excerpt(text))
                found += ["%s: %s" % (name, l) for l in lines]
        return found


def save(name, text):
    """Appends text to MALL_SAN_LOG_DIR/stderr.<name> when that is set."""
    d = os.environ.get("MALL_SAN_LOG_DIR")
    if not d:
        return
    with open(os.path.join(d, "stderr." + name), "a") as f:
        f.write(text)
