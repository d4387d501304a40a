import { readFileSync } from 'fs';
import { join } from 'path';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DataSourceSettings } from '@grafana/data';

import { AwxOptions, AwxSecureJsonData } from '../types';
import { ConfigEditor } from './ConfigEditor';
import { NUMBER_LIMITS } from './settingsChecks';

type Options = DataSourceSettings<AwxOptions, AwxSecureJsonData>;

function options(overrides: Partial<Options> = {}): Options {
  return {
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
    jsonData: {},
    secureJsonFields: {},
    ...overrides,
  };
}

/** A text field by its label (the radio buttons share some words with them). */
function field(label: RegExp) {
  return screen.getByLabelText(label, { selector: 'input:not([type="radio"]), textarea' });
}
function queryField(label: RegExp) {
  return screen.queryByLabelText(label, { selector: 'input:not([type="radio"]), textarea' });
}

function setup(opts: Options) {
  const onOptionsChange = jest.fn();
  const utils = render(<ConfigEditor options={opts} onOptionsChange={onOptionsChange} />);
  return { ...utils, onOptionsChange };
}

describe('ConfigEditor', () => {
  it('edits the URL', async () => {
    const { onOptionsChange } = setup(options({ url: '' }));
    await userEvent.type(field(/^URL/), 'h');
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ url: 'h' }));
  });

  it('shows a configured token as "configured", never its value, and resets it', async () => {
    const opts = options({
      secureJsonFields: { token: true },
      secureJsonData: { token: 'this-must-not-show' },
    });
    const { onOptionsChange, container } = setup(opts);
    const token = field(/^Token/);
    expect(token).toHaveValue('configured');
    expect(token).toBeDisabled();
    expect(container.innerHTML).not.toContain('this-must-not-show');

    await userEvent.click(screen.getByRole('button', { name: 'Reset' }));
    const next: Options = onOptionsChange.mock.lastCall[0];
    expect(next.secureJsonFields.token).toBe(false);
    expect(next.secureJsonData?.token).toBe('');
  });

  it('writes a new token to secureJsonData only', async () => {
    const { onOptionsChange } = setup(options());
    await userEvent.type(field(/^Token/), 's');
    const next: Options = onOptionsChange.mock.lastCall[0];
    expect(next.secureJsonData).toEqual({ token: 's' });
    expect(next.jsonData).toEqual({});
  });

  it('switches to basic auth: user and password', async () => {
    const { onOptionsChange, rerender } = setup(options());
    await userEvent.click(screen.getAllByRole('radio', { name: 'Basic' })[0]);
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { authType: 'basic' } })
    );
    rerender(
      <ConfigEditor
        options={options({ jsonData: { authType: 'basic' }, secureJsonFields: { password: true } })}
        onOptionsChange={onOptionsChange}
      />
    );
    expect(queryField(/^Token/)).not.toBeInTheDocument();
    expect(field(/^User/)).toBeInTheDocument();
    expect(field(/^Password/)).toHaveValue('configured');
  });

  it('warns when TLS verification is skipped', async () => {
    const { onOptionsChange, rerender } = setup(options());
    expect(screen.queryByText('TLS verification is off')).not.toBeInTheDocument();
    await userEvent.click(screen.getByLabelText(/Skip TLS certificate verification/));
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { tlsSkipVerify: true } })
    );
    rerender(<ConfigEditor options={options({ jsonData: { tlsSkipVerify: true } })} onOptionsChange={onOptionsChange} />);
    expect(screen.getByText('TLS verification is off')).toBeInTheDocument();
  });

  it('keeps a configured CA certificate hidden, with a reset', async () => {
    const { onOptionsChange } = setup(options({ secureJsonFields: { tlsCaCert: true, token: true } }));
    const ca = field(/^CA certificate/);
    expect(ca).not.toHaveValue(expect.stringContaining('BEGIN'));
    const resets = screen.getAllByRole('button', { name: 'Reset' });
    expect(resets).toHaveLength(2);
    await userEvent.click(resets[1]);
    const next: Options = onOptionsChange.mock.lastCall[0];
    expect(next.secureJsonFields).toEqual({ tlsCaCert: false, token: true });
    expect(next.secureJsonData).toEqual({ tlsCaCert: '' });
  });

  it('stores numbers as numbers', async () => {
    const { onOptionsChange } = setup(options());
    await userEvent.type(field(/^Timeout/), '9');
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { timeoutSeconds: 9 } }));
  });

  it('offers the job cache, 0 (off) included, and empties it back to the default', async () => {
    const { onOptionsChange, rerender } = setup(options());
    const cache = field(/^Job cache/);
    expect(cache).toHaveAttribute('placeholder', '256');
    await userEvent.type(cache, '0');
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { jobCacheMB: 0 } }));

    rerender(<ConfigEditor options={options({ jsonData: { jobCacheMB: 512 } })} onOptionsChange={onOptionsChange} />);
    expect(field(/^Job cache/)).toHaveValue(512);
    await userEvent.clear(field(/^Job cache/));
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { jobCacheMB: undefined } }));
  });

  it.each([
    ['timeoutSeconds', 0, 600, 601, 'Expected a whole number of seconds from 1 to 600.'],
    ['maxConcurrency', 0, 32, 33, 'Expected a whole number from 1 to 32.'],
    ['jobCacheMB', -1, 16384, 16385, 'Expected a whole number of MiB from 0 (no cache) to 16384.'],
  ] as const)('shows the backend limits of %s under a value outside them', (key, below, top, above, message) => {
    const { rerender, onOptionsChange } = setup(options({ jsonData: { [key]: top } }));
    expect(screen.queryByText(message)).not.toBeInTheDocument();
    for (const bad of [below, above, 2.5]) {
      rerender(<ConfigEditor options={options({ jsonData: { [key]: bad } })} onOptionsChange={onOptionsChange} />);
      expect(screen.getByText(message)).toBeInTheDocument();
    }
  });

  it('says what to fix in a URL, as the backend would', () => {
    const { rerender, onOptionsChange } = setup(
      options({ url: 'awx.example.com:443', jsonData: { uiUrl: 'ftp://awx', prometheusUrl: 'prometheus:9090' } })
    );
    expect(screen.getByText(/Add the scheme: https:\/\/awx\.example\.com:443 /)).toBeInTheDocument();
    expect(screen.getByText('The scheme must be http or https, not ftp.')).toBeInTheDocument();
    expect(screen.getByText(/Add the scheme: https:\/\/prometheus:9090 /)).toBeInTheDocument();

    rerender(<ConfigEditor options={options({ url: 'https://awx.example.com/api/v2/' })} onOptionsChange={onOptionsChange} />);
    expect(
      screen.getByText(
        'The URL already ends in /api/v2/: set the URL to https://awx.example.com; the plugin adds the API path (/api/v2/) to it.'
      )
    ).toBeInTheDocument();

    rerender(
      <ConfigEditor options={options({ url: 'https://aap.example.com/api/controller/v2' })} onOptionsChange={onOptionsChange} />
    );
    expect(
      screen.getByText(
        'The URL already ends in /api/controller/v2/: set the URL to https://aap.example.com and the API path to /api/controller/v2/.'
      )
    ).toBeInTheDocument();

    rerender(
      <ConfigEditor
        options={options({ url: 'https://user:pw@awx.example.com', jsonData: { uiUrl: 'https://awx.example.com/?x=1' } })}
        onOptionsChange={onOptionsChange}
      />
    );
    expect(screen.getByText('Put credentials in the authentication fields, not in the URL.')).toBeInTheDocument();
    expect(screen.getByText('Remove the query string and fragment.')).toBeInTheDocument();

    // A path prefix (AWX behind a reverse proxy) is fine.
    rerender(<ConfigEditor options={options({ url: 'https://tools.example.com/awx' })} onOptionsChange={onOptionsChange} />);
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('says that a custom API path must start and end with /', () => {
    const { rerender, onOptionsChange } = setup(options({ jsonData: { apiPath: 'api/v2' } }));
    expect(screen.getByText(/^The API path must start and end with \//)).toBeInTheDocument();
    rerender(<ConfigEditor options={options({ jsonData: { apiPath: '/awx/api/v2/' } })} onOptionsChange={onOptionsChange} />);
    expect(screen.queryByText(/^The API path must start and end with \//)).not.toBeInTheDocument();
  });

  it('shows the quoted form of a selector whose values lack quotes, and takes PromQL matchers', () => {
    const prom = (selector: string) =>
      options({ jsonData: { prometheusUrl: 'http://prom:9090', prometheusSelector: selector } });
    const { rerender, onOptionsChange } = setup(prom('job=awx, instance=~awx-.*'));
    expect(
      screen.getByText(
        'Write label matchers with quoted values (PromQL strings), separated by commas, e.g. job="awx", instance=~"awx-.*".'
      )
    ).toBeInTheDocument();
    for (const good of ['', 'job="awx"', '{job="awx", instance=~"a.*",}', "env!='prod',x!~`a\\d`", '"service.name"="awx"']) {
      rerender(<ConfigEditor options={prom(good)} onOptionsChange={onOptionsChange} />);
      expect(screen.queryByText(/^Write label matchers/)).not.toBeInTheDocument();
    }
    for (const bad of ['up{job="awx"}', 'job="awx" or vector(1)', 'job="awx', '1job="x"']) {
      rerender(<ConfigEditor options={prom(bad)} onOptionsChange={onOptionsChange} />);
      expect(screen.getByText(/^Write label matchers/)).toBeInTheDocument();
    }
  });

  it('says which certificate authorities are trusted: the built-in Mozilla roots and the pasted CA, not the host store', () => {
    const { container } = setup(options());
    expect(
      screen.getByText(
        /in addition to the public CAs of Mozilla's root store, which is built into the plugin\. The host's certificate store is not read\./
      )
    ).toBeInTheDocument();
    expect(container).not.toHaveTextContent(/system's/);
  });

  it('shows the Prometheus settings once a Prometheus URL is set', () => {
    const { rerender, onOptionsChange } = setup(options());
    expect(queryField(/^Selector/)).not.toBeInTheDocument();
    rerender(
      <ConfigEditor
        options={options({
          jsonData: { prometheusUrl: 'http://prom:9090', prometheusAuthType: 'bearer' },
          secureJsonFields: { prometheusToken: true },
        })}
        onOptionsChange={onOptionsChange}
      />
    );
    expect(field(/^Selector/)).toBeInTheDocument();
    expect(field(/^Prometheus token/)).toHaveValue('configured');
  });

  it('offers both API paths and takes a custom one', async () => {
    const { onOptionsChange } = setup(options());
    const apiPath = screen.getByRole('combobox', { name: /^API path/ });
    expect(apiPath).toHaveValue('/api/v2/');
    await userEvent.click(apiPath);
    await userEvent.click(await screen.findByRole('option', { name: /\/api\/controller\/v2\// }));
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { apiPath: '/api/controller/v2/' } })
    );
  });

  it('chooses the default source', async () => {
    const { onOptionsChange } = setup(options());
    await userEvent.click(screen.getByRole('radio', { name: 'Prometheus' }));
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { defaultSource: 'prometheus' } }));
  });
});

/** The keys in the first column of CONFIGURATION.md's `| key | default | meaning |` tables, without `secureJsonData.`. */
function documentedSettings(): string[] {
  const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'CONFIGURATION.md'), 'utf8');
  const keys: string[] = [];
  let inTable = false;
  for (const line of doc.split('\n')) {
    if (/^\|\s*key\s*\|\s*default\s*\|/.test(line)) {
      inTable = true;
    } else if (!line.startsWith('|')) {
      inTable = false;
    } else if (inTable && !/^\|\s*-/.test(line)) {
      const first = line.split('|')[1];
      for (const m of first.matchAll(/`([^`]+)`/g)) {
        keys.push(m[1].replace(/^secureJsonData\./, ''));
      }
    }
  }
  return keys;
}

/**
 * The settings backend/src/settings.rs reads: the data source's URL, the fields of its `JsonData` (camelCase,
 * or a serde rename) and the secrets it asks for with `secret("...")`.
 */
function backendSettings(): string[] {
  const rust = readFileSync(join(__dirname, '..', '..', '..', 'backend', 'src', 'settings.rs'), 'utf8');
  const body = /struct JsonData \{([^}]*)\}/.exec(rust)?.[1] ?? '';
  const keys = ['url'];
  let rename: string | undefined;
  for (const line of body.split('\n')) {
    const renamed = /#\[serde\(rename = "([^"]+)"\)\]/.exec(line);
    const fieldName = /^\s*(?:pub\s+)?([a-z_][a-z0-9_]*)\s*:/.exec(line);
    if (renamed) {
      rename = renamed[1];
    } else if (fieldName) {
      keys.push(rename ?? fieldName[1].replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
      rename = undefined;
    }
  }
  for (const m of rust.matchAll(/\bsecret\("([A-Za-z]+)"\)/g)) {
    keys.push(m[1]);
  }
  return [...new Set(keys)];
}

/** Each control's id is `awx-` and its setting's key in kebab case (a radio group's options end in it). */
const settingId = (key: string) => `awx-${key.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()}`;

describe('ConfigEditor and docs/CONFIGURATION.md', () => {
  // Between them these show every control: token and basic auth, each Prometheus authentication.
  const states: Options[] = [
    options({ jsonData: { prometheusUrl: 'http://prom:9090', prometheusAuthType: 'basic' } }),
    options({ jsonData: { authType: 'basic', prometheusUrl: 'http://prom:9090', prometheusAuthType: 'bearer' } }),
  ];
  const shownIds = new Set<string>();
  beforeAll(() => {
    for (const opts of states) {
      const { container, unmount } = render(<ConfigEditor options={opts} onOptionsChange={jest.fn()} />);
      container.querySelectorAll('[id^="awx-"], [id*="-awx-"]').forEach((e) => shownIds.add(e.id.replace(/^.*?(awx-)/, '$1')));
      unmount();
    }
  });

  it('reads the same settings from the doc and from the backend', () => {
    const documented = documentedSettings();
    expect(documented).toEqual(expect.arrayContaining(['url', 'apiPath', 'token', 'jobCacheMB', 'prometheusToken']));
    expect(documented.length).toBeGreaterThanOrEqual(19);
    expect([...documented].sort()).toEqual(backendSettings().sort());
  });

  it("states the numeric limits and defaults in the backend's own words and numbers", () => {
    const rust = readFileSync(join(__dirname, '..', '..', '..', 'backend', 'src', 'settings.rs'), 'utf8');
    const constant = (name: string) => Number(new RegExp(`const ${name}: \\w+ = ([0-9_]+);`).exec(rust)?.[1]?.replace(/_/g, ''));
    expect(NUMBER_LIMITS.timeoutSeconds.default).toBe(constant('DEFAULT_TIMEOUT_SECONDS'));
    expect(NUMBER_LIMITS.maxConcurrency.default).toBe(constant('DEFAULT_MAX_CONCURRENCY'));
    expect(NUMBER_LIMITS.jobCacheMB.default).toBe(constant('DEFAULT_JOB_CACHE_MB'));
    for (const limits of Object.values(NUMBER_LIMITS)) {
      // The backend's error says what it expects; the editor shows the same words under the field.
      expect(rust).toContain(`"${limits.expected}"`);
    }
  });

  it('has a control for every documented setting', () => {
    const missing = documentedSettings().filter((k) => !shownIds.has(settingId(k)));
    expect(missing).toEqual([]);
  });

  it('documents every setting it has a control for', () => {
    const documented = new Set(documentedSettings().map(settingId));
    expect([...shownIds].filter((id) => !documented.has(id))).toEqual([]);
  });
});
