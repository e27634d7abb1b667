#!/usr/bin/env python3
"""check_folders.py - fails when the tree breaks its folder dependency rules.

The rules live in one place: the table "Folder dependency rules" in
docs/architecture.md, which this script reads.  Each row names a folder and
what it may use: other folders (`core/`) and outside libraries (libyaml,
cJSON...).  A bullet "`FILE` is the only file that includes `HEADER`" below
the table narrows a header to one file.  Checked:

  - every #include in FOLDER/**/*.{c,h}: a "other/x.h" include needs `other/`
    in FOLDER's row; a <header> of a known outside library needs that library
    in the row;
  - the only-file bullets;
  - every target_link_libraries line of CMakeLists.txt for a folder's library
    (mr_FOLDER) or program: linked mr_* libraries and PkgConfig:: libraries
    must be in the folder's row;
  - every top-level folder with C sources has a row (tests/ and bench/ use
    everything and are exempt, as are build output and data/).

Usage: check_folders.py REPO          check REPO, print each break, exit 1 if any
       check_folders.py --self-test REPO
                                      copy REPO's sources to a temporary folder,
                                      plant one break of each kind and check
                                      that each is caught
"""
import os
import re
import shutil
import sys
import tempfile

# Which outside library a header or a CMake target belongs to.  Names are
# as the table writes them.  Headers not listed here (libc, POSIX) are free.
LIB_HEADERS = {
    "zmq.h": "libzmq",
    "zstd.h": "libzstd",
    "snappy-c.h": "libsnappy",
    "zlib.h": "zlib",
    "yaml.h": "libyaml",
    "sqlite3.h": "SQLite",
    "libpq-fe.h": "libpq",
    "microhttpd.h": "libmicrohttpd",
    "cjson/cJSON.h": "cJSON",
    "curl/curl.h": "libcurl",
    "protobuf-c/protobuf-c.h": "protobuf-c",
    "pcre2.h": "PCRE2",
    "yajl/yajl_parse.h": "yajl",
    "utf8proc.h": "utf8proc",
    "nettle/sha2.h": "Nettle",
    "nettle/hmac.h": "Nettle",
    "libxml/parser.h": "libxml2",
    "libxml/tree.h": "libxml2",
}
LIB_TARGETS = {
    "PkgConfig::ZMQ": "libzmq",
    "PkgConfig::ZSTD": "libzstd",
    "PkgConfig::SNAPPY": "libsnappy",
    "PkgConfig::ZLIB": "zlib",
    "PkgConfig::YAML": "libyaml",
    "PkgConfig::SQLITE": "SQLite",
    "PkgConfig::PQ": "libpq",
    "PkgConfig::MHD": "libmicrohttpd",
    "PkgConfig::CJSON": "cJSON",
    "PkgConfig::CURL": "libcurl",
    "PkgConfig::PROTOBUFC": "protobuf-c",
    "PkgConfig::PCRE2": "PCRE2",
    "PkgConfig::YAJL": "yajl",
    "PkgConfig::UTF8PROC": "utf8proc",
    "PkgConfig::NETTLE": "Nettle",
    "PkgConfig::XML2": "libxml2",
    "m": "libm",
    "Threads::Threads": "pthreads",
}
EXEMPT = {"tests", "bench", "data"}

ROW = re.compile(r"^\|\s*`([a-z_]+)/`\s*\|([^|]*)\|")
ONLY = re.compile(r"^-\s*`([^`]+)` is the only file that includes `([^`]+)`")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def read_rules(repo):
    """Returns ({folder: (folders, libraries)}, [(file, header)]) from the doc."""
    path = os.path.join(repo, "docs", "architecture.md")
    rules, only = {}, []
    in_section = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                in_section = line.strip() == "## Folder dependency rules"
                continue
            if not in_section:
                continue
            m = ROW.match(line)
            if m:
                may = re.sub(r"\([^)]*\)", "", m.group(2))  # remarks in brackets
                folders, libs = set(), set()
                for item in may.split(","):
                    item = item.strip().strip("`").strip()
                    if item.endswith("/"):
                        folders.add(item[:-1])
                    elif item:
                        libs.add(item)
                rules[m.group(1)] = (folders, libs)
            m = ONLY.match(line)
            if m:
                only.append((m.group(1), m.group(2)))
    return rules, only


def c_files(repo, folder):
    for root, dirs, files in os.walk(os.path.join(repo, folder)):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in sorted(files):
            if name.endswith((".c", ".h")):
                yield os.path.join(root, name)


def check_includes(repo, rules, only, errors):
    only_files = {}
    for file, header in only:
        only_files.setdefault(header, set()).add(file)
    for folder, (folders, libs) in sorted(rules.items()):
        for path in c_files(repo, folder):
            rel = os.path.relpath(path, repo)
            with open(path, encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    kind, name = m.groups()
                    where = f"{rel}:{lineno}"
                    if name in only_files and rel not in only_files[name]:
                        errors.append(f"{where}: includes {name}, which only "
                                      f"{', '.join(sorted(only_files[name]))} may include")
                    if kind == '"':
                        top = name.split("/", 1)[0]
                        if "/" in name and top in rules and top != folder and top not in folders:
                            errors.append(f"{where}: {folder}/ includes {name}, "
                                          f"but {folder}/ may not use {top}/")
                    else:
                        lib = LIB_HEADERS.get(name)
                        if lib and lib not in libs:
                            errors.append(f"{where}: {folder}/ includes <{name}>, "
                                          f"but {folder}/ may not use {lib}")


def cmake_calls(text, command):
    """Yields the argument lists of every COMMAND(...) call (may span lines)."""
    text = re.sub(r"#[^\n]*", "", text)
    for m in re.finditer(r"\b" + command + r"\s*\(([^)]*)\)", text):
        yield m.group(1).split()


def check_links(repo, rules, errors):
    with open(os.path.join(repo, "CMakeLists.txt"), encoding="utf-8") as f:
        text = f.read()
    owner = {f"mr_{folder}": folder for folder in rules}
    for args in cmake_calls(text, "add_executable"):
        # A program belongs to the folder of its sources (cli/main.c -> cli).
        if len(args) >= 2 and "/" in args[1] and not args[0].startswith("$"):
            top = args[1].split("/", 1)[0]
            if top in rules:
                owner[args[0]] = top
    for args in cmake_calls(text, "target_link_libraries"):
        if not args or args[0] not in owner:
            continue
        folder = owner[args[0]]
        folders, libs = rules[folder]
        for item in args[1:]:
            if item in ("PUBLIC", "PRIVATE", "INTERFACE"):
                continue
            if item.startswith("mr_"):
                dep = item[3:]
                if dep not in rules:
                    errors.append(f"CMakeLists.txt: {args[0]} links {item}, "
                                  f"a library with no row in the rules")
                elif dep != folder and dep not in folders:
                    errors.append(f"CMakeLists.txt: {args[0]} links {item}, "
                                  f"but {folder}/ may not use {dep}/")
            elif item in LIB_TARGETS:
                if LIB_TARGETS[item] not in libs:
                    errors.append(f"CMakeLists.txt: {args[0]} links {item}, "
                                  f"but {folder}/ may not use {LIB_TARGETS[item]}")
            else:
                errors.append(f"CMakeLists.txt: {args[0]} links {item}, which "
                              f"tests/rules/check_folders.py does not know (add it to LIB_TARGETS)")


def check_folders_listed(repo, rules, errors):
    for name in sorted(os.listdir(repo)):
        path = os.path.join(repo, name)
        # build/ and build-*/ are build output (.gitignore), data/ is data.
        if (name.startswith(".") or name in EXEMPT or name in rules
                or name == "build" or name.startswith("build-")
                or not os.path.isdir(path)
                or os.path.exists(os.path.join(path, "CMakeCache.txt"))):
            continue
        if any(True for _ in c_files(repo, name)):
            errors.append(f"{name}/: C sources in a folder with no row in the "
                          f"folder dependency rules (docs/architecture.md)")


def check(repo):
    rules, only = read_rules(repo)
    if not rules:
        return ["docs/architecture.md: no folder rows found under "
                "'## Folder dependency rules'"]
    errors = []
    check_includes(repo, rules, only, errors)
    check_links(repo, rules, errors)
    check_folders_listed(repo, rules, errors)
    return errors


def self_test(repo):
    """Plants one break of each kind in a copy and expects each to be caught."""
    rules, _ = read_rules(repo)

    def copy(dst):
        # The ruled folders, the doc and CMakeLists.txt are all check() reads.
        for name in sorted(rules) + ["docs"]:
            shutil.copytree(os.path.join(repo, name), os.path.join(dst, name))
        shutil.copy(os.path.join(repo, "CMakeLists.txt"), dst)

    def append(path, text):
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)

    def any_file(d, folder):
        return next(c_files(d, folder))

    def add_link(path, target, lib):
        """Adds lib to target's target_link_libraries call."""
        with open(path, encoding="utf-8") as f:
            text = f.read()
        pat = re.compile(r"(target_link_libraries\(\s*" + re.escape(target) +
                         r"\s+(?:PUBLIC|PRIVATE|INTERFACE))")
        text, n = pat.subn(r"\1 " + lib, text, count=1)
        assert n == 1, f"{path}: no target_link_libraries({target} ...)"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    breaks = [
        ("core uses dag", lambda d: append(any_file(d, "core"), '\n#include "dag/dag.h"\n'),
         "core/ may not use dag/"),
        ("executor uses coordinator",
         lambda d: append(any_file(d, "executor"), '\n#include "coordinator/x.h"\n'),
         "executor/ may not use coordinator/"),
        ("zmq.h outside net/transport.c",
         lambda d: append(f"{d}/net/planted.c", "#include <zmq.h>\n"),
         "which only net/transport.c may include"),
        ("warehouse uses libyaml",
         lambda d: append(any_file(d, "warehouse"), "\n#include <yaml.h>\n"),
         "warehouse/ may not use libyaml"),
        ("CMake links the executor with mr_dag",
         lambda d: add_link(f"{d}/CMakeLists.txt", "mr_executor", "mr_dag"),
         "mr_executor links mr_dag, but executor/ may not use dag/"),
        ("CMake links the CLI program with mr_net",
         lambda d: add_link(f"{d}/CMakeLists.txt", "millrace", "mr_net"),
         "millrace links mr_net, but cli/ may not use net/"),
        ("a new folder without rules",
         lambda d: (os.makedirs(f"{d}/extra"), append(f"{d}/extra/x.c", "int x;\n")),
         "extra/: C sources in a folder with no row"),
    ]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="mr-rules-") as tmp:
        base = os.path.join(tmp, "clean")
        copy(base)
        errors = check(base)
        if errors:
            print("self-test: the unchanged copy already breaks the rules:")
            print("\n".join(errors))
            return 1
        for i, (what, plant, want) in enumerate(breaks):
            d = os.path.join(tmp, f"case{i}")
            copy(d)
            plant(d)
            errors = check(d)
            if any(want in e for e in errors):
                print(f"self-test: caught: {what}")
            else:
                print(f"self-test: MISSED: {what}; got {errors}")
                failed += 1
    return 1 if failed else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        return self_test(argv[2])
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    errors = check(argv[1])
    for e in errors:
        print(e)
    if errors:
        print(f"{len(errors)} break(s) of the folder dependency rules "
              f"(docs/architecture.md, 'Folder dependency rules')")
        return 1
    print("folder dependency rules: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
