import { useEffect, useId, useState } from 'react';
import { InlineField, InlineSwitch, Input, Stack, TextArea } from '@grafana/ui';

import { AwxQuery } from '../types';
import { LABEL_WIDTH } from './FiltersEditor';

interface Props {
  query: AwxQuery;
  onChange: (query: AwxQuery, run?: boolean) => void;
}

/** PromQL against the Prometheus that scrapes AWX. Text fields commit on blur (and the query on Shift+Enter). */
export function PromqlEditor({ query, onChange }: Props) {
  const id = useId();
  const [expr, setExpr] = useState(query.expr ?? '');
  const [legend, setLegend] = useState(query.legendFormat ?? '');
  useEffect(() => setExpr(query.expr ?? ''), [query.expr]);
  useEffect(() => setLegend(query.legendFormat ?? ''), [query.legendFormat]);

  const commitExpr = () => {
    if (expr !== (query.expr ?? '')) {
      onChange({ ...query, expr });
    }
  };
  const commitLegend = () => {
    if (legend !== (query.legendFormat ?? '')) {
      onChange({ ...query, legendFormat: legend });
    }
  };

  return (
    <Stack direction="column" gap={0}>
      <InlineField
        label="Expression"
        labelWidth={LABEL_WIDTH}
        htmlFor={`${id}-expr`}
        grow
        tooltip="PromQL. The data source's Prometheus selector is NOT added here: write your own matchers. $__interval, $__rate_interval and $__range are expanded; a multi-value variable becomes (a|b), for =~."
      >
        <TextArea
          id={`${id}-expr`}
          rows={3}
          value={expr}
          placeholder={'sum by (status) (awx_status_total{job="awx"})'}
          style={{ fontFamily: 'monospace' }}
          onChange={(e) => setExpr(e.currentTarget.value)}
          onBlur={commitExpr}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && e.shiftKey) {
              e.preventDefault();
              commitExpr();
            }
          }}
        />
      </InlineField>
      <Stack direction="row" gap={1} wrap="wrap">
        <InlineField
          label="Legend"
          labelWidth={LABEL_WIDTH}
          htmlFor={`${id}-legend`}
          tooltip="Series names from labels, e.g. {{hostname}}. Empty: the label set."
        >
          <Input
            id={`${id}-legend`}
            width={32}
            value={legend}
            placeholder="{{hostname}}"
            onChange={(e) => setLegend(e.currentTarget.value)}
            onBlur={commitLegend}
          />
        </InlineField>
        <InlineField label="Instant" htmlFor={`${id}-instant`} tooltip="One value per series at the end of the range.">
          <InlineSwitch
            id={`${id}-instant`}
            value={Boolean(query.instant)}
            onChange={(e) => onChange({ ...query, instant: e.currentTarget.checked })}
          />
        </InlineField>
      </Stack>
    </Stack>
  );
}
