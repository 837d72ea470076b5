/** What resource files share. */

/** Milliseconds since the epoch as ISO 8601 (UTC), as the CLI's --json prints times. */
export { isoTime as iso } from '../../store/json.js';
