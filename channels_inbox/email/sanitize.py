"""HTML from the outside world made safe to show in the agent's browser (nh3, an allow-list
sanitiser): no scripts, styles, event handlers, forms or iframes; links get
`rel="noopener noreferrer nofollow"` and open in a new tab. `cid:` image sources survive so
the workspace can point them at the message's inline attachments (Attachment.content_id).
The unsanitised original stays in Message.raw.
"""

from __future__ import annotations

import html as html_lib
import re

import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col", "colgroup",
    "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "img", "ins", "li", "ol", "p", "pre", "q", "s", "small", "span", "strike", "strong",
    "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "*": {"align", "dir", "lang", "title", "class"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "valign", "width"},
    "th": {"colspan", "rowspan", "valign", "width"},
    "table": {"width", "border", "cellpadding", "cellspacing"},
    "font": {"color", "face", "size"},
    "blockquote": {"type", "cite"},
    "ol": {"start", "type"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}
BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(p|div|tr|li|h[1-6]|blockquote|table)>")


def sanitize_html(html: str) -> str:
    """Safe-to-render HTML; "" for empty input."""
    if not html or not html.strip():
        return ""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML body (for previews, search and HTML-only mail)."""
    with_breaks = BLOCK_END.sub("\n", html or "")
    stripped = nh3.clean(with_breaks, tags=set(), strip_comments=True)
    text = html_lib.unescape(stripped).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    collapsed = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return collapsed.strip()
