"""The README's option table lists exactly the options `ctxpar --help`
prints, and --help prints exactly the parser's table (launch/cli.c), so a
flag added, renamed or dropped in one place fails here until the others
follow.

  python3 cli_table_check.py CTXPAR README.md
"""
import re
import subprocess
import sys


def main():
    binary, readme = sys.argv[1], sys.argv[2]
    help_text = subprocess.run([binary, "--help"], capture_output=True, text=True,
                               check=True).stdout
    in_help = set(re.findall(r"^  (--[a-z][a-z0-9-]*)", help_text, re.M))
    in_readme, in_table = set(), False
    for line in open(readme, encoding="utf-8"):
        if line.startswith("| option | meaning |"):
            in_table = True
            continue
        if in_table:
            if not line.startswith("|"):
                break
            first_column = line.split(" | ")[0]
            in_readme |= set(re.findall(r"(--[a-z][a-z0-9-]*)", first_column))
    if not in_readme:
        print("FAIL: no '| option | meaning |' table in", readme)
        sys.exit(1)
    ok = True
    for flag in sorted(in_help - in_readme):
        print("FAIL: %s is in --help but not in the README's option table" % flag)
        ok = False
    for flag in sorted(in_readme - in_help):
        print("FAIL: %s is in the README's option table but not in --help" % flag)
        ok = False
    # every option the help lists is accepted by the parser (an unknown one
    # says "unknown option")
    for flag in sorted(in_help):
        p = subprocess.run([binary, flag, "1", "--help"], capture_output=True,
                           text=True)
        if "unknown option '%s'" % flag in p.stderr:
            print("FAIL: %s is in --help but the parser rejects it" % flag)
            ok = False
    if not ok:
        sys.exit(1)
    print("ok: %d options, README table and --help agree" % len(in_help))


if __name__ == "__main__":
    main()
