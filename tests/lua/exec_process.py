"""A model of ``reaper.ExecProcess(cmdline, -1 or -2)`` for the mock: no shell.

``exec_process.py RULES CMDLINE_FILE ARGV_OUT``: splits the command line into the
arguments the started program would see, writes them to ARGV_OUT (JSON) for the test,
then starts the program with them directly and returns without waiting.

RULES ``windows``: CreateProcess hands the line to the program, whose C runtime splits
it (the rules of ``CommandLineToArgvW``): white space separates; ``"`` groups; ``2n``
backslashes before a quote are ``n`` backslashes and the quote is a delimiter, ``2n+1``
are ``n`` and a literal quote; other backslashes are literal; ``""`` inside a quoted
part is a literal quote. ``&``, ``%``, ``^`` and parentheses are plain characters: only
cmd.exe gives them meaning, and no cmd.exe runs unless the line names it (then this
machine has none, and the start fails as a missing program).

RULES ``posix``: words separated by white space, double quotes group; nothing else is
special. (A line that needs a shell to mean what it says fails here.)
"""

from __future__ import annotations

import json
import subprocess
import sys


def split_windows(line: str) -> list[str]:
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return args
        arg: list[str] = []
        quoted = False
        while i < n and (quoted or line[i] not in " \t"):
            c = line[i]
            if c == "\\":
                j = i
                while j < n and line[j] == "\\":
                    j += 1
                count = j - i
                if j < n and line[j] == '"':
                    arg.append("\\" * (count // 2))
                    if count % 2:
                        arg.append('"')
                        i = j + 1
                    else:
                        i = j  # the quote is a delimiter, handled next
                else:
                    arg.append("\\" * count)
                    i = j
            elif c == '"':
                if quoted and i + 1 < n and line[i + 1] == '"':
                    arg.append('"')
                    i += 2
                else:
                    quoted = not quoted
                    i += 1
            else:
                arg.append(c)
                i += 1
        args.append("".join(arg))


def split_posix(line: str) -> list[str]:
    args: list[str] = []
    current: list[str] = []
    started = quoted = False
    for c in line:
        if c == '"':
            quoted, started = not quoted, True
        elif c in " \t" and not quoted:
            if started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(c)
            started = True
    if started:
        args.append("".join(current))
    return args


def main(argv: list[str]) -> int:
    rules, line_file, argv_out = argv
    with open(line_file, encoding="utf-8") as fh:
        line = fh.read()
    args = split_windows(line) if rules == "windows" else split_posix(line)
    with open(argv_out, "w", encoding="utf-8") as fh:
        json.dump(args, fh)
    try:
        subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    except OSError as exc:  # REAPER reports nothing either: the job just never starts
        with open(argv_out + ".error", "w", encoding="utf-8") as fh:
            fh.write(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
