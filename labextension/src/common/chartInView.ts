/**
 * Draw only what can be seen (chartCore.ts's `ChartView`): a chart out of view
 * (scrolled away, or in a hidden tab) keeps what it was asked to draw and
 * draws it once it comes into view, so a smoothing move in a view of many
 * charts costs the charts one can see (W&B's and MLflow's panels do the same).
 * Watches the chart's node with an IntersectionObserver.
 */
export class InViewDrawer {
  private _inView = true;
  /** Asked while out of view, not drawn yet ('rescale': the scales must follow the new data). */
  private _pending: false | 'redraw' | 'rescale' = false;
  private _observer: IntersectionObserver;

  /** `draw(rescale)` draws the chart's current data, rescaling the axes or not. */
  constructor(
    node: Element,
    private readonly _draw: (rescale: boolean) => void
  ) {
    this._observer = new IntersectionObserver(entries => {
      this._inView = entries[entries.length - 1].isIntersecting;
      if (this._inView) {
        this.flush();
      }
    });
    this._observer.observe(node);
  }

  /** A draw of new data: now in view, else when the chart comes into view (a rescale wins). */
  request(rescale: boolean): void {
    this._pending = this._pending === 'rescale' || rescale ? 'rescale' : 'redraw';
    if (this._inView) {
      this.flush();
    }
  }

  /** Draws what is pending, in view or not (before a read or an export). */
  flush(): void {
    const pending = this._pending;
    this._pending = false;
    if (pending) {
      this._draw(pending === 'rescale');
    }
  }

  /** Forgets what is pending (the chart was rebuilt from its data). */
  clear(): void {
    this._pending = false;
  }

  disconnect(): void {
    this._observer.disconnect();
  }
}
