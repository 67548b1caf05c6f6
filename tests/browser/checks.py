"""Checks of what a user would notice on screen, shared by the browser tests (tests/browser/test_*.py).

- `check_layout_at_widths`: in a view (a tab of the sidebar panel, a main-area
  view), at the sidebar's default width and at `NARROW` px, no button's text
  overflows its box, no two controls overlap, and the view does not scroll
  sideways; a screenshot of each width is saved first (to look at).
- `expect_legible_axes`: a uPlot chart (a canvas: no DOM to ask) has tick
  labels on both axes whose pixels stand out from the page behind it.
- `use_theme`: switch JupyterLab's theme from the command palette.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The narrow sidebar width every tab must fit.
NARROW = 250

# Everything a user clicks or types into; their boxes must not overlap.
_LAYOUT_PROBLEMS = """
(root) => {
  const problems = [];
  const name = el => {
    const text = (el.getAttribute('aria-label') || el.textContent || el.getAttribute('title') || '').trim();
    return `${el.tagName.toLowerCase()} "${text.replace(/\\s+/g, ' ').slice(0, 40)}"`;
  };
  const shown = el => {
    const box = el.getBoundingClientRect();
    // checkVisibility: false inside a closed <details> too (its content keeps a layout box in Chromium).
    return box.width > 2 && box.height > 2 && el.checkVisibility({ visibilityProperty: true });
  };
  const controls = [...root.querySelectorAll(
    'button, a[href], input, select, textarea, summary, [role="tab"], [role="button"], [role="checkbox"]'
  )].filter(shown);
  for (const el of controls) {
    if (el.tagName !== 'BUTTON' && el.getAttribute('role') !== 'tab') continue;
    if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
      problems.push(`${name(el)}: its text overflows its box (text ${el.scrollWidth}x${el.scrollHeight} px ` +
        `in ${el.clientWidth}x${el.clientHeight} px)`);
    }
  }
  const boxes = controls.map(el => el.getBoundingClientRect());
  for (let i = 0; i < controls.length; i++) {
    for (let j = i + 1; j < controls.length; j++) {
      const [a, b] = [controls[i], controls[j]];
      if (a.contains(b) || b.contains(a)) continue;
      const w = Math.min(boxes[i].right, boxes[j].right) - Math.max(boxes[i].left, boxes[j].left);
      const h = Math.min(boxes[i].bottom, boxes[j].bottom) - Math.max(boxes[i].top, boxes[j].top);
      if (w > 1 && h > 1) {
        problems.push(`${name(a)} and ${name(b)} overlap (${Math.round(w)}x${Math.round(h)} px)`);
      }
    }
  }
  if (root.scrollWidth > root.clientWidth + 1) {
    problems.push(`the view scrolls sideways (${root.scrollWidth} px of content in ${root.clientWidth} px)`);
  }
  return problems;
}
"""


async def sidebar_width(page: Any) -> int:
    box = await page.locator("#jp-left-stack").bounding_box()
    assert box is not None, "the left sidebar is closed"
    return round(box["width"])


async def set_sidebar_width(page: Any, width: int) -> None:
    """Drag the handle between the left sidebar and the main area, as a user would."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    stack = await page.locator("#jp-left-stack").bounding_box()
    grip = await handle.bounding_box()
    assert stack is not None and grip is not None, "the left sidebar is closed"
    y = grip["y"] + grip["height"] / 2
    await page.mouse.move(grip["x"] + grip["width"] / 2, y)
    await page.mouse.down()
    await page.mouse.move(stack["x"] + width + grip["width"] / 2, y, steps=5)
    await page.mouse.up()
    await page.wait_for_function(
        "w => Math.abs(document.querySelector('#jp-left-stack').getBoundingClientRect().width - w) <= 2",
        arg=width,
    )


async def check_layout_at_widths(page: Any, root: Any, name: str, shots: Path) -> None:
    """`root` (a locator of the view that scrolls) fits at the default sidebar width and at NARROW px.

    Saves `<name>-<width>px.png` into `shots` before checking; leaves the sidebar at its default width.
    """
    shots.mkdir(parents=True, exist_ok=True)
    default = await sidebar_width(page)
    found: list[str] = []
    try:
        for width in dict.fromkeys((default, NARROW)):  # JupyterLab 4.6 opens sidebars 250 px wide
            if width != await sidebar_width(page):
                await set_sidebar_width(page, width)
            await page.screenshot(path=str(shots / f"{name}-{width}px.png"))
            found += [f"at {width} px: {p}" for p in await root.evaluate(_LAYOUT_PROBLEMS)]
    finally:
        if default != await sidebar_width(page):
            await set_sidebar_width(page, default)
    assert not found, f"{name}:\n  " + "\n  ".join(found)


# Pixels of the tick-label bands of a uPlot chart: below the plot (x) and left of it (y), past the
# 10 px tick marks. A pixel is "ink" when, over the page behind the canvas, its contrast with that
# background is at least 4.5 (WCAG AA for text).
_AXIS_INK = """
(figure) => {
  const canvas = figure.querySelector('canvas');
  const over = figure.querySelector('.u-over');
  if (!canvas || !over) return null;
  const c = canvas.getBoundingClientRect(), o = over.getBoundingClientRect();
  const scale = canvas.width / c.width;
  let bg = [255, 255, 255];
  for (let el = figure; el; el = el.parentElement) {
    const parts = (getComputedStyle(el).backgroundColor.match(/[\\d.]+/g) || []).map(Number);
    if (parts.length === 3 || (parts.length === 4 && parts[3] > 0)) { bg = parts.slice(0, 3); break; }
  }
  const linear = v => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const weights = [0.2126, 0.7152, 0.0722];
  const luminance = rgb => rgb.reduce((sum, v, i) => sum + linear(v / 255) * weights[i], 0);
  const contrast = (p, q) => {
    const [hi, lo] = [luminance(p), luminance(q)].sort((a, b) => b - a);
    return (hi + 0.05) / (lo + 0.05);
  };
  const context = canvas.getContext('2d');
  const band = (left, top, right, bottom) => {
    const x = Math.round((left - c.left) * scale), y = Math.round((top - c.top) * scale);
    const w = Math.round((right - left) * scale), h = Math.round((bottom - top) * scale);
    let ink = 0, best = 1;
    if (w <= 0 || h <= 0) return { ink, best };
    const data = context.getImageData(x, y, w, h).data;
    for (let i = 0; i < data.length; i += 4) {
      const alpha = data[i + 3] / 255;
      if (!alpha) continue;
      const shown = [0, 1, 2].map(k => data[i + k] * alpha + bg[k] * (1 - alpha));
      const ratio = contrast(shown, bg);
      best = Math.max(best, ratio);
      if (ratio >= 4.5) ink++;
    }
    return { ink, best: Math.round(best * 10) / 10 };
  };
  return {
    x: band(o.left, o.bottom + 12, o.right, Math.min(c.bottom, o.bottom + 40)),
    y: band(c.left, o.top, o.left - 12, o.bottom),
    background: bg,
  };
}
"""

#: Legible tick labels: at least this many ink pixels in each band (a "0" alone is ~20).
_MIN_INK = 20


async def expect_legible_axes(page: Any, figure: Any) -> None:
    """Wait until the chart in `figure` (a locator) has legible tick labels on both axes."""
    handle = await figure.element_handle()
    enough = f"r => !!r && r.x.ink >= {_MIN_INK} && r.y.ink >= {_MIN_INK}"
    test = f"f => ({enough})(({_AXIS_INK})(f))"
    try:
        await page.wait_for_function(test, arg=handle, timeout=10_000)
    except Exception:
        found = await figure.evaluate(_AXIS_INK)
        chart = await figure.get_attribute("aria-label") or "the chart"
        raise AssertionError(
            f"no legible tick labels on both axes of {chart}: {found} "
            f"(ink: pixels with contrast >= 4.5 against the background; want >= {_MIN_INK} per axis)"
        ) from None


async def use_theme(page: Any, theme: str) -> None:
    """Switch to `theme` ("JupyterLab Dark", "JupyterLab Light") from the command palette, and wait for it."""
    from playwright.async_api import expect

    await page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette-input")
    await palette.fill(f"Use Theme: {theme}")
    await expect(page.locator(".lm-CommandPalette-item.lm-mod-active")).to_contain_text(theme)
    await palette.press("Enter")
    light = "false" if "Dark" in theme else "true"
    # The splash screen covers the page while the theme loads.
    await page.wait_for_function(
        f"() => document.body.dataset.jpThemeLight === '{light}'"
        " && !document.getElementById('jupyterlab-splash')"
    )
