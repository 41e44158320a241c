"""Shared helpers: GitHub-style heading anchors and link extraction."""
import re

FENCE = re.compile(r'^(```|~~~)')


def slug(text):
    # GitHub: strip markdown emphasis/code marks, lower-case, drop punctuation
    # other than '-' and '_', spaces to '-'.
    t = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', text)   # links -> text
    t = t.strip().lower()
    t = re.sub(r'[^\w\- ]', '', t, flags=re.UNICODE)
    return t.replace(' ', '-')


def headings(md):
    out, fence = [], False
    for ln in md.split('\n'):
        if FENCE.match(ln):
            fence = not fence
            continue
        if not fence:
            m = re.match(r'^(#{1,6}) +(.*?) *#*$', ln)
            if m:
                out.append(m.group(2))
    return out


def anchors(md):
    seen, res = {}, []
    for h in headings(md):
        s = slug(h)
        if s in seen:
            seen[s] += 1
            res.append('%s-%d' % (s, seen[s]))
        else:
            seen[s] = 0
            res.append(s)
    return res


LINK = re.compile(r'\]\(([^)\s]+)\)')


def links(md):
    """(line number, target) of every inline link outside code."""
    out, fence = [], False
    for no, ln in enumerate(md.split('\n'), 1):
        if FENCE.match(ln):
            fence = not fence
            continue
        if fence:
            continue
        ln = re.sub(r'`[^`]*`', '', ln)
        for m in LINK.finditer(ln):
            out.append((no, m.group(1)))
    return out
