#!/usr/bin/env python3
"""Checks tripl's source layers: no include or call circle among src/ files.

A module is a source file with its header (src/x.c and src/x.h are module
"x"; src/core/x.c is "core/x"; a family's internal header x_int.h belongs to
module "x", whose family files x_*.c include it).  Two graphs are built among the modules:

  include  #include "..." lines of every src/ .c and .h file
  call     undefined symbols of each src/ .o (nm) resolved to the module
           whose object defines them (needs a build; skipped without .o files)

Reported: each circle (strongly connected component of more than one
module) of either graph and of both together, the fence (a module under
src/core/ may include no PostgreSQL header and use no module outside
src/core/), and, when there is no circle, each module's level (0 uses no
other module; n uses only modules below n).  Exits 1 on a circle or a
fence breach.

    python3 test/lib/layers.py [--levels] [SRC_DIR]
"""
import os
import re
import subprocess
import sys

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# Declared in src/core/core.h, defined by the host: core_pg.c in the server,
# test/unit/unit.h in the unit tests.  Not an edge out of the cores.
HOST_HOOKS = {'core_alloc', 'core_free'}
PG_INCLUDE_RE = re.compile(r'^\s*#\s*include\s+[<"](postgres\.h|postgres_fe\.h|fmgr\.h)[>"]', re.M)


def module_of(src, path):
    """src/core/x.c -> core/x"""
    rel = os.path.relpath(path, src)
    stem, ext = os.path.splitext(rel)
    if ext == '.h' and stem.endswith('_int'):
        stem = stem[:-len('_int')]
    return stem


def source_files(src):
    out = []
    for root, _, files in os.walk(src):
        for f in files:
            if f.endswith(('.c', '.h')):
                out.append(os.path.join(root, f))
    return sorted(out)


def include_graph(src, files):
    """module -> set of modules whose header it includes"""
    by_base = {}
    for f in files:
        if f.endswith('.h'):
            by_base.setdefault(os.path.basename(f), []).append(f)
    graph = {module_of(src, f): set() for f in files}
    pg_includers = set()
    for f in files:
        m = module_of(src, f)
        text = open(f, encoding='utf-8', errors='replace').read()
        if PG_INCLUDE_RE.search(text):
            pg_includers.add(m)
        for inc in INCLUDE_RE.findall(text):
            target = os.path.normpath(os.path.join(os.path.dirname(f), inc))
            if not os.path.exists(target):
                cands = by_base.get(os.path.basename(inc), [])
                if len(cands) != 1:
                    continue
                target = cands[0]
            if not target.startswith(os.path.abspath(src)) and not os.path.abspath(target).startswith(os.path.abspath(src)):
                continue
            t = module_of(src, target)
            if t != m:
                graph[m].add(t)
    return graph, pg_includers


def nm_symbols(obj):
    out = subprocess.run(['nm', obj], capture_output=True, text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == 'U':
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] in 'TDBRVW' and parts[1].isupper():
            defined.add(parts[2])
    return defined, undefined


def call_graph(src):
    # objects of existing sources only (a stale .o of a removed file is not code)
    objs = [os.path.join(r, f) for r, _, fs in os.walk(src) for f in fs
            if f.endswith('.o') and os.path.exists(os.path.join(r, f[:-2] + '.c'))]
    if not objs:
        return None
    defs, undefs = {}, {}
    for o in sorted(objs):
        m = module_of(src, o)
        d, u = nm_symbols(o)
        undefs[m] = u
        for s in d:
            defs[s] = m
    graph = {m: set() for m in undefs}
    for m, u in undefs.items():
        for s in u:
            t = defs.get(s)
            if s in HOST_HOOKS:
                continue
            if t is not None and t != m:
                graph[m].add(t)
    return graph


def sccs(graph):
    """Tarjan: the strongly connected components of more than one node."""
    index, low, stack, onstack, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        onstack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in onstack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                onstack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def levels(graph):
    memo = {}

    def level(v):
        if v not in memo:
            memo[v] = 0
            memo[v] = 1 + max((level(w) for w in graph.get(v, ())), default=-1)
        return memo[v]

    return {v: level(v) for v in graph}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    show_levels = '--levels' in sys.argv
    src = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), '..', '..', 'src'))
    files = source_files(src)
    inc, pg_includers = include_graph(src, files)
    calls = call_graph(src)
    both = {m: set(e) for m, e in inc.items()}
    if calls is not None:
        for m, e in calls.items():
            both.setdefault(m, set()).update(e)
    bad = False

    for name, g in (('include', inc), ('call', calls), ('include+call', both)):
        if g is None:
            print('%-13s skipped (no .o files: run make first)' % name)
            continue
        comps = sccs(g)
        if comps:
            bad = True
            for c in comps:
                print('%-13s CIRCLE of %d: %s' % (name, len(c), ' '.join(c)))
        else:
            print('%-13s no circle (%d modules)' % (name, len(g)))

    # the fence: src/core/ is pure C (unit tests link it without PostgreSQL)
    fence = []
    for m in sorted(both):
        if not m.startswith('core/'):
            continue
        if m in pg_includers:
            fence.append('%s includes a PostgreSQL header' % m)
        for t in sorted(both[m]):
            if not t.startswith('core/'):
                fence.append('%s uses %s (outside src/core/)' % (m, t))
    for f in fence:
        print('fence         BREACH: %s' % f)
    if any(m.startswith('core/') for m in both) and not fence:
        print('fence         src/core/ uses only src/core/ and no PostgreSQL header')
    bad = bad or bool(fence)

    if not sccs(both):
        lv = levels(both)
        print('levels        %d (0 = uses no other module)' % (max(lv.values()) + 1))
        if show_levels:
            for n in range(max(lv.values()) + 1):
                print('  %2d  %s' % (n, ' '.join(sorted(m for m in lv if lv[m] == n))))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
