// A page that renders the plugin's editors with the real @grafana/ui, outside Grafana, for the browser test.
import * as emotionCss from '@emotion/css';
import * as grafanaData from '@grafana/data';
import * as grafanaI18n from '@grafana/i18n';
import * as grafanaRuntime from '@grafana/runtime';
import * as grafanaSchema from '@grafana/schema';
import * as grafanaUi from '@grafana/ui';
import lodash from 'lodash';
import * as React from 'react';
import { ComponentType, useEffect, useState } from 'react';
import * as ReactDom from 'react-dom';
import { createRoot } from 'react-dom/client';
import * as jsxRuntime from 'react/jsx-runtime';
import * as rxjs from 'rxjs';
import * as rxjsOperators from 'rxjs/operators';
import { createTheme, DataSourceInstanceSettings, DataSourceSettings, PluginType, ThemeContext } from '@grafana/data';
import { setTemplateSrv } from '@grafana/runtime';
import { GlobalStyles } from '@grafana/ui';

import { ConfigEditor } from '../src/components/ConfigEditor';
import { QueryEditor } from '../src/components/QueryEditor';
import { DataSource } from '../src/datasource';
import { fakeTemplateSrv } from '../src/test/fakeTemplateSrv';
import { AwxOptions, AwxQuery, AwxSecureJsonData } from '../src/types';

/** The fixed answers of the backend's `lookup/<kind>` resource. */
export const LOOKUPS: Record<string, Array<{ text: string; value: string }>> = {
  organization: [
    { text: 'Default', value: '1' },
    { text: 'Platform team', value: '2' },
  ],
  template: [
    { text: 'Deploy web', value: '7' },
    { text: 'Nightly backup', value: '9' },
  ],
  inventory: [{ text: 'Production', value: '3' }],
  project: [{ text: 'Playbooks', value: '4' }],
  instanceGroup: [{ text: 'default', value: '1' }],
  executionNode: [{ text: 'awx-task-0', value: 'awx-task-0' }],
};

setTemplateSrv(fakeTemplateSrv({ org: ['1', '2'], node: 'awx-task-0' }));

const settings: DataSourceInstanceSettings<AwxOptions> = {
  id: 1,
  uid: 'awx',
  type: 'seed-awx-datasource',
  name: 'AWX',
  access: 'proxy',
  readOnly: false,
  jsonData: { defaultSource: 'auto', prometheusUrl: 'http://127.0.0.1:9090' },
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

/** The real DataSource, whose resource calls answer from LOOKUPS instead of Grafana's backend. */
class HarnessDataSource extends DataSource {
  resourceCalls: string[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async getResource<T = any>(path: string, params?: Record<string, string>): Promise<T> {
    this.resourceCalls.push(path);
    const kind = path.replace(/^lookup\//, '');
    const q = params?.q?.toLowerCase();
    const items = (LOOKUPS[kind] ?? []).filter((i) => !q || i.text.toLowerCase().includes(q));
    return items as T;
  }
}

const datasource = new HarnessDataSource(settings);
(window as unknown as { harness: unknown }).harness = { datasource, queries: [] as AwxQuery[], runs: 0 };
const harness = (window as unknown as { harness: { queries: AwxQuery[]; runs: number } }).harness;

const INITIAL: AwxQuery[] = [
  {
    refId: 'A',
    queryType: 'job_duration',
    filters: { organization: ['1', '$org'], status: ['failed', 'error'] },
    groupBy: 'template',
    stats: ['mean', 'p95'],
  },
  { refId: 'B', queryType: 'capacity', source: 'prometheus', filters: { executionNode: ['$node'] } },
  { refId: 'C', queryType: 'jobs', limit: 50, includeSyncs: true },
  {
    refId: 'D',
    queryType: 'promql',
    expr: 'sum by (status) (awx_status_total{job="awx"})',
    legendFormat: '{{status}}',
  },
];

function QueryRow({ initial }: { initial: AwxQuery }) {
  const [query, setQuery] = useState(initial);
  return (
    <section data-refid={query.refId} style={{ marginBottom: 24 }}>
      <h4 style={{ margin: '0 0 8px' }}>Query {query.refId}</h4>
      <QueryEditor
        datasource={datasource}
        query={query}
        onChange={(q) => {
          harness.queries.push(q);
          setQuery(q);
        }}
        onRunQuery={() => {
          harness.runs++;
        }}
      />
    </section>
  );
}

function ConfigPage() {
  const [options, setOptions] = useState<DataSourceSettings<AwxOptions, AwxSecureJsonData>>({
    id: 1,
    uid: 'awx',
    orgId: 1,
    name: 'AWX',
    type: 'seed-awx-datasource',
    typeName: 'AWX',
    typeLogoUrl: '',
    access: 'proxy',
    url: 'https://awx.example.com',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    withCredentials: false,
    readOnly: false,
    jsonData: {
      apiPath: '/api/v2/',
      tlsSkipVerify: true,
      prometheusUrl: 'http://prometheus:9090',
      prometheusAuthType: 'basic',
      prometheusUsername: 'grafana',
      prometheusSelector: 'job="awx"',
    },
    secureJsonFields: { token: true, prometheusPassword: true },
  });
  return <ConfigEditor options={options} onOptionsChange={setOptions} />;
}

/** What Grafana hands an AMD plugin module: the externals of webpack.config.js. */
const GRAFANA_EXTERNALS: Record<string, unknown> = {
  '@grafana/data': grafanaData,
  '@grafana/ui': grafanaUi,
  '@grafana/runtime': grafanaRuntime,
  '@grafana/schema': grafanaSchema,
  '@grafana/i18n': grafanaI18n,
  react: React,
  'react-dom': ReactDom,
  'react/jsx-runtime': jsxRuntime,
  rxjs,
  'rxjs/operators': rxjsOperators,
  lodash,
  '@emotion/css': emotionCss,
};

interface LoadedPlugin {
  components: { QueryEditor?: ComponentType<Record<string, unknown>>; ConfigEditor?: ComponentType<Record<string, unknown>> };
  DataSourceClass?: unknown;
}

/** Loads the BUILT dist/module.js as Grafana does: an AMD module whose dependencies are Grafana's externals. */
function loadBuiltPlugin(): Promise<LoadedPlugin> {
  return new Promise((resolve, reject) => {
    const define = (deps: string[], factory: (...mods: unknown[]) => { plugin: LoadedPlugin }) => {
      const missing = deps.filter((d) => !(d in GRAFANA_EXTERNALS));
      if (missing.length > 0) {
        reject(new Error(`module.js asks for modules Grafana does not provide: ${missing.join(', ')}`));
        return;
      }
      resolve(factory(...deps.map((d) => GRAFANA_EXTERNALS[d])).plugin);
    };
    define.amd = true;
    (window as unknown as { define: unknown }).define = define;
    const script = document.createElement('script');
    script.src = '/dist/module.js';
    script.onerror = () => reject(new Error('could not load /dist/module.js'));
    document.head.appendChild(script);
  });
}

function BuiltPluginPage() {
  const [plugin, setPlugin] = useState<LoadedPlugin>();
  const [error, setError] = useState<string>();
  const [query, setQuery] = useState<AwxQuery>({ refId: 'A', queryType: 'failure_rate', groupBy: 'organization' });
  useEffect(() => {
    loadBuiltPlugin().then(setPlugin, (e: Error) => setError(e.message));
  }, []);
  if (error) {
    return <p data-testid="amd-error">{error}</p>;
  }
  const Editor = plugin?.components.QueryEditor;
  if (!Editor) {
    return <p>loading dist/module.js</p>;
  }
  return (
    <section data-testid="amd-loaded" data-datasource-class={typeof plugin.DataSourceClass}>
      <h4 style={{ margin: '0 0 8px' }}>QueryEditor from dist/module.js</h4>
      <Editor datasource={datasource} query={query} onChange={setQuery} onRunQuery={() => {}} />
    </section>
  );
}

const theme = createTheme({ colors: { mode: 'dark' } });
const view = new URLSearchParams(window.location.search).get('view') ?? 'query';

createRoot(document.getElementById('root')!).render(
  <ThemeContext.Provider value={theme}>
    <GlobalStyles />
    <main style={{ padding: 16, maxWidth: 1200 }}>
      {view === 'config' ? (
        <ConfigPage />
      ) : view === 'amd' ? (
        <BuiltPluginPage />
      ) : (
        INITIAL.map((q) => <QueryRow key={q.refId} initial={q} />)
      )}
    </main>
  </ThemeContext.Provider>
);
