import { DataSourceInstanceSettings, PluginType } from '@grafana/data';
import { setTemplateSrv } from '@grafana/runtime';

import { DataSource, DEFAULT_ANNOTATION_QUERY } from './datasource';
import { fakeTemplateSrv } from './test/fakeTemplateSrv';
import { AwxOptions, AwxQuery } from './types';

function settings(jsonData: AwxOptions = {}): DataSourceInstanceSettings<AwxOptions> {
  return {
    id: 1,
    uid: 'awx',
    type: 'seed-awx-datasource',
    name: 'AWX',
    access: 'proxy',
    readOnly: false,
    jsonData,
    meta: {
      id: 'seed-awx-datasource',
      name: 'AWX',
      type: PluginType.datasource,
      module: '',
      baseUrl: '',
      info: {
        author: { name: '' },
        description: '',
        links: [],
        logos: { small: '', large: '' },
        screenshots: [],
        updated: '',
        version: '',
      },
    },
  };
}

const templateSrv = fakeTemplateSrv({
  org: ['Default', 'Ops'],
  tpl: 'Backup',
  one: ['only'],
  node: ['awx-1', 'awx-2'],
  group: 'template',
  kind: 'inventory',
});
setTemplateSrv(templateSrv);

describe('applyTemplateVariables', () => {
  const ds = new DataSource(settings(), templateSrv);

  it('expands a multi-value variable into several filter entries', () => {
    const q: AwxQuery = {
      refId: 'A',
      queryType: 'job_throughput',
      filters: { organization: ['$org'], template: ['Deploy', '${tpl}'], status: ['failed'] },
    };
    expect(ds.applyTemplateVariables(q, {}).filters).toEqual({
      organization: ['Default', 'Ops'],
      template: ['Deploy', 'Backup'],
      status: ['failed'],
    });
  });

  it('drops duplicates and empty entries, keeps unknown variables as typed', () => {
    const q: AwxQuery = { refId: 'A', filters: { organization: ['Ops', '$org', ''], project: ['$unknown'] } };
    expect(ds.applyTemplateVariables(q, {}).filters).toEqual({
      organization: ['Ops', 'Default'],
      project: ['$unknown'],
    });
  });

  it('lets scoped variables (repeated panels) win', () => {
    const q: AwxQuery = { refId: 'A', filters: { executionNode: ['$node'] } };
    const out = ds.applyTemplateVariables(q, { node: { text: 'awx-2', value: 'awx-2' } });
    expect(out.filters).toEqual({ executionNode: ['awx-2'] });
  });

  it('interpolates the string fields and the stats list', () => {
    const q: AwxQuery = {
      refId: 'A',
      queryType: 'job_duration',
      groupBy: '$group' as AwxQuery['groupBy'],
      stats: ['$one', 'p95'] as AwxQuery['stats'],
      limit: 5,
      includeSyncs: true,
    };
    expect(ds.applyTemplateVariables(q, {})).toEqual({
      refId: 'A',
      queryType: 'job_duration',
      groupBy: 'template',
      stats: ['only', 'p95'],
      limit: 5,
      includeSyncs: true,
    });
  });

  it('interpolates the measures list of capacity', () => {
    const q: AwxQuery = { refId: 'A', queryType: 'capacity', measures: ['$one', 'used'] as AwxQuery['measures'] };
    expect(ds.applyTemplateVariables(q, {}).measures).toEqual(['only', 'used']);
  });

  it('interpolates the host options and the host filter', () => {
    const q: AwxQuery = {
      refId: 'A',
      queryType: 'host_failures',
      // A template variable stands where the editor would put an outcome.
      outcomes: ['$one'] as unknown as AwxQuery['outcomes'],
      hostSummaries: 'failed',
      filters: { host: ['$node'] },
    };
    expect(ds.applyTemplateVariables(q, {})).toEqual({
      refId: 'A',
      queryType: 'host_failures',
      outcomes: ['only'],
      hostSummaries: 'failed',
      filters: { host: ['awx-1', 'awx-2'] },
    });
  });

  it('turns a multi-value variable into a regex alternation in PromQL and leaves interval macros to the backend', () => {
    const q: AwxQuery = {
      refId: 'A',
      queryType: 'promql',
      expr: 'sum(rate(awx_x{node=~"$node", org="$one"}[$__rate_interval])) / $__interval',
      legendFormat: '{{hostname}} $tpl',
    };
    const out = ds.applyTemplateVariables(q, { __interval: { text: '1m', value: '1m' } });
    expect(out.expr).toBe('sum(rate(awx_x{node=~"(awx-1|awx-2)", org="only"}[$__rate_interval])) / $__interval');
    expect(out.legendFormat).toBe('{{hostname}} Backup');
  });

  it('interpolates the lookup kind of a variable query', () => {
    const out = ds.applyTemplateVariables({ refId: 'A', queryType: 'lookup', lookup: '$kind' as AwxQuery['lookup'] }, {});
    expect(out.lookup).toBe('inventory');
  });
});

describe('a variable set to All', () => {
  const srv = fakeTemplateSrv(
    { tpl: ['7', '9', '11'], custom: ['*'] },
    { tpl: { current: { value: ['$__all'] } }, custom: { current: { value: '$__all' }, allValue: '*' } }
  );
  const ds = new DataSource(settings(), srv);

  it('becomes an empty filter (all), not the list of every value', () => {
    const out = ds.applyTemplateVariables({ refId: 'A', filters: { template: ['$tpl'], status: ['failed'] } }, {});
    expect(out.filters).toEqual({ template: [], status: ['failed'] });
  });

  it('keeps a custom all value', () => {
    const out = ds.applyTemplateVariables({ refId: 'A', filters: { template: ['${custom}'] } }, {});
    expect(out.filters).toEqual({ template: ['*'] });
  });
});

describe('DataSource', () => {
  it('hides hidden queries', () => {
    const ds = new DataSource(settings(), templateSrv);
    expect(ds.filterQuery({ refId: 'A', hide: true })).toBe(false);
    expect(ds.filterQuery({ refId: 'A' })).toBe(true);
  });

  it('defaults to a query that shows data at once, and to failed jobs for annotations', () => {
    const ds = new DataSource(settings(), templateSrv);
    expect(ds.getDefaultQuery!('panel-editor' as never)).toEqual({ queryType: 'job_throughput' });
    expect(ds.annotations?.getDefaultQuery?.()).toEqual(DEFAULT_ANNOTATION_QUERY);
    expect(DEFAULT_ANNOTATION_QUERY).toEqual({ queryType: 'annotations', filters: { status: ['failed', 'error'] } });
  });

  it('reads the default source and whether Prometheus is configured', () => {
    const ds = new DataSource(settings({ defaultSource: 'api', prometheusUrl: 'http://prom:9090' }), templateSrv);
    expect(ds.defaultSource).toBe('api');
    expect(ds.hasPrometheus).toBe(true);
  });

  it('looks values up through the lookup/<kind> resource, once per minute', async () => {
    const ds = new DataSource(settings(), templateSrv);
    const getResource = jest
      .spyOn(ds, 'getResource')
      .mockResolvedValue([{ text: 'Deploy web', value: '7' }, { value: 'bare' }]);
    await expect(ds.lookup('template', 'Dep')).resolves.toEqual([
      { text: 'Deploy web', value: '7' },
      { text: 'bare', value: 'bare' },
    ]);
    await ds.lookup('template', 'Dep');
    expect(getResource).toHaveBeenCalledTimes(1);
    expect(getResource).toHaveBeenCalledWith('lookup/template', { q: 'Dep' });
  });

  it('falls back to the fixed values of status, job type and launch type, and fails for the others', async () => {
    const ds = new DataSource(settings(), templateSrv);
    jest.spyOn(ds, 'getResource').mockRejectedValue(new Error('backend down'));
    await expect(ds.lookup('status', 'fail')).resolves.toEqual([{ text: 'failed', value: 'failed' }]);
    await expect(ds.lookup('organization')).rejects.toThrow('backend down');
  });
});
