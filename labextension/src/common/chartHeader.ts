/**
 * A chart's header (chartCore.ts's `ChartView`): its title, a note ("100 runs,
 * 257 bins"), and its tools: this chart's log-y override, reset zoom (the view's
 * charts zoom together), PNG and CSV export and, where the view keeps pins, a
 * pin. Buttons carry their purpose as aria-label and title, so tests and
 * screen readers find them by name.
 */
import { el } from './chartDom';

export interface IChartHeaderOptions {
  title: string;
  onLog: () => void;
  onResetZoom: () => void;
  onPng: () => void;
  onCsv: () => void;
  /** When given, the header has a pin button; called with the new pinned state. */
  onPin?: (pinned: boolean) => void;
  pinned?: boolean;
}

export class ChartHeader {
  readonly node: HTMLElement;
  private _title: HTMLElement;
  private _note: HTMLElement;
  private _log: HTMLButtonElement;
  private _reset: HTMLButtonElement;
  private _pin: HTMLButtonElement | null = null;

  constructor(private readonly _options: IChartHeaderOptions) {
    this._title = el('span', { class: 'mlws-chart-title' }, _options.title);
    this._note = el('span', { class: 'mlws-chart-note' });
    this._log = button('log', 'Logarithmic y axis for this chart', _options.onLog);
    this._log.setAttribute('aria-pressed', 'false');
    this._reset = button('reset zoom', 'Reset zoom (all charts of this view)', _options.onResetZoom);
    this._reset.disabled = true;
    const png = button('PNG', 'Download this chart as PNG', _options.onPng);
    const csv = button('CSV', 'Download the lines of this chart as CSV', _options.onCsv);
    const tools = el('span', { class: 'mlws-chart-tools' }, this._log, this._reset, png, csv);
    if (_options.onPin) {
      this._pin = button('☆', `Pin ${_options.title}`, () => this.setPinned(!this.pinned, true));
      this.setPinned(!!_options.pinned, false);
      tools.append(this._pin);
    }
    this.node = el('div', { class: 'mlws-chart-header' }, this._title, this._note, tools);
  }

  get title(): string {
    return this._title.textContent ?? '';
  }

  get pinned(): boolean {
    return this._pin?.getAttribute('aria-pressed') === 'true';
  }

  setTitle(title: string, note: string): void {
    this._title.textContent = title;
    this._note.textContent = note;
  }

  /** Shows the pin state; `notify` tells the view's owner (a click), not a prop coming back. */
  setPinned(pinned: boolean, notify: boolean): void {
    const pin = this._pin;
    if (!pin) {
      return;
    }
    pin.textContent = pinned ? '★' : '☆';
    pin.setAttribute('aria-pressed', String(pinned));
    pin.title = `${pinned ? 'Unpin' : 'Pin'} ${this._options.title}`;
    pin.setAttribute('aria-label', pin.title);
    if (notify) {
      this._options.onPin?.(pinned);
    }
  }

  setLog(on: boolean): void {
    this._log.setAttribute('aria-pressed', String(on));
  }

  setZoomed(zoomed: boolean): void {
    this._reset.disabled = !zoomed;
  }
}

function button(text: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = el('button', { type: 'button', class: 'mlws-chart-button', title, 'aria-label': title }, text);
  b.addEventListener('click', onClick);
  return b;
}
