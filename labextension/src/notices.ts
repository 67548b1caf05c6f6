import { Notification } from '@jupyterlab/apputils';
import { ReadonlyJSONValue } from '@lumino/coreutils';

/** What a `NoticeGroup` shows for its items. */
export interface INoticeGroupOptions<T> {
  type: Exclude<Notification.TypeOptions, 'in-progress'>;
  /** How long the toast stays after its last change (ms), or false: until the user closes it. */
  autoClose: number | false;
  /** The text for the items, oldest first (one or more). At most 140 characters are shown. */
  message: (items: readonly T[]) => string;
  /** The toast's buttons for the items. */
  actions?: (items: readonly T[]) => Notification.IAction[];
  /** Items with the same key are one item: the newer replaces the older (default: all count). */
  key?: (item: T) => string;
}

/**
 * One toast per kind of notice: a loop of runs, or several kernels going idle
 * at once, must not bury the notebook under a stack of toasts.
 *
 * Who uses it: the run notifications (runNotices.ts) and the compute events
 * (computeEvents.ts) make one `NoticeGroup` per kind ("runs completed",
 * "runs failed", "idle warning", ...). `add` puts an item into the kind's
 * toast: while that toast is still shown it is updated in place
 * (`Notification.update`, which also moves it to the top of the notification
 * centre) and its text counts the items ("3 runs completed: …"); once it is
 * gone (closed by the user, or past its `autoClose`), the next item starts a
 * new count in the same notification, so the notification centre keeps one
 * entry per kind as well.
 */
export class NoticeGroup<T> {
  constructor(private readonly _options: INoticeGroupOptions<T>) {}

  /** Adds an item to the shown toast, or shows a toast with it alone. */
  add(item: T): void {
    if (!this._shown()) {
      this._items = [];
    }
    const key = this._options.key;
    if (key) {
      const k = key(item);
      this._items = this._items.filter(other => key(other) !== k);
    }
    this._items.push(item);
    this._show();
  }

  /** Takes the matching items out of the shown toast; it closes when none is left. */
  remove(matches: (item: T) => boolean): void {
    if (!this._shown()) {
      return;
    }
    const left = this._items.filter(item => !matches(item));
    if (left.length === this._items.length) {
      return;
    }
    this._items = left;
    if (left.length === 0) {
      this.dismiss();
    } else {
      this._show();
    }
  }

  /** Closes the toast (and its entry in the notification centre). */
  dismiss(): void {
    if (this._id !== null) {
      Notification.dismiss(this._id);
    }
    this._id = null;
    this._items = [];
  }

  /** Whether this kind's toast can still be on screen (a closed one leaves the manager). */
  private _shown(): boolean {
    if (this._id === null || !Notification.manager.has(this._id)) {
      return false;
    }
    const { autoClose } = this._options;
    return autoClose === false || Date.now() - this._changedAt < autoClose;
  }

  private _show(): void {
    const { type, autoClose } = this._options;
    const message = this._options.message(this._items);
    const actions = this._options.actions?.(this._items) ?? [];
    this._changedAt = Date.now();
    if (this._id !== null && Notification.manager.has(this._id)) {
      // Shown: updated in place. Gone from the screen: shown again, with the new count.
      this._update = { id: this._id, message, type, autoClose, actions };
      this._flush();
    } else {
      this._id = Notification.emit(message, type, { autoClose, actions });
      this._emittedAt = Date.now();
    }
  }

  /**
   * Sends the newest pending update once its toast is on screen. JupyterLab
   * drops an update that comes while the toast is still being made (a burst of
   * runs ending at once): the update waits for the toast's element (its id is
   * the notification's), for at most a second after the toast was emitted
   * (no toast is made in "do not disturb" mode).
   */
  private _flush(): void {
    if (this._waiting) {
      return; // the waiting loop sends the newest update
    }
    const attempt = (): void => {
      const update = this._update;
      if (update === null) {
        this._waiting = false;
        return;
      }
      const onScreen = document.getElementById(update.id) !== null;
      if (!onScreen && Date.now() - this._emittedAt < 1000) {
        this._waiting = true;
        requestAnimationFrame(attempt);
        return;
      }
      this._waiting = false;
      this._update = null;
      if (Notification.manager.has(update.id)) {
        Notification.update(update);
      }
    };
    attempt();
  }

  private _id: string | null = null;
  private _items: T[] = [];
  private _changedAt = 0;
  private _emittedAt = 0;
  private _update: Notification.IUpdate<ReadonlyJSONValue> | null = null;
  private _waiting = false;
}

/** `"a", "b" and 3 more`: names in a toast, short enough for its 140 characters. */
export function nameList(names: readonly string[], shown = 3, width = 24): string {
  const cut = (name: string) => (name.length > width ? `${name.slice(0, width - 1)}…` : name);
  const listed = names.slice(-shown).map(name => `"${cut(name)}"`);
  const more = names.length - listed.length;
  return more > 0 ? `${listed.join(', ')} and ${more} more` : listed.join(', ');
}
