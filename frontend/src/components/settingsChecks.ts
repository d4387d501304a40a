// The checks backend/src/settings.rs makes on every request, made again while the settings are typed: the
// editor says what to fix before Save & test does. The backend stays the authority; these only mirror it.
import {
  DEFAULT_JOB_CACHE_MB,
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_TIMEOUT_SECONDS,
  MAX_CONCURRENCY,
  MAX_JOB_CACHE_MB,
  MAX_TIMEOUT_SECONDS,
} from '../types';

export type NumberKey = 'timeoutSeconds' | 'maxConcurrency' | 'jobCacheMB';

export interface NumberLimits {
  min: number;
  max: number;
  default: number;
  /** what the backend expects, in its words */
  expected: string;
}

export const NUMBER_LIMITS: Record<NumberKey, NumberLimits> = {
  timeoutSeconds: {
    min: 1,
    max: MAX_TIMEOUT_SECONDS,
    default: DEFAULT_TIMEOUT_SECONDS,
    expected: `a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}`,
  },
  maxConcurrency: {
    min: 1,
    max: MAX_CONCURRENCY,
    default: DEFAULT_MAX_CONCURRENCY,
    expected: `a whole number from 1 to ${MAX_CONCURRENCY}`,
  },
  jobCacheMB: {
    min: 0,
    max: MAX_JOB_CACHE_MB,
    default: DEFAULT_JOB_CACHE_MB,
    expected: `a whole number of MiB from 0 (no cache) to ${MAX_JOB_CACHE_MB}`,
  },
};

/** What is wrong with a numeric setting, or undefined (an unset one takes its default). */
export function numberProblem(key: NumberKey, value: number | undefined): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  const { min, max, expected } = NUMBER_LIMITS[key];
  return Number.isInteger(value) && value >= min && value <= max ? undefined : `Expected ${expected}.`;
}

/** The API path must start and end with `/`. */
export function apiPathProblem(path: string): string | undefined {
  const p = path.trim();
  if (p === '' || (p.startsWith('/') && p.endsWith('/'))) {
    return undefined;
  }
  return 'The API path must start and end with /, e.g. /api/v2/ for AWX or /api/controller/v2/ behind an AAP 2.5+ gateway.';
}

/**
 * What is wrong with a URL setting (AWX, UI or Prometheus URL), or undefined. An empty one is not judged
 * here: the AWX URL's field is marked required, and the others are optional.
 */
export function urlProblem(value: string): string | undefined {
  const v = value.trim();
  if (v === '') {
    return undefined;
  }
  // `awx.example.com:443` parses as a URL whose scheme is `awx.example.com`: look for `://` instead.
  if (!v.includes('://')) {
    return `Add the scheme: https://${v.replace(/^\/+/, '')} (or http:// for a server without TLS).`;
  }
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return 'This is not a valid URL.';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `The scheme must be http or https, not ${url.protocol.replace(/:$/, '')}.`;
  }
  if (url.username !== '' || url.password !== '') {
    return 'Put credentials in the authentication fields, not in the URL.';
  }
  if (url.search !== '' || url.hash !== '' || v.includes('?') || v.includes('#')) {
    return 'Remove the query string and fragment.';
  }
  return undefined;
}

/**
 * The AWX URL must not already hold an API root: the plugin appends the API path to it, and AWX answers the
 * doubled path with a 404 that does not say why.
 */
export function awxUrlProblem(value: string, apiPath: string): string | undefined {
  const general = urlProblem(value);
  if (general !== undefined || value.trim() === '') {
    return general;
  }
  const url = new URL(value.trim());
  const path = url.pathname.replace(/\/+$/, '');
  const configured = apiPath.trim().replace(/\/+$/, '');
  const root = [configured, '/api/controller/v2', '/api/v2', '/api'].find(
    (r) => r !== '' && path.toLowerCase().endsWith(r.toLowerCase())
  );
  if (root === undefined) {
    return undefined;
  }
  const base = `${url.origin}${path.slice(0, path.length - root.length)}`;
  if (root === '/api/controller/v2' && configured !== root) {
    return `The URL already ends in ${root}/: set the URL to ${base} and the API path to /api/controller/v2/.`;
  }
  return `The URL already ends in ${root}/: set the URL to ${base}; the plugin adds the API path (${apiPath}) to it.`;
}

// A PromQL string: "..." and '...' with backslash escapes, `...` raw.
const STRING = String.raw`(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + '`[^`]*`)';
const MATCHER = String.raw`(?:[A-Za-z_][A-Za-z0-9_]*|${STRING})\s*(?:!=|=~|!~|=)\s*${STRING}\s*`;
const SELECTOR = new RegExp(String.raw`^\s*(?:${MATCHER}(?:,\s*${MATCHER})*(?:,\s*)?)?$`);

/**
 * What is wrong with the Prometheus selector: label matchers with quoted values, braces optional. For the
 * common slip, values without quotes, it shows the quoted form, as the backend does.
 */
export function selectorProblem(raw: string): string | undefined {
  const s = raw.trim();
  const inner = s.startsWith('{') && s.endsWith('}') ? s.slice(1, -1).trim() : s;
  if (SELECTOR.test(inner)) {
    return undefined;
  }
  const fixed = quotedSelector(inner);
  const example = fixed ?? 'job="awx"';
  return `Write label matchers with quoted values (PromQL strings), separated by commas, e.g. ${example}.`;
}

/** `job=awx, instance=~awx-.*` → `job="awx", instance=~"awx-.*"`, when only quotes are missing. */
function quotedSelector(s: string): string | undefined {
  const parts: string[] = [];
  for (const raw of s.split(',')) {
    const part = raw.trim();
    if (part === '') {
      continue;
    }
    const m = /^([^=!]*?)\s*(!=|=~|!~|=)\s*(.*)$/.exec(part);
    if (!m) {
      return undefined;
    }
    const [, name, op, value] = m;
    if (/^["'`]/.test(value)) {
      parts.push(`${name}${op}${value}`);
    } else if (value === '' || /["'`={}()]/.test(value)) {
      return undefined;
    } else {
      parts.push(`${name}${op}"${value.replace(/\\/g, '\\\\')}"`);
    }
  }
  const fixed = parts.join(', ');
  return fixed !== s && SELECTOR.test(fixed) ? fixed : undefined;
}
