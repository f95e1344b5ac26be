#!/usr/bin/env python3
"""Writes OUT/index.html: one section per lesson that ran, linking its story (stdout), figures,
graphs and metrics.json, with its verdict. Usage: make-index.py OUT_DIR"""
import html
import json
import os
import sys


def main():
    out = sys.argv[1]
    lessons = sorted(d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d)) and d[:2].isdigit())
    parts = ["<!doctype html><meta charset='utf-8'><title>Lumen lessons</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "img{max-width:520px;border:1px solid #ddd;margin:4px}.pass{color:#2a7}.fail{color:#c33}"
             "code{background:#f4f4f4;padding:0 3px}</style>",
             "<h1>Lumen lessons</h1><p>Each lesson's story, figures, graphs and metrics, as the last "
             "<code>make lessons</code> wrote them.</p>"]
    for slug in lessons:
        d = os.path.join(out, slug)
        verdict, seconds = "not run", ""
        try:
            m = json.load(open(os.path.join(d, "metrics.json")))
            verdict = "passed" if m.get("passed") else "FAILED"
            seconds = f" in {m.get('seconds', 0):.1f} s"
        except (OSError, ValueError):
            pass
        cls = "pass" if verdict == "passed" else "fail"
        parts.append(f"<h2>{html.escape(slug)} <span class='{cls}'>{verdict}</span>{seconds}</h2><p>")
        files = sorted(os.listdir(d))
        links = [f for f in files if f.endswith((".txt", ".json", ".dot"))]
        parts.append(" · ".join(f"<a href='{slug}/{html.escape(f)}'>{html.escape(f)}</a>" for f in links))
        parts.append("</p>")
        for f in files:
            if f.endswith(".svg"):
                parts.append(f"<a href='{slug}/{html.escape(f)}'><img src='{slug}/{html.escape(f)}' "
                             f"alt='{html.escape(f)}'></a>")
    with open(os.path.join(out, "index.html"), "w") as f:
        f.write("\n".join(parts) + "\n")
    print(f"open {os.path.abspath(os.path.join(out, 'index.html'))}")


if __name__ == "__main__":
    main()
