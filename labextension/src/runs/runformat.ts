/** How the run views format statuses, durations, times and metric values. */

/** Statuses that have a colour of their own in the stylesheet. */
export const KNOWN_STATUSES = ['queued', 'running', 'completed', 'failed', 'killed', 'canceled'];

/** The statuses a run ends in (a run event with one of them is about a finished run). */
export const FINAL_STATUSES = ['completed', 'failed', 'killed', 'canceled'];

/** `1234` -> "1.2 s"; `754000` -> "12 min 34 s"; `7260000` -> "2 h 1 min". */
export function formatDuration(ms: number): string {
  const clamped = Math.max(0, ms);
  if (clamped < 1000) {
    return `${Math.round(clamped)} ms`;
  }
  const seconds = clamped / 1000;
  if (seconds < 60) {
    return `${seconds < 10 ? seconds.toFixed(1) : Math.floor(seconds)} s`;
  }
  const whole = Math.floor(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  return hours > 0 ? `${hours} h ${minutes} min` : `${minutes} min ${whole % 60} s`;
}

export function formatTime(ms: number | null): string {
  return ms === null ? '—' : new Date(ms).toLocaleString();
}

export function formatMetric(value: number | string): string {
  if (typeof value !== 'number') {
    return value; // "NaN", "Infinity", "-Infinity" as the server sends them
  }
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

/** The run's duration; ticks every second while the run has no end time. */
