/** What `ChartSync` needs of a chart (chartCore.ts's `ChartView`). */
export interface ISyncedChart {
  applyZoom(window: [number, number] | null, user: boolean): void;
  showLine(id: string, show: boolean): void;
  setSettings(settings: { smoothing: number }): void;
}

/** The charts of one view: crosshair, zoom and hidden lines kept in step. */
export class ChartSync {
  readonly key = `mlws-sync-${Math.random().toString(36).slice(2)}`;
  readonly charts = new Set<ISyncedChart>();
  /** Line ids the user hid from a legend. */
  readonly hidden = new Set<string>();
  private _busy = false;

  /** Applies an x window (null: reset) from `source` to the other charts. */
  zoom(source: ISyncedChart, window: [number, number] | null): void {
    if (this._busy) {
      return;
    }
    this._busy = true;
    try {
      for (const chart of this.charts) {
        if (chart !== source) {
          chart.applyZoom(window, false);
        }
      }
    } finally {
      this._busy = false;
    }
  }

  /**
   * A smoothing weight from the view's slider, drawn by every chart at once: a slider move does
   * not wait for the owner's state (a React render) to reach each chart; the owner's settings
   * then arrive with the same weight and change nothing.
   */
  smooth(weight: number): void {
    for (const chart of this.charts) {
      chart.setSettings({ smoothing: weight });
    }
  }

  /** A line shown or hidden from a legend: the same in every chart. */
  toggle(source: ISyncedChart, id: string, show: boolean): void {
    if (show) {
      this.hidden.delete(id);
    } else {
      this.hidden.add(id);
    }
    if (this._busy) {
      return;
    }
    this._busy = true;
    try {
      for (const chart of this.charts) {
        if (chart !== source) {
          chart.showLine(id, show);
        }
      }
    } finally {
      this._busy = false;
    }
  }
}

