/**
 * How a task's store keys are laid out: a table's entries under "<operator uid>\u0000<state
 * name>\u0000", an operator's saved timers under its uid and "\u0001timers", and the runtime's own
 * keys under a reserved prefix that sorts before every uid.
 */

/** Store key of an operator's saved timers ("\u0001" sorts them apart from state names). */
export function timersKey(uid: string): string {
  return `${uid}\u0000\u0001timers\u0000`;
}

/** Whether a store key is an operator's saved timers (not a keyed entry). */
export function isTimersKey(storeKey: string): boolean {
  return storeKey.includes("\u0000\u0001timers\u0000");
}

/** The table prefix of a store key: up to the end of its state name. */
export function tablePrefixOf(storeKey: string): string {
  return storeKey.slice(0, storeKey.indexOf("\u0000", storeKey.indexOf("\u0000") + 1) + 1);
}

/** Store keys the runtime keeps beside keyed state ("\u0000" sorts them before every operator uid). */
export const RESERVED_PREFIX = "\u0000runnel\u0000";
/** Present while the store holds writes no completed checkpoint covers (evictions between checkpoints). */
export const DIRTY_KEY = `${RESERVED_PREFIX}dirty`;
