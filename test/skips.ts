/**
 * The one list of tests allowed to be skipped. `npm test` (test/run-tiers.ts) fails when a test is
 * skipped (it.skip, it.skipIf, it.todo, describe.skip, …) without an entry here, so a suite cannot
 * pass hollow. Each entry names the file (from the repository root), the test's full name as the
 * report shows it (describe titles and the test title, joined by spaces), and why it may be skipped.
 */

/** A test that may be skipped, and why. */
export interface DeclaredSkip {
  file: string;
  test: string;
  reason: string;
}

/** Declared skips; keep it empty unless a test truly cannot run everywhere. */
export const DECLARED_SKIPS: readonly DeclaredSkip[] = [];
