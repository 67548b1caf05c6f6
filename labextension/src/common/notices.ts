import { Notification } from '@jupyterlab/apputils';
import { ReadonlyJSONValue } from '@lumino/coreutils';

/** How long an update keeps trying to reach its toast (ms): see `NoticeGroup._flush`. */
const MOUNT_WAIT_MS = 20_000;
/** How often an update that did not show is sent again (ms). */
const RESEND_MS = 250;

/** The part of a message that a toast surely shows (it cuts long ones). */
function shownPart(message: string): string {
  return message.slice(0, 60);
}

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
  /**
   * Where an item goes among the others (ascending; default: the order of
   * `add`). Items that come out of order (answers of concurrent requests) are
   * still listed oldest first, so the newest is the one the toast names last.
   */
  order?: (item: T) => number;
}

/**
 * One toast per kind of notice: a loop of runs, or several kernels going idle
 * at once, must not bury the notebook under a stack of toasts.
 *
 * Who uses it: the run notifications (runs/runNotices.ts) and the compute
 * events (compute/computeEvents.ts) make one `NoticeGroup` per kind ("runs
 * completed", "runs failed", "idle warning", ...). `add` puts an item into the kind's
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
    const order = this._options.order;
    if (order) {
      this._items.sort((a, b) => order(a) - order(b)); // stable: ties keep their order
    }
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
    }
  }

  /**
   * Sends the newest pending update until its toast shows it. JupyterLab drops
   * an update that comes while the toast is still being made, and the toast
   * library drops one that comes during the toast's entrance (a burst of runs
   * ending at once, on a busy machine): so the update is sent again, every
   * `RESEND_MS`, until the toast's element (its id is the notification's)
   * shows the new message. The first toast of a page also loads the toast
   * library, which takes seconds on a busy machine: the loop lasts up to
   * `MOUNT_WAIT_MS` after the newest change; past it (no toast is made in
   * "do not disturb" mode) the update has at least reached the notification
   * centre.
   */
  private _flush(): void {
    if (this._waiting) {
      return; // the waiting loop sends the newest update
    }
    let sentAt = 0;
    let sent: Notification.IUpdate<ReadonlyJSONValue> | null = null;
    const attempt = (): void => {
      const update = this._update;
      if (update === null || !Notification.manager.has(update.id)) {
        this._waiting = false;
        this._update = null;
        return;
      }
      const element = document.getElementById(update.id);
      if (element && (element.textContent ?? '').includes(shownPart(update.message ?? ''))) {
        this._waiting = false; // on screen with its new text
        this._update = null;
        return;
      }
      if (Date.now() - this._changedAt > MOUNT_WAIT_MS) {
        this._waiting = false;
        this._update = null;
        if (sent !== update) {
          Notification.update(update); // to the notification centre at least
        }
        return;
      }
      if (element && (sent !== update || Date.now() - sentAt >= RESEND_MS)) {
        Notification.update(update);
        sent = update;
        sentAt = Date.now();
      }
      this._waiting = true;
      window.setTimeout(attempt, 50);
    };
    attempt();
  }

  private _id: string | null = null;
  private _items: T[] = [];
  private _changedAt = 0;
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
