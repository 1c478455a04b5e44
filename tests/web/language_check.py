"""Find interface words left in English on a page shown in Japanese.

The words checked are the English catalogue's own (assets/web/i18n.js), less those the Japanese
catalogue uses too (ORA, PC, Relay, QR, Android...): a visible English word from that list is
an untranslated string. What users and the model wrote, device names and paths are marked
`translate="no"` by the client and are not the interface's words.
"""

from typing import Any

_VISIBLE_WORDS = """() => {
  const cat = self.OraI18n.catalogues;
  const words = (obj) => new Set(Object.values(obj).join(" ").match(/[A-Za-z]{3,}/g).map((w) => w.toLowerCase()));
  const en = words(cat.en), ja = words(cat.ja);
  const seen = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest('[translate="no"]') || !el.checkVisibility({ visibilityProperty: true })) continue;
    seen.push(node.textContent);
  }
  document.querySelectorAll("input[placeholder]").forEach((el) => { if (el.checkVisibility()) seen.push(el.placeholder); });
  const text = seen.join(" ");
  const left = (text.match(/[A-Za-z]{3,}/g) || []).filter((w) => en.has(w.toLowerCase()) && !ja.has(w.toLowerCase()));
  return { left: [...new Set(left)], text };
}"""


async def english_left(page: Any) -> tuple[list[str], str]:
    """English interface words visible on the page now, and the visible text they came from."""
    found = await page.evaluate(_VISIBLE_WORDS)
    return list(found["left"]), str(found["text"])


async def assert_all_japanese(page: Any, screen: str) -> None:
    left, text = await english_left(page)
    assert left == [], f"{screen}: English left in the Japanese screen: {left}\n{text[:2000]}"
