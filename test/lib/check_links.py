#!/usr/bin/env python3
"""Check every relative link and anchor in README.md, CONTRIBUTING.md and doc/*.md.

GitHub-style anchors: lower-case, punctuation other than '-'/'_' dropped,
spaces to '-', '-1', '-2' … for repeated headings.  Usage: check_links.py REPO
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdlinks import anchors, links

root = sys.argv[1]
files = [f for f in ['README.md', 'CONTRIBUTING.md'] if os.path.exists(os.path.join(root, f))]
files += sorted('doc/' + f for f in os.listdir(os.path.join(root, 'doc')) if f.endswith('.md'))
cache = {}


def anchors_of(path):
    if path not in cache:
        cache[path] = set(anchors(open(path, encoding='utf-8').read()))
    return cache[path]


bad = checked = external = 0
for f in files:
    src = os.path.join(root, f)
    for no, target in links(open(src, encoding='utf-8').read()):
        if '://' in target or target.startswith('mailto:'):
            external += 1
            continue
        checked += 1
        path, _, frag = target.partition('#')
        dest = os.path.normpath(os.path.join(os.path.dirname(src), path)) if path else src
        if not os.path.exists(dest):
            print('%s:%d: %s: no such file' % (f, no, target))
            bad += 1
        elif frag and (os.path.isdir(dest) or not dest.endswith('.md')):
            print('%s:%d: %s: anchor on a non-markdown target' % (f, no, target))
            bad += 1
        elif frag and frag not in anchors_of(dest):
            print('%s:%d: %s: no heading with anchor #%s in %s' % (f, no, target, frag, os.path.relpath(dest, root)))
            bad += 1
print('%d files, %d relative links checked, %d broken, %d external links not checked'
      % (len(files), checked, bad, external))
sys.exit(1 if bad else 0)
