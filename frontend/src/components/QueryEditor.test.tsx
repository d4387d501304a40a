import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setTemplateSrv } from '@grafana/runtime';

import type { DataSource } from '../datasource';
import { fakeTemplateSrv } from '../test/fakeTemplateSrv';
import { AwxQuery, LookupKind } from '../types';
import { QueryEditor } from './QueryEditor';

setTemplateSrv(fakeTemplateSrv({ org: ['Default', 'Ops'] }));

const LOOKUPS: Partial<Record<LookupKind, Array<{ text: string; value: string }>>> = {
  organization: [
    { text: 'Default', value: '1' },
    { text: 'Ops', value: '2' },
  ],
  template: [{ text: 'Deploy web', value: '7' }],
};

function fakeDatasource(overrides: Partial<DataSource> = {}): DataSource {
  return {
    defaultSource: 'auto',
    hasPrometheus: true,
    lookup: jest.fn(async (kind: LookupKind) => LOOKUPS[kind] ?? []),
    ...overrides,
  } as unknown as DataSource;
}

function setup(query: Partial<AwxQuery>, ds = fakeDatasource()) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  const full: AwxQuery = { refId: 'A', ...query };
  const utils = render(<QueryEditor datasource={ds} query={full} onChange={onChange} onRunQuery={onRunQuery} />);
  return { ...utils, onChange, onRunQuery, ds };
}

describe('QueryEditor', () => {
  it('shows the query type with its description', () => {
    setup({ queryType: 'failure_rate' });
    expect(screen.getByRole('combobox', { name: 'Query type' })).toHaveValue('Failure rate');
    expect(screen.getByTestId('awx-query-type-description')).toHaveTextContent(/failed or errored/);
  });

  it('gives a query without a type the default type, without running it', () => {
    const { onChange, onRunQuery } = setup({});
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'job_throughput' });
    expect(onRunQuery).not.toHaveBeenCalled();
  });

  it('changes the query type and runs the query', async () => {
    const { onChange, onRunQuery } = setup({ queryType: 'job_throughput' });
    await userEvent.click(screen.getByRole('combobox', { name: 'Query type' }));
    await userEvent.click(await screen.findByRole('option', { name: /Job duration/ }));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'job_duration' });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('drops a source the new type cannot use', async () => {
    const { onChange } = setup({ queryType: 'capacity', source: 'prometheus' });
    await userEvent.click(screen.getByRole('combobox', { name: 'Query type' }));
    await userEvent.click(await screen.findByRole('option', { name: /Instances/ }));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'instances' });
  });

  it('keeps a source the new type can use', async () => {
    const { onChange } = setup({ queryType: 'capacity', source: 'prometheus' });
    await userEvent.click(screen.getByRole('combobox', { name: 'Query type' }));
    await userEvent.click(await screen.findByRole('option', { name: /Active jobs/ }));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'active_jobs', source: 'prometheus' });
  });

  it.each([
    ['capacity', ['Auto', 'AWX API', 'Prometheus']],
    ['job_status_counts', ['Auto', 'AWX API', 'Prometheus']],
    ['active_jobs', ['Auto', 'AWX API', 'Prometheus']],
    ['system', ['Auto', 'AWX API', 'Prometheus']],
    ['job_throughput', ['Auto', 'AWX API', 'Prometheus']],
    ['queue_wait', ['Auto', 'AWX API', 'Prometheus']],
    ['templates', ['AWX API']],
    ['promql', ['Prometheus']],
  ] as const)('offers only the valid sources for %s', (queryType, expected) => {
    setup({ queryType });
    expect(screen.getAllByRole('radio').map((r) => r.parentElement?.textContent?.trim())).toEqual(expected);
  });

  it('runs the query when the source changes', async () => {
    const { onChange, onRunQuery } = setup({ queryType: 'capacity' });
    await userEvent.click(screen.getByRole('radio', { name: 'Prometheus' }));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'capacity', source: 'prometheus' });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('shows group by and statistics only where they apply', () => {
    const { unmount } = setup({ queryType: 'job_duration' });
    expect(screen.getByRole('combobox', { name: 'Group by' })).toBeInTheDocument();
    expect(screen.getByLabelText('Statistics')).toBeInTheDocument();
    expect(screen.queryByLabelText('Limit')).not.toBeInTheDocument();
    unmount();

    setup({ queryType: 'jobs' });
    expect(screen.queryByRole('combobox', { name: 'Group by' })).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Statistics')).not.toBeInTheDocument();
    expect(screen.getByLabelText('Limit')).toBeInTheDocument();
    expect(screen.getByLabelText('Include syncs')).toBeInTheDocument();
  });

  it('offers the measures for capacity only, all four by default', async () => {
    const { unmount } = setup({ queryType: 'capacity' });
    await userEvent.click(screen.getByRole('combobox', { name: 'Measures' }));
    for (const measure of ['capacity', 'consumed', 'remaining', 'used']) {
      expect(await screen.findByTestId(`combobox-option-${measure}-checkbox`)).toBeChecked();
    }
    expect(screen.getByRole('option', { name: /Used %/ })).toBeInTheDocument();
    unmount();

    setup({ queryType: 'job_duration' });
    expect(screen.queryByRole('combobox', { name: 'Measures' })).not.toBeInTheDocument();
  });

  it('adds a measure to capacity and runs the query', async () => {
    const { onChange, onRunQuery } = setup({ queryType: 'capacity', measures: ['used'] });
    await userEvent.click(screen.getByRole('combobox', { name: 'Measures' }));
    await userEvent.click(await screen.findByRole('option', { name: /Consumed/ }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'capacity', measures: ['used', 'consumed'] });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('offers host outcomes with their host results (failed hosts by default), a host group and a host filter', async () => {
    const { onChange, onRunQuery } = setup({ queryType: 'host_outcomes' });
    expect(screen.getByRole('radio', { name: 'Failed hosts' })).toBeChecked();
    expect(screen.queryByRole('radio', { name: 'None' })).not.toBeInTheDocument();
    expect(screen.getByLabelText('Limit')).toBeInTheDocument();
    expect(screen.queryByRole('combobox', { name: 'Outcomes' })).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole('radio', { name: 'All hosts' }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'host_outcomes', hostSummaries: 'all' });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    await userEvent.click(screen.getByRole('combobox', { name: 'Group by' }));
    await userEvent.click(await screen.findByRole('option', { name: 'Host' }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'host_outcomes', groupBy: 'host' });
    await userEvent.click(screen.getByRole('combobox', { name: 'Add filter' }));
    await userEvent.click(await screen.findByRole('option', { name: /^Host/ }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'host_outcomes', filters: { host: [] } });
  });

  it('offers host failures their outcomes, both by default, and no host results choice', async () => {
    const { onChange } = setup({ queryType: 'host_failures' });
    expect(screen.queryByRole('radio', { name: 'Failed hosts' })).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole('combobox', { name: 'Outcomes' }));
    for (const outcome of ['failed', 'unreachable']) {
      expect(await screen.findByTestId(`combobox-option-${outcome}-checkbox`)).toBeChecked();
    }
    await userEvent.click(screen.getByRole('option', { name: /Failed/ }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'host_failures', outcomes: ['unreachable'] });
  });

  it('offers the jobs table host counts, none by default', async () => {
    const { onChange } = setup({ queryType: 'jobs' });
    expect(screen.getByRole('radio', { name: 'None' })).toBeChecked();
    await userEvent.click(screen.getByRole('radio', { name: 'Failed hosts' }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'jobs', hostSummaries: 'failed' });
  });

  it('groups job KPIs by anything but host', async () => {
    setup({ queryType: 'job_throughput' });
    await userEvent.click(screen.getByRole('combobox', { name: 'Group by' }));
    expect(await screen.findByRole('option', { name: 'Template' })).toBeInTheDocument();
    expect(screen.queryByRole('option', { name: 'Host' })).not.toBeInTheDocument();
  });

  it('shows no job controls for system', () => {
    setup({ queryType: 'system' });
    expect(screen.queryByLabelText('Add filter')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Include syncs')).not.toBeInTheDocument();
  });

  it('adds a filter without running the query', async () => {
    const { onChange, onRunQuery } = setup({ queryType: 'job_throughput' });
    await userEvent.click(screen.getByRole('combobox', { name: 'Add filter' }));
    await userEvent.click(await screen.findByRole('option', { name: /Organization/ }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'job_throughput', filters: { organization: [] } });
    expect(onRunQuery).not.toHaveBeenCalled();
  });

  it('emits the values picked in a filter as a list of ids, and runs the query', async () => {
    const { onChange, onRunQuery, ds } = setup({ queryType: 'job_throughput', filters: { organization: [] } });
    await userEvent.click(screen.getByRole('combobox', { name: 'Organization' }));
    await userEvent.click(await screen.findByRole('option', { name: /Ops/ }));
    expect(ds.lookup).toHaveBeenCalledWith('organization', undefined);
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'job_throughput', filters: { organization: ['2'] } });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('offers template variables in the filter pickers', async () => {
    const { onChange } = setup({ queryType: 'jobs', filters: { organization: ['1'] } });
    await userEvent.click(screen.getByRole('combobox', { name: 'Organization' }));
    await userEvent.click(await screen.findByRole('option', { name: /\$org/ }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'jobs', filters: { organization: ['1', '$org'] } });
  });

  it('removes a filter', async () => {
    const { onChange, onRunQuery } = setup({ queryType: 'jobs', filters: { status: ['failed'] } });
    await userEvent.click(screen.getByRole('button', { name: /Remove the Status filter/ }));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'jobs', filters: {} });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('commits the limit on blur, capped at 10000', async () => {
    const { onChange, onRunQuery } = setup({ queryType: 'jobs' });
    await userEvent.type(screen.getByLabelText('Limit'), '20000');
    expect(onChange).not.toHaveBeenCalled();
    await userEvent.tab();
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'jobs', limit: 10000 });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('toggles includeSyncs', async () => {
    const { onChange } = setup({ queryType: 'failure_rate' });
    await userEvent.click(screen.getByLabelText('Include syncs'));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'failure_rate', includeSyncs: true });
  });

  it('edits PromQL: expression on blur, legend and instant', async () => {
    const { onChange } = setup({ queryType: 'promql' });
    expect(screen.queryByLabelText('Add filter')).not.toBeInTheDocument();
    await userEvent.type(screen.getByLabelText('Expression'), 'up');
    await userEvent.tab();
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'promql', expr: 'up' });
    await userEvent.click(screen.getByLabelText('Instant'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'promql', instant: true });
  });

  it('picks the kind of a lookup query', async () => {
    const { onChange } = setup({ queryType: 'lookup', lookup: 'template' });
    await userEvent.click(screen.getByRole('combobox', { name: 'List' }));
    await userEvent.click(await screen.findByRole('option', { name: /Inventories/ }));
    await waitFor(() =>
      expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'lookup', lookup: 'inventory' })
    );
  });
});
