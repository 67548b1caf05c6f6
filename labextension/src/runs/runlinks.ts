/**
 * Run links in notebook outputs: `<a data-mlws-run="RUN_ID">` (the run card
 * a `%%mlrun` cell displays) opens that run in the sidebar panel.
 *
 * Registered once by the sidebar plugin. Decisions:
 * - One click listener on the document, in the capture phase, instead of a
 *   listener per output: outputs are re-rendered and virtualised freely, and
 *   the capture phase runs before JupyterLab's own link handling (the
 *   rendermime turns a local `href` such as `#` into a command-linker link
 *   that would try to open a file). The handled click is stopped there and
 *   its default navigation prevented.
 * - Only links (`<a data-mlws-run>`) inside output areas (`.jp-OutputArea`)
 *   count. Not any element with the attribute: the run card's own `<div>`
 *   carries it too, and selecting or clicking the card's text must not open
 *   the panel. Nothing outside outputs (a markdown preview, another
 *   extension) triggers the command by carrying the attribute.
 * - Keyboard activation needs nothing extra: Enter on a focused `<a href>`
 *   dispatches a click.
 * - The attribute survives only in trusted output (what the kernel just
 *   produced); JupyterLab's sanitizer drops `data-*` attributes from
 *   untrusted HTML, and such a link stays a plain, inert link.
 */

/** The attribute that carries a run id. */
export const RUN_LINK_ATTRIBUTE = 'data-mlws-run';

/** The elements whose clicks open a run. */
export const RUN_LINK_SELECTOR = `a[${RUN_LINK_ATTRIBUTE}]`;

/** Output areas whose run links are honoured. */
export const OUTPUT_AREA_SELECTOR = '.jp-OutputArea';

/** The run id a click on `target` asks for, or null when it is no run link in an output. */
export function runIdOfTarget(target: EventTarget | null): string | null {
  if (!(target instanceof Element)) {
    return null;
  }
  const link = target.closest(RUN_LINK_SELECTOR);
  if (link === null || link.closest(OUTPUT_AREA_SELECTOR) === null) {
    return null;
  }
  const runId = (link.getAttribute(RUN_LINK_ATTRIBUTE) ?? '').trim();
  return runId.length > 0 ? runId : null;
}

/** Listens for clicks on run links until disposed. */
export class RunLinkHandler {
  constructor(
    private readonly _open: (runId: string) => void,
    private readonly _document: Document = document
  ) {
    _document.addEventListener('click', this, true);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._document.removeEventListener('click', this, true);
  }

  handleEvent(event: Event): void {
    if (event.type !== 'click' || (event as MouseEvent).button !== 0) {
      return;
    }
    const runId = runIdOfTarget(event.target);
    if (runId === null) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    this._open(runId);
  }

  private _isDisposed = false;
}
