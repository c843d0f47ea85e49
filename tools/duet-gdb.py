# duet-gdb.py — the gdb command `duet-dump`: duet::diagnostics::dump_async()'s output, read from a
# core file or a stopped process without calling into it.
#
#   (gdb) duet-dump
#   2 chains, 4 suspended frames
#   x1 chain:
#     #0 [explicit] Leaf (state 0) awaits duet::TaskCompletionSource<int>
#     ...
#
# It walks the registry's list (duet::diagnostics::g_registry->head, FrameRecord nodes, see
# include/duet/diag/diagnostics.hpp: the field names here must follow that header) and prints
# the chains in the same format, merged the same way. A fiber frame's return addresses are named
# from the program's symbol table (gdb's "info symbol"), so it names functions dladdr cannot
# (the executable's own, without -rdynamic). Needs the library's debug information (the
# registry's types); the registry must have been enabled (diagnostics::enable() or
# DUET_DIAGNOSTICS=1) in the process.
#
# Loading. The library carries this script: src/diag/embed_gdb_script.py embeds it as an inline
# .debug_gdb_scripts entry in the object holding the registry, so every program linking the
# registry carries it too, and gdb runs it when it loads the program (a core file's executable
# included), if the program lies inside gdb's `auto-load safe-path`:
#   (gdb) add-auto-load-safe-path /path/to/your/program   # or, in ~/.gdbinit, for a tree:
#   add-auto-load-safe-path /home/you/src                 # (`set auto-load safe-path /`: all)
#   `set auto-load python-scripts on` is the default; `info auto-load python-scripts` shows
#   "duet-gdb.py" as Loaded (or declined, with gdb's hint about the safe path).
# Without auto-loading (the program stripped of its .debug_* sections, or outside the safe
# path), source the installed copy: meson installs it as <datadir>/duet/duet-gdb.py:
#   (gdb) source /usr/local/share/duet/duet-gdb.py
# Loading it twice is harmless: the second definition of duet-dump replaces the first.
import gdb

STYLES = {0: "explicit", 1: "dsl", 2: "pooled ValueTask", 3: "fiber", 4: "when_all"}
KINDS = {0: "awaiter", 1: "task", 2: "TaskCompletionSource", 3: "delay", 4: "when_all",
         5: "ValueTask", 6: "channel read", 7: "channel write", 8: "I/O", 9: "async stream",
         10: "parked"}
KIND_VALUE_TASK = 5
KIND_ASYNC_STREAM = 9
KIND_DELAY = 3
KIND_WHEN_ALL = 4
STYLE_FIBER = 3
STYLE_WHEN_ALL = 4


def _int(v):
    return int(v.cast(gdb.lookup_type("long")) if v.type.code == gdb.TYPE_CODE_ENUM else v)


def _ptr(v):
    return int(v.cast(gdb.lookup_type("unsigned long")))


def _symbol(pc):
    """The function containing return address pc (looked up at pc - 1), as dladdr would name it."""
    try:
        out = gdb.execute("info symbol 0x%x" % (pc - 1), to_string=True).strip()
    except gdb.error:
        out = ""
    if not out or out.startswith("No symbol"):
        return "0x%x" % pc
    for sep in (" + ", " in section "):
        if sep in out:
            out = out.split(sep)[0]
    return out


def read_frames():
    sym = gdb.lookup_global_symbol("duet::diagnostics::g_registry")
    if sym is None:
        sym = gdb.lookup_static_symbol("duet::diagnostics::g_registry")
    if sym is None:
        raise gdb.GdbError("duet-dump: no duet registry in this program "
                           "(duet::diagnostics::g_registry); link libduet with debug information")
    reg = sym.value()
    if _ptr(reg) == 0:
        return None
    frames = []
    node = reg["head"]
    seen = set()
    while _ptr(node) != 0 and _ptr(node) not in seen:
        seen.add(_ptr(node))
        f = node.dereference()
        aw = f["awaited"]
        npcs = max(0, min(int(f["npcs"]), 64))
        frames.append({
            "self_key": _ptr(f["self_key"]),
            "name": f["name"].string() if _ptr(f["name"]) else "",
            "style": _int(f["style"]),
            "state": int(f["state"]),
            "kind": _int(aw["kind"]),
            "key": _ptr(aw["key"]),
            "due_ms": int(aw["due_ms"]),
            "label": aw["label"].string(length=-1).split("\0")[0],
            "pcs": [_ptr(f["pcs"][i]) for i in range(npcs)],
        })
        node = f["next"]
    return frames


def build_chains(frames):
    """As build_chains in src/diag/diagnostics.cpp: roots down through awaited keys, one chain per
    path (a when_all's links fork it), reversed."""
    by_key = {}
    awaited = set()
    for f in frames:
        if f["self_key"]:
            by_key.setdefault(f["self_key"], []).append(f)
        if f["key"]:
            awaited.add(f["key"])
    chains = []

    def walk(f, path):
        if any(p is f for p in path):  # a cycle: end the chain here
            chains.append(list(reversed(path)))
            return
        path.append(f)
        below = by_key.get(f["key"], []) if f["key"] else []
        if not below:
            chains.append(list(reversed(path)))
        for g in below:
            walk(g, path)
        path.pop()

    for root in frames:
        if not root["self_key"] or root["self_key"] not in awaited:
            walk(root, [])
    return chains


def lines_of(chain):
    out = []
    for i, f in enumerate(chain):
        head = "[%s] %s" % (STYLES.get(f["style"], "?"), f["name"])
        if f["style"] == STYLE_WHEN_ALL:
            head += " (child %d)" % f["state"]
        elif f["style"] != STYLE_FIBER:
            head += " (state %d)" % f["state"]
        if i > 0:
            what = {KIND_VALUE_TASK: "ValueTask", KIND_ASYNC_STREAM: f["label"],
                    KIND_WHEN_ALL: "when_all"}.get(f["kind"], "task")
            awaits = "awaits %s of #%d" % (what, i - 1)
        else:
            awaits = "awaits " + (f["label"] or KINDS.get(f["kind"], "awaiter"))
            if f["kind"] == KIND_DELAY and f["due_ms"] >= 0:
                awaits += " (due at wheel tick %d ms)" % f["due_ms"]
        out.append((head, awaits, [_symbol(pc) for pc in f["pcs"]]))
    return out


def dump():
    frames = read_frames()
    if frames is None:
        return "duet diagnostics were never enabled in this process\n"
    methods = sum(1 for f in frames if f["style"] != STYLE_WHEN_ALL)  # links are not frames
    if not methods:
        return "no suspended methods\n"
    chains = build_chains(frames)
    groups, index = [], {}
    for c in chains:
        lines = lines_of(c)
        key = "\n".join(h + "\n" + a.split(" @")[0] + "\n" + "\n".join(s) for h, a, s in lines)
        if key in index:
            groups[index[key]][1] += 1
        else:
            index[key] = len(groups)
            groups.append([lines, 1])
    text = "%d %s, %d %s\n" % (len(chains), "chain" if len(chains) == 1 else "chains", methods,
                               "suspended frame" if methods == 1 else "suspended frames")
    for lines, n in groups:
        text += "x%d chain:\n" % n
        for i, (h, a, s) in enumerate(lines):
            text += "  #%d %s %s\n" % (i, h, a)
            for sym in s:
                text += "       at %s\n" % sym
    return text


class DuetDump(gdb.Command):
    """duet-dump — print duet's suspended await chains (duet::diagnostics::dump_async's format)
from the registry in memory, without running code in the inferior (works on core files)."""

    def __init__(self):
        super().__init__("duet-dump", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        gdb.write(dump())


DuetDump()
