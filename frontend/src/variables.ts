import { ScopedVars } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';

import { AwxQuery, Filters, FilterKey, HostOutcome, HostSummaries, Measure, Stat } from './types';

/**
 * Template variable interpolation of an AwxQuery, done in the browser before the query goes to the backend.
 * (Alert rules skip this step: the backend sees them raw.)
 */

/** Separates the values of a multi-value variable inside one interpolated string; never typed by a person. */
const SEP = '\u001f';

/** Grafana's interval macros: left for the backend, which expands them in PromQL (as alerting needs too). */
const BACKEND_MACROS = ['__interval', '__interval_ms', '__rate_interval', '__range', '__range_s', '__range_ms'];

/**
 * Interpolates one list entry into zero or more entries: `$org` with org = [a, b] gives [a, b];
 * text around a multi-value variable stays with the first and last values, as Grafana's csv format would.
 */
export function interpolateListEntry(entry: string, templateSrv: TemplateSrv, scopedVars?: ScopedVars): string[] {
  const replaced = templateSrv.replace(entry, scopedVars, (value: unknown) =>
    Array.isArray(value) ? value.map(String).join(SEP) : String(value ?? '')
  );
  return replaced
    .split(SEP)
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** An entry that is exactly one variable reference: `$x`, `${x}`, `${x:fmt}` or `[[x]]`. */
const SINGLE_VARIABLE = /^\s*(?:\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::\w+)?\]\])\s*$/;

/**
 * True when the entry is a variable set to "All" without a custom all value: the filter then means every value,
 * which the contract spells as an empty list (rather than a long list of every value Grafana knows).
 */
function selectsAll(entry: string, templateSrv: TemplateSrv, scopedVars?: ScopedVars): boolean {
  const m = SINGLE_VARIABLE.exec(entry);
  const name = m && (m[1] ?? m[2] ?? m[3]);
  if (!name || scopedVars?.[name]) {
    return false;
  }
  const variable = templateSrv.getVariables().find((v) => v.name === name) as
    | { current?: { value?: unknown }; allValue?: string | null }
    | undefined;
  const value = variable?.current?.value;
  const all = value === '$__all' || (Array.isArray(value) && value.includes('$__all'));
  return all && !variable?.allValue;
}

/** Interpolates every entry of a list, expands multi-value variables, drops empties and repeats. */
export function interpolateList(
  values: string[] | undefined,
  templateSrv: TemplateSrv,
  scopedVars?: ScopedVars
): string[] | undefined {
  if (!values) {
    return undefined;
  }
  const out: string[] = [];
  for (const entry of values) {
    for (const v of interpolateListEntry(String(entry), templateSrv, scopedVars)) {
      if (!out.includes(v)) {
        out.push(v);
      }
    }
  }
  return out;
}

export function interpolateFilters(
  filters: Filters | undefined,
  templateSrv: TemplateSrv,
  scopedVars?: ScopedVars
): Filters | undefined {
  if (!filters) {
    return undefined;
  }
  const out: Filters = {};
  for (const [key, values] of Object.entries(filters) as Array<[FilterKey, string[] | undefined]>) {
    if (!Array.isArray(values)) {
      continue;
    }
    out[key] = values.some((v) => selectsAll(String(v), templateSrv, scopedVars))
      ? []
      : interpolateList(values, templateSrv, scopedVars);
  }
  return out;
}

function escapeRegex(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&');
}

/**
 * PromQL: a multi-value variable becomes a regex alternation `(a|b)` (use it with `=~`), as in Grafana's own
 * Prometheus data source; a single value goes in as it is. Interval macros are left for the backend.
 */
export function interpolateExpr(expr: string, templateSrv: TemplateSrv, scopedVars?: ScopedVars): string {
  let scoped: ScopedVars | undefined = scopedVars;
  if (scopedVars) {
    scoped = { ...scopedVars };
    for (const macro of BACKEND_MACROS) {
      delete scoped[macro];
    }
  }
  return templateSrv.replace(expr, scoped, (value: unknown) => {
    if (!Array.isArray(value)) {
      return String(value ?? '');
    }
    if (value.length === 1) {
      return String(value[0]);
    }
    return '(' + value.map((v) => escapeRegex(String(v))).join('|') + ')';
  });
}

function interpolateString<T extends string>(
  value: T | undefined,
  templateSrv: TemplateSrv,
  scopedVars?: ScopedVars
): T | undefined {
  return value === undefined ? undefined : (templateSrv.replace(value, scopedVars) as T);
}

/** The whole query: every string and list field; numbers and booleans pass through. */
export function interpolateQuery(query: AwxQuery, templateSrv: TemplateSrv, scopedVars?: ScopedVars): AwxQuery {
  const out: AwxQuery = {
    ...query,
    queryType: interpolateString(query.queryType, templateSrv, scopedVars),
    source: interpolateString(query.source, templateSrv, scopedVars),
    groupBy: interpolateString(query.groupBy, templateSrv, scopedVars),
    lookup: interpolateString(query.lookup, templateSrv, scopedVars),
    legendFormat: interpolateString(query.legendFormat, templateSrv, scopedVars),
    expr: query.expr === undefined ? undefined : interpolateExpr(query.expr, templateSrv, scopedVars),
    filters: interpolateFilters(query.filters, templateSrv, scopedVars),
    stats: interpolateList(query.stats, templateSrv, scopedVars) as Stat[] | undefined,
    measures: interpolateList(query.measures, templateSrv, scopedVars) as Measure[] | undefined,
    outcomes: interpolateList(query.outcomes, templateSrv, scopedVars) as HostOutcome[] | undefined,
    hostSummaries: interpolateString(query.hostSummaries, templateSrv, scopedVars) as HostSummaries | undefined,
  };
  // Keep the JSON lean: no keys that were not there.
  for (const key of Object.keys(out) as Array<keyof AwxQuery>) {
    if (out[key] === undefined) {
      delete out[key];
    }
  }
  return out;
}

/** `$name` for every dashboard variable, for the editor's pickers. */
export function variableOptions(templateSrv: TemplateSrv): Array<{ label: string; value: string; description: string }> {
  return templateSrv.getVariables().map((v) => ({
    label: `$${v.name}`,
    value: `$${v.name}`,
    description: 'Template variable',
  }));
}
