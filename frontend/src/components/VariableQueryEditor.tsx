import { useEffect } from 'react';
import { QueryEditorProps } from '@grafana/data';

import type { DataSource } from '../datasource';
import { AwxOptions, AwxQuery } from '../types';
import { LookupQueryEditor } from './LookupQueryEditor';

export type VariableQueryEditorProps = QueryEditorProps<DataSource, AwxQuery, AwxOptions, AwxQuery>;

/** Editor of a query variable: always a `lookup` query. Grafana refreshes the variable on change. */
export function VariableQueryEditor({ datasource, query, onChange }: VariableQueryEditorProps) {
  const isLookup = query.queryType === 'lookup' && Boolean(query.lookup);
  useEffect(() => {
    if (!isLookup) {
      onChange({ ...query, queryType: 'lookup', lookup: query.lookup ?? 'template' });
    }
  }, [isLookup, query, onChange]);

  return (
    <LookupQueryEditor
      datasource={datasource}
      query={{ ...query, queryType: 'lookup', lookup: query.lookup ?? 'template' }}
      onChange={(next) => onChange(next)}
    />
  );
}
