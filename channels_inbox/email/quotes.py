"""Quoted text folded for display: what the customer wrote now, apart from the history their
mail program appended. Display only; the stored text is never shortened.

`split_quoted(text) -> (new_text, quoted_text)` finds the first line that starts the quoted
history (an attribution such as "On … wrote:", "Den … skrev:", "W dniu … pisze:", an Outlook
"-----Original Message-----" / "From: … Sent: …" header block, an Outlook underscore rule
followed by such a block) or the trailing block of "> " lines, and splits there. Inline
answers between quoted lines are not folded (they are the reply). If nothing but quotation
would remain, nothing is folded.
"""

from __future__ import annotations

import re

ATTRIBUTION = re.compile(
    r"""^\s*(
        on\s(?=.*\d).{4,200}\swrote:$                           # Gmail, Apple Mail (English)
      | den\s(?=.*\d).{4,200}\sskrev\s?.{0,80}:$                 # Danish / Norwegian
      | .{0,200}@.{1,200}\sskrev\s?.{0,80}:$              # "Anna <a@b.dk> skrev den 3. maj:"
      | w\sdniu\s(?=.*\d).{4,200}\s(pisze|napisał|napisała|napisał\(a\)):$   # Polish
      | .{0,200}@.{1,200}\s(napisał|napisała|napisał\(a\)):$   # Polish, name first
      | am\s(?=.*\d).{4,200}\sschrieb\s?.{0,80}:$                # German
      | le\s.{4,200}\sa\sécrit\s?:$                      # French
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
# Gmail wraps long attributions: "On Mon, 3 May 2026 at 10:00, Anna <anna@x.dk>" / "wrote:".
ATTRIBUTION_TAIL = re.compile(r"^\s*(wrote|skrev|pisze|napisał\(a\)|schrieb)\s*:\s*$", re.I)
ATTRIBUTION_HEAD = re.compile(r"^\s*(on|den|w dniu|am)\s.{4,200}$", re.IGNORECASE)
SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original message|oprindelig meddelelse|originalmeddelelse|"
    r"wiadomość oryginalna|ursprüngliche nachricht|message d'origine)\s*-{2,}\s*$",
    re.IGNORECASE,
)
ATTRIBUTION_MAX = 400
OUTLOOK_RULE = re.compile(r"^\s*_{10,}\s*$")
HEADER_FROM = re.compile(r"^\s*\*?(from|fra|od|von|de)\s*:\*?\s+\S", re.IGNORECASE)
HEADER_NEXT = re.compile(
    r"^\s*\*?(sent|sendt|wysłano|gesendet|envoyé|date|dato|data|to|til|do|an|à|subject|"
    r"emne|temat|betreff|objet)\s*:\*?",
    re.IGNORECASE,
)


def _quote_start(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if len(line) > ATTRIBUTION_MAX:
            continue  # attributions are short; long lines would only cost backtracking
        if ATTRIBUTION.match(line) or SEPARATOR.match(line):
            return index
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if ATTRIBUTION_HEAD.match(line) and ATTRIBUTION_TAIL.match(following):
            return index
        if OUTLOOK_RULE.match(line) and HEADER_FROM.match(following):
            return index
        if HEADER_FROM.match(line) and HEADER_NEXT.match(following):
            return index
    # Otherwise: the trailing block of "> " lines (blank lines inside it allowed).
    start = None
    for index in range(len(lines) - 1, -1, -1):
        stripped = lines[index].strip()
        if stripped.startswith(">"):
            start = index
        elif stripped:
            break
    return start


def split_quoted(text: str) -> tuple[str, str]:
    """(new text, quoted history); ("…", "") when nothing is quoted."""
    if not text:
        return "", ""
    lines = text.replace("\r\n", "\n").split("\n")
    start = _quote_start(lines)
    if start is None:
        return text, ""
    new_text = "\n".join(lines[:start]).rstrip()
    quoted = "\n".join(lines[start:]).strip("\n")
    if not new_text.strip():
        return text, ""
    return new_text, quoted


# --- HTML ------------------------------------------------------------------------------------

QUOTED_CLASS = "cc-quoted"
QUOTED_OPEN = f'<div class="{QUOTED_CLASS}">'
# Where mail programs start the quoted history in HTML mail.
HTML_QUOTE_START = re.compile(
    r"""<div\s[^>]*id=["']?(appendonsend|divRplyFwdMsg)\b        # Outlook on the web / new
      | <div\s[^>]*class=["']?(gmail_quote|moz-cite-prefix)\b    # Gmail, Thunderbird
      | <blockquote\s[^>]*class=["']?gmail_quote\b
      | <blockquote\s[^>]*type=["']?cite\b                        # Apple Mail
      | <hr\s[^>]*id=["']?stopSpelling\b                          # older Outlook
      | <div\s[^>]*style=["'][^"'>]*border-top:\s*solid\s*\#(E1E1E1|B5C4DF)  # Outlook desktop
    """,
    re.IGNORECASE | re.VERBOSE,
)


def mark_quoted_html(html: str) -> str:
    """Wrap the quoted history of an (unsanitised) HTML body in `<div class="cc-quoted">`, so
    that it survives sanitising and the display can fold it. Unchanged when none is found, or
    when nothing would remain before it."""
    found = HTML_QUOTE_START.search(html or "")
    if found is None:
        return html
    before = html[: found.start()]
    visible = re.sub(r"<[^>]*>|&nbsp;|\s", "", before.split("<body", 1)[-1])
    if not visible:
        return html
    return before + QUOTED_OPEN + html[found.start() :]


def split_quoted_html(html: str) -> tuple[str, str]:
    """(new HTML, quoted HTML) of a sanitised `Message.html`; ("…", "") when nothing is
    quoted. Both halves are re-sanitised, so each is balanced, safe markup."""
    from channels_inbox.email.sanitize import sanitize_html

    index = (html or "").find(QUOTED_OPEN)
    if index < 0:
        return html, ""
    return sanitize_html(html[:index]), sanitize_html(html[index:])
