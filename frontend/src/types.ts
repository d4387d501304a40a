import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/**
 * Wire names of the AWX data source contract (shared/spec/queries.md).
 * Keep in step with the backend's query model: rename nothing without a written reason.
 */

export const QUERY_TYPES = [
  'job_status_counts',
  'job_throughput',
  'failure_rate',
  'job_duration',
  'queue_wait',
  'active_jobs',
  'capacity',
  'instances',
  'templates',
  'jobs',
  'system',
  'promql',
  'annotations',
  'lookup',
  'host_outcomes',
  'host_failures',
] as const;
export type QueryType = (typeof QUERY_TYPES)[number];

export const SOURCES = ['auto', 'api', 'prometheus'] as const;
export type Source = (typeof SOURCES)[number];
/** A source that really answers a query (what `auto` resolves to). */
export type ConcreteSource = Exclude<Source, 'auto'>;

export const FILTER_KEYS = [
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
  'host',
] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];
export type Filters = Partial<Record<FilterKey, string[]>>;

export const GROUP_BY = [
  'none',
  'template',
  'status',
  'organization',
  'inventory',
  'project',
  'jobType',
  'launchType',
  'executionNode',
  'instanceGroup',
  'launchedBy',
  'host',
] as const;
export type GroupBy = (typeof GROUP_BY)[number];
/** `host` groups the host query types only. */
export const JOB_GROUP_BY: GroupBy[] = GROUP_BY.filter((g) => g !== 'host');

export const STATS = ['mean', 'min', 'max', 'p50', 'p90', 'p95', 'p99', 'count'] as const;
export type Stat = (typeof STATS)[number];
export const DEFAULT_STATS: Stat[] = ['mean', 'p95'];

/** capacity's fields; a query without `measures` gets all four. */
export const MEASURES = ['capacity', 'consumed', 'remaining', 'used'] as const;
export type Measure = (typeof MEASURES)[number];

/**
 * Whose host results (job host summaries) to read: the failed and unreachable hosts of failed jobs, every host
 * of every playbook run (a request per job), or none. Defaults: `failed` for the host query types, `none` for jobs.
 */
export const HOST_SUMMARIES = ['failed', 'all', 'none'] as const;
export type HostSummaries = (typeof HOST_SUMMARIES)[number];

/** host_failures' fields; a query without `outcomes` gets both. */
export const HOST_OUTCOMES = ['failed', 'unreachable'] as const;
export type HostOutcome = (typeof HOST_OUTCOMES)[number];

export const LOOKUP_KINDS = [
  'organization',
  'template',
  'inventory',
  'project',
  'instanceGroup',
  'instance',
  'executionNode',
  'status',
  'jobType',
  'launchType',
] as const;
export type LookupKind = (typeof LOOKUP_KINDS)[number];

export const JOB_STATUSES = ['new', 'pending', 'waiting', 'running', 'successful', 'failed', 'error', 'canceled'];
export const JOB_TYPES = ['job', 'workflow_job', 'project_update', 'inventory_update', 'system_job', 'ad_hoc_command'];
export const LAUNCH_TYPES = [
  'manual',
  'relaunch',
  'callback',
  'scheduled',
  'dependency',
  'workflow',
  'webhook',
  'sync',
  'scm',
];

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10000;

export interface AwxQuery extends DataQuery {
  queryType?: QueryType;
  source?: Source;
  filters?: Filters;
  groupBy?: GroupBy;
  stats?: Stat[];
  /** capacity only: which of its measures to answer */
  measures?: Measure[];
  limit?: number;
  includeSyncs?: boolean;
  /** host_outcomes, host_failures and jobs: whose host results to read */
  hostSummaries?: HostSummaries;
  /** host_failures only: which outcomes to answer */
  outcomes?: HostOutcome[];
  /** promql only */
  expr?: string;
  legendFormat?: string;
  instant?: boolean;
  /** lookup only: which values to list */
  lookup?: LookupKind;
}

export type AuthType = 'token' | 'basic';
export type PrometheusAuthType = 'none' | 'basic' | 'bearer';

/** jsonData. The AWX base URL is the data source's own `url` field. */
export interface AwxOptions extends DataSourceJsonData {
  apiPath?: string;
  authType?: AuthType;
  username?: string;
  uiUrl?: string;
  tlsSkipVerify?: boolean;
  timeoutSeconds?: number;
  maxConcurrency?: number;
  prometheusUrl?: string;
  prometheusAuthType?: PrometheusAuthType;
  prometheusUsername?: string;
  prometheusSelector?: string;
  defaultSource?: Source;
  /** MiB for the job-record cache; 0 turns it off. The key's spelling is the backend's. */
  jobCacheMB?: number;
}

/** secureJsonData: write-only from the browser; Grafana only tells which are set (secureJsonFields). */
export interface AwxSecureJsonData {
  token?: string;
  password?: string;
  prometheusPassword?: string;
  prometheusToken?: string;
  tlsCaCert?: string;
}

export const DEFAULT_API_PATH = '/api/v2/';
// Defaults and limits of the numeric settings, as backend/src/settings.rs enforces them.
export const DEFAULT_TIMEOUT_SECONDS = 30;
export const MAX_TIMEOUT_SECONDS = 600;
export const DEFAULT_MAX_CONCURRENCY = 4;
export const MAX_CONCURRENCY = 32;
export const DEFAULT_JOB_CACHE_MB = 256;
export const MAX_JOB_CACHE_MB = 16384;

/** One entry of `GET lookup/<kind>` and of a lookup query's frame. */
export interface LookupItem {
  text: string;
  value: string;
}
