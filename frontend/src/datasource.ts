import { CoreApp, DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv, TemplateSrv } from '@grafana/runtime';

import { AwxQuery, AwxOptions, JOB_STATUSES, JOB_TYPES, LAUNCH_TYPES, LookupItem, LookupKind } from './types';
import { interpolateQuery } from './variables';
import { AwxVariableSupport } from './variableSupport';

/** Kinds whose values are fixed by AWX: the editor still offers them when the backend cannot answer. */
const STATIC_LOOKUPS: Partial<Record<LookupKind, string[]>> = {
  status: JOB_STATUSES,
  jobType: JOB_TYPES,
  launchType: LAUNCH_TYPES,
};

/** How long the editor reuses a look-up answer. */
const LOOKUP_CACHE_MS = 60_000;

export const DEFAULT_QUERY: Partial<AwxQuery> = { queryType: 'job_throughput' };
export const DEFAULT_ANNOTATION_QUERY: Partial<AwxQuery> = {
  queryType: 'annotations',
  filters: { status: ['failed', 'error'] },
};

export class DataSource extends DataSourceWithBackend<AwxQuery, AwxOptions> {
  readonly defaultSource: AwxOptions['defaultSource'];
  readonly hasPrometheus: boolean;
  private lookupCache = new Map<string, { at: number; items: Promise<LookupItem[]> }>();

  constructor(
    instanceSettings: DataSourceInstanceSettings<AwxOptions>,
    private readonly templateSrv: TemplateSrv = getTemplateSrv()
  ) {
    super(instanceSettings);
    this.defaultSource = instanceSettings.jsonData?.defaultSource ?? 'auto';
    this.hasPrometheus = Boolean(instanceSettings.jsonData?.prometheusUrl);
    // Grafana reuses the query editor for annotations when none is given here.
    this.annotations = {
      getDefaultQuery: () => DEFAULT_ANNOTATION_QUERY,
    };
    this.variables = new AwxVariableSupport(this);
  }

  getDefaultQuery(_app: CoreApp): Partial<AwxQuery> {
    return DEFAULT_QUERY;
  }

  filterQuery(query: AwxQuery): boolean {
    return !query.hide;
  }

  applyTemplateVariables(query: AwxQuery, scopedVars: ScopedVars): AwxQuery {
    return interpolateQuery(query, this.templateSrv, scopedVars);
  }

  /** The values of one kind of AWX object, for the editor's drop-downs (CallResource `lookup/<kind>`). */
  lookup(kind: LookupKind, q?: string): Promise<LookupItem[]> {
    const key = `${kind}\u0000${q ?? ''}`;
    const cached = this.lookupCache.get(key);
    if (cached && Date.now() - cached.at < LOOKUP_CACHE_MS) {
      return cached.items;
    }
    const items = this.fetchLookup(kind, q);
    this.lookupCache.set(key, { at: Date.now(), items });
    items.catch(() => this.lookupCache.delete(key));
    return items;
  }

  private async fetchLookup(kind: LookupKind, q?: string): Promise<LookupItem[]> {
    try {
      const params = q ? { q } : undefined;
      const items: unknown = await this.getResource(`lookup/${kind}`, params);
      if (!Array.isArray(items)) {
        throw new Error(`lookup/${kind}: unexpected answer`);
      }
      return items
        .filter((i): i is LookupItem => i != null && typeof i === 'object' && 'value' in i)
        .map((i) => ({ text: String(i.text ?? i.value), value: String(i.value) }));
    } catch (err) {
      const fixed = STATIC_LOOKUPS[kind];
      if (fixed) {
        return fixed.filter((v) => !q || v.includes(q)).map((v) => ({ text: v, value: v }));
      }
      throw err;
    }
  }
}
