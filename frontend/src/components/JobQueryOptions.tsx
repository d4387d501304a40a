import { useEffect, useId, useState } from 'react';
import { getTemplateSrv } from '@grafana/runtime';
import { Combobox, InlineField, InlineSwitch, Input, MultiCombobox, RadioButtonGroup, Stack } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { QueryTypeInfo } from '../queryTypes';
import {
  AwxQuery,
  DEFAULT_LIMIT,
  DEFAULT_STATS,
  GROUP_BY,
  GroupBy,
  HOST_OUTCOMES,
  HostOutcome,
  HostSummaries,
  JOB_GROUP_BY,
  MAX_LIMIT,
  Measure,
  MEASURES,
  Stat,
  STATS,
} from '../types';
import { variableOptions } from '../variables';
import { FiltersEditor, LABEL_WIDTH } from './FiltersEditor';

const GROUP_BY_LABELS: Record<GroupBy, string> = {
  none: 'None',
  template: 'Template',
  status: 'Status',
  organization: 'Organization',
  inventory: 'Inventory',
  project: 'Project',
  jobType: 'Job type',
  launchType: 'Launch type',
  executionNode: 'Execution node',
  instanceGroup: 'Instance group',
  launchedBy: 'Launched by',
  host: 'Host',
};

const HOST_SUMMARY_LABELS: Record<HostSummaries, { label: string; description: string }> = {
  failed: {
    label: 'Failed hosts',
    description: 'The failed and unreachable hosts of failed and errored jobs: one small request per such job.',
  },
  all: {
    label: 'All hosts',
    description: 'Every host of every playbook run, for ok and changed: one request per job (more on big inventories).',
  },
  none: { label: 'None', description: 'No host results: no host columns, no extra requests.' },
};

const OUTCOME_LABELS: Record<HostOutcome, string> = {
  failed: 'Failed',
  unreachable: 'Unreachable',
};

const STAT_LABELS: Record<Stat, string> = {
  mean: 'Mean',
  min: 'Min',
  max: 'Max',
  p50: 'p50 (median)',
  p90: 'p90',
  p95: 'p95',
  p99: 'p99',
  count: 'Count',
};

const MEASURE_LABELS: Record<Measure, string> = {
  capacity: 'Capacity',
  consumed: 'Consumed',
  remaining: 'Remaining',
  used: 'Used %',
};

interface Props {
  datasource: DataSource;
  info: QueryTypeInfo;
  query: AwxQuery;
  onChange: (query: AwxQuery, run?: boolean) => void;
}

/**
 * The options of the job-based KPIs and tables: filters, group by, statistics, capacity's measures, host results and
 * outcomes, row limit, syncs.
 */
export function JobQueryOptions({ datasource, info, query, onChange }: Props) {
  const vars = variableOptions(getTemplateSrv());
  const id = useId();
  return (
    <Stack direction="column" gap={0}>
      <FiltersEditor
        datasource={datasource}
        allowed={info.filters}
        filters={query.filters}
        onChange={(filters, run) => onChange({ ...query, filters }, run)}
      />
      <Stack direction="row" gap={1} wrap="wrap">
        {info.groupBy && (
          <InlineField
            label="Group by"
            labelWidth={LABEL_WIDTH}
            htmlFor={`${id}-group-by`}
            tooltip="One series per value of this attribute (labels on the fields)."
          >
            <Combobox<string>
              id={`${id}-group-by`}
              width={24}
              value={query.groupBy ?? 'none'}
              options={[
                ...(info.groupByHost ? GROUP_BY : JOB_GROUP_BY).map((g) => ({ label: GROUP_BY_LABELS[g], value: g })),
                ...vars,
              ]}
              onChange={(o) => onChange({ ...query, groupBy: o.value as GroupBy })}
            />
          </InlineField>
        )}
        {info.stats && (
          <InlineField
            label="Statistics"
            labelWidth={info.groupBy ? undefined : LABEL_WIDTH}
            htmlFor={`${id}-stats`}
            tooltip="One field per statistic, in seconds. Default: mean and p95."
          >
            <MultiCombobox<string>
              id={`${id}-stats`}
              width="auto"
              minWidth={36}
              value={query.stats ?? DEFAULT_STATS}
              options={[...STATS.map((s) => ({ label: STAT_LABELS[s], value: s })), ...vars]}
              onChange={(selected) => onChange({ ...query, stats: selected.map((o) => o.value as Stat) })}
            />
          </InlineField>
        )}
        {info.measures && (
          <InlineField
            label="Measures"
            labelWidth={LABEL_WIDTH}
            htmlFor={`${id}-measures`}
            tooltip="Which fields per instance and in total: capacity, consumed, remaining (AWX's capacity units) and used (percent). Default: all four."
          >
            <MultiCombobox<string>
              id={`${id}-measures`}
              width="auto"
              minWidth={36}
              value={query.measures ?? [...MEASURES]}
              options={[...MEASURES.map((m) => ({ label: MEASURE_LABELS[m], value: m })), ...vars]}
              onChange={(selected) => onChange({ ...query, measures: selected.map((o) => o.value as Measure) })}
            />
          </InlineField>
        )}
        {info.outcomes && (
          <InlineField
            label="Outcomes"
            htmlFor={`${id}-outcomes`}
            tooltip="Which fields per group: hosts failed, hosts unreachable. Default: both. An alert rule on unreachable hosts keeps unreachable alone."
          >
            <MultiCombobox<string>
              id={`${id}-outcomes`}
              width="auto"
              minWidth={30}
              value={query.outcomes ?? [...HOST_OUTCOMES]}
              options={[...HOST_OUTCOMES.map((o) => ({ label: OUTCOME_LABELS[o], value: o })), ...vars]}
              onChange={(selected) => onChange({ ...query, outcomes: selected.map((o) => o.value as HostOutcome) })}
            />
          </InlineField>
        )}
      </Stack>
      {info.hostSummaries && (
        <InlineField
          label="Host results"
          labelWidth={LABEL_WIDTH}
          tooltip="AWX keeps each job's host results apart: which jobs to read them for. The data source keeps what it read, so a refresh reads only the jobs that ended since."
        >
          <RadioButtonGroup<HostSummaries>
            aria-label="Host results"
            options={info.hostSummaries.choices.map((h) => ({ value: h, ...HOST_SUMMARY_LABELS[h] }))}
            value={query.hostSummaries ?? info.hostSummaries.default}
            onChange={(h) => onChange({ ...query, hostSummaries: h })}
          />
        </InlineField>
      )}
      <Stack direction="row" gap={1} wrap="wrap">
        {info.limit && <LimitField query={query} onChange={onChange} />}
        {info.includeSyncs && (
          <InlineField
            label="Include syncs"
            labelWidth={info.limit ? undefined : LABEL_WIDTH}
            htmlFor={`${id}-include-syncs`}
            tooltip="Count the implicit project updates that run before jobs (launch type sync). AWX's own metrics leave them out."
          >
            <InlineSwitch
              id={`${id}-include-syncs`}
              value={Boolean(query.includeSyncs)}
              onChange={(e) => onChange({ ...query, includeSyncs: e.currentTarget.checked })}
            />
          </InlineField>
        )}
      </Stack>
    </Stack>
  );
}

/** Rows of a table; commits on blur or Enter so that typing does not run a query per keystroke. */
function LimitField({ query, onChange }: Pick<Props, 'query' | 'onChange'>) {
  const id = `${useId()}-limit`;
  const [text, setText] = useState(query.limit === undefined ? '' : String(query.limit));
  useEffect(() => setText(query.limit === undefined ? '' : String(query.limit)), [query.limit]);

  const commit = () => {
    const trimmed = text.trim();
    let limit: number | undefined;
    if (trimmed !== '') {
      const n = Math.floor(Number(trimmed));
      limit = Number.isFinite(n) && n > 0 ? Math.min(n, MAX_LIMIT) : undefined;
    }
    setText(limit === undefined ? '' : String(limit));
    if (limit !== query.limit) {
      const next = { ...query, limit };
      if (limit === undefined) {
        delete next.limit;
      }
      onChange(next);
    }
  };

  return (
    <InlineField
      label="Limit"
      labelWidth={LABEL_WIDTH}
      htmlFor={id}
      tooltip={`Most rows to return (the newest jobs, or the worst hosts, first). Default ${DEFAULT_LIMIT}, at most ${MAX_LIMIT}.`}
    >
      <Input
        id={id}
        type="number"
        min={1}
        max={MAX_LIMIT}
        width={12}
        placeholder={String(DEFAULT_LIMIT)}
        value={text}
        onChange={(e) => setText(e.currentTarget.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            commit();
          }
        }}
      />
    </InlineField>
  );
}
