/**
 * A per-key throttle: the first call for a key runs at once, then at most
 * one more every `intervalMs` while calls keep coming, and the last call is
 * never dropped. Used by the runs browser (runs/browserModel.ts) to refresh
 * a row on a burst of metrics events.
 */
export class KeyedThrottle {
  constructor(
    private readonly _run: (key: string) => void,
    private readonly _intervalMs: number
  ) {}

  /** Run for `key` now, or once more when its interval ends. */
  call(key: string): void {
    if (this._timers.has(key)) {
      this._dirty.add(key);
      return;
    }
    this._run(key);
    const tick = (): void => {
      if (this._dirty.delete(key)) {
        this._run(key);
        this._timers.set(key, window.setTimeout(tick, this._intervalMs));
      } else {
        this._timers.delete(key);
      }
    };
    this._timers.set(key, window.setTimeout(tick, this._intervalMs));
  }

  /** Stop every pending call. */
  dispose(): void {
    for (const timer of this._timers.values()) {
      window.clearTimeout(timer);
    }
  }

  private _timers = new Map<string, number>();
  private _dirty = new Set<string>();
}
