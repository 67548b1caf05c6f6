import { clampSmoothing, X_AXES, X_LABELS, XAxis } from './chartMath';
import { el, IChartSettings } from './chartDom';

export interface IChartControlsOptions {
  settings: IChartSettings;
  onChange: (settings: IChartSettings) => void;
  /** A metric search box (placeholder text), when the view has one. */
  search?: { value: string; onChange: (text: string) => void };
  /** A group-by choice: the keys offered ("params.x", "tags.y") and the current one. */
  group?: { keys: string[]; value: string | null; onChange: (key: string | null) => void };
}

/** The view-wide controls: smoothing slider, x axis, log y, and optionally search and group-by. */
export class ChartControls {
  readonly node: HTMLElement;
  private _settings: IChartSettings;
  private _slider: HTMLInputElement;
  private _readout: HTMLSpanElement;
  private _x: HTMLSelectElement;
  private _log: HTMLInputElement;
  private _group: HTMLSelectElement | null = null;

  constructor(
    host: HTMLElement,
    readonly options: IChartControlsOptions
  ) {
    this._settings = { ...options.settings };
    this._slider = el('input', {
      type: 'range',
      min: '0',
      max: '0.99',
      step: '0.01',
      class: 'mlws-chart-smoothing',
      'aria-label': 'Smoothing'
    });
    this._readout = el('span', { class: 'mlws-chart-readout', 'aria-hidden': 'true' });
    // A dragged slider fires many `input` events a frame: the charts redraw at once for the first
    // and at most once a frame after it, for the latest value (not one frame late for each).
    let frame = 0;
    let pending = false;
    const apply = () => this._set({ smoothing: Number(this._slider.value) });
    const settle = () => {
      frame = 0;
      if (pending) {
        pending = false;
        apply();
        frame = requestAnimationFrame(settle);
      }
    };
    this._slider.addEventListener('input', () => {
      this._readout.textContent = Number(this._slider.value).toFixed(2);
      if (frame) {
        pending = true;
      } else {
        apply();
        frame = requestAnimationFrame(settle);
      }
    });
    this._x = el('select', { 'aria-label': 'X axis' });
    for (const axis of X_AXES) {
      this._x.append(el('option', { value: axis }, X_LABELS[axis].replace(' (s)', '')));
    }
    this._x.addEventListener('change', () => this._set({ x: this._x.value as XAxis }));
    this._log = el('input', { type: 'checkbox', 'aria-label': 'Log scale y' });
    this._log.addEventListener('change', () => this._set({ logY: this._log.checked }));
    const parts: Node[] = [];
    if (options.search) {
      const box = el('input', {
        type: 'search',
        class: 'mlws-chart-search',
        placeholder: 'Search metrics',
        'aria-label': 'Search metrics'
      });
      box.value = options.search.value;
      box.addEventListener('input', () => options.search!.onChange(box.value));
      parts.push(box);
    }
    parts.push(
      el('label', { class: 'mlws-chart-control' }, 'Smoothing ', this._slider, this._readout),
      el('label', { class: 'mlws-chart-control' }, 'X axis ', this._x),
      el('label', { class: 'mlws-chart-control' }, this._log, ' log y')
    );
    if (options.group) {
      this._group = el('select', { 'aria-label': 'Group runs by' });
      parts.push(el('label', { class: 'mlws-chart-control' }, 'Group by ', this._group));
      this._group.addEventListener('change', () => options.group!.onChange(this._group!.value || null));
      this.setGroupKeys(options.group.keys, options.group.value);
    }
    this.node = el('div', { class: 'mlws-chart-controls', role: 'toolbar', 'aria-label': 'Chart settings' }, ...parts);
    host.append(this.node);
    this.setSettings(this._settings);
  }

  get settings(): IChartSettings {
    return this._settings;
  }

  /** Shows `settings` (no change event). */
  setSettings(settings: IChartSettings): void {
    this._settings = { ...settings };
    this._slider.value = String(settings.smoothing);
    this._readout.textContent = settings.smoothing.toFixed(2);
    this._x.value = settings.x;
    this._log.checked = settings.logY;
  }

  setGroupKeys(keys: string[], value: string | null): void {
    const select = this._group;
    if (!select) {
      return;
    }
    select.replaceChildren(el('option', { value: '' }, 'none'), ...keys.map(k => el('option', { value: k }, k)));
    select.value = value && keys.includes(value) ? value : '';
  }

  private _set(change: Partial<IChartSettings>): void {
    this._settings = { ...this._settings, ...change, smoothing: clampSmoothing(change.smoothing ?? this._settings.smoothing) };
    this._readout.textContent = this._settings.smoothing.toFixed(2);
    this.options.onChange(this._settings);
  }

  destroy(): void {
    this.node.remove();
  }
}
