import { ConcreteSource, FilterKey, HostSummaries, QueryType, Source } from './types';

/** Which controls of the query editor a query type uses. */
export interface QueryTypeInfo {
  label: string;
  /** one line, shown under the picker */
  description: string;
  /** the sources that can answer it, per the contract's table (Prometheus for the job KPIs: awx-kpi export's metrics) */
  sources: ConcreteSource[];
  /** filters that narrow it */
  filters: FilterKey[];
  groupBy?: boolean;
  stats?: boolean;
  /** capacity's measures (capacity, consumed, remaining, used) */
  measures?: boolean;
  limit?: boolean;
  includeSyncs?: boolean;
  /** groupBy also offers `host` (the host query types) */
  groupByHost?: boolean;
  /** which jobs' host results to read, and the default when the query says nothing */
  hostSummaries?: { choices: HostSummaries[]; default: HostSummaries };
  /** host_failures' outcomes (failed, unreachable) */
  outcomes?: boolean;
  /** a time series (wide frame) rather than a table */
  timeSeries?: boolean;
}

const JOB_FILTERS: FilterKey[] = [
  'organization',
  'template',
  'inventory',
  'project',
  'status',
  'jobType',
  'launchType',
  'instanceGroup',
  'executionNode',
  'launchedBy',
  'name',
];
/** For KPIs split by status already, a status filter would only hide series. */
const JOB_FILTERS_NO_STATUS = JOB_FILTERS.filter((k) => k !== 'status');
const INSTANCE_FILTERS: FilterKey[] = ['instanceGroup', 'executionNode'];
/** The host query types pick jobs like the job KPIs, then hosts. */
const HOST_FILTERS: FilterKey[] = [...JOB_FILTERS, 'host'];

export const QUERY_TYPE_INFO: Record<QueryType, QueryTypeInfo> = {
  job_status_counts: {
    label: 'Job status counts',
    description: 'Jobs per status: active ones now, finished ones within the time range.',
    sources: ['api', 'prometheus'],
    filters: JOB_FILTERS_NO_STATUS,
    includeSyncs: true,
  },
  job_throughput: {
    label: 'Job throughput',
    description: 'Jobs finished per interval, split by final status or by the chosen group.',
    sources: ['api', 'prometheus'],
    filters: JOB_FILTERS,
    groupBy: true,
    includeSyncs: true,
    timeSeries: true,
  },
  failure_rate: {
    label: 'Failure rate',
    description: 'Share of finished jobs that failed or errored per interval, in percent (canceled jobs excluded).',
    sources: ['api', 'prometheus'],
    filters: JOB_FILTERS_NO_STATUS,
    groupBy: true,
    includeSyncs: true,
    timeSeries: true,
  },
  job_duration: {
    label: 'Job duration',
    description: 'Statistics of the run time of the jobs that finished in each interval.',
    sources: ['api', 'prometheus'],
    filters: JOB_FILTERS,
    groupBy: true,
    stats: true,
    includeSyncs: true,
    timeSeries: true,
  },
  queue_wait: {
    label: 'Queue wait',
    description: 'Statistics of the time from creation to start of the jobs that started in each interval.',
    sources: ['api', 'prometheus'],
    filters: JOB_FILTERS,
    groupBy: true,
    stats: true,
    includeSyncs: true,
    timeSeries: true,
  },
  active_jobs: {
    label: 'Active jobs',
    description: 'How many jobs were pending, waiting and running at each step.',
    sources: ['api', 'prometheus'],
    filters: JOB_FILTERS_NO_STATUS,
    includeSyncs: true,
    timeSeries: true,
  },
  capacity: {
    label: 'Capacity',
    description: 'Capacity per instance and in total: capacity, consumed, remaining, used %.',
    sources: ['api', 'prometheus'],
    filters: INSTANCE_FILTERS,
    measures: true,
  },
  instances: {
    label: 'Instances',
    description: 'Health of every instance: state, capacity, running jobs, CPU, memory, last health check.',
    sources: ['api'],
    filters: INSTANCE_FILTERS,
  },
  templates: {
    label: 'Templates',
    description: 'One row per template over the range: runs, failures, durations, queue wait, last run.',
    sources: ['api'],
    filters: JOB_FILTERS,
    limit: true,
    includeSyncs: true,
  },
  jobs: {
    label: 'Jobs',
    description: 'The jobs active in the time range, newest first, with links to AWX.',
    sources: ['api'],
    filters: JOB_FILTERS,
    limit: true,
    includeSyncs: true,
    hostSummaries: { choices: ['none', 'failed', 'all'], default: 'none' },
  },
  system: {
    label: 'System',
    description: 'The AWX installation at a glance: version, instances, counts, license.',
    sources: ['api', 'prometheus'],
    filters: [],
  },
  promql: {
    label: 'PromQL',
    description: 'Any PromQL against the configured Prometheus; $__interval, $__rate_interval, $__range expanded.',
    sources: ['prometheus'],
    filters: [],
    timeSeries: true,
  },
  annotations: {
    label: 'Annotations',
    description: 'Jobs as annotations (from start to finish); failed and errored jobs by default.',
    sources: ['api'],
    filters: JOB_FILTERS,
    limit: true,
    includeSyncs: true,
  },
  lookup: {
    label: 'Lookup',
    description: 'Names and ids of AWX objects, for template variables.',
    sources: ['api'],
    filters: ['organization', 'name'],
  },
  host_outcomes: {
    label: 'Host outcomes',
    description:
      'One row per host over the range, worst first: runs failed and unreachable, last failure, state in AWX.',
    sources: ['api'],
    filters: HOST_FILTERS,
    groupBy: true,
    groupByHost: true,
    limit: true,
    hostSummaries: { choices: ['failed', 'all'], default: 'failed' },
  },
  host_failures: {
    label: 'Host failures',
    description: 'Hosts failed and hosts unreachable per interval, per host, template or inventory; alertable.',
    sources: ['api'],
    filters: HOST_FILTERS,
    groupBy: true,
    groupByHost: true,
    outcomes: true,
    timeSeries: true,
  },
};

/** The choices the source picker offers for a query type: `auto` only where there is a choice to make. */
export function sourceChoices(queryType: QueryType): Source[] {
  const sources = QUERY_TYPE_INFO[queryType].sources;
  return sources.length > 1 ? ['auto', ...sources] : [...sources];
}

/** The source a query keeps when its type changes: its own if still valid, else none (the default). */
export function keepSource(queryType: QueryType, source: Source | undefined): Source | undefined {
  if (!source) {
    return undefined;
  }
  return sourceChoices(queryType).includes(source) ? source : undefined;
}

export const SOURCE_LABELS: Record<Source, string> = {
  auto: 'Auto',
  api: 'AWX API',
  prometheus: 'Prometheus',
};

export const FILTER_LABELS: Record<FilterKey, string> = {
  organization: 'Organization',
  template: 'Template',
  inventory: 'Inventory',
  project: 'Project',
  status: 'Status',
  jobType: 'Job type',
  launchType: 'Launch type',
  instanceGroup: 'Instance group',
  executionNode: 'Execution node',
  launchedBy: 'Launched by',
  name: 'Name contains',
  host: 'Host',
};
