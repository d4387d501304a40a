import { ChangeEvent, FormEvent } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import {
  Alert,
  Combobox,
  Field,
  FieldSet,
  Input,
  RadioButtonGroup,
  SecretInput,
  SecretTextArea,
  Stack,
  Switch,
} from '@grafana/ui';

import { SOURCE_LABELS } from '../queryTypes';
import { AuthType, AwxOptions, AwxSecureJsonData, DEFAULT_API_PATH, PrometheusAuthType, Source, SOURCES } from '../types';
import {
  apiPathProblem,
  awxUrlProblem,
  NUMBER_LIMITS,
  NumberKey,
  numberProblem,
  selectorProblem,
  urlProblem,
} from './settingsChecks';

export type Props = DataSourcePluginOptionsEditorProps<AwxOptions, AwxSecureJsonData>;
type SecretKey = keyof AwxSecureJsonData;

const API_PATHS = [
  { label: '/api/v2/', value: '/api/v2/', description: 'AWX, or Ansible Automation Platform before 2.5' },
  {
    label: '/api/controller/v2/',
    value: '/api/controller/v2/',
    description: 'Automation controller behind the Ansible Automation Platform 2.5+ gateway',
  },
];

const AUTH_TYPES: Array<{ label: string; value: AuthType; description: string }> = [
  { label: 'Token', value: 'token', description: 'An OAuth2 personal access token, sent as Bearer' },
  { label: 'Basic', value: 'basic', description: 'User name and password' },
];

const PROMETHEUS_AUTH_TYPES: Array<{ label: string; value: PrometheusAuthType }> = [
  { label: 'None', value: 'none' },
  { label: 'Basic', value: 'basic' },
  { label: 'Bearer token', value: 'bearer' },
];

const SOURCE_OPTIONS = SOURCES.map((s) => ({ label: SOURCE_LABELS[s], value: s }));

const WIDTH = 60;

/** Settings of an AWX data source. Secrets are write-only: Grafana only says whether each one is set. */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const jsonData = options.jsonData ?? {};
  const secureJsonFields = options.secureJsonFields ?? {};
  const secureJsonData: AwxSecureJsonData = options.secureJsonData ?? {};
  const authType: AuthType = jsonData.authType ?? 'token';
  const promAuthType: PrometheusAuthType = jsonData.prometheusAuthType ?? 'none';

  const setJson = <K extends keyof AwxOptions>(key: K, value: AwxOptions[K]) => {
    onOptionsChange({ ...options, jsonData: { ...jsonData, [key]: value } });
  };
  const onText = (key: 'apiPath' | 'username' | 'uiUrl' | 'prometheusUrl' | 'prometheusUsername' | 'prometheusSelector') =>
    (e: ChangeEvent<HTMLInputElement>) => setJson(key, e.currentTarget.value);
  // A number outside the backend's limits is kept as typed, with the limits shown under the field: dropping it
  // would empty the field under the user's fingers without saying why.
  const onNumber = (key: NumberKey) => (e: ChangeEvent<HTMLInputElement>) => {
    const raw = e.currentTarget.value.trim();
    const n = Number(raw);
    setJson(key, raw === '' || !Number.isFinite(n) ? undefined : n);
  };
  const numberField = (key: NumberKey, id: string, label: string, description: string) => {
    const { min, max, default: dflt } = NUMBER_LIMITS[key];
    const problem = numberProblem(key, jsonData[key]);
    return (
      <Field
        label={label}
        description={`${description} Default ${dflt}; ${min} to ${max}.`}
        invalid={problem !== undefined}
        error={problem}
      >
        <Input
          id={id}
          type="number"
          min={min}
          max={max}
          step={1}
          width={16}
          value={jsonData[key] ?? ''}
          placeholder={String(dflt)}
          onChange={onNumber(key)}
        />
      </Field>
    );
  };
  const setSecret = (key: SecretKey) => (e: FormEvent<HTMLInputElement | HTMLTextAreaElement>) => {
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, [key]: e.currentTarget.value } });
  };
  const resetSecret = (key: SecretKey) => () => {
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, [key]: false },
      secureJsonData: { ...secureJsonData, [key]: '' },
    });
  };
  const secretProps = (key: SecretKey) => ({
    isConfigured: Boolean(secureJsonFields[key]),
    value: secureJsonData[key] ?? '',
    onReset: resetSecret(key),
    onChange: setSecret(key),
  });

  const apiPath = jsonData.apiPath || DEFAULT_API_PATH;
  const apiPathOptions = API_PATHS.some((p) => p.value === apiPath)
    ? API_PATHS
    : [...API_PATHS, { label: apiPath, value: apiPath, description: 'Custom' }];
  const urlError = awxUrlProblem(options.url ?? '', apiPath);
  const apiPathError = apiPathProblem(apiPath);
  const uiUrlError = urlProblem(jsonData.uiUrl ?? '');
  const promUrlError = urlProblem(jsonData.prometheusUrl ?? '');
  const selectorError = selectorProblem(jsonData.prometheusSelector ?? '');

  return (
    <Stack direction="column" gap={2}>
      <FieldSet label="AWX">
        <Field
          label="URL"
          required
          description="Base URL of AWX or of the Ansible Automation Platform gateway, e.g. https://awx.example.com. Grafana's server connects to it, not the browser."
          invalid={urlError !== undefined}
          error={urlError}
        >
          <Input
            id="awx-url"
            width={WIDTH}
            value={options.url ?? ''}
            placeholder="https://awx.example.com"
            onChange={(e) => onOptionsChange({ ...options, url: e.currentTarget.value })}
          />
        </Field>
        <Field
          label="API path"
          description="The API root under the URL: /api/v2/ for AWX, /api/controller/v2/ behind an AAP 2.5+ gateway. Type another path if yours differs."
          invalid={apiPathError !== undefined}
          error={apiPathError}
        >
          <Combobox<string>
            id="awx-api-path"
            width={WIDTH}
            value={apiPath}
            options={apiPathOptions}
            createCustomValue
            onChange={(o) => setJson('apiPath', o.value)}
          />
        </Field>
        <Field
          label="UI URL"
          description="Base of the links to job pages in AWX, if people reach AWX at another address than the URL above. Empty: the URL."
          invalid={uiUrlError !== undefined}
          error={uiUrlError}
        >
          <Input
            id="awx-ui-url"
            width={WIDTH}
            value={jsonData.uiUrl ?? ''}
            placeholder={options.url || 'https://awx.example.com'}
            onChange={onText('uiUrl')}
          />
        </Field>
      </FieldSet>

      <FieldSet label="Authentication">
        <Field
          label="Authentication type"
          description="A token of a user who can read the jobs to chart (a system auditor sees all of them)."
        >
          <RadioButtonGroup<AuthType>
            id="awx-auth-type"
            options={AUTH_TYPES}
            value={authType}
            onChange={(v) => setJson('authType', v)}
          />
        </Field>
        {authType === 'token' ? (
          <Field
            label="Token"
            description="Create one in AWX under Users > Tokens (read scope is enough). Stored encrypted; never shown again."
          >
            <SecretInput id="awx-token" width={WIDTH} placeholder="AWX token" {...secretProps('token')} />
          </Field>
        ) : (
          <>
            <Field label="User">
              <Input id="awx-username" width={WIDTH} value={jsonData.username ?? ''} onChange={onText('username')} />
            </Field>
            <Field label="Password" description="Stored encrypted; never shown again.">
              <SecretInput id="awx-password" width={WIDTH} placeholder="Password" {...secretProps('password')} />
            </Field>
          </>
        )}
      </FieldSet>

      <FieldSet label="TLS">
        <Field
          label="Skip TLS certificate verification"
          description="Accept any certificate from AWX and Prometheus. Insecure: prefer adding your CA certificate below."
        >
          <Switch
            id="awx-tls-skip-verify"
            value={Boolean(jsonData.tlsSkipVerify)}
            onChange={(e) => setJson('tlsSkipVerify', e.currentTarget.checked)}
          />
        </Field>
        {jsonData.tlsSkipVerify && (
          <Alert severity="warning" title="TLS verification is off">
            Anyone between Grafana and AWX can read the token and forge the answers. Use this only for a test
            installation.
          </Alert>
        )}
        <Field
          label="CA certificate"
          description="PEM certificate(s) of a private certificate authority to trust for AWX and Prometheus, in addition to the public CAs of Mozilla's root store, which is built into the plugin. The host's certificate store is not read."
        >
          <SecretTextArea
            id="awx-tls-ca-cert"
            cols={WIDTH}
            rows={4}
            placeholder="-----BEGIN CERTIFICATE-----"
            {...secretProps('tlsCaCert')}
          />
        </Field>
      </FieldSet>

      <FieldSet label="Requests">
        {numberField('timeoutSeconds', 'awx-timeout-seconds', 'Timeout', 'Seconds per HTTP request to AWX or Prometheus.')}
        {numberField(
          'maxConcurrency',
          'awx-max-concurrency',
          'Max concurrency',
          'How many requests this data source sends to AWX at once; lower it for a busy AWX.'
        )}
        {numberField(
          'jobCacheMB',
          'awx-job-cache-mb',
          'Job cache (MiB)',
          'Memory for the cache of job records, so that dashboards over the same days ask AWX only for what changed. 0 turns the cache off.'
        )}
      </FieldSet>

      <FieldSet label="Prometheus (optional)">
        <Field
          label="Prometheus URL"
          description="A Prometheus-compatible query API (Prometheus, Thanos, Mimir, VictoriaMetrics) that scrapes this AWX's /api/v2/metrics/. Enables active jobs and capacity history, and PromQL queries."
          invalid={promUrlError !== undefined}
          error={promUrlError}
        >
          <Input
            id="awx-prometheus-url"
            width={WIDTH}
            value={jsonData.prometheusUrl ?? ''}
            placeholder="http://prometheus:9090"
            onChange={onText('prometheusUrl')}
          />
        </Field>
        {jsonData.prometheusUrl ? (
          <>
            <Field label="Prometheus authentication">
              <RadioButtonGroup<PrometheusAuthType>
                id="awx-prometheus-auth-type"
                options={PROMETHEUS_AUTH_TYPES}
                value={promAuthType}
                onChange={(v) => setJson('prometheusAuthType', v)}
              />
            </Field>
            {promAuthType === 'basic' && (
              <>
                <Field label="Prometheus user">
                  <Input
                    id="awx-prometheus-username"
                    width={WIDTH}
                    value={jsonData.prometheusUsername ?? ''}
                    onChange={onText('prometheusUsername')}
                  />
                </Field>
                <Field label="Prometheus password" description="Stored encrypted; never shown again.">
                  <SecretInput
                    id="awx-prometheus-password"
                    width={WIDTH}
                    placeholder="Password"
                    {...secretProps('prometheusPassword')}
                  />
                </Field>
              </>
            )}
            {promAuthType === 'bearer' && (
              <Field label="Prometheus token" description="Sent as Bearer. Stored encrypted; never shown again.">
                <SecretInput
                  id="awx-prometheus-token"
                  width={WIDTH}
                  placeholder="Token"
                  {...secretProps('prometheusToken')}
                />
              </Field>
            )}
            <Field
              label="Selector"
              description='Label matchers added to every AWX metric, to pick this AWX among several, e.g. job="awx" or instance="awx.example.com:443".'
              invalid={selectorError !== undefined}
              error={selectorError}
            >
              <Input
                id="awx-prometheus-selector"
                width={WIDTH}
                value={jsonData.prometheusSelector ?? ''}
                placeholder='job="awx"'
                onChange={onText('prometheusSelector')}
              />
            </Field>
          </>
        ) : null}
      </FieldSet>

      <FieldSet label="Queries">
        <Field
          label="Default source"
          description="What 'Auto' means in queries that both the AWX API and Prometheus can answer. Auto: Prometheus for active jobs when configured, else the API."
        >
          <RadioButtonGroup<Source>
            id="awx-default-source"
            options={SOURCE_OPTIONS}
            value={jsonData.defaultSource ?? 'auto'}
            onChange={(v) => setJson('defaultSource', v)}
          />
        </Field>
      </FieldSet>
    </Stack>
  );
}
