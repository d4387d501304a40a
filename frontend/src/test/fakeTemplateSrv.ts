import { ScopedVars, TypedVariableModel } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';

type Values = Record<string, string | string[]>;
/** How a variable is set in the dashboard, for the few tests that look at it (e.g. "All"). */
export type VariableStates = Record<string, { current?: { value?: string | string[] }; allValue?: string }>;

/**
 * A TemplateSrv that interpolates like Grafana's: `$x`, `${x}`, `${x:fmt}`, `[[x]]`; scoped variables win;
 * a format function gets the raw value (an array for a multi-value variable); unknown variables stay as typed.
 */
export function fakeTemplateSrv(values: Values, states: VariableStates = {}): TemplateSrv {
  const pattern = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?::([^}]+))?}/g;
  const format = (value: string | string[], fmt: unknown): string => {
    // Grafana passes the raw value (an array for a multi-value variable) to a format function.
    if (typeof fmt === 'function') {
      return fmt(value);
    }
    if (!Array.isArray(value)) {
      return value;
    }
    if (fmt === 'csv') {
      return value.join(',');
    }
    return value.length === 1 ? value[0] : `{${value.join(',')}}`;
  };
  return {
    getVariables: () =>
      Object.keys(values).map((name) => ({ name, type: 'custom', ...states[name] }) as unknown as TypedVariableModel),
    replace: (target?: string, scopedVars?: ScopedVars, fmt?: string | ((value: unknown) => string)) => {
      if (!target) {
        return target ?? '';
      }
      return target.replace(pattern, (match, v1, v2, f2, v3, f3) => {
        const name = v1 ?? v2 ?? v3;
        const scoped = scopedVars?.[name];
        const value = scoped ? (scoped.value as string | string[]) : values[name];
        if (value === undefined) {
          return match;
        }
        return format(value, f2 ?? f3 ?? fmt);
      });
    },
    containsTemplate: (target?: string) => Boolean(target && target.match(pattern)),
    updateTimeRange: () => {},
  };
}
