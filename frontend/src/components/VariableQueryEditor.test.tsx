import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setTemplateSrv } from '@grafana/runtime';

import type { DataSource } from '../datasource';
import { fakeTemplateSrv } from '../test/fakeTemplateSrv';
import { VariableQueryEditor } from './VariableQueryEditor';

setTemplateSrv(fakeTemplateSrv({}));

const datasource = { lookup: jest.fn(async () => []) } as unknown as DataSource;

describe('VariableQueryEditor', () => {
  it('turns a new variable query into a template lookup', () => {
    const onChange = jest.fn();
    render(<VariableQueryEditor datasource={datasource} query={{ refId: 'A' }} onChange={onChange} onRunQuery={jest.fn()} />);
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'lookup', lookup: 'template' });
  });

  it('offers every lookup kind', async () => {
    const onChange = jest.fn();
    render(
      <VariableQueryEditor
        datasource={datasource}
        query={{ refId: 'A', queryType: 'lookup', lookup: 'template' }}
        onChange={onChange}
        onRunQuery={jest.fn()}
      />
    );
    expect(onChange).not.toHaveBeenCalled();
    await userEvent.click(screen.getByRole('combobox', { name: 'List' }));
    const options = await screen.findAllByRole('option');
    expect(options.map((o) => o.textContent)).toEqual([
      'Organizations',
      'Templates',
      'Inventories',
      'Projects',
      'Instance groups',
      'Instances',
      'Execution nodes',
      'Job statuses',
      'Job types',
      'Launch types',
    ]);
    await userEvent.click(screen.getByRole('option', { name: 'Execution nodes' }));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'lookup', lookup: 'executionNode' });
  });
});
