import { useId } from 'react';
import { Combobox, InlineField, Stack } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { QUERY_TYPE_INFO } from '../queryTypes';
import { AwxQuery, LOOKUP_KINDS, LookupKind } from '../types';
import { FiltersEditor, LABEL_WIDTH } from './FiltersEditor';

export const LOOKUP_LABELS: Record<LookupKind, string> = {
  organization: 'Organizations',
  template: 'Templates',
  inventory: 'Inventories',
  project: 'Projects',
  instanceGroup: 'Instance groups',
  instance: 'Instances',
  executionNode: 'Execution nodes',
  status: 'Job statuses',
  jobType: 'Job types',
  launchType: 'Launch types',
};

const LOOKUP_OPTIONS = LOOKUP_KINDS.map((k) => ({ label: LOOKUP_LABELS[k], value: k }));

interface Props {
  datasource: DataSource;
  query: AwxQuery;
  onChange: (query: AwxQuery, run?: boolean) => void;
}

/** A `lookup` query: which kind of AWX object to list (frame fields `text` and `value`). */
export function LookupQueryEditor({ datasource, query, onChange }: Props) {
  const id = `${useId()}-lookup-kind`;
  return (
    <Stack direction="column" gap={0}>
      <InlineField
        label="List"
        labelWidth={LABEL_WIDTH}
        htmlFor={id}
        tooltip="The kind of AWX object whose names (text) and ids or names (value) to list."
      >
        <Combobox<LookupKind>
          id={id}
          width={28}
          value={query.lookup ?? 'template'}
          options={LOOKUP_OPTIONS}
          onChange={(o) => onChange({ ...query, queryType: 'lookup', lookup: o.value })}
        />
      </InlineField>
      <FiltersEditor
        datasource={datasource}
        allowed={QUERY_TYPE_INFO.lookup.filters}
        filters={query.filters}
        onChange={(filters, run) => onChange({ ...query, filters }, run)}
      />
    </Stack>
  );
}
