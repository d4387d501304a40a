import { useEffect, useId } from 'react';
import { QueryEditorProps } from '@grafana/data';
import { Combobox, InlineField, RadioButtonGroup, Stack, Text } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { keepSource, QUERY_TYPE_INFO, SOURCE_LABELS, sourceChoices } from '../queryTypes';
import { AwxOptions, AwxQuery, QUERY_TYPES, QueryType, Source } from '../types';
import { JobQueryOptions } from './JobQueryOptions';
import { LABEL_WIDTH } from './FiltersEditor';
import { LookupQueryEditor } from './LookupQueryEditor';
import { PromqlEditor } from './PromqlEditor';

export type Props = QueryEditorProps<DataSource, AwxQuery, AwxOptions>;

const TYPE_OPTIONS = QUERY_TYPES.map((t) => ({
  label: QUERY_TYPE_INFO[t].label,
  value: t,
  description: QUERY_TYPE_INFO[t].description,
}));

export const FALLBACK_QUERY_TYPE: QueryType = 'job_throughput';

/** The query editor: a query type, the source, then the controls of that type's family. */
export function QueryEditor(props: Props) {
  const { query, onChange, onRunQuery, datasource } = props;
  const queryType: QueryType = query.queryType && QUERY_TYPE_INFO[query.queryType] ? query.queryType : FALLBACK_QUERY_TYPE;
  const info = QUERY_TYPE_INFO[queryType];
  const typeId = `${useId()}-query-type`;

  // A query saved without a type (or with one this version does not know) gets the one the editor shows.
  const typeMissing = query.queryType !== queryType;
  useEffect(() => {
    if (typeMissing) {
      onChange({ ...query, queryType });
    }
  }, [typeMissing, query, queryType, onChange]);

  /** Apply a change; run the query unless it cannot change the result. */
  const change = (next: AwxQuery, run = true) => {
    onChange(next);
    if (run) {
      onRunQuery();
    }
  };

  const onTypeChange = (next: QueryType) => {
    if (next === query.queryType) {
      return;
    }
    const updated: AwxQuery = { ...query, queryType: next, source: keepSource(next, query.source) };
    if (updated.source === undefined) {
      delete updated.source;
    }
    if (next === 'lookup' && !updated.lookup) {
      updated.lookup = 'template';
    }
    change(updated);
  };

  const choices = sourceChoices(queryType);
  const source: Source = query.source && choices.includes(query.source) ? query.source : choices[0];
  const defaultSource = datasource.defaultSource ?? 'auto';
  const sourceOptions = choices.map((s) => ({
    label: SOURCE_LABELS[s],
    value: s,
    description:
      s === 'auto'
        ? `The data source's default (${SOURCE_LABELS[defaultSource]}); Prometheus when configured`
        : s === 'prometheus' && !datasource.hasPrometheus
          ? 'No Prometheus URL is configured for this data source'
          : undefined,
  }));

  return (
    <Stack direction="column" gap={0.5}>
      <Stack direction="row" gap={1} alignItems="center" wrap="wrap">
        <InlineField label="Query type" labelWidth={LABEL_WIDTH} htmlFor={typeId} tooltip="What to ask AWX">
          <Combobox<QueryType>
            id={typeId}
            width={28}
            value={queryType}
            options={TYPE_OPTIONS}
            onChange={(o) => onTypeChange(o.value)}
          />
        </InlineField>
        <InlineField
          label="Source"
          tooltip="Where the numbers come from. Only the sources that can answer this query type are offered."
        >
          <RadioButtonGroup<Source>
            aria-label="Source"
            options={sourceOptions}
            value={source}
            onChange={(s) => change({ ...query, source: s })}
          />
        </InlineField>
      </Stack>
      <Text color="secondary" variant="bodySmall" data-testid="awx-query-type-description">
        {info.description}
      </Text>
      {queryType === 'promql' ? (
        <PromqlEditor query={query} onChange={change} />
      ) : queryType === 'lookup' ? (
        <LookupQueryEditor datasource={datasource} query={query} onChange={change} />
      ) : (
        <JobQueryOptions datasource={datasource} info={info} query={query} onChange={change} />
      )}
    </Stack>
  );
}
